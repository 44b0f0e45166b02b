/**
 * Scheduler parameters (libvirt's lxcDomainGet/SetSchedulerParametersFlags):
 * cpu_shares, vcpu_period, vcpu_quota, read and written in the running
 * container's cpu cgroup or in a definition's <cputune>. On cgroup v2
 * nsvirt keeps the v1 meaning of shares and converts to and from
 * cpu.weight, as it does at start.
 */
import { invalidArg, internalError } from '../../xml/errors.js';
import type { DomainDef } from '../../xml/model.js';
import type { CpuTune } from '../../xml/sections/cpu.js';
import { readNumber, requireController, type DomainCgroup } from './domaincgroup.js';
import { sharesToWeight, weightToShares } from './tunables.js';

export interface SchedulerParameters {
  readonly cpuShares: bigint;
  /** µs; absent when the host's cpu controller has no bandwidth control. */
  readonly vcpuPeriod?: bigint;
  /** µs per period, negative for no limit; absent without bandwidth control. */
  readonly vcpuQuota?: bigint;
}

export interface SchedulerChanges {
  readonly cpuShares?: bigint;
  /** 0 leaves the running value alone and unsets the configured one. */
  readonly vcpuPeriod?: bigint;
  /** 0 leaves the running value alone and unsets the configured one. */
  readonly vcpuQuota?: bigint;
}

const SHARES_MIN = 2n;
const SHARES_MAX = 262144n;
const PERIOD_MIN = 1000n;
const PERIOD_MAX = 1000000n;
const QUOTA_MIN = 1000n;
/** The kernel's largest bandwidth, ((1 << (64 - 20)) - 1); v2's "max" reads as this. */
export const QUOTA_MAX = 17592186044415n;

const cpuVersion = (cg: DomainCgroup): 1 | 2 => requireController(cg, 'cpu', 'cgroup CPU controller is not mounted');

/** virCgroupSupportsCpuBW: the cpu controller offers period and quota. */
export const supportsCpuBandwidth = (cg: DomainCgroup): boolean =>
  cg.version('cpu') !== undefined && cg.has('cpu', cg.version('cpu') === 1 ? 'cpu.cfs_period_us' : 'cpu.max');

/** cpu.max: "<quota|max> <period>". */
function readCpuMax(cg: DomainCgroup): { quota: string; period: bigint } {
  const text = cg.read('cpu', 'cpu.max');
  const m = /^(\S+) (\d+)/.exec(text);
  if (!m) throw internalError("Invalid 'cpu.max' data.");
  return { quota: m[1]!, period: BigInt(m[2]!) };
}

export function liveSchedulerParameters(cg: DomainCgroup): SchedulerParameters {
  const v1 = cpuVersion(cg) === 1;
  const cpuShares = v1 ? readNumber(cg, 'cpu', 'cpu.shares') : weightToShares(readNumber(cg, 'cpu', 'cpu.weight'));
  if (!supportsCpuBandwidth(cg)) return { cpuShares };
  if (v1) {
    return { cpuShares, vcpuPeriod: readNumber(cg, 'cpu', 'cpu.cfs_period_us'), vcpuQuota: readNumber(cg, 'cpu', 'cpu.cfs_quota_us') };
  }
  const { quota, period } = readCpuMax(cg);
  if (quota !== 'max' && !/^-?\d+$/.test(quota)) throw internalError(`Failed to parse value '${quota}' from cpu.max.`);
  return { cpuShares, vcpuPeriod: period, vcpuQuota: quota === 'max' ? QUOTA_MAX : BigInt(quota) };
}

/** What the definition asks for; unset values read 0. */
export const configSchedulerParameters = (def: DomainDef): SchedulerParameters => ({
  cpuShares: def.cputune?.shares ?? 0n,
  vcpuPeriod: def.cputune?.period ?? 0n,
  vcpuQuota: def.cputune?.quota ?? 0n,
});

function setShares(cg: DomainCgroup, shares: bigint): bigint {
  if (shares < SHARES_MIN || shares > SHARES_MAX) {
    throw invalidArg(`shares '${shares}' must be in range [${SHARES_MIN}, ${SHARES_MAX}]`);
  }
  if (cpuVersion(cg) === 1) {
    cg.write('cpu', 'cpu.shares', String(shares));
    return readNumber(cg, 'cpu', 'cpu.shares');
  }
  cg.write('cpu', 'cpu.weight', String(sharesToWeight(shares)));
  return weightToShares(readNumber(cg, 'cpu', 'cpu.weight'));
}

function setPeriod(cg: DomainCgroup, period: bigint): void {
  if (period < PERIOD_MIN || period > PERIOD_MAX) {
    throw invalidArg(`cfs_period '${period}' must be in range (${PERIOD_MIN}, ${PERIOD_MAX})`);
  }
  if (cpuVersion(cg) === 1) cg.write('cpu', 'cpu.cfs_period_us', String(period));
  else cg.write('cpu', 'cpu.max', `${readCpuMax(cg).quota} ${period}`);
}

function setQuota(cg: DomainCgroup, quota: bigint): void {
  if (quota >= 0n && (quota < QUOTA_MIN || quota > QUOTA_MAX)) {
    throw invalidArg(`cfs_quota '${quota}' must be in range (${QUOTA_MIN}, ${QUOTA_MAX})`);
  }
  if (cpuVersion(cg) === 1) cg.write('cpu', 'cpu.cfs_quota_us', String(quota));
  // A lone number in cpu.max sets the quota and keeps the period.
  else cg.write('cpu', 'cpu.max', quota < 0n || quota === QUOTA_MAX ? 'max' : String(quota));
}

/** The definition's <cputune>, made empty first if it has none. */
function cputuneOf(def: DomainDef): CpuTune {
  def.cputune ??= { vcpuPins: [], iothreadPins: [], vcpuSchedulers: [], iothreadSchedulers: [], resctrlGroups: [] };
  return def.cputune;
}

function setOrUnset(tune: CpuTune, key: 'period' | 'quota', value: bigint): void {
  if (value === 0n) delete tune[key];
  else tune[key] = value;
}

/** Change the running container and record the result in its running definition `live`. */
export function applySchedulerLive(cg: DomainCgroup, live: DomainDef, changes: SchedulerChanges): void {
  cpuVersion(cg);
  if (changes.cpuShares !== undefined) cputuneOf(live).shares = setShares(cg, changes.cpuShares);
  // As libvirt's virCgroupSetupCpuPeriodQuota: 0 means "leave it".
  if (changes.vcpuPeriod) {
    setPeriod(cg, changes.vcpuPeriod);
    cputuneOf(live).period = changes.vcpuPeriod;
  }
  if (changes.vcpuQuota) {
    setQuota(cg, changes.vcpuQuota);
    cputuneOf(live).quota = changes.vcpuQuota;
  }
}

/** Change the persistent definition `def` (validated when it is stored). */
export function applySchedulerConfig(def: DomainDef, changes: SchedulerChanges): void {
  if (changes.cpuShares !== undefined) cputuneOf(def).shares = changes.cpuShares;
  // libvirt stores 0, which reads back as unset.
  if (changes.vcpuPeriod !== undefined) setOrUnset(cputuneOf(def), 'period', changes.vcpuPeriod);
  if (changes.vcpuQuota !== undefined) setOrUnset(cputuneOf(def), 'quota', changes.vcpuQuota);
}
