/** Name, architecture, consoles, id maps and dropped capabilities. */
import { KNOWN_ARCHS } from '../sections/os.js';
import { internalError, unsupported } from '../errors.js';
import { PROCESS_CAPABILITIES, type ProcessCapability } from '../sections/features.js';
import { entryError, type ConfigEntry, type LxcConfig } from './config.js';
import { INT_MAX, UINT_MAX, readSigned, readUnsigned } from './numbers.js';

export interface IdmapPlan {
  /** Container-side first id. */
  start: number;
  /** Host-side first id. */
  target: number;
  count: number;
}

export interface IdmapsPlan {
  uid: IdmapPlan[];
  gid: IdmapPlan[];
}

/** LXC's Debian-style names libvirt also understands. */
const ARCH_ALIASES: ReadonlyMap<string, string> = new Map([
  ['x86', 'i686'],
  ['amd64', 'x86_64'],
]);

/** More consoles than the kernel's default pty limit cannot be a real configuration. */
export const MAX_CONSOLES = 4096;

export function domainName(config: LxcConfig): string {
  const entry = config.first('lxc.uts.name', 'lxc.utsname');
  if (entry === undefined) throw unsupported('Missing lxc.uts.name (or legacy lxc.utsname) configuration');
  if (entry.value === '') throw entryError(entry, 'the container name must not be empty');
  return entry.value;
}

/** The domain's architecture; undefined (no arch attribute) when unset or unknown. */
export function architecture(config: LxcConfig): string | undefined {
  const value = config.first('lxc.arch')?.value;
  if (value === undefined) return undefined;
  return KNOWN_ARCHS.has(value) ? value : ARCH_ALIASES.get(value);
}

/** Number of consoles (lxc.tty.max, legacy lxc.tty); none when unset. */
export function consoleCount(config: LxcConfig): number {
  const entry = config.first('lxc.tty.max', 'lxc.tty');
  if (entry === undefined) return 0;
  const count = readSigned(entry.value, INT_MAX);
  if (count === undefined) throw internalError(`failed to parse int: '${entry.value}'`);
  if (count < 0n || count > BigInt(MAX_CONSOLES)) {
    throw entryError(entry, `the number of consoles must be between 0 and ${MAX_CONSOLES}, not ${count}`);
  }
  return Number(count);
}

/**
 * `u|g A B C`. libvirt reads A as the host-side target and B as the
 * container-side start (the opposite of LXC's `nsid hostid range`); kept so
 * that converted definitions stay identical to libvirt's.
 */
function idmapEntry(entry: ConfigEntry): { kind: string; map: IdmapPlan } {
  const fields = entry.value.split(/\s+/).filter((f) => f !== '');
  const numbers = fields.slice(1).map((f) => readUnsigned(f, UINT_MAX));
  const kind = fields[0];
  if (fields.length !== 4 || kind?.length !== 1 || numbers.some((n) => n === undefined)) {
    throw internalError(`invalid ${entry.key}: '${entry.value}'`);
  }
  if (kind !== 'u' && kind !== 'g') throw entryError(entry, `the id type must be 'u' or 'g', not '${kind}'`);
  const [target, start, count] = numbers.map(Number) as [number, number, number];
  return { kind, map: { start, target, count } };
}

/** lxc.idmap (legacy lxc.id_map) lines, in file order. */
export function idmaps(config: LxcConfig): IdmapsPlan {
  const plan: IdmapsPlan = { uid: [], gid: [] };
  for (const entry of config.all('lxc.idmap', 'lxc.id_map')) {
    const { kind, map } = idmapEntry(entry);
    (kind === 'u' ? plan.uid : plan.gid).push(map);
  }
  return plan;
}

/** Capabilities named in the first lxc.cap.drop line, in libvirt's order; unknown names are ignored. */
export function droppedCapabilities(config: LxcConfig): ProcessCapability[] {
  const names = new Set(config.first('lxc.cap.drop')?.value.split(/[ \t]+/));
  return PROCESS_CAPABILITIES.filter((c) => names.has(c));
}
