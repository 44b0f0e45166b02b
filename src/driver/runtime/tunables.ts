/**
 * The domain's resource limits as cgroup file writes (libvirt's
 * virLXCCgroupSetup, in its order: CPU, cpuset, blkio, memory), for cgroup
 * v1 and v2 alike: which controller, which file, which value. Pure; the
 * same conversions serve the live tuning commands.
 */
import { join } from 'node:path';
import { VirError } from '../../xml/errors.js';
import type { DomainDef } from '../../xml/model.js';
import { formatBitmap } from '../../xml/bitmap.js';
import type { BlkioDeviceTune } from '../../xml/sections/memory.js';
import type { CgroupMount, HostFacts } from './hostfacts.js';

export type Controller = 'cpu' | 'cpuacct' | 'cpuset' | 'memory' | 'devices' | 'freezer' | 'blkio' | 'pids';

/** Which hierarchy provides each controller: a v1 mount, the unified (v2) tree, or none. */
export interface CgroupLayout {
  readonly kind: 'v1' | 'v2' | 'hybrid';
  provider(controller: Controller): CgroupMount | undefined;
  /** The unified hierarchy, if mounted (on a hybrid host, without controllers). */
  readonly unified?: CgroupMount;
}

/** v2 names the blkio controller "io". */
const V2_NAME: Partial<Record<Controller, string>> = { blkio: 'io' };

export function cgroupLayout(facts: HostFacts): CgroupLayout {
  const v1 = facts.cgroupMounts.filter((m) => m.version === 1);
  const unified = facts.cgroupMounts.find((m) => m.version === 2);
  const v2Controllers = new Set((unified ? (facts.readFile(join(unified.mountPoint, 'cgroup.controllers')) ?? '') : '').trim().split(/\s+/));
  const kind = v1.length === 0 ? 'v2' : unified ? 'hybrid' : 'v1';
  return {
    kind,
    unified,
    provider(controller) {
      const m = v1.find((h) => h.options.split(',').includes(controller));
      if (m) return m;
      // v2 has no separate cpuacct or devices controllers: cpu.stat and BPF programs cover them.
      if (unified && (controller === 'devices' || controller === 'freezer' || controller === 'cpuacct')) return unified;
      return unified && v2Controllers.has(V2_NAME[controller] ?? controller) ? unified : undefined;
    },
  };
}

export interface CgroupWrite {
  readonly controller: Controller;
  /** File name inside the container's cgroup directory of that controller's hierarchy. */
  readonly file: string;
  readonly value: string;
}

const KIB = 1024n;

const clamp = (v: bigint, lo: bigint, hi: bigint): bigint => (v < lo ? lo : v > hi ? hi : v);

/**
 * cpu.shares (default 1024) → cpu.weight (1..10000, default 100) with the
 * kernel's own proportion (weight = shares × 100 / 1024, rounded), so the
 * defaults match; libvirt writes the shares number unconverted.
 */
export const sharesToWeight = (shares: bigint): bigint => clamp((shares * 100n + 512n) / 1024n, 1n, 10000n);
export const weightToShares = (weight: bigint): bigint => (weight * 1024n + 50n) / 100n;

const missing = (controller: string): VirError =>
  new VirError('VIR_ERR_INTERNAL_ERROR', `Unable to find '${controller}' cgroups controller mount`);

function cpuWrites(def: DomainDef, layout: CgroupLayout): CgroupWrite[] {
  const t = def.cputune;
  if (!t || (t.shares === undefined && !t.period && !t.quota)) return [];
  const m = layout.provider('cpu');
  if (!m) throw missing('cpu');
  const writes: CgroupWrite[] = [];
  if (t.shares !== undefined) {
    writes.push(
      m.version === 1
        ? { controller: 'cpu', file: 'cpu.shares', value: String(t.shares) }
        : { controller: 'cpu', file: 'cpu.weight', value: String(sharesToWeight(t.shares)) },
    );
  }
  if (t.period || t.quota) {
    if (m.version === 1) {
      if (t.period) writes.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(t.period) });
      if (t.quota) writes.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(t.quota) });
    } else {
      const quota = t.quota === undefined || t.quota < 0n ? 'max' : String(t.quota);
      writes.push({ controller: 'cpu', file: 'cpu.max', value: `${quota} ${t.period ?? 100000n}` });
    }
  }
  return writes;
}

function cpusetWrites(def: DomainDef, layout: CgroupLayout): CgroupWrite[] {
  const writes: CgroupWrite[] = [];
  const cpus = def.vcpu.placement !== 'auto' ? def.vcpu.cpuset : undefined;
  const memory = def.numatune?.memory;
  // libvirt leaves cpuset.mems alone in strict mode (it relies on the memory policy instead).
  const mems = memory?.placement === 'static' && memory.mode !== 'strict' ? memory.nodeset : undefined;
  if (!cpus && !mems) return [];
  if (!layout.provider('cpuset')) throw missing('cpuset');
  if (cpus) writes.push({ controller: 'cpuset', file: 'cpuset.cpus', value: formatBitmap(cpus) });
  if (mems) writes.push({ controller: 'cpuset', file: 'cpuset.mems', value: formatBitmap(mems) });
  return writes;
}

function blkioDevice(path: string, facts: HostFacts): string {
  const st = facts.stat(path);
  if (!st || (st.kind !== 'block' && st.kind !== 'char')) {
    throw new VirError('VIR_ERR_INVALID_ARG', `Path '${path}' must be a block device`);
  }
  return `${st.major}:${st.minor}`;
}

function blkioWrites(def: DomainDef, layout: CgroupLayout, facts: HostFacts): CgroupWrite[] {
  const t = def.blkiotune;
  if (!t || (t.weight === undefined && t.devices.length === 0)) return [];
  const m = layout.provider('blkio');
  if (!m) throw missing('blkio');
  const has = (file: string): boolean => facts.stat(join(m.mountPoint, file)) !== undefined;
  const writes: CgroupWrite[] = [];
  if (t.weight !== undefined) {
    if (m.version === 1) {
      const file = has('blkio.bfq.weight') ? 'blkio.bfq.weight' : has('blkio.weight') ? 'blkio.weight' : undefined;
      if (!file) throw new VirError('VIR_ERR_OPERATION_INVALID', 'blkio weight is valid only for bfq or cfq scheduler');
      writes.push({ controller: 'blkio', file, value: String(t.weight) });
    } else {
      writes.push(
        has('io.bfq.weight')
          ? { controller: 'blkio', file: 'io.bfq.weight', value: String(t.weight) }
          : { controller: 'blkio', file: 'io.weight', value: `default ${t.weight}` },
      );
    }
  }
  for (const d of t.devices) writes.push(...blkioDeviceWrites(d, m.version, blkioDevice(d.path, facts)));
  return writes;
}

function blkioDeviceWrites(d: BlkioDeviceTune, version: 1 | 2, dev: string): CgroupWrite[] {
  const w = (file: string, value: string): CgroupWrite => ({ controller: 'blkio', file, value });
  if (version === 1) {
    return [
      ...(d.weight !== undefined ? [w('blkio.weight_device', `${dev} ${d.weight}`)] : []),
      ...(d.readIopsSec !== undefined ? [w('blkio.throttle.read_iops_device', `${dev} ${d.readIopsSec}`)] : []),
      ...(d.writeIopsSec !== undefined ? [w('blkio.throttle.write_iops_device', `${dev} ${d.writeIopsSec}`)] : []),
      ...(d.readBytesSec !== undefined ? [w('blkio.throttle.read_bps_device', `${dev} ${d.readBytesSec}`)] : []),
      ...(d.writeBytesSec !== undefined ? [w('blkio.throttle.write_bps_device', `${dev} ${d.writeBytesSec}`)] : []),
    ];
  }
  const limit = (v: number | bigint | undefined): string => (v === undefined || v === 0 || v === 0n ? 'max' : String(v));
  const writes = d.weight !== undefined ? [w('io.weight', `${dev} ${d.weight}`)] : [];
  if ([d.readIopsSec, d.writeIopsSec, d.readBytesSec, d.writeBytesSec].some((v) => v !== undefined)) {
    writes.push(
      w('io.max', `${dev} riops=${limit(d.readIopsSec)} wiops=${limit(d.writeIopsSec)} rbps=${limit(d.readBytesSec)} wbps=${limit(d.writeBytesSec)}`),
    );
  }
  return writes;
}

/** `<memory>` is the limit unless memtune hard_limit overrides it; soft and swap limits follow. */
function memoryWrites(def: DomainDef, layout: CgroupLayout, facts: HostFacts): CgroupWrite[] {
  const m = layout.provider('memory');
  if (!m) throw missing('memory');
  const bytes = (kib: bigint): string => String(kib * KIB);
  const hard = def.memtune?.hardLimitKiB ?? def.memoryKiB;
  const w = (file: string, value: string): CgroupWrite => ({ controller: 'memory', file, value });
  if (m.version === 1) {
    const writes = [w('memory.limit_in_bytes', bytes(hard))];
    if (def.memtune?.softLimitKiB !== undefined) writes.push(w('memory.soft_limit_in_bytes', bytes(def.memtune.softLimitKiB)));
    if (def.memtune?.swapHardLimitKiB !== undefined) {
      if (facts.stat(join(m.mountPoint, 'memory.memsw.limit_in_bytes')) === undefined) {
        throw new VirError('VIR_ERR_CONFIG_UNSUPPORTED', 'swap_hard_limit needs swap accounting (memory.memsw.limit_in_bytes) on this host');
      }
      writes.push(w('memory.memsw.limit_in_bytes', bytes(def.memtune.swapHardLimitKiB)));
    }
    return writes;
  }
  const writes = [w('memory.max', bytes(hard))];
  if (def.memtune?.softLimitKiB !== undefined) writes.push(w('memory.high', bytes(def.memtune.softLimitKiB)));
  // v2's swap limit counts swap alone, v1's memory plus swap: keep libvirt's meaning.
  if (def.memtune?.swapHardLimitKiB !== undefined) {
    const swapOnly = def.memtune.swapHardLimitKiB > hard ? def.memtune.swapHardLimitKiB - hard : 0n;
    writes.push(w('memory.swap.max', bytes(swapOnly)));
  }
  return writes;
}

/** Every limit the definition sets, in libvirt's order. */
export function tunableWrites(def: DomainDef, layout: CgroupLayout, facts: HostFacts): CgroupWrite[] {
  return [...cpuWrites(def, layout), ...cpusetWrites(def, layout), ...blkioWrites(def, layout, facts), ...memoryWrites(def, layout, facts)];
}
