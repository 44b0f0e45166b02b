/**
 * What the planner needs to know about the host, behind one interface so the
 * planner stays pure: tests pass a fixture, the driver passes `readHostFacts`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseXmlTree, child, attr } from '../../xml/tree.js';
import type { NetworkFacts } from './network.js';

export interface CgroupMount {
  /** Where the hierarchy is mounted on the host, e.g. /sys/fs/cgroup/memory. */
  readonly mountPoint: string;
  readonly version: 1 | 2;
  /** v1: the hierarchy's controllers and name= options as mounted (e.g. 'cpu,cpuacct', 'name=systemd'). */
  readonly options: string;
}

export interface FileFacts {
  readonly kind: 'dir' | 'file' | 'char' | 'block' | 'other';
  readonly major: number;
  readonly minor: number;
}

export interface HostFacts {
  readonly cgroupMounts: readonly CgroupMount[];
  /** Every mount point of the host, in mount order. */
  readonly mountPoints: readonly string[];
  /** Filesystem types to try, in order, when mounting a block device (host /etc/filesystems, /proc/filesystems). */
  readonly blockFilesystems: readonly string[];
  stat(path: string): FileFacts | undefined;
  readFile(path: string): string | undefined;
}

/** mountinfo fields: mount point is field 5, fstype and super options come after the ' - ' separator. */
function mountinfo(): Array<{ mountPoint: string; fstype: string; superOptions: string }> {
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const [before, after] = line.split(' - ');
      const f = before!.split(' ');
      const g = after!.split(' ');
      return { mountPoint: unescape(f[4]!), fstype: g[0]!, superOptions: g[2] ?? '' };
    });
}

const V1_CONTROLLERS = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'blkio', 'perf_event',
  'net_prio', 'hugetlb', 'pids', 'rdma', 'misc',
]);

type MountEntry = ReturnType<typeof mountinfo>[number];

function cgroupMounts(entries: readonly MountEntry[]): CgroupMount[] {
  const seen = new Set<string>();
  const mounts: CgroupMount[] = [];
  for (const m of entries) {
    if (m.fstype !== 'cgroup' && m.fstype !== 'cgroup2') continue;
    const options =
      m.fstype === 'cgroup'
        ? m.superOptions
            .split(',')
            .filter((o) => V1_CONTROLLERS.has(o) || o.startsWith('name='))
            .join(',')
        : '';
    const key = `${m.fstype}:${options}`;
    if (seen.has(key)) continue; // the same hierarchy mounted twice: use the first
    seen.add(key);
    mounts.push({ mountPoint: m.mountPoint, version: m.fstype === 'cgroup' ? 1 : 2, options });
  }
  return mounts;
}

function blockFilesystems(): string[] {
  const fromList = (text: string): string[] =>
    text
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.includes('nodev'))
      .map((l) => l.trim().split(/\s+/).pop()!)
      .filter((t) => t !== '*');
  const proc = fromList(readFileSync('/proc/filesystems', 'utf8'));
  if (!existsSync('/etc/filesystems')) return proc;
  const etc = readFileSync('/etc/filesystems', 'utf8');
  const listed = fromList(etc);
  // A trailing '*' line means: then everything the kernel knows.
  return /^\s*\*\s*$/m.test(etc) ? [...new Set([...listed, ...proc])] : listed;
}

function stat(path: string): FileFacts | undefined {
  try {
    const s = statSync(path);
    const kind = s.isDirectory() ? 'dir' : s.isFile() ? 'file' : s.isCharacterDevice() ? 'char' : s.isBlockDevice() ? 'block' : 'other';
    return { kind, major: Math.floor(s.rdev / 256) & 0xfff, minor: (s.rdev & 0xff) | ((s.rdev >> 12) & 0xfff00) };
  } catch {
    return undefined;
  }
}

function readFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function readHostFacts(): HostFacts {
  const mounts = mountinfo();
  return {
    cgroupMounts: cgroupMounts(mounts),
    mountPoints: mounts.map((m) => m.mountPoint),
    blockFilesystems: blockFilesystems(),
    stat,
    readFile,
  };
}

/** The links of the network namespace of process `pid` (its /proc/PID/net/dev; empty when it is gone). */
export function namespaceLinks(pid: number | 'self'): string[] {
  return (readFile(`/proc/${pid}/net/dev`) ?? '')
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]!.trim())
    .filter((n) => n !== '');
}

/**
 * The links of this process's network namespace (/proc/self/net/dev follows
 * the namespace; /sys/class/net follows whoever mounted sysfs), and the
 * networks defined for nsvirt: libvirt network XML files whose
 * `<bridge name>` a `type='network'` interface plugs into.
 */
export function readNetworkFacts(networkDir: string): NetworkFacts {
  return {
    links: namespaceLinks('self'),
    bridgeOfNetwork(name) {
      const text = readFile(join(networkDir, `${name}.xml`));
      if (text === undefined) return undefined;
      const bridge = child(parseXmlTree(text), 'bridge');
      return bridge === undefined ? undefined : attr(bridge, 'name');
    },
  };
}
