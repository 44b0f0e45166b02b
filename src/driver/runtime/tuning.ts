/**
 * Live queries and changes of a domain's resources, with libvirt's
 * AFFECT_LIVE / AFFECT_CONFIG rules (virDomainObjUpdateModificationImpact):
 * the running container's cgroups and its running definition, or the
 * persistent definition, or both. Scheduler, memory and blkio parameters,
 * the memory allocation, memory and CPU statistics.
 *
 * A live change holds the domain lock, writes the cgroup and records the
 * result in the running definition (ROOT/run/nsvirt/lxc/NAME.xml). A
 * config change is stored through define, so it is validated and written
 * atomically like any definition.
 */
import type { DomainDef } from '../../xml/model.js';
import { VirError, invalidArg } from '../../xml/errors.js';
import { formatDomainXML } from '../../xml/format.js';
import { MEMORY_UNLIMITED_KIB } from '../../xml/units.js';
import type { DomainRef } from '../driver.js';
import type { LiveDomain } from '../live.js';
import { withDomainLock } from '../lock.js';
import { impactOf, type AffectOptions } from './impact.js';
import { readHostFacts, type HostFacts } from './hostfacts.js';
import { domainCgroup, requireController, type DomainCgroup } from './domaincgroup.js';
import { runningDomain, type DomainSource } from './running.js';
import { saveRunningDefinition } from './livestate.js';
import {
  applySchedulerConfig,
  applySchedulerLive,
  configSchedulerParameters,
  liveSchedulerParameters,
  supportsCpuBandwidth,
  type SchedulerChanges,
  type SchedulerParameters,
} from './schedparams.js';
import {
  applyMemoryLimitsConfig,
  applyMemoryLimitsLive,
  checkHardNotAboveSwap,
  checkMemoryNotAboveMax,
  definedLimits,
  liveMemoryLimits,
  setMaxMemoryConfig,
  setMemoryLive,
  type MemoryLimitChanges,
  type MemoryLimits,
} from './memoryparams.js';
import {
  applyBlkioConfig,
  applyBlkioLive,
  configBlkioParameters,
  liveBlkioParameters,
  type BlkioParameterChanges,
  type BlkioParameters,
} from './blkioparams.js';
import { cpuMapSize, cpuTimeNs, memoryUsageKiB, perCpuTimeNs, presentCpus, swapUsageKiB, userSystemTimeNs } from './cgroupusage.js';

export type { SchedulerChanges, SchedulerParameters } from './schedparams.js';
export type { AffectOptions } from './impact.js';
export type { BlkioDeviceList, BlkioDeviceValue, BlkioParameterChanges, BlkioParameters } from './blkioparams.js';

/** What these calls need from the driver. */
export interface TuningSource extends DomainSource {
  /** Store a changed persistent definition as virDomainDefineXML does. */
  defineXML(xml: string): Promise<unknown>;
}

/** A memory limit in KiB, or none. */
export type MemoryLimit = bigint | 'unlimited';

export interface MemoryParameters {
  readonly hardLimitKiB: MemoryLimit;
  readonly softLimitKiB: MemoryLimit;
  /** Memory plus swap. */
  readonly swapHardLimitKiB: MemoryLimit;
}

export interface MemoryParameterChanges {
  readonly hardLimitKiB?: MemoryLimit;
  readonly softLimitKiB?: MemoryLimit;
  readonly swapHardLimitKiB?: MemoryLimit;
  /** Refused, as libvirt's LXC driver refuses it. */
  readonly minGuaranteeKiB?: MemoryLimit;
}

export interface SchedulerType {
  /** Always 'posix'. */
  readonly type: string;
  /** How many scheduler parameters there are: 1 (cpu_shares) when the host has no CPU bandwidth control. */
  readonly nparams: number;
}

/** virDomainMemoryStats of a container, KiB. */
export interface MemoryStats {
  /** The memory allocation (<currentMemory>). */
  readonly actualKiB: bigint;
  /** libvirt's swap_in: on cgroup v1 memory plus swap in use, on v2 swap in use. */
  readonly swapInKiB: bigint;
  /** Memory in use. */
  readonly rssKiB: bigint;
}

/** virDomainGetCPUStats of a container, ns. */
export interface CPUStats {
  readonly cpuTimeNs: bigint;
  readonly userTimeNs: bigint;
  readonly systemTimeNs: bigint;
  /** How many host CPUs there are (the size of the present CPU map). */
  readonly hostCpus: number;
  /** CPU time on each host CPU; undefined where the cgroup keeps no per-CPU account (v2). */
  readonly perCpuTimeNs: readonly bigint[] | undefined;
}

/** virDomainObjGetOneDef's refusal of both at once. */
function oneDefinition(opts: AffectOptions): void {
  if (opts.live && opts.config) {
    throw invalidArg("Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive");
  }
}

const cgroupOf = (live: LiveDomain, facts: HostFacts = readHostFacts()): DomainCgroup => domainCgroup(live.def, facts);

/** Read from the running domain or the persistent definition; `prefer` decides when both are asked for. */
async function query<T>(
  source: DomainSource,
  ref: DomainRef,
  opts: AffectOptions,
  prefer: 'live' | 'config',
  fromLive: (cg: DomainCgroup, live: LiveDomain) => T,
  fromConfig: (def: DomainDef) => T,
): Promise<T> {
  const snapshot = await source.snapshot(ref);
  const impact = impactOf(snapshot, opts);
  const useLive = impact.live && (!impact.config || prefer === 'live');
  return useLive ? fromLive(cgroupOf(snapshot.live!), snapshot.live!) : fromConfig(snapshot.def);
}

interface Change {
  /** Checks on the definitions the change will act on, before anything changes. */
  check?(target: { readonly live?: DomainDef; readonly config?: DomainDef; readonly current: DomainDef }): void;
  live?(cg: DomainCgroup, live: DomainDef, facts: HostFacts): void;
  config?(def: DomainDef): void;
}

/**
 * Apply `change` where `opts` says. Live first, as libvirt does; the running
 * definition records whatever the cgroups took, even when a later write fails.
 */
async function modify(source: TuningSource, ref: DomainRef, opts: AffectOptions, change: Change): Promise<void> {
  let config: DomainDef | undefined;
  await withDomainLock(source.paths, ref.name, async () => {
    const snapshot = await source.snapshot(ref);
    const impact = impactOf(snapshot, opts);
    const live = impact.live ? structuredClone(snapshot.live!.def) : undefined;
    config = impact.config ? structuredClone(snapshot.def) : undefined;
    change.check?.({ live, config, current: snapshot.live?.def ?? snapshot.def });
    if (config) change.config?.(config);
    if (live && change.live) {
      const facts = readHostFacts();
      try {
        change.live(domainCgroup(live, facts), live, facts);
      } finally {
        saveRunningDefinition(source.paths, live);
      }
    }
  });
  if (config) await source.defineXML(formatDomainXML(config, { inactive: true, secure: true }));
}

/* ---------- scheduler ---------- */

/** virDomainGetSchedulerType. */
export async function schedulerType(source: DomainSource, ref: DomainRef): Promise<SchedulerType> {
  const { live } = await source.snapshot(ref);
  if (!live) return { type: 'posix', nparams: 3 };
  const cg = cgroupOf(live);
  requireController(cg, 'cpu', 'cgroup CPU controller is not mounted');
  return { type: 'posix', nparams: supportsCpuBandwidth(cg) ? 3 : 1 };
}

export async function getSchedulerParameters(source: DomainSource, ref: DomainRef, opts: AffectOptions = {}): Promise<SchedulerParameters> {
  oneDefinition(opts);
  return query(source, ref, opts, 'live', (cg) => liveSchedulerParameters(cg), configSchedulerParameters);
}

export async function setSchedulerParameters(
  source: TuningSource,
  ref: DomainRef,
  changes: SchedulerChanges,
  opts: AffectOptions = {},
): Promise<void> {
  await modify(source, ref, opts, {
    live: (cg, live) => applySchedulerLive(cg, live, changes),
    config: (def) => applySchedulerConfig(def, changes),
  });
}

/* ---------- memory limits ---------- */

const toLimit = (kib: bigint): MemoryLimit => (kib >= MEMORY_UNLIMITED_KIB ? 'unlimited' : kib);
const fromLimit = (limit: MemoryLimit | undefined): bigint | undefined => (limit === 'unlimited' ? MEMORY_UNLIMITED_KIB : limit);

const publicLimits = (l: MemoryLimits): MemoryParameters => ({
  hardLimitKiB: toLimit(l.hardLimitKiB),
  softLimitKiB: toLimit(l.softLimitKiB),
  swapHardLimitKiB: toLimit(l.swapHardLimitKiB),
});

export async function getMemoryParameters(source: DomainSource, ref: DomainRef, opts: AffectOptions = {}): Promise<MemoryParameters> {
  return query(source, ref, opts, 'config', (cg) => publicLimits(liveMemoryLimits(cg)), (def) => publicLimits(definedLimits(def)));
}

export async function setMemoryParameters(
  source: TuningSource,
  ref: DomainRef,
  params: MemoryParameterChanges,
  opts: AffectOptions = {},
): Promise<void> {
  if (params.minGuaranteeKiB !== undefined) throw new VirError('VIR_ERR_ARGUMENT_UNSUPPORTED', "parameter 'min_guarantee' not supported");
  const changes: MemoryLimitChanges = {
    hardLimitKiB: fromLimit(params.hardLimitKiB),
    softLimitKiB: fromLimit(params.softLimitKiB),
    swapHardLimitKiB: fromLimit(params.swapHardLimitKiB),
  };
  await modify(source, ref, opts, {
    check: ({ current }) => checkHardNotAboveSwap(definedLimits(current), changes),
    live: (cg, live) => applyMemoryLimitsLive(cg, live, changes),
    config: (def) => applyMemoryLimitsConfig(def, changes),
  });
}

/* ---------- memory allocation ---------- */

/** virDomainSetMemory* argument checks (libvirt.c). */
function checkMemoryArgument(kib: bigint, api: string): void {
  if (kib === 0n) throw invalidArg(`memory in ${api} must not be zero`);
  if (kib >= MEMORY_UNLIMITED_KIB) throw new VirError('VIR_ERR_OVERFLOW', `input too large: ${kib}`);
}

/**
 * Change the memory allocation. Without options, the running domain only
 * (virDomainSetMemory); with options, as virDomainSetMemoryFlags.
 */
export async function setMemory(source: TuningSource, ref: DomainRef, kib: bigint, opts?: AffectOptions): Promise<void> {
  checkMemoryArgument(kib, opts === undefined ? 'virDomainSetMemory' : 'virDomainSetMemoryFlags');
  await modify(source, ref, opts ?? { live: true }, {
    check: ({ live, config }) => checkMemoryNotAboveMax(kib, [live, config].flatMap((d) => (d ? [d.memoryKiB] : []))),
    live: (cg, live) => setMemoryLive(cg, live, kib),
    config: (def) => {
      def.currentMemoryKiB = kib;
    },
  });
}

/** Change the maximum memory (<memory>) of the persistent definition; a running domain refuses it. */
export async function setMaxMemory(source: TuningSource, ref: DomainRef, kib: bigint, opts?: AffectOptions): Promise<void> {
  checkMemoryArgument(kib, opts === undefined ? 'virDomainSetMaxMemory' : 'virDomainSetMemoryFlags');
  await modify(source, ref, opts ?? {}, {
    check: ({ live }) => {
      if (live) throw new VirError('VIR_ERR_OPERATION_INVALID', 'Cannot resize the max memory on an active domain');
    },
    config: (def) => setMaxMemoryConfig(def, kib),
  });
}

/* ---------- blkio ---------- */

export async function getBlkioParameters(source: DomainSource, ref: DomainRef, opts: AffectOptions = {}): Promise<BlkioParameters> {
  return query(source, ref, opts, 'live', (cg, live) => liveBlkioParameters(cg, live.def), configBlkioParameters);
}

export async function setBlkioParameters(
  source: TuningSource,
  ref: DomainRef,
  changes: BlkioParameterChanges,
  opts: AffectOptions = {},
): Promise<void> {
  await modify(source, ref, opts, {
    live: (cg, live, facts) => applyBlkioLive(cg, facts, live, changes),
    config: (def) => applyBlkioConfig(def, changes),
  });
}

/* ---------- statistics ---------- */

export async function memoryStats(source: DomainSource, ref: DomainRef): Promise<MemoryStats> {
  const { live } = await runningDomain(source, ref);
  const cg = cgroupOf(live);
  return { actualKiB: live.def.currentMemoryKiB, swapInKiB: swapUsageKiB(cg), rssKiB: memoryUsageKiB(cg) };
}

export async function cpuStats(source: DomainSource, ref: DomainRef): Promise<CPUStats> {
  const { live } = await runningDomain(source, ref);
  const facts = readHostFacts();
  const cg = cgroupOf(live, facts);
  const present = presentCpus(facts);
  const { userNs, systemNs } = userSystemTimeNs(cg);
  return {
    cpuTimeNs: cpuTimeNs(cg),
    userTimeNs: userNs,
    systemTimeNs: systemNs,
    hostCpus: cpuMapSize(present),
    perCpuTimeNs: perCpuTimeNs(cg, present),
  };
}
