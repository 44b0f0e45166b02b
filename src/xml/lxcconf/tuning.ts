/** Resource controls from `lxc.cgroup.*`: memory, cpu, cpuset and blkio. */
import { internalError } from '../errors.js';
import { MEMORY_UNLIMITED_KIB } from '../units.js';
import type { ConfigEntry, LxcConfig } from './config.js';
import { UINT_MAX, convertSize, readSigned, readUnsigned } from './numbers.js';

/** libvirt's conversion starts every domain with 64 MiB. */
export const DEFAULT_MEMORY_KIB = 65536n;

export interface MemoryPlan {
  memoryKiB: bigint;
  hardLimitKiB?: bigint;
  softLimitKiB?: bigint;
  swapHardLimitKiB?: bigint;
}

export interface CpuPlan {
  shares?: bigint;
  period?: bigint;
  quota?: bigint;
  /** lxc.cgroup.cpuset.cpus, a cpu list as written. */
  cpuset?: string;
  /** lxc.cgroup.cpuset.mems, a node list as written. */
  nodeset?: string;
}

export interface BlkioDevicePlan {
  path: string;
  weight?: bigint;
  readBytesSec?: bigint;
  writeBytesSec?: bigint;
  readIopsSec?: bigint;
  writeIopsSec?: bigint;
}

export interface BlkioPlan {
  weight?: bigint;
  devices: BlkioDevicePlan[];
}

/**
 * A memory limit in KiB (bytes / 1024, truncating), or undefined when the
 * limit is `-1`, cgroup v1's "no limit": libvirt would turn that into a
 * 16 EiB <memory>, we keep the defaults.
 */
function memoryLimitKiB(entry: ConfigEntry): bigint | undefined {
  if (entry.value === '-1') return undefined;
  return convertSize(entry.value) / 1024n;
}

/** virMemoryLimitTruncate: at or past "unlimited" is no limit at all. */
const limitIfSet = (kib: bigint | undefined): bigint | undefined =>
  kib === undefined || kib >= MEMORY_UNLIMITED_KIB ? undefined : kib;

function limitFrom(config: LxcConfig, key: string): bigint | undefined {
  const entry = config.first(key);
  return entry === undefined ? undefined : memoryLimitKiB(entry);
}

/** The memory limit is both the domain's memory size and its hard limit. */
export function memoryPlan(config: LxcConfig): MemoryPlan {
  const hard = limitFrom(config, 'lxc.cgroup.memory.limit_in_bytes');
  return {
    memoryKiB: hard ?? DEFAULT_MEMORY_KIB,
    hardLimitKiB: limitIfSet(hard),
    softLimitKiB: limitIfSet(limitFrom(config, 'lxc.cgroup.memory.soft_limit_in_bytes')),
    swapHardLimitKiB: limitIfSet(limitFrom(config, 'lxc.cgroup.memory.memsw.limit_in_bytes')),
  };
}

/** An integer cgroup value; `read` returns undefined when it does not parse. */
function integerFrom(
  config: LxcConfig,
  key: string,
  read: (text: string) => bigint | undefined,
): bigint | undefined {
  const entry = config.first(key);
  if (entry === undefined) return undefined;
  const value = read(entry.value);
  if (value === undefined) throw internalError(`failed to parse integer: '${entry.value}'`);
  return value;
}

export function cpuPlan(config: LxcConfig): CpuPlan {
  // The cpu and node lists are checked (and canonicalised) by the domain XML parser.
  return {
    shares: integerFrom(config, 'lxc.cgroup.cpu.shares', (t) => readUnsigned(t)),
    quota: integerFrom(config, 'lxc.cgroup.cpu.cfs_quota_us', (t) => readSigned(t)),
    period: integerFrom(config, 'lxc.cgroup.cpu.cfs_period_us', (t) => readUnsigned(t)),
    cpuset: config.first('lxc.cgroup.cpuset.cpus')?.value,
    nodeset: config.first('lxc.cgroup.cpuset.mems')?.value,
  };
}

type DeviceField = Exclude<keyof BlkioDevicePlan, 'path'>;

/** Per-device blkio keys: the field each sets, its largest value and libvirt's name for it. */
const BLKIO_DEVICE_KEYS: Readonly<Record<string, { field: DeviceField; max?: bigint; what: string }>> = {
  'lxc.cgroup.blkio.device_weight': { field: 'weight', max: UINT_MAX, what: 'device weight' },
  'lxc.cgroup.blkio.throttle.read_bps_device': { field: 'readBytesSec', what: 'read_bps_device' },
  'lxc.cgroup.blkio.throttle.write_bps_device': { field: 'writeBytesSec', what: 'write_bps_device' },
  'lxc.cgroup.blkio.throttle.read_iops_device': { field: 'readIopsSec', max: UINT_MAX, what: 'read_iops_device' },
  'lxc.cgroup.blkio.throttle.write_iops_device': { field: 'writeIopsSec', max: UINT_MAX, what: 'write_iops_device' },
};

/** `MAJ:MIN VALUE` lines, merged per device in order of first appearance. */
function blkioDevices(config: LxcConfig): BlkioDevicePlan[] {
  const byPath = new Map<string, BlkioDevicePlan>();
  for (const entry of config.all(...Object.keys(BLKIO_DEVICE_KEYS))) {
    const { field, max, what } = BLKIO_DEVICE_KEYS[entry.key]!;
    const [device, valueText] = entry.value.split(/[ \t]+/).filter((p) => p !== '');
    if (device === undefined || valueText === undefined) {
      throw internalError(`invalid ${entry.key} value: '${entry.value}'`);
    }
    const value = readUnsigned(valueText, max);
    if (value === undefined) throw internalError(`failed to parse ${what}: '${valueText}'`);
    const path = `/dev/block/${device}`;
    const plan = byPath.get(path) ?? { path };
    byPath.set(path, plan);
    plan[field] = value;
  }
  return [...byPath.values()];
}

export function blkioPlan(config: LxcConfig): BlkioPlan {
  const weight = integerFrom(config, 'lxc.cgroup.blkio.weight', (t) => readUnsigned(t, UINT_MAX));
  return { weight, devices: blkioDevices(config) };
}
