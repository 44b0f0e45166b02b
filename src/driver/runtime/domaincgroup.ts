/**
 * A running domain's cgroup files, for the live tuning and statistics
 * calls: which hierarchy provides a controller, the file's path in the
 * container's directory there, and reads and writes that fail with
 * libvirt's words (virCgroupGetValueRaw / virCgroupSetValueRaw).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VirError } from '../../xml/errors.js';
import type { DomainDef } from '../../xml/model.js';
import { describingFailure } from '../errors.js';
import { DEFAULT_PARTITION, containerCgroups } from './cgroups.js';
import type { CgroupMount, HostFacts } from './hostfacts.js';
import { cgroupLayout, type Controller } from './tunables.js';

/** File access, so tests can stand a fixture hierarchy in for the kernel's. */
export interface CgroupIO {
  read(path: string): string;
  write(path: string, value: string): void;
  exists(path: string): boolean;
}

const hostCgroupIO: CgroupIO = {
  read: (path) => readFileSync(path, 'utf8'),
  write: (path, value) => writeFileSync(path, value),
  exists: (path) => existsSync(path),
};

export interface DomainCgroup {
  /** The cgroup version of the hierarchy providing `controller`; undefined when none does. */
  version(controller: Controller): 1 | 2 | undefined;
  /** Whether the controller's directory has `file`. */
  has(controller: Controller, file: string): boolean;
  /** The file's contents without the trailing newline. */
  read(controller: Controller, file: string): string;
  write(controller: Controller, file: string, value: string): void;
  /** A file at the top of the controller's hierarchy (the host's own limits). */
  readRoot(controller: Controller, file: string): string | undefined;
}

/** The container's cgroups as the planner placed them: `<partition>/<name>.libvirt-lxc` in each hierarchy. */
export function domainCgroup(def: DomainDef, facts: HostFacts, io: CgroupIO = hostCgroupIO): DomainCgroup {
  const layout = cgroupLayout(facts);
  const placement = containerCgroups(def.name, def.resource?.partition ?? DEFAULT_PARTITION, facts);
  const mount = (controller: Controller): CgroupMount => {
    const m = layout.provider(controller);
    if (!m) throw new VirError('VIR_ERR_INTERNAL_ERROR', `Unable to find '${controller}' cgroups controller mount`);
    return m;
  };
  const path = (controller: Controller, file: string): string => join(placement.dirIn(mount(controller)), file);
  return {
    version: (controller) => layout.provider(controller)?.version,
    has: (controller, file) => io.exists(path(controller, file)),
    read(controller, file) {
      const p = path(controller, file);
      return describingFailure(`Unable to read from '${p}'`, () => io.read(p)).replace(/\n$/, '');
    },
    write(controller, file, value) {
      const p = path(controller, file);
      describingFailure(`Unable to write to '${p}'`, () => io.write(p, value));
    },
    readRoot(controller, file) {
      try {
        return io.read(join(mount(controller).mountPoint, file)).replace(/\n$/, '');
      } catch {
        return undefined;
      }
    },
  };
}

/** libvirt's refusal when a call needs a controller the host does not provide. */
export function requireController(cg: DomainCgroup, controller: Controller, message: string): 1 | 2 {
  const version = cg.version(controller);
  if (version === undefined) throw new VirError('VIR_ERR_OPERATION_INVALID', message);
  return version;
}

/** virCgroupGetValueU64 / virCgroupGetValueI64: the file holds one decimal number. */
export function readNumber(cg: DomainCgroup, controller: Controller, file: string): bigint {
  const text = cg.read(controller, file);
  if (!/^\s*-?\d+\s*$/.test(text)) throw new VirError('VIR_ERR_INTERNAL_ERROR', `Unable to parse '${text}' as an integer`);
  return BigInt(text.trim());
}

/** `key value` lines (cpu.stat, cpuacct.stat, memory.stat) as a map. */
export function keyedValues(text: string): Map<string, bigint> {
  const values = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) values.set(m[1]!, BigInt(m[2]!));
  }
  return values;
}
