/** DomainDef to libvirt-canonical XML text (virDomainDefFormat's element order). */
import type { DomainDef } from './model.js';
import { newDocument, serialize } from './writer.js';
import { formatGeneral } from './sections/general.js';
import { formatMemoryPart } from './sections/memory.js';
import { formatCpuModel, formatVcpuAndTuning } from './sections/cpu.js';
import { formatOsAndIdmap } from './sections/os.js';
import { formatClockAndLifecycle, formatFeatures } from './sections/features.js';
import {
  LXC_NAMESPACE_URI,
  formatLxcNamespace,
  formatSecurity,
  formatSysinfo,
  needsLxcNamespace,
} from './sections/security.js';
import { formatDevices } from './sections/devices/index.js';

export interface FormatOptions {
  /** Leave out live-only state (the domain id). */
  inactive?: boolean;
  /** Include secrets (graphics passwords): for stored definitions and `dumpxml --security-info`. */
  secure?: boolean;
}

export function formatDomainXML(def: DomainDef, opts: FormatOptions = {}): string {
  const root = newDocument('domain', {
    type: def.type,
    id: opts.inactive ? undefined : def.id,
    'xmlns:lxc': needsLxcNamespace(def) ? LXC_NAMESPACE_URI : undefined,
  });
  formatGeneral(root, def);
  formatMemoryPart(root, def);
  formatVcpuAndTuning(root, def);
  formatSysinfo(root, def);
  formatOsAndIdmap(root, def);
  formatFeatures(root, def);
  formatCpuModel(root, def);
  formatClockAndLifecycle(root, def);
  formatDevices(root, def.devices, { secure: opts.secure ?? false });
  formatSecurity(root, def);
  formatLxcNamespace(root, def);
  return serialize(root);
}
