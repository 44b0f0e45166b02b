/** Domain XML text to DomainDef: libvirt's parse, post-parse and validate phases. */
import { assertModelMatchesSchema } from './schema.js';
import { internalError, unsupported, xmlError } from './errors.js';
import { defaultContext, type ParseContext } from './context.js';
import { attr, parseXmlTree, type XmlElement } from './tree.js';
import type { DomainDef, SectionHooks } from './model.js';
import { parseGeneral, validateNameForDefine } from './sections/general.js';
import { parseMemoryPart, hooks as memoryHooks } from './sections/memory.js';
import { parseCpuPart, hooks as cpuHooks } from './sections/cpu.js';
import { checkCapabilities, checkInitPresent, parseOsPart, hooks as osHooks } from './sections/os.js';
import { parseFeaturesPart, hooks as featuresHooks } from './sections/features.js';
import { parseSecurityPart, hooks as securityHooks } from './sections/security.js';
import { parseDevices, hooks as deviceHooks } from './sections/devices/index.js';

/** Post-parse and validate run section by section in this order. */
const HOOKS: readonly SectionHooks[] = [memoryHooks, cpuHooks, osHooks, featuresHooks, securityHooks, deviceHooks];

function checkRoot(root: XmlElement): void {
  if (root.local !== 'domain' || root.name !== 'domain') {
    throw xmlError(`expecting root element of 'domain', not '${root.name}'`);
  }
  const type = attr(root, 'type');
  if (type === undefined) throw internalError('missing domain type attribute');
  if (type !== 'lxc') {
    const known = ['qemu', 'kqemu', 'kvm', 'xen', 'lxc', 'uml', 'openvz', 'test', 'vmware', 'hyperv', 'vbox', 'phyp', 'parallels', 'bhyve', 'vz', 'none'];
    if (!known.includes(type)) throw unsupported(`invalid domain type ${type}`);
  }
}

/** Parse a tree whose root is <domain>. */
export function parseDomainTree(root: XmlElement, ctx: ParseContext = defaultContext()): DomainDef {
  checkRoot(root);
  // A default namespace on the root hides every libvirt element from libvirt's XPath lookups.
  const visible: XmlElement = root.ns !== '' ? { ...root, children: [] } : root;
  const def: DomainDef = {
    type: 'lxc',
    ...parseGeneral(visible, ctx),
    ...parseMemoryPart(visible, ctx),
    ...parseCpuPart(visible, ctx),
    ...parseOsPart(visible, ctx),
    ...parseFeaturesPart(visible, ctx),
    ...parseSecurityPart(visible, ctx),
    devices: parseDevices(visible, ctx),
  };
  const type = attr(root, 'type');
  // The driver's post-parse step runs first, then the common one that starts with the init check.
  checkCapabilities(type ?? '', def.os, ctx);
  checkInitPresent(def.os);
  // libvirt checks the name last (end of post-parse, then on define); done here so every parse path gets it.
  validateNameForDefine(def.name);
  for (const h of HOOKS) h.postParse?.(def, ctx);
  for (const h of HOOKS) h.validate?.(def, ctx);
  assertModelMatchesSchema(def);
  return def;
}

/** Parse domain XML text (or raw bytes, which must be UTF-8). */
export function parseDomainXML(text: string | Uint8Array, ctx: ParseContext = defaultContext()): DomainDef {
  return parseDomainTree(parseXmlTree(text), ctx);
}
