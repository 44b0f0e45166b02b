/** <sysinfo>, <bootloader>, <seclabel>, <keywrap>, <launchSecurity>, <lxc:namespace>. STUB: to be completed. */
import type { SectionHooks } from '../model.js';
import type { ParseContext } from '../context.js';
import type { XmlElement } from '../tree.js';
import type { Builder } from '../writer.js';

export const LXC_NAMESPACE_URI = 'http://libvirt.org/schemas/domain/lxc/1.0';

export interface SecurityPart {
  /** Non-empty when <lxc:namespace> must be printed (and xmlns:lxc on the root). */
  lxcNamespace?: Record<string, never>;
}

export function parseSecurityPart(_root: XmlElement, _ctx: ParseContext): SecurityPart {
  return {};
}

/** sysinfo*, bootloader? (printed between resource and os). */
export function formatSysinfo(_b: Builder, _def: SecurityPart): void {}

/** seclabel*, keywrap?, launchSecurity? */
export function formatSecurity(_b: Builder, _def: SecurityPart): void {}

/** Whether the root element needs xmlns:lxc. */
export function needsLxcNamespace(def: SecurityPart): boolean {
  return def.lxcNamespace !== undefined;
}

/** lxc:namespace (last child of the root). */
export function formatLxcNamespace(_b: Builder, _def: SecurityPart): void {}

export const hooks: SectionHooks = {};
