/**
 * Memory limits and the memory allocation (libvirt's
 * lxcDomainGet/SetMemoryParameters and lxcDomainSetMemoryFlags): the
 * running container's memory cgroup, or a definition's <memtune>,
 * <memory> and <currentMemory>. Values are KiB; libvirt's "unlimited"
 * (VIR_DOMAIN_MEMORY_PARAM_UNLIMITED) is MEMORY_UNLIMITED_KIB here too.
 * On cgroup v2 swap_hard_limit keeps its v1 meaning (memory plus swap),
 * as at start: memory.swap.max holds the difference.
 */
import { VirError, invalidArg, internalError } from '../../xml/errors.js';
import type { DomainDef } from '../../xml/model.js';
import type { MemTune } from '../../xml/sections/memory.js';
import { MEMORY_UNLIMITED_KIB } from '../../xml/units.js';
import { readNumber, requireController, type DomainCgroup } from './domaincgroup.js';

/** The three limits, KiB; MEMORY_UNLIMITED_KIB for none. */
export interface MemoryLimits {
  readonly hardLimitKiB: bigint;
  readonly softLimitKiB: bigint;
  readonly swapHardLimitKiB: bigint;
}

export type MemoryLimitChanges = Partial<MemoryLimits>;

const UNLIMITED = MEMORY_UNLIMITED_KIB;

const memoryVersion = (cg: DomainCgroup): 1 | 2 => requireController(cg, 'memory', 'cgroup memory controller is not mounted');

type LimitKey = keyof MemoryLimits;
const MEMTUNE_KEY: Record<LimitKey, keyof MemTune> = {
  hardLimitKiB: 'hardLimitKiB',
  softLimitKiB: 'softLimitKiB',
  swapHardLimitKiB: 'swapHardLimitKiB',
};

/** The limits a definition sets (absent ones are unlimited). */
export const definedLimits = (def: DomainDef): MemoryLimits => ({
  hardLimitKiB: def.memtune?.hardLimitKiB ?? UNLIMITED,
  softLimitKiB: def.memtune?.softLimitKiB ?? UNLIMITED,
  swapHardLimitKiB: def.memtune?.swapHardLimitKiB ?? UNLIMITED,
});

/** v1 files hold bytes; the hierarchy root's own limit is the largest there is ("unlimited"). */
function v1Limit(cg: DomainCgroup, file: string): bigint {
  const kib = readNumber(cg, 'memory', file) >> 10n;
  const root = cg.readRoot('memory', 'memory.limit_in_bytes');
  const unlimitedFrom = root !== undefined && /^\d+$/.test(root) ? BigInt(root) >> 10n : UNLIMITED;
  return kib >= unlimitedFrom ? UNLIMITED : kib;
}

/** v2 files hold bytes or "max". */
function v2Limit(cg: DomainCgroup, file: string): bigint {
  const text = cg.read('memory', file);
  if (text === 'max') return UNLIMITED;
  if (!/^\d+$/.test(text)) throw internalError(`Failed to parse value '${text}' as number.`);
  const kib = BigInt(text) >> 10n;
  return kib >= UNLIMITED ? UNLIMITED : kib;
}

export function liveMemoryLimits(cg: DomainCgroup): MemoryLimits {
  if (memoryVersion(cg) === 1) {
    return {
      hardLimitKiB: v1Limit(cg, 'memory.limit_in_bytes'),
      softLimitKiB: v1Limit(cg, 'memory.soft_limit_in_bytes'),
      swapHardLimitKiB: v1Limit(cg, 'memory.memsw.limit_in_bytes'),
    };
  }
  const hardLimitKiB = v2Limit(cg, 'memory.max');
  const swapOnly = v2Limit(cg, 'memory.swap.max');
  return {
    hardLimitKiB,
    softLimitKiB: v2Limit(cg, 'memory.high'),
    swapHardLimitKiB: swapOnly === UNLIMITED || hardLimitKiB === UNLIMITED ? UNLIMITED : hardLimitKiB + swapOnly,
  };
}

/** The value a limit file takes: bytes, or the file's word for "no limit". */
function limitValue(kib: bigint, version: 1 | 2): string {
  if (kib > UNLIMITED) throw invalidArg(`Memory '${kib}' must be less than ${UNLIMITED}`);
  if (kib === UNLIMITED) return version === 1 ? '-1' : 'max';
  return String(kib << 10n);
}

const V1_FILE: Record<LimitKey, string> = {
  hardLimitKiB: 'memory.limit_in_bytes',
  softLimitKiB: 'memory.soft_limit_in_bytes',
  swapHardLimitKiB: 'memory.memsw.limit_in_bytes',
};

/** libvirt's check, against the values the domain has now (`current`) where one is not being set. */
export function checkHardNotAboveSwap(current: MemoryLimits, changes: MemoryLimitChanges): void {
  if (changes.hardLimitKiB === undefined && changes.swapHardLimitKiB === undefined) return;
  const hard = changes.hardLimitKiB ?? current.hardLimitKiB;
  const swap = changes.swapHardLimitKiB ?? current.swapHardLimitKiB;
  if (hard > swap) throw invalidArg('memory hard_limit tunable value must be lower than or equal to swap_hard_limit');
}

function recordLimit(def: DomainDef, key: LimitKey, kib: bigint): void {
  const tune: MemTune = (def.memtune ??= {});
  if (kib >= UNLIMITED) delete tune[MEMTUNE_KEY[key]];
  else tune[MEMTUNE_KEY[key]] = kib;
}

/**
 * Change the running container's limits and record them in its running
 * definition `live`. v1 refuses a memory limit above memory+swap, so the
 * hard limit goes first when it shrinks and last when it grows.
 */
export function applyMemoryLimitsLive(cg: DomainCgroup, live: DomainDef, changes: MemoryLimitChanges): void {
  const version = memoryVersion(cg);
  if (version === 2) return applyV2(cg, live, changes);
  const set = (key: LimitKey): void => {
    const kib = changes[key];
    if (kib === undefined) return;
    cg.write('memory', V1_FILE[key], limitValue(kib, 1));
    recordLimit(live, key, kib);
  };
  set('softLimitKiB');
  const shrinking = changes.hardLimitKiB !== undefined && definedLimits(live).hardLimitKiB > changes.hardLimitKiB;
  if (shrinking) set('hardLimitKiB');
  set('swapHardLimitKiB');
  if (!shrinking) set('hardLimitKiB');
}

function applyV2(cg: DomainCgroup, live: DomainDef, changes: MemoryLimitChanges): void {
  const before = liveMemoryLimits(cg);
  const hard = changes.hardLimitKiB ?? before.hardLimitKiB;
  const swap = changes.swapHardLimitKiB ?? before.swapHardLimitKiB;
  if (changes.softLimitKiB !== undefined) cg.write('memory', 'memory.high', limitValue(changes.softLimitKiB, 2));
  if (changes.hardLimitKiB !== undefined) cg.write('memory', 'memory.max', limitValue(hard, 2));
  if (changes.hardLimitKiB !== undefined || changes.swapHardLimitKiB !== undefined) {
    const swapOnly = swap >= UNLIMITED ? UNLIMITED : hard >= UNLIMITED || swap <= hard ? 0n : swap - hard;
    cg.write('memory', 'memory.swap.max', limitValue(swapOnly, 2));
  }
  for (const key of ['softLimitKiB', 'hardLimitKiB', 'swapHardLimitKiB'] as const) {
    const kib = changes[key];
    if (kib !== undefined) recordLimit(live, key, kib);
  }
}

/** Change the persistent definition's <memtune>. */
export function applyMemoryLimitsConfig(def: DomainDef, changes: MemoryLimitChanges): void {
  for (const key of ['hardLimitKiB', 'softLimitKiB', 'swapHardLimitKiB'] as const) {
    const kib = changes[key];
    if (kib !== undefined) recordLimit(def, key, kib);
  }
  if (def.memtune && Object.keys(def.memtune).length === 0) delete def.memtune;
}

/** setmem on a running container: its memory limit becomes the new allocation. */
export function setMemoryLive(cg: DomainCgroup, live: DomainDef, kib: bigint): void {
  const version = memoryVersion(cg);
  try {
    cg.write('memory', version === 1 ? 'memory.limit_in_bytes' : 'memory.max', limitValue(kib, version));
  } catch {
    throw new VirError('VIR_ERR_OPERATION_FAILED', 'Failed to set memory for domain');
  }
  live.currentMemoryKiB = kib;
}

/** libvirt's limit for setmem: the smaller of the running and the persistent maximum. */
export function checkMemoryNotAboveMax(kib: bigint, maxima: readonly bigint[]): void {
  const max = maxima.reduce((a, b) => (b < a ? b : a));
  if (kib > max) throw invalidArg('Cannot set memory higher than max memory');
}

/** setmaxmem on a definition: the new <memory>, and <currentMemory> no larger. */
export function setMaxMemoryConfig(def: DomainDef, kib: bigint): void {
  def.memoryKiB = kib;
  if (def.currentMemoryKiB > kib) def.currentMemoryKiB = kib;
}
