/**
 * CPU placement and tunables: vcpu, vcpus (rejected by this driver),
 * iothreads, cputune, numatune, resource, and the stored-only <cpu> model
 * with its guest NUMA cells. CPU and node sets are kept as ascending member
 * lists (see bitmap.ts); "unset" is an absent field rather than libvirt's 0.
 */
import type { DomainDef, SectionHooks } from '../model.js';
import type { ParseContext } from '../context.js';
import { attr, child, elements, textOf, type XmlElement } from '../tree.js';
import { add, type Builder } from '../writer.js';
import { VirError, internalError, invalidArg, unsupported, xmlError } from '../errors.js';
import {
  ULLONG_MAX,
  formatBytesPretty,
  intAttr,
  parseInt32,
  parseMemoryKiB,
  parseScaledValue,
  parseSigned,
  parseUInt32,
  parseUInt32Wrapping,
  parseUnsignedWrapping,
  uintAttr,
} from '../units.js';
import {
  bitmapsEqual,
  bitmapsOverlap,
  formatBitmap,
  isFullCpumask,
  lastMember,
  parseBitmap,
  type Bitmap,
} from '../bitmap.js';
import {
  nonEmptyAttr,
  propEnum,
  propSwitch,
  propYesNo,
  selectAll,
  xpathText,
  type Switch,
  type YesNo,
} from './xml-access.js';
import { addUnlessEmpty, compact, nonZero, unlessEmpty } from './memory.js';

/* ---------- model ---------- */

/** One <vcpus><vcpu>: individual vCPU state, which this driver rejects. */
export interface VcpuState {
  id: number;
  enabled: boolean;
  hotpluggable?: boolean;
  order?: number;
}

export interface VcpuDef {
  /** Maximum number of vCPUs (the element's text). */
  count: number;
  /** Online vCPUs at boot (`current`), count when not given. */
  current: number;
  placement: 'static' | 'auto';
  /** Host CPUs the domain may run on; absent means all. */
  cpuset?: Bitmap;
  /** <vcpus> entries: always rejected by validation (kept so the error comes in libvirt's order). */
  states?: VcpuState[];
}

export interface IOThread {
  id: number;
  /** Filled in to reach the <iothreads> count rather than listed in <iothreadids>. */
  autofilled: boolean;
}

export type SchedulerPolicy = 'batch' | 'idle' | 'fifo' | 'rr';

export interface ThreadScheduler {
  policy: SchedulerPolicy;
  /** Only for the real-time policies, fifo and rr. */
  priority?: number;
}

export type CacheType = 'both' | 'code' | 'data';

/**
 * A resctrl group: vCPUs sharing one cache (<cachetune>) and/or memory
 * bandwidth (<memorytune>) allocation, with their monitors.
 */
export interface ResctrlGroup {
  vcpus: Bitmap;
  /** Cache allocations, by level, type (both, code, data) and cache id. */
  caches: Array<{ id: number; level: number; type: CacheType; sizeBytes: bigint }>;
  /** Memory bandwidth percentages, by host node. */
  memoryBandwidth: Array<{ node: number; bandwidth: number }>;
  /** <monitor> elements of the <cachetune> ('cache') or <memorytune> ('memoryBandwidth'), in order. */
  monitors: Array<{ kind: MonitorKind; vcpus: Bitmap }>;
}

export type MonitorKind = 'cache' | 'memoryBandwidth';

/** <cputune>. Scalars are absent when unset; shares is kept even when 0, as libvirt prints it. */
export interface CpuTune {
  shares?: bigint;
  period?: bigint;
  quota?: bigint;
  globalPeriod?: bigint;
  globalQuota?: bigint;
  emulatorPeriod?: bigint;
  emulatorQuota?: bigint;
  iothreadPeriod?: bigint;
  iothreadQuota?: bigint;
  /** Ascending by vCPU. */
  vcpuPins: Array<{ vcpu: number; cpuset: Bitmap }>;
  emulatorPin?: Bitmap;
  /** Ascending by I/O thread id. */
  iothreadPins: Array<{ iothread: number; cpuset: Bitmap }>;
  emulatorScheduler?: ThreadScheduler;
  /** Ascending by vCPU. */
  vcpuSchedulers: Array<{ vcpu: number } & ThreadScheduler>;
  iothreadSchedulers: Array<{ iothread: number } & ThreadScheduler>;
  resctrlGroups: ResctrlGroup[];
}

export type NumaMemoryMode = 'strict' | 'preferred' | 'interleave' | 'restrictive';

export type NumaMemoryTune =
  | { mode: NumaMemoryMode; placement: 'auto' }
  | { mode: NumaMemoryMode; placement: 'static'; nodeset: Bitmap };

export interface NumaTune {
  memory?: NumaMemoryTune;
  /** Per guest NUMA cell bindings, ascending by cell. */
  memnodes: Array<{ cellId: number; mode: NumaMemoryMode; nodeset: Bitmap }>;
}

export interface ResourceDef {
  /** cgroup partition (checked to be absolute only at start). */
  partition?: string;
  fibreChannelAppId?: string;
}

/** A guest NUMA cell (<cpu><numa><cell>); the array index is its id. */
export interface NumaCell {
  cpus?: Bitmap;
  memoryKiB: bigint;
  memAccess?: 'shared' | 'private';
  discard?: boolean;
}

export type CpuMode = 'custom' | 'host-model' | 'host-passthrough' | 'maximum';
export type CpuFeaturePolicy = 'force' | 'require' | 'optional' | 'disable' | 'forbid';

/** <cpu>: stored only by this driver, except the NUMA cells that size memory. */
export interface GuestCpu {
  mode: CpuMode;
  match: 'minimum' | 'exact' | 'strict';
  check?: 'none' | 'partial' | 'full';
  migratable?: Switch;
  model?: string;
  fallback: 'allow' | 'forbid';
  vendorId?: string;
  vendor?: string;
  topology?: { sockets: number; dies: number; cores: number; threads: number };
  cache?: { level?: number; mode: 'emulate' | 'passthrough' | 'disable' };
  features: Array<{ name: string; policy: CpuFeaturePolicy }>;
  numaCells?: NumaCell[];
}

export interface CpuPart {
  vcpu: VcpuDef;
  /** I/O threads in libvirt's order: listed ids first, then the filled-in ones. */
  iothreads?: IOThread[];
  cputune?: CpuTune;
  numatune?: NumaTune;
  resource?: ResourceDef;
  cpu?: GuestCpu;
}

/* ---------- shared parse helpers ---------- */

const yesNoToBoolean = (v: YesNo | undefined): boolean | undefined => (v === undefined ? undefined : v === 'yes');

/** A CPU/node set attribute that must not come out empty ("Invalid value of 'cpuset'"). */
function nonEmptySet(text: string, name: string): Bitmap {
  const set = parseBitmap(text);
  if (set.length === 0) throw unsupported(`Invalid value of '${name}': ${text}`);
  return set;
}

/* ---------- vcpu ---------- */

/**
 * Upper bound for vCPU and I/O thread counts. libvirt has none: it reads
 * the vCPU count with virStrToLong_ui, so "-1" becomes 4294967295 and
 * libvirtd aborts allocating that many vCPUs (a huge <iothreads> count
 * does the same). nsvirt refuses such counts instead.
 */
const MAX_THREADS = 16384;

/** The <vcpu> text. 0 passes here and fails libvirt's own NUMA check, as in libvirt. */
function parseVcpuCount(text: string): number {
  const count = parseUInt32Wrapping(text);
  if (count === undefined) throw xmlError('maximum vcpus count must be an integer');
  if (text.trim().startsWith('-') || count > MAX_THREADS) {
    throw unsupported(`vcpu count '${text.trim()}' is out of range [1, ${MAX_THREADS}]`);
  }
  return count;
}

function parseVcpuStates(root: XmlElement, count: number): VcpuState[] | undefined {
  const nodes = selectAll(root, 'vcpus', 'vcpu');
  if (nodes.length === 0) return undefined;
  return nodes.map((node) => {
    const id = uintAttr(node, 'id', { required: true })!;
    if (id >= count) throw xmlError(`vcpu id '${id}' is out of range of maximum vcpu count`);
    return compact<VcpuState>({
      id,
      enabled: propYesNo(node, 'enabled', true) === 'yes',
      hotpluggable: yesNoToBoolean(propYesNo(node, 'hotpluggable')),
      order: uintAttr(node, 'order'),
    });
  });
}

/** virDomainVcpuParse. */
function parseVcpu(root: XmlElement): VcpuDef {
  const node = child(root, 'vcpu');
  const count = node ? parseVcpuCount(textOf(node)) : 1;
  const current = (node && uintAttr(node, 'current')) ?? count;
  const placement = (node && propEnum(node, 'placement', ['static', 'auto'] as const)) ?? 'static';
  const cpusetText = node && placement === 'static' ? attr(node, 'cpuset') : undefined;
  const cpuset = cpusetText === undefined ? undefined : nonEmptySet(cpusetText, 'cpuset');
  const states = parseVcpuStates(root, count);
  if (!states && current > count) throw unsupported('maximum vCPU count must not be less than current vCPU count');
  return compact<VcpuDef>({
    count,
    current: states ? states.filter((s) => s.enabled).length : current,
    placement,
    cpuset,
    states,
  });
}

/* ---------- iothreads ---------- */

/** virDomainDefParseIOThreads: listed ids, then the lowest free ids up to the <iothreads> count. */
function parseIOThreads(root: XmlElement): IOThread[] | undefined {
  const countText = xpathText(root, 'iothreads');
  const count = countText === undefined ? 0 : parseUInt32(countText);
  if (count === undefined) throw xmlError(`invalid iothreads count '${countText}'`);
  if (count > MAX_THREADS) throw unsupported(`iothreads count '${count}' is out of range [0, ${MAX_THREADS}]`);
  const threads: IOThread[] = [];
  const used = new Set<number>();
  for (const node of selectAll(root, 'iothreadids', 'iothread')) {
    const id = uintAttr(node, 'id', { required: true, nonzero: true })!;
    if (used.has(id)) throw xmlError(`duplicate iothread id '${id}' found`);
    used.add(id);
    threads.push({ id, autofilled: false });
  }
  for (let id = 1; threads.length < count; id++) {
    if (!used.has(id)) threads.push({ id, autofilled: true });
  }
  return threads.length ? threads : undefined;
}

/* ---------- cputune ---------- */

/** virXPathULongLong/LongLong on `string(./cputune/<name>[1])`: -2 ("unparsable") is the error. */
function cputuneNumber(root: XmlElement, name: string, signed: boolean): bigint | undefined {
  const text = xpathText(root, 'cputune', name);
  if (text === undefined) return undefined;
  const value = signed ? parseSigned(text) : parseUnsignedWrapping(text);
  if (value === undefined) throw xmlError(`can't parse cputune ${name.replace('_', ' ')} value`);
  return value;
}

/** Map entries ascending by key. */
const byKey = <T>(map: ReadonlyMap<number, T>): Array<[number, T]> => [...map].sort(([a], [b]) => a - b);

function parseVcpuPins(root: XmlElement, vcpu: VcpuDef): CpuTune['vcpuPins'] {
  const pins = new Map<number, Bitmap>();
  for (const node of selectAll(root, 'cputune', 'vcpupin')) {
    const id = uintAttr(node, 'vcpu', { required: true })!;
    if (id >= vcpu.count) continue; // libvirt ignores pins of missing vCPUs
    const text = attr(node, 'cpuset');
    if (text === undefined) throw internalError('missing cpuset for vcpupin');
    if (pins.has(id)) throw internalError(`duplicate vcpupin for vcpu '${id}'`);
    pins.set(id, nonEmptySet(text, 'cpuset'));
  }
  return byKey(pins).map(([id, cpuset]) => ({ vcpu: id, cpuset }));
}

function parseEmulatorPin(root: XmlElement): Bitmap | undefined {
  const nodes = selectAll(root, 'cputune', 'emulatorpin');
  if (nodes.length > 1) throw xmlError('only one emulatorpin is supported');
  if (nodes.length === 0) return undefined;
  const text = attr(nodes[0]!, 'cpuset');
  if (text === undefined) throw internalError('missing cpuset for emulatorpin');
  return nonEmptySet(text, 'cpuset');
}

const checkIOThread = (iothreadIds: ReadonlySet<number>, id: number): void => {
  if (!iothreadIds.has(id)) throw unsupported(`Cannot find 'iothread' : ${id}`);
};

function parseIOThreadPins(root: XmlElement, iothreadIds: ReadonlySet<number>): CpuTune['iothreadPins'] {
  const pins = new Map<number, Bitmap>();
  for (const node of selectAll(root, 'cputune', 'iothreadpin')) {
    const id = uintAttr(node, 'iothread', { required: true, nonzero: true })!;
    checkIOThread(iothreadIds, id);
    const text = attr(node, 'cpuset');
    if (text === undefined) throw internalError('missing cpuset for iothreadpin');
    const cpuset = nonEmptySet(text, 'cpuset');
    if (pins.has(id)) throw internalError(`duplicate iothreadpin for same iothread '${id}'`);
    pins.set(id, cpuset);
  }
  return byKey(pins).map(([id, cpuset]) => ({ iothread: id, cpuset }));
}

/** virDomainSchedulerParseCommonAttrs. */
function parseScheduler(node: XmlElement): ThreadScheduler {
  const policy = propEnum(node, 'scheduler', ['batch', 'idle', 'fifo', 'rr'] as const, true)!;
  if (policy !== 'fifo' && policy !== 'rr') return { policy };
  return { policy, priority: intAttr(node, 'priority', { required: true })! };
}

/**
 * <vcpusched vcpus=…>/<iothreadsched iothreads=…>: one scheduler for a set
 * of threads, each of which `check` confirms exists; the sets must not overlap.
 */
function parseThreadSchedulers(
  root: XmlElement,
  element: string,
  attribute: string,
  check: (id: number) => void,
): Array<[number, ThreadScheduler]> {
  const result = new Map<number, ThreadScheduler>();
  for (const node of selectAll(root, 'cputune', element)) {
    const text = attr(node, attribute);
    if (text === undefined) throw xmlError(`Missing attribute '${attribute}' in element '${element}'`);
    const ids = parseBitmap(text);
    if (ids.length === 0) throw unsupported(`'${attribute}' scheduler bitmap '${text}' is empty`);
    const scheduler = parseScheduler(node);
    for (const id of ids) {
      check(id);
      if (result.has(id)) {
        throw new VirError('VIR_ERR_XML_DETAIL', `'${element}' attributes '${attribute}' must not overlap`);
      }
      result.set(id, scheduler);
    }
  }
  return byKey(result);
}

function parseEmulatorScheduler(root: XmlElement): ThreadScheduler | undefined {
  const nodes = selectAll(root, 'cputune', 'emulatorsched');
  if (nodes.length > 1) throw xmlError('only one emulatorsched is supported');
  return nodes.length ? parseScheduler(nodes[0]!) : undefined;
}

/* ---------- cachetune and memorytune (resctrl) ---------- */

/** virDomainResctrlParseVcpus: the `vcpus` set, cut down to the vCPUs the domain has. */
function parseResctrlVcpus(node: XmlElement, vcpuCount: number): Bitmap {
  const text = attr(node, 'vcpus');
  if (text === undefined) throw xmlError(`Missing ${node.local} attribute 'vcpus'`);
  let vcpus: number[];
  try {
    vcpus = parseBitmap(text);
  } catch {
    throw xmlError(`Invalid ${node.local} attribute 'vcpus' value '${text}'`);
  }
  return vcpus.filter((v) => v < vcpuCount);
}

/** virDomainResctrlVcpuMatch: the group with exactly these vCPUs; a partial overlap is an error. */
function findResctrlGroup(groups: readonly ResctrlGroup[], vcpus: Bitmap): ResctrlGroup | undefined {
  for (const group of groups) {
    if (bitmapsEqual(group.vcpus, vcpus)) return group;
    if (bitmapsOverlap(group.vcpus, vcpus)) throw xmlError('Overlapping vcpus in resctrls');
  }
  return undefined;
}

const newResctrlGroup = (vcpus: Bitmap): ResctrlGroup => ({ vcpus, caches: [], memoryBandwidth: [], monitors: [] });

const CACHE_TYPES: readonly CacheType[] = ['both', 'code', 'data'];

/** The only cache level resctrl monitors (VIR_DOMAIN_RESCTRL_MONITOR_CACHELEVEL). */
const CACHE_MONITOR_LEVEL = 3;

/** virResctrlAllocSetCacheSize: one allocation per cache, and 'both' excludes code/data. */
function addCacheAllocation(group: ResctrlGroup, node: XmlElement): void {
  const id = uintAttr(node, 'id', { required: true })!;
  const level = uintAttr(node, 'level', { required: true })!;
  const type = propEnum(node, 'type', CACHE_TYPES, true)!;
  const sizeBytes = parseScaledValue(attr(node, 'size'), attr(node, 'unit'), './@size', 1024n, ULLONG_MAX, true)!;
  const collides = group.caches.some(
    (c) => c.level === level && c.id === id && (c.type === type || c.type === 'both' || type === 'both'),
  );
  if (collides) {
    throw xmlError(`Colliding cache allocations for cache level '${level}' id '${id}', type '${type}'`);
  }
  group.caches.push({ id, level, type, sizeBytes });
  group.caches.sort(
    (a, b) => a.level - b.level || CACHE_TYPES.indexOf(a.type) - CACHE_TYPES.indexOf(b.type) || a.id - b.id,
  );
}

/** virResctrlAllocSetMemoryBandwidth. */
function addMemoryBandwidth(group: ResctrlGroup, node: XmlElement): void {
  const id = uintAttr(node, 'id', { required: true })!;
  const bandwidth = uintAttr(node, 'bandwidth', { required: true })!;
  if (bandwidth > 100) throw xmlError('Memory Bandwidth value exceeding 100 is invalid.');
  if (group.memoryBandwidth.some((b) => b.node === id)) {
    throw xmlError(`Memory Bandwidth already defined for node ${id}`);
  }
  group.memoryBandwidth.push({ node: id, bandwidth });
  group.memoryBandwidth.sort((a, b) => a.node - b.node);
}

/** virDomainResctrlValidateMonitor. */
function checkMonitor(group: ResctrlGroup, kind: MonitorKind, vcpus: Bitmap): void {
  if (vcpus.length === 0) throw invalidArg('vcpus is empty');
  const groupVcpus = new Set(group.vcpus);
  if (vcpus.some((v) => !groupVcpus.has(v))) throw invalidArg('Monitor vcpus conflicts with allocation');
  const coversGroup = bitmapsEqual(vcpus, group.vcpus);
  let overlapsAny = false;
  let overlapsPartialGroup = false;
  for (const other of group.monitors) {
    if (bitmapsEqual(vcpus, other.vcpus)) {
      if (other.kind === kind) throw invalidArg('Identical vcpus found in same type monitors');
      continue;
    }
    if (!bitmapsOverlap(vcpus, other.vcpus)) continue;
    overlapsAny = true;
    if (!coversGroup && !bitmapsEqual(other.vcpus, group.vcpus)) overlapsPartialGroup = true;
  }
  const defaultAllocation = group.caches.length === 0 && group.memoryBandwidth.length === 0;
  if (overlapsPartialGroup || (defaultAllocation && overlapsAny)) throw invalidArg('vcpus overlaps in resctrl groups');
}

/** virDomainResctrlMonDefParse: the <monitor> children; returns how many were added. */
function parseMonitors(node: XmlElement, kind: MonitorKind, group: ResctrlGroup, vcpuCount: number): number {
  const monitors = elements(node, 'monitor');
  for (const monitor of monitors) {
    if (kind === 'cache') {
      const level = uintAttr(monitor, 'level', { required: true })!;
      if (level !== CACHE_MONITOR_LEVEL) throw xmlError(`Invalid monitor cache level '${level}'`);
    }
    const vcpus = parseResctrlVcpus(monitor, vcpuCount);
    checkMonitor(group, kind, vcpus);
    group.monitors.push({ kind, vcpus });
  }
  return monitors.length;
}

/** virDomainCachetuneDefParse: a new group, kept only when it has caches or monitors. */
function parseCachetune(node: XmlElement, groups: ResctrlGroup[], vcpuCount: number): void {
  const vcpus = parseResctrlVcpus(node, vcpuCount);
  if (vcpus.length === 0) return;
  if (findResctrlGroup(groups, vcpus)) throw xmlError('Identical vcpus in cachetunes found');
  const group = newResctrlGroup(vcpus);
  for (const cache of elements(node, 'cache')) addCacheAllocation(group, cache);
  const monitors = parseMonitors(node, 'cache', group, vcpuCount);
  if (group.caches.length || monitors) groups.push(group);
}

/** virDomainMemorytuneDefParse: joins the group with the same vCPUs, if any. */
function parseMemorytune(node: XmlElement, groups: ResctrlGroup[], vcpuCount: number): void {
  const vcpus = parseResctrlVcpus(node, vcpuCount);
  if (vcpus.length === 0) return;
  const existing = findResctrlGroup(groups, vcpus);
  const group = existing ?? newResctrlGroup(vcpus);
  const nodes = elements(node, 'node');
  for (const n of nodes) addMemoryBandwidth(group, n);
  const monitors = parseMonitors(node, 'memoryBandwidth', group, vcpuCount);
  if (!existing && (nodes.length || monitors)) groups.push(group);
}

function parseResctrlGroups(root: XmlElement, vcpuCount: number): ResctrlGroup[] {
  const groups: ResctrlGroup[] = [];
  for (const node of selectAll(root, 'cputune', 'cachetune')) parseCachetune(node, groups, vcpuCount);
  for (const node of selectAll(root, 'cputune', 'memorytune')) parseMemorytune(node, groups, vcpuCount);
  return groups;
}

/** The cputune part of virDomainDefTunablesParse. */
function parseCputune(root: XmlElement, vcpu: VcpuDef, iothreads: readonly IOThread[]): CpuTune | undefined {
  const scalars = {
    shares: cputuneNumber(root, 'shares', false),
    period: nonZero(cputuneNumber(root, 'period', false)),
    quota: nonZero(cputuneNumber(root, 'quota', true)),
    globalPeriod: nonZero(cputuneNumber(root, 'global_period', false)),
    globalQuota: nonZero(cputuneNumber(root, 'global_quota', true)),
    emulatorPeriod: nonZero(cputuneNumber(root, 'emulator_period', false)),
    emulatorQuota: nonZero(cputuneNumber(root, 'emulator_quota', true)),
    iothreadPeriod: nonZero(cputuneNumber(root, 'iothread_period', false)),
    iothreadQuota: nonZero(cputuneNumber(root, 'iothread_quota', true)),
  };
  const vcpuPins = parseVcpuPins(root, vcpu);
  const emulatorPin = parseEmulatorPin(root);
  const iothreadIds = new Set(iothreads.map((t) => t.id));
  const iothreadPins = parseIOThreadPins(root, iothreadIds);
  const vcpuSchedulers = parseThreadSchedulers(root, 'vcpusched', 'vcpus', (id) => {
    if (id >= vcpu.count) throw invalidArg(`vCPU '${id}' is not present in domain`);
  }).map(([id, s]) => ({ vcpu: id, ...s }));
  const iothreadSchedulers = parseThreadSchedulers(root, 'iothreadsched', 'iothreads', (id) =>
    checkIOThread(iothreadIds, id),
  ).map(([id, s]) => ({ iothread: id, ...s }));
  const emulatorScheduler = parseEmulatorScheduler(root);
  const resctrlGroups = parseResctrlGroups(root, vcpu.count);
  const tune = compact<CpuTune>({
    ...scalars,
    vcpuPins,
    emulatorPin,
    iothreadPins,
    emulatorScheduler,
    vcpuSchedulers,
    iothreadSchedulers,
    resctrlGroups,
  });
  const hasScalar = Object.values(scalars).some((v) => v !== undefined);
  const hasThreadSettings = [vcpuPins, iothreadPins, vcpuSchedulers, iothreadSchedulers, resctrlGroups].some(
    (l) => l.length > 0,
  );
  return hasScalar || hasThreadSettings || emulatorPin || emulatorScheduler ? tune : undefined;
}

/* ---------- <cpu> and its NUMA cells ---------- */

const CPU_MODES: readonly CpuMode[] = ['custom', 'host-model', 'host-passthrough', 'maximum'];
const FEATURE_POLICIES: readonly CpuFeaturePolicy[] = ['force', 'require', 'optional', 'disable', 'forbid'];

/** One enum attribute read with libvirt's own error text rather than virXMLPropEnum's. */
function legacyEnum<T extends string>(
  raw: string | undefined,
  values: readonly T[],
  error: () => VirError,
): T | undefined {
  if (raw === undefined) return undefined;
  if (!(values as readonly string[]).includes(raw)) throw error();
  return raw as T;
}

function parseCpuMode(node: XmlElement): CpuMode {
  const raw = attr(node, 'mode');
  return legacyEnum(raw, CPU_MODES, () => unsupported(`Invalid mode attribute '${raw}'`)) ?? 'custom';
}

function parseCpuMigratable(node: XmlElement, mode: CpuMode): Switch | undefined {
  const migratable = propSwitch(node, 'migratable');
  if (migratable && mode !== 'host-passthrough' && mode !== 'maximum') {
    throw unsupported("Attribute migratable is only allowed for 'host-passthrough' / 'maximum' CPU mode");
  }
  return migratable;
}

/** fallback and vendor_id of <model>, which libvirt reads only for the custom and host-model modes. */
function parseCpuModelAttrs(node: XmlElement, mode: CpuMode): Pick<GuestCpu, 'fallback' | 'vendorId'> {
  const model = child(node, 'model');
  if (!model || mode === 'host-passthrough' || mode === 'maximum') return { fallback: 'allow' };
  const fallback =
    legacyEnum(nonEmptyAttr(model, 'fallback'), ['allow', 'forbid'] as const, () =>
      unsupported('Invalid fallback attribute'),
    ) ?? 'allow';
  const vendorId = nonEmptyAttr(model, 'vendor_id');
  if (vendorId !== undefined && vendorId.length !== 12) throw xmlError('vendor_id must be exactly 12 characters long');
  if (vendorId?.includes(',')) throw xmlError('vendor id is invalid');
  return compact({ fallback, vendorId });
}

function parseCpuTopology(node: XmlElement): GuestCpu['topology'] {
  const topology = child(node, 'topology');
  if (!topology) return undefined;
  const required = { required: true, nonzero: true };
  return {
    sockets: uintAttr(topology, 'sockets', required)!,
    dies: uintAttr(topology, 'dies', { nonzero: true }) ?? 1,
    cores: uintAttr(topology, 'cores', required)!,
    threads: uintAttr(topology, 'threads', required)!,
  };
}

function parseCpuFeatures(node: XmlElement, cpu: Pick<GuestCpu, 'mode' | 'model'>): GuestCpu['features'] {
  const nodes = elements(node, 'feature');
  if (nodes.length && !cpu.model && cpu.mode === 'custom') {
    throw xmlError('Non-empty feature list specified without CPU model');
  }
  const features: GuestCpu['features'] = [];
  for (const feature of nodes) {
    const policyError = () => unsupported('Invalid CPU feature policy');
    const policy = legacyEnum(attr(feature, 'policy'), FEATURE_POLICIES, policyError) ?? 'require';
    const name = attr(feature, 'name');
    if (!name) throw xmlError('Invalid CPU feature name');
    if (features.some((f) => f.name === name)) throw xmlError(`CPU feature '${name}' specified more than once`);
    features.push({ name, policy });
  }
  return features;
}

function parseCpuCache(node: XmlElement): GuestCpu['cache'] {
  const caches = elements(node, 'cache');
  if (caches.length > 1) throw xmlError('at most one CPU cache element may be specified');
  const cache = caches[0];
  if (!cache) return undefined;
  const levelText = attr(cache, 'level');
  const level = levelText === undefined ? undefined : parseInt32(levelText);
  if (levelText !== undefined && (level === undefined || level < 1 || level > 3)) {
    throw xmlError('invalid CPU cache level, must be in range [1,3]');
  }
  // A missing mode is as wrong as an unknown one.
  const mode = legacyEnum(nonEmptyAttr(cache, 'mode') ?? '', ['emulate', 'passthrough', 'disable'] as const, () =>
    xmlError('missing or invalid CPU cache mode'),
  )!;
  return compact({ level, mode });
}

/** A cell's vCPUs; an empty set is the same as none. */
function parseCellCpus(node: XmlElement): Bitmap | undefined {
  const text = attr(node, 'cpus');
  const cpus = text === undefined ? [] : parseBitmap(text);
  return cpus.length ? cpus : undefined;
}

/** virDomainNumaDefParseXML: cells in id order (ids default to the position); distances and caches are not kept. */
function parseNumaCells(cpuNode: XmlElement): NumaCell[] | undefined {
  const numa = child(cpuNode, 'numa');
  if (!numa) return undefined;
  const nodes = elements(numa, 'cell');
  if (nodes.length === 0) throw xmlError('NUMA topology defined without NUMA cells');
  const cells: NumaCell[] = nodes.map(() => ({ memoryKiB: 0n }));
  nodes.forEach((node, i) => {
    const id = uintAttr(node, 'id') ?? i;
    if (id >= nodes.length) {
      throw xmlError(
        "Exactly one 'cell' element per guest NUMA cell allowed, " +
          'non-contiguous ranges or ranges not starting from 0 are not allowed',
      );
    }
    if (cells[id]!.memoryKiB !== 0n) throw xmlError(`Duplicate NUMA cell info for cell id '${id}'`);
    const cpus = parseCellCpus(node);
    cells.forEach((other, j) => {
      if (j !== id && other.cpus && cpus && bitmapsOverlap(other.cpus, cpus)) {
        throw unsupported(`NUMA cells ${id} and ${j} have overlapping vCPU ids`);
      }
    });
    cells[id] = compact<NumaCell>({
      cpus,
      memoryKiB: parseMemoryKiB(attr(node, 'memory'), attr(node, 'unit'), './@memory', true)!,
      memAccess: propEnum(node, 'memAccess', ['shared', 'private'] as const),
      discard: yesNoToBoolean(propYesNo(node, 'discard')),
    });
  });
  return cells;
}

/** virCPUDefParseXML for a guest CPU, plus its NUMA cells. */
function parseGuestCpu(root: XmlElement): GuestCpu | undefined {
  const node = child(root, 'cpu');
  if (!node) return undefined;
  const mode = parseCpuMode(node);
  const migratable = parseCpuMigratable(node, mode);
  const match = propEnum(node, 'match', ['minimum', 'exact', 'strict'] as const) ?? 'exact';
  const check = propEnum(node, 'check', ['default', 'none', 'partial', 'full'] as const);
  const model = xpathText(node, 'model');
  const modelAttrs = parseCpuModelAttrs(node, mode);
  const vendor = xpathText(node, 'vendor');
  if (vendor !== undefined && model === undefined) throw xmlError('CPU vendor specified without CPU model');
  return compact<GuestCpu>({
    mode,
    match,
    check: check === 'default' ? undefined : check,
    migratable,
    model,
    ...modelAttrs,
    vendor,
    topology: parseCpuTopology(node),
    features: parseCpuFeatures(node, { mode, model }),
    cache: parseCpuCache(node),
    numaCells: parseNumaCells(node),
  });
}

/** The checks libvirt makes right after reading the NUMA cells. */
function checkNumaCpus(cells: readonly NumaCell[], vcpus: number): void {
  const total = cells.reduce((n, c) => n + (c.cpus?.length ?? 0), 0);
  if (total > vcpus) throw internalError('Number of CPUs in <numa> exceeds the <vcpu> count');
  const maxId = Math.max(0, ...cells.map((c) => lastMember(c.cpus ?? [])));
  if (maxId >= vcpus) throw internalError('CPU IDs in <numa> exceed the <vcpu> count');
}

/* ---------- numatune ---------- */

const NUMA_MODES: readonly NumaMemoryMode[] = ['strict', 'preferred', 'interleave', 'restrictive'];

/** virDomainNumatuneSet for a fresh definition: resolve mode and placement defaults. */
function resolveNumaMemory(
  placementStatic: boolean,
  mode: NumaMemoryMode | undefined,
  placement: 'default' | 'static' | 'auto' | undefined,
  nodeset: Bitmap | undefined,
): NumaMemoryTune | undefined {
  if (mode === undefined && placement === undefined && nodeset === undefined) return undefined;
  let resolved = placement ?? 'default';
  if (resolved === 'default') resolved = nodeset || placementStatic ? 'static' : 'auto';
  if (resolved === 'auto') return { mode: mode ?? 'strict', placement: 'auto' };
  if (!nodeset) throw unsupported("nodeset for NUMA memory tuning must be set if 'placement' is 'static'");
  return { mode: mode ?? 'strict', placement: 'static', nodeset };
}

function parseNumaMemory(root: XmlElement, placementStatic: boolean): NumaMemoryTune | undefined {
  const node = selectAll(root, 'numatune', 'memory')[0];
  if (!node) return placementStatic ? undefined : { mode: 'strict', placement: 'auto' };
  const modeText = attr(node, 'mode');
  const mode = legacyEnum(modeText, NUMA_MODES, () =>
    unsupported(`Unsupported NUMA memory tuning mode '${modeText}'`),
  );
  const placementText = attr(node, 'placement');
  const placement = legacyEnum(placementText, ['default', 'static', 'auto'] as const, () =>
    unsupported(`Unsupported NUMA memory placement mode '${placementText}'`),
  );
  const nodesetText = attr(node, 'nodeset');
  const nodeset = nodesetText === undefined ? undefined : nonEmptySet(nodesetText, 'nodeset');
  return resolveNumaMemory(placementStatic, mode, placement, nodeset);
}

/** virDomainNumatuneNodeParseXML: <memnode> bindings of guest NUMA cells. */
function parseMemnodes(root: XmlElement, memory: NumaMemoryTune | undefined, cells: number): NumaTune['memnodes'] {
  const nodes = selectAll(root, 'numatune', 'memnode');
  if (nodes.length === 0) return [];
  if (memory?.placement === 'auto') {
    throw unsupported('Per-node binding is not compatible with automatic NUMA placement.');
  }
  if (cells === 0) throw xmlError("Element 'memnode' is invalid without any guest NUMA cells");
  const memnodes: NumaTune['memnodes'] = [];
  for (const node of nodes) {
    const cellId = uintAttr(node, 'cellid', { required: true })!;
    if (cellId >= cells) {
      throw xmlError("Argument 'cellid' in memnode element must correspond to existing guest's NUMA cell");
    }
    if (memnodes.some((m) => m.cellId === cellId)) throw xmlError(`Multiple memnode elements with cellid ${cellId}`);
    const mode = propEnum(node, 'mode', NUMA_MODES) ?? 'strict';
    if (memory?.mode === 'restrictive' && mode !== 'restrictive') {
      throw xmlError("'restrictive' mode is required in memnode element when mode is 'restrictive' in memory element");
    }
    const text = attr(node, 'nodeset');
    if (text === undefined) throw xmlError('Missing required nodeset attribute in memnode element');
    memnodes.push({ cellId, mode, nodeset: nonEmptySet(text, 'nodeset') });
  }
  return memnodes.sort((a, b) => a.cellId - b.cellId);
}

/** virDomainNumatuneParseXML; `placementStatic` is whether <vcpu> placement is static. */
function parseNumatune(root: XmlElement, placementStatic: boolean, cells: number): NumaTune | undefined {
  if (elements(root, 'numatune').length > 1) throw xmlError('only one numatune is supported');
  const memory = parseNumaMemory(root, placementStatic);
  const memnodes = parseMemnodes(root, memory, cells);
  return memory || memnodes.length ? compact<NumaTune>({ memory, memnodes }) : undefined;
}

/* ---------- resource ---------- */

/**
 * virDomainResourceDefParse. libvirt fails the whole definition without an
 * error message when <resource> has neither value; nsvirt ignores it.
 */
function parseResource(root: XmlElement): ResourceDef | undefined {
  const nodes = elements(root, 'resource');
  if (nodes.length > 1) throw xmlError('only one resource element is supported');
  const node = nodes[0];
  if (!node) return undefined;
  return unlessEmpty<ResourceDef>({
    partition: xpathText(node, 'partition'),
    fibreChannelAppId: elements(node, 'fibrechannel')
      .map((fc) => nonEmptyAttr(fc, 'appid'))
      .find((v) => v !== undefined),
  });
}

/* ---------- the part ---------- */

/** In libvirt's order: vcpu, iothreads, cputune, cpu, NUMA checks, numatune, resource. */
export function parseCpuPart(root: XmlElement, _ctx: ParseContext): CpuPart {
  const vcpu = parseVcpu(root);
  const iothreads = parseIOThreads(root);
  const cputune = parseCputune(root, vcpu, iothreads ?? []);
  const cpu = parseGuestCpu(root);
  checkNumaCpus(cpu?.numaCells ?? [], vcpu.count);
  const numatune = parseNumatune(root, vcpu.placement === 'static', cpu?.numaCells?.length ?? 0);
  const pinned = vcpu.cpuset || cputune?.vcpuPins.length || cputune?.emulatorPin || cputune?.iothreadPins.length;
  if (numatune?.memory?.placement === 'auto' && !pinned) vcpu.placement = 'auto';
  return compact<CpuPart>({ vcpu, iothreads, cputune, numatune, resource: parseResource(root), cpu });
}

/* ---------- post-parse and validation ---------- */

/** Whether a vCPU starts online: the first `current` ones, or the enabled <vcpus> entries. */
function isOnlineVcpu(vcpu: VcpuDef): (id: number) => boolean {
  if (!vcpu.states) return (id) => id < vcpu.current;
  const online = new Set(vcpu.states.filter((s) => s.enabled).map((s) => s.id));
  return (id) => online.has(id);
}

/** virDomainDefRemoveOfflineVcpuPin: this driver drops the pins of vCPUs that start offline. */
function dropOfflineVcpuPins(def: DomainDef): void {
  if (!def.cputune) return;
  const online = isOnlineVcpu(def.vcpu);
  def.cputune.vcpuPins = def.cputune.vcpuPins.filter((p) => online(p.vcpu));
}

/** virDomainDefPostParseCPU: a check without a model means nothing. */
function dropPointlessCpuCheck(def: DomainDef): void {
  if (def.cpu && def.cpu.mode === 'custom' && !def.cpu.model) delete def.cpu.check;
}

const CPU_SHARES = [2n, 262144n] as const;
const CPU_PERIOD = [1000n, 1000000n] as const;
const CPU_QUOTA = [1000n, 17592186044415n] as const;

/** virDomainDefCputuneValidate: set (positive) values must lie in the cgroup ranges. */
function validateCputune(tune: CpuTune | undefined): void {
  if (!tune) return;
  const ranges: Array<[string, bigint | undefined, readonly [bigint, bigint]]> = [
    ['shares', tune.shares, CPU_SHARES],
    ['period', tune.period, CPU_PERIOD],
    ['global_period', tune.globalPeriod, CPU_PERIOD],
    ['emulator_period', tune.emulatorPeriod, CPU_PERIOD],
    ['iothread_period', tune.iothreadPeriod, CPU_PERIOD],
    ['quota', tune.quota, CPU_QUOTA],
    ['global_quota', tune.globalQuota, CPU_QUOTA],
    ['emulator_quota', tune.emulatorQuota, CPU_QUOTA],
    ['iothread_quota', tune.iothreadQuota, CPU_QUOTA],
  ];
  for (const [name, value, [min, max]] of ranges) {
    if (value !== undefined && value > 0n && (value < min || value > max)) {
      throw unsupported(`Value of cputune '${name}' must be in range [${min}, ${max}]`);
    }
  }
}

/** Fibre Channel application ids: 1 to 128 printable ASCII characters. */
function validateResource(resource: ResourceDef | undefined): void {
  const appId = resource?.fibreChannelAppId;
  if (appId === undefined) return;
  if (appId.length < 1 || appId.length > 128) {
    throw invalidArg("Fibre Channel 'appid' string length must be between [1, 128]");
  }
  if (!/^[\x20-\x7e]*$/.test(appId)) throw invalidArg("Fibre Channel 'appid' is not a printable string");
}

export const hooks: SectionHooks = {
  postParse: (def) => {
    dropPointlessCpuCheck(def);
    dropOfflineVcpuPins(def);
  },
  validate: (def) => {
    if (def.vcpu.states) throw unsupported('individual CPU state configuration is not supported');
    validateCputune(def.cputune);
    validateResource(def.resource);
  },
};

/* ---------- format ---------- */

function formatVcpu(b: Builder, vcpu: VcpuDef): void {
  add(
    b,
    'vcpu',
    {
      placement: vcpu.placement,
      cpuset: vcpu.cpuset && !isFullCpumask(vcpu.cpuset) ? formatBitmap(vcpu.cpuset) : undefined,
      current: vcpu.current < vcpu.count ? vcpu.current : undefined,
    },
    vcpu.count,
  );
}

function formatIOThreads(b: Builder, iothreads: readonly IOThread[] | undefined): void {
  if (!iothreads?.length) return;
  add(b, 'iothreads', {}, iothreads.length);
  if (iothreads.every((t) => t.autofilled)) return;
  const ids = add(b, 'iothreadids');
  for (const t of iothreads) add(ids, 'iothread', { id: t.id });
}

const schedulerAttrs = (s: ThreadScheduler): { scheduler: SchedulerPolicy; priority?: number } => ({
  scheduler: s.policy,
  priority: s.priority,
});

function formatCputune(b: Builder, tune: CpuTune | undefined, iothreads: readonly IOThread[]): void {
  if (!tune) return;
  addUnlessEmpty(b, 'cputune', (el) => {
    const scalars: Array<[string, bigint | undefined]> = [
      ['shares', tune.shares],
      ['period', tune.period],
      ['quota', tune.quota],
      ['global_period', tune.globalPeriod],
      ['global_quota', tune.globalQuota],
      ['emulator_period', tune.emulatorPeriod],
      ['emulator_quota', tune.emulatorQuota],
      ['iothread_period', tune.iothreadPeriod],
      ['iothread_quota', tune.iothreadQuota],
    ];
    for (const [name, value] of scalars) if (value !== undefined) add(el, name, {}, value);
    for (const pin of tune.vcpuPins) add(el, 'vcpupin', { vcpu: pin.vcpu, cpuset: formatBitmap(pin.cpuset) });
    if (tune.emulatorPin) add(el, 'emulatorpin', { cpuset: formatBitmap(tune.emulatorPin) });
    // iothreadpin and iothreadsched follow the order of the I/O threads.
    const byThread = <T extends { iothread: number }>(list: readonly T[]): T[] => {
      const entries = new Map(list.map((x) => [x.iothread, x]));
      return iothreads.flatMap((t) => entries.get(t.id) ?? []);
    };
    for (const pin of byThread(tune.iothreadPins)) {
      add(el, 'iothreadpin', { iothread: pin.iothread, cpuset: formatBitmap(pin.cpuset) });
    }
    if (tune.emulatorScheduler) add(el, 'emulatorsched', schedulerAttrs(tune.emulatorScheduler));
    for (const s of tune.vcpuSchedulers) add(el, 'vcpusched', { vcpus: s.vcpu, ...schedulerAttrs(s) });
    for (const s of byThread(tune.iothreadSchedulers)) {
      add(el, 'iothreadsched', { iothreads: s.iothread, ...schedulerAttrs(s) });
    }
    for (const group of tune.resctrlGroups) formatResctrl(el, group, 'cache');
    for (const group of tune.resctrlGroups) formatResctrl(el, group, 'memoryBandwidth');
  });
}

/** <cachetune> or <memorytune> of one group, when it has anything of that kind. */
function formatResctrl(b: Builder, group: ResctrlGroup, kind: MonitorKind): void {
  const monitors = group.monitors.filter((m) => m.kind === kind);
  const allocations = kind === 'cache' ? group.caches.length : group.memoryBandwidth.length;
  if (allocations === 0 && monitors.length === 0) return;
  const el = add(b, kind === 'cache' ? 'cachetune' : 'memorytune', { vcpus: formatBitmap(group.vcpus) });
  if (kind === 'cache') {
    for (const c of group.caches) {
      const size = formatBytesPretty(c.sizeBytes);
      add(el, 'cache', { id: c.id, level: c.level, type: c.type, size: size.value, unit: size.unit });
    }
  } else {
    for (const m of group.memoryBandwidth) add(el, 'node', { id: m.node, bandwidth: m.bandwidth });
  }
  const level = kind === 'cache' ? CACHE_MONITOR_LEVEL : undefined;
  for (const m of monitors) add(el, 'monitor', { level, vcpus: formatBitmap(m.vcpus) });
}

function formatNumatune(b: Builder, numatune: NumaTune | undefined): void {
  if (!numatune) return;
  addUnlessEmpty(b, 'numatune', (el) => {
    const memory = numatune.memory;
    if (memory?.placement === 'static') add(el, 'memory', { mode: memory.mode, nodeset: formatBitmap(memory.nodeset) });
    if (memory?.placement === 'auto') add(el, 'memory', { mode: memory.mode, placement: 'auto' });
    for (const m of numatune.memnodes) {
      add(el, 'memnode', { cellid: m.cellId, mode: m.mode, nodeset: formatBitmap(m.nodeset) });
    }
  });
}

function formatResource(b: Builder, resource: ResourceDef | undefined): void {
  if (!resource) return;
  addUnlessEmpty(b, 'resource', (el) => {
    if (resource.partition !== undefined) add(el, 'partition', {}, resource.partition);
    if (resource.fibreChannelAppId !== undefined) add(el, 'fibrechannel', { appid: resource.fibreChannelAppId });
  });
}

/** vcpu, vcpus?, iothreads?, cputune?, numatune?, resource? */
export function formatVcpuAndTuning(b: Builder, def: CpuPart): void {
  formatVcpu(b, def.vcpu);
  formatIOThreads(b, def.iothreads);
  formatCputune(b, def.cputune, def.iothreads ?? []);
  formatNumatune(b, def.numatune);
  formatResource(b, def.resource);
}

/** virCPUDefFormatBufFull's attributes: only for a CPU that is more than topology/cache/NUMA. */
function cpuAttrs(cpu: GuestCpu): Record<string, string | undefined> {
  if (cpu.mode === 'custom' && !cpu.model) return {};
  const migratableMode = cpu.mode === 'host-passthrough' || cpu.mode === 'maximum';
  return {
    mode: cpu.mode,
    match: cpu.mode === 'custom' ? cpu.match : undefined,
    check: cpu.check,
    migratable: migratableMode ? cpu.migratable : undefined,
  };
}

function formatCpuChildren(el: Builder, cpu: GuestCpu): void {
  const withModel = cpu.mode === 'custom' || cpu.mode === 'host-model';
  if (withModel && (cpu.model !== undefined || cpu.vendorId !== undefined)) {
    const fallback = cpu.model !== undefined ? cpu.fallback : undefined;
    add(el, 'model', { fallback, vendor_id: cpu.vendorId }, cpu.model);
  }
  if (withModel && cpu.vendor !== undefined) add(el, 'vendor', {}, cpu.vendor);
  if (cpu.topology) add(el, 'topology', { ...cpu.topology });
  if (cpu.cache) add(el, 'cache', { level: cpu.cache.level, mode: cpu.cache.mode });
  for (const f of cpu.features) add(el, 'feature', { policy: f.policy, name: f.name });
  if (!cpu.numaCells) return;
  const numa = add(el, 'numa');
  cpu.numaCells.forEach((cell, id) => {
    add(numa, 'cell', {
      id,
      cpus: cell.cpus && formatBitmap(cell.cpus),
      memory: cell.memoryKiB,
      unit: 'KiB',
      memAccess: cell.memAccess,
      discard: cell.discard,
    });
  });
}

/** <cpu> (printed after <features>). */
export function formatCpuModel(b: Builder, def: CpuPart): void {
  const cpu = def.cpu;
  if (!cpu) return;
  addUnlessEmpty(b, 'cpu', (el) => formatCpuChildren(el, cpu), cpuAttrs(cpu));
}
