/**
 * What a running container has used, from its cgroups' accounting files
 * (libvirt's virCgroupGetCpuacct*, virCgroupGetMemoryUsage,
 * virCgroupGetMemSwapUsage): v1 cpuacct.* and memory.*, v2 cpu.stat and
 * memory.current / memory.swap.current. Times in ns, memory in KiB.
 */
import { VirError } from '../../xml/errors.js';
import { parseBitmap, type Bitmap } from '../../xml/bitmap.js';
import type { DomainDef } from '../../xml/model.js';
import { domainCgroup, keyedValues, readNumber, requireController, type DomainCgroup } from './domaincgroup.js';
import { readHostFacts, type HostFacts } from './hostfacts.js';

/** USER_HZ: the unit of cpuacct.stat; 100 on every Linux architecture libvirt runs on. */
const USER_HZ = 100n;
const NS_PER_TICK = 1_000_000_000n / USER_HZ;

const cpuacctVersion = (cg: DomainCgroup): 1 | 2 =>
  requireController(cg, 'cpuacct', 'cgroup CPUACCT controller is not mounted');

const memoryVersion = (cg: DomainCgroup): 1 | 2 => requireController(cg, 'memory', 'cgroup memory controller is not mounted');

/** A v2 cpu.stat field in µs, as ns. */
function cpuStatNs(cg: DomainCgroup, key: string, what: string): bigint {
  const text = cg.read('cpuacct', 'cpu.stat');
  const usec = keyedValues(text).get(key);
  if (usec === undefined) throw new VirError('VIR_ERR_INTERNAL_ERROR', `cannot parse cpu ${what} stat '${text}'`);
  return usec * 1000n;
}

/** Total CPU time of every task in the container. */
export function cpuTimeNs(cg: DomainCgroup): bigint {
  return cpuacctVersion(cg) === 1 ? readNumber(cg, 'cpuacct', 'cpuacct.usage') : cpuStatNs(cg, 'usage_usec', 'usage');
}

export interface UserSystemTime {
  readonly userNs: bigint;
  readonly systemNs: bigint;
}

/** CPU time split into user and kernel mode. */
export function userSystemTimeNs(cg: DomainCgroup): UserSystemTime {
  if (cpuacctVersion(cg) === 2) return { userNs: cpuStatNs(cg, 'user_usec', 'user'), systemNs: cpuStatNs(cg, 'system_usec', 'sys') };
  const text = cg.read('cpuacct', 'cpuacct.stat');
  const ticks = keyedValues(text);
  const user = ticks.get('user');
  const system = ticks.get('system');
  if (user === undefined) throw new VirError('VIR_ERR_INTERNAL_ERROR', `Cannot parse user stat '${text}'`);
  if (system === undefined) throw new VirError('VIR_ERR_INTERNAL_ERROR', `Cannot parse sys stat '${text}'`);
  return { userNs: user * NS_PER_TICK, systemNs: system * NS_PER_TICK };
}

/** The host's present CPUs (virHostCPUGetPresentBitmap). */
export function presentCpus(facts: HostFacts): Bitmap {
  const text = facts.readFile('/sys/devices/system/cpu/present')?.trim();
  if (!text) throw new VirError('VIR_ERR_INTERNAL_ERROR', 'Unable to read the present CPU map of the host');
  return parseBitmap(text);
}

/** As many CPUs as the present map is long: its highest member plus one. */
export const cpuMapSize = (present: Bitmap): number => (present.length === 0 ? 0 : present[present.length - 1]! + 1);

/**
 * CPU time per host CPU, indexed by CPU number (absent CPUs count 0), as
 * virCgroupGetPercpuStats reads cpuacct.usage_percpu. undefined on v2,
 * whose cpu.stat keeps no per-CPU account.
 */
export function perCpuTimeNs(cg: DomainCgroup, present: Bitmap): bigint[] | undefined {
  if (cpuacctVersion(cg) === 2) return undefined;
  const values = cg.read('cpuacct', 'cpuacct.usage_percpu').trim().split(/\s+/);
  const members = new Set(present);
  const times: bigint[] = [];
  let next = 0;
  for (let cpu = 0; cpu < cpuMapSize(present); cpu++) {
    if (!members.has(cpu)) {
      times.push(0n);
      continue;
    }
    const value = values[next++];
    if (value === undefined || !/^\d+$/.test(value)) throw new VirError('VIR_ERR_INTERNAL_ERROR', 'cpuacct parse error');
    times.push(BigInt(value));
  }
  return times;
}

/** Memory in use (page cache included), KiB. */
export function memoryUsageKiB(cg: DomainCgroup): bigint {
  const file = memoryVersion(cg) === 1 ? 'memory.usage_in_bytes' : 'memory.current';
  return readNumber(cg, 'memory', file) >> 10n;
}

/** v1: memory plus swap in use (memsw); v2: swap alone. KiB, as libvirt reports it for swap_in. */
export function swapUsageKiB(cg: DomainCgroup): bigint {
  const file = memoryVersion(cg) === 1 ? 'memory.memsw.usage_in_bytes' : 'memory.swap.current';
  return readNumber(cg, 'memory', file) >> 10n;
}

/**
 * What dominfo shows of a running container (lxcDomainGetInfo): CPU time
 * and memory in use. A value the cgroup cannot give (it is being removed)
 * reads 0 rather than failing every listing.
 */
export function containerUsage(def: DomainDef, facts: HostFacts = readHostFacts()): { cpuTimeNs: bigint; memoryKiB: bigint } {
  const cg = domainCgroup(def, facts);
  const orZero = (read: () => bigint): bigint => {
    try {
      return read();
    } catch {
      return 0n;
    }
  };
  return { cpuTimeNs: orZero(() => cpuTimeNs(cg)), memoryKiB: orZero(() => memoryUsageKiB(cg)) };
}
