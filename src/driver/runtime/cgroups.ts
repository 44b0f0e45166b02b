/**
 * Where a container's cgroups go, as libvirt places them without machined:
 * `<partition>/<name>.libvirt-lxc` in every hierarchy the host mounts (v1
 * controllers, the v2 unified tree, or both on a hybrid host), with the
 * values a new v1 cpuset group needs before it can hold a task.
 */
import { join } from 'node:path';
import { VirError } from '../../xml/errors.js';
import type { CgroupMount, HostFacts } from './hostfacts.js';

export const DEFAULT_PARTITION = '/machine';

/** libvirt's virCgroupPartitionEscape: names that could clash with cgroup files get a '_' prefix. */
const escapeComponent = (name: string): string => (/^[._]/.test(name) || name.startsWith('cgroup.') ? `_${name}` : name);

/** `/machine` → `machine`; other components get `.partition` (virCgroupNewPartition). */
export function partitionPath(partition: string): string {
  if (!partition.startsWith('/')) {
    throw new VirError('VIR_ERR_CONFIG_UNSUPPORTED', `Resource partition '${partition}' must start with '/'`);
  }
  const parts = partition.split('/').filter((p) => p !== '');
  return parts
    .map((p, i) => (i === 0 && ['machine', 'system', 'user'].includes(p) ? p : `${escapeComponent(p)}.partition`))
    .join('/');
}

export const containerCgroupName = (domainName: string): string => escapeComponent(`${domainName}.libvirt-lxc`);

export interface ContainerCgroups {
  /** The container's own directory in every hierarchy. */
  readonly dirs: readonly string[];
  /** Values to write before the container joins (v1 cpuset needs cpus and mems). */
  readonly writes: ReadonlyArray<{ readonly path: string; readonly value: string }>;
  /** The container's directory in one hierarchy. */
  dirIn(mount: CgroupMount): string;
}

const hasController = (m: CgroupMount, controller: string): boolean => m.options.split(',').includes(controller);

export function containerCgroups(domainName: string, partition: string, facts: HostFacts): ContainerCgroups {
  const relative = join(partitionPath(partition), containerCgroupName(domainName));
  const dirs = facts.cgroupMounts.map((m) => join(m.mountPoint, relative));
  const writes: Array<{ path: string; value: string }> = [];
  for (const m of facts.cgroupMounts.filter((c) => c.version === 1 && hasController(c, 'cpuset'))) {
    // Every level from the partition down starts empty and inherits nothing.
    const levels = relative.split('/').map((_, i, all) => join(m.mountPoint, ...all.slice(0, i + 1)));
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const value = facts.readFile(join(m.mountPoint, file))?.trim();
      if (value) for (const dir of levels) writes.push({ path: join(dir, file), value });
    }
  }
  return { dirs, writes, dirIn: (m) => join(m.mountPoint, relative) };
}
