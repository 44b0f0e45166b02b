/**
 * Memory sizing and tunables: maxMemory (rejected by this driver), memory,
 * currentMemory, blkiotune, memtune, memoryBacking. Sizes are KiB, as
 * libvirt keeps them; "unset" is an absent field rather than libvirt's 0.
 */
import type { DomainDef, SectionHooks } from '../model.js';
import type { ParseContext } from '../context.js';
import { attr, child, textOf, type XmlElement } from '../tree.js';
import { add, type Attrs, type Builder } from '../writer.js';
import { VirError, unsupported, xmlError } from '../errors.js';
import {
  parseMemoryKiB,
  parseMemoryLimitKiB,
  parseUInt32Wrapping,
  parseUnsignedWrapping,
} from '../units.js';
import { bitmapsOverlap, formatBitmap, parseBitmap, type Bitmap } from '../bitmap.js';
import { nonEmptyAttr, propSwitch, selectAll, selectFirstOfEach, xpathText, type Switch } from './xml-access.js';

/** <maxMemory>: memory hotplug limits. Parsed only to be rejected, as libvirt's LXC driver does. */
export interface MaxMemory {
  sizeKiB: bigint;
  /** 0 when not given. */
  slots: number;
}

/** One <blkiotune><device>; the throttles are absent when not set (libvirt's 0). */
export interface BlkioDeviceTune {
  path: string;
  weight?: number;
  readIopsSec?: number;
  writeIopsSec?: number;
  readBytesSec?: bigint;
  writeBytesSec?: bigint;
}

export interface BlkioTune {
  weight?: number;
  /** Devices in document order, including ones with no throttle (kept for the duplicate-path check, not printed). */
  devices: BlkioDeviceTune[];
}

/** <memtune>: absent limits are unlimited. */
export interface MemTune {
  hardLimitKiB?: bigint;
  softLimitKiB?: bigint;
  minGuaranteeKiB?: bigint;
  swapHardLimitKiB?: bigint;
}

export interface HugePage {
  sizeKiB: bigint;
  /** Guest NUMA nodes this page size backs (dropped when the guest has no NUMA cells). */
  nodeset?: Bitmap;
}

export type MemorySource = 'file' | 'anonymous' | 'memfd';
export type MemoryAccess = 'shared' | 'private';
export type MemoryAllocation = 'immediate' | 'ondemand';

/** <memoryBacking>: stored only by this driver. */
export interface MemoryBacking {
  /** [] is a bare <hugepages/> (the default page size). */
  hugepages?: HugePage[];
  nosharepages?: boolean;
  locked?: boolean;
  source?: MemorySource;
  access?: MemoryAccess;
  allocationMode?: MemoryAllocation;
  allocationThreads?: number;
  discard?: boolean;
}

export interface MemoryPart {
  /** <memory> in KiB (0 = not given; post-parse fills it from the NUMA cells or rejects it). */
  memoryKiB: bigint;
  /** <currentMemory> in KiB; post-parse makes it 0 < current <= memory. */
  currentMemoryKiB: bigint;
  /** <memory dumpCore>. */
  memoryDumpCore?: Switch;
  maxMemory?: MaxMemory;
  blkiotune?: BlkioTune;
  memtune?: MemTune;
  memoryBacking?: MemoryBacking;
}

/* ---------- shared helpers (also used by cpu.ts) ---------- */

/** libvirt's "0 means unset", as an absent value. */
export const nonZero = <T extends number | bigint>(v: T | undefined): T | undefined =>
  v === 0 || v === 0n ? undefined : v;

/** The object without its undefined fields, so the model only holds what is set. */
export function compact<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as Array<keyof T>) if (obj[key] === undefined) delete obj[key];
  return obj;
}

/** `obj` when it has any field left, else undefined (an element with nothing to keep). */
export const unlessEmpty = <T extends object>(obj: T): T | undefined =>
  Object.keys(compact(obj)).length ? obj : undefined;

/**
 * virXMLFormatElement: append `name` with `attrs`, let `fill` add its
 * children, and drop it again when it ends up with neither.
 */
export function addUnlessEmpty(parent: Builder, name: string, fill: (el: Builder) => void, attrs: Attrs = {}): void {
  const el = add(parent, name, attrs);
  fill(el);
  const node = el.node as unknown as { childNodes: ArrayLike<unknown>; attributes: ArrayLike<unknown> };
  if (node.childNodes.length === 0 && node.attributes.length === 0) el.remove();
}

/* ---------- parse ---------- */

/** The element `string(./a/b[1])` reads: the first match in document order. */
const firstAt = (root: XmlElement, ...path: string[]): XmlElement | undefined => selectFirstOfEach(root, ...path)[0];

/** The "./a/b[1]" libvirt names in its errors about that element. */
const xpathOf = (path: readonly string[]): string => `./${path.join('/')}[1]`;

/** virDomainParseMemory on `./a/b[1]`, with the unit from its `unit` attribute. */
function memoryAt(root: XmlElement, ...path: string[]): bigint | undefined {
  const el = firstAt(root, ...path);
  return el && parseMemoryKiB(textOf(el), attr(el, 'unit'), xpathOf(path));
}

/** virDomainParseMemoryLimit on `./a/b[1]`: undefined when absent or unlimited. */
function memoryLimitAt(root: XmlElement, ...path: string[]): bigint | undefined {
  const el = firstAt(root, ...path);
  return el && parseMemoryLimitKiB(textOf(el), attr(el, 'unit'), xpathOf(path));
}

function parseMaxMemory(root: XmlElement): MaxMemory | undefined {
  const sizeKiB = memoryAt(root, 'maxMemory') ?? 0n;
  const slotsText = nonEmptyAttr(child(root, 'maxMemory'), 'slots');
  const slots = slotsText === undefined ? 0 : parseUInt32Wrapping(slotsText);
  if (slots === undefined) throw xmlError('Failed to parse memory slot count');
  return sizeKiB > 0n || slots > 0 ? { sizeKiB, slots } : undefined;
}

/** `string(./memoryBacking/<element>/@name)`: the first such attribute in the document. */
const backingAttr = (root: XmlElement, element: string, name: string): string | undefined =>
  selectAll(root, 'memoryBacking', element)
    .map((el) => nonEmptyAttr(el, name))
    .find((v) => v !== undefined);

/** A <memoryBacking> enum; its zero value ("none"/"default") is rejected too, as libvirt does. */
function backingEnum<T extends string>(
  root: XmlElement,
  element: string,
  name: string,
  values: readonly T[],
): T | undefined {
  const raw = backingAttr(root, element, name);
  if (raw !== undefined && !(values as readonly string[]).includes(raw)) {
    throw unsupported(`unknown memoryBacking/${element}/${name} '${raw}'`);
  }
  return raw as T | undefined;
}

function parseAllocationThreads(root: XmlElement): number | undefined {
  const text = backingAttr(root, 'allocation', 'threads');
  if (text === undefined) return undefined;
  const threads = parseUInt32Wrapping(text);
  if (threads === undefined) throw xmlError('Failed to parse memory allocation threads');
  return nonZero(threads);
}

function parseHugePage(page: XmlElement): HugePage {
  const sizeKiB = parseMemoryKiB(attr(page, 'size'), attr(page, 'unit'), './@size', true)!;
  if (sizeKiB === 0n) throw new VirError('VIR_ERR_XML_DETAIL', "hugepage size can't be zero");
  const nodesetText = attr(page, 'nodeset');
  if (nodesetText === undefined) return { sizeKiB };
  const nodeset = parseBitmap(nodesetText);
  if (nodeset.length === 0) throw unsupported(`Invalid value of 'nodeset': ${nodesetText}`);
  return { sizeKiB, nodeset };
}

function parseMemoryBacking(root: XmlElement): MemoryBacking | undefined {
  const present = (name: string): true | undefined =>
    selectAll(root, 'memoryBacking', name).length > 0 ? true : undefined;
  return unlessEmpty<MemoryBacking>({
    source: backingEnum(root, 'source', 'type', ['file', 'anonymous', 'memfd'] as const),
    access: backingEnum(root, 'access', 'mode', ['shared', 'private'] as const),
    allocationMode: backingEnum(root, 'allocation', 'mode', ['immediate', 'ondemand'] as const),
    allocationThreads: parseAllocationThreads(root),
    hugepages: present('hugepages') && selectAll(root, 'memoryBacking', 'hugepages', 'page').map(parseHugePage),
    nosharepages: present('nosharepages'),
    locked: present('locked'),
    discard: present('discard'),
  });
}

/** A number under <device>, read with virStrToLong_ui/_ull; empty text counts as absent, 0 as unset. */
function deviceNumber<T extends number | bigint>(
  device: XmlElement,
  name: string,
  label: string,
  parse: (text: string) => T | undefined,
): T | undefined {
  const text = xpathText(device, name);
  if (text === undefined) return undefined;
  const value = parse(text);
  if (value === undefined) throw xmlError(`could not parse ${label} ${text}`);
  return nonZero(value);
}

function parseBlkioDevice(device: XmlElement): BlkioDeviceTune {
  const path = xpathText(device, 'path');
  if (path === undefined) throw xmlError('missing per-device path');
  return compact<BlkioDeviceTune>({
    path,
    weight: deviceNumber(device, 'weight', 'weight', parseUInt32Wrapping),
    readIopsSec: deviceNumber(device, 'read_iops_sec', 'read iops sec', parseUInt32Wrapping),
    writeIopsSec: deviceNumber(device, 'write_iops_sec', 'write iops sec', parseUInt32Wrapping),
    readBytesSec: deviceNumber(device, 'read_bytes_sec', 'read bytes sec', parseUnsignedWrapping),
    writeBytesSec: deviceNumber(device, 'write_bytes_sec', 'write bytes sec', parseUnsignedWrapping),
  });
}

function parseBlkiotune(root: XmlElement): BlkioTune | undefined {
  const weightText = xpathText(root, 'blkiotune', 'weight');
  // libvirt silently ignores a weight it cannot read (the whole element may then vanish).
  const weight = nonZero(weightText === undefined ? undefined : parseUInt32Wrapping(weightText));
  const devices = selectAll(root, 'blkiotune', 'device').map(parseBlkioDevice);
  return weight !== undefined || devices.length ? compact<BlkioTune>({ weight, devices }) : undefined;
}

function parseMemtune(root: XmlElement): MemTune | undefined {
  return unlessEmpty<MemTune>({
    hardLimitKiB: memoryLimitAt(root, 'memtune', 'hard_limit'),
    softLimitKiB: memoryLimitAt(root, 'memtune', 'soft_limit'),
    minGuaranteeKiB: nonZero(memoryAt(root, 'memtune', 'min_guarantee')),
    swapHardLimitKiB: memoryLimitAt(root, 'memtune', 'swap_hard_limit'),
  });
}

/** Elements in libvirt's order: memory, currentMemory, maxMemory, memoryBacking, then blkiotune and memtune. */
export function parseMemoryPart(root: XmlElement, _ctx: ParseContext): MemoryPart {
  const memoryEl = child(root, 'memory');
  return compact<MemoryPart>({
    memoryKiB: memoryAt(root, 'memory') ?? 0n,
    currentMemoryKiB: memoryAt(root, 'currentMemory') ?? 0n,
    maxMemory: parseMaxMemory(root),
    memoryDumpCore: memoryEl && propSwitch(memoryEl, 'dumpCore'),
    memoryBacking: parseMemoryBacking(root),
    blkiotune: parseBlkiotune(root),
    memtune: parseMemtune(root),
  });
}

/* ---------- post-parse and validation ---------- */

/** Total of the guest NUMA cell sizes (0 without cells). */
const numaMemoryKiB = (def: DomainDef): bigint =>
  (def.cpu?.numaCells ?? []).reduce((sum, cell) => sum + cell.memoryKiB, 0n);

/** virDomainDefPostParseMemory. */
function applyMemoryDefaults(def: DomainDef): void {
  if (def.memoryKiB === 0n) def.memoryKiB = numaMemoryKiB(def);
  if (def.memoryKiB === 0n) {
    throw xmlError('Memory size must be specified via <memory> or in the <numa> configuration');
  }
  if (def.currentMemoryKiB === 0n || def.currentMemoryKiB > def.memoryKiB) def.currentMemoryKiB = def.memoryKiB;
  const max = def.maxMemory;
  if (max && (max.sizeKiB === 0n || max.slots === 0)) {
    throw xmlError('both maximum memory size and memory slot count must be specified');
  }
  if (max && max.sizeKiB < def.memoryKiB) {
    throw xmlError('maximum memory size must be equal or greater than the actual size');
  }
}

/** virDomainDefPostParseMemtune: without guest NUMA cells, hugepage nodesets mean nothing. */
function dropHugepageNodesets(def: DomainDef): void {
  if (def.cpu?.numaCells?.length) return;
  for (const page of def.memoryBacking?.hugepages ?? []) delete page.nodeset;
}

/** virDomainDefMemtuneValidate: one default page size, disjoint nodesets that name existing cells. */
function validateHugepages(def: DomainDef): void {
  const pages = def.memoryBacking?.hugepages ?? [];
  const cells = def.cpu?.numaCells?.length ?? 0;
  pages.forEach((page, i) => {
    for (const other of pages.slice(0, i)) {
      if (page.nodeset && other.nodeset && bitmapsOverlap(page.nodeset, other.nodeset)) {
        throw new VirError(
          'VIR_ERR_XML_DETAIL',
          `nodeset attribute of hugepages of sizes ${page.sizeKiB} and ${other.sizeKiB} intersect`,
        );
      }
      if (!page.nodeset && !other.nodeset) {
        throw new VirError('VIR_ERR_XML_DETAIL', `two master hugepages detected: ${page.sizeKiB} and ${other.sizeKiB}`);
      }
    }
    const missingNode = cells ? page.nodeset?.find((node) => node >= cells) : undefined;
    if (missingNode !== undefined) throw new VirError('VIR_ERR_XML_DETAIL', `hugepages: node ${missingNode} not found`);
  });
}

/** virDomainDefTunablesValidate. */
function validateBlkioPaths(def: DomainDef): void {
  const seen = new Set<string>();
  for (const { path } of def.blkiotune?.devices ?? []) {
    if (seen.has(path)) throw unsupported(`duplicate blkio device path '${path}'`);
    seen.add(path);
  }
}

export const hooks: SectionHooks = {
  postParse: (def) => {
    applyMemoryDefaults(def);
    dropHugepageNodesets(def);
  },
  validate: (def) => {
    // The driver-feature check (virDomainDefPostParseCheckFeatures) comes before the generic validation.
    if (def.maxMemory) {
      throw unsupported('memory hotplug tunables <maxMemory> are not supported by this hypervisor driver');
    }
    validateHugepages(def);
    validateBlkioPaths(def);
  },
};

/* ---------- format ---------- */

function formatBlkiotune(b: Builder, blkio: BlkioTune | undefined): void {
  if (!blkio) return;
  addUnlessEmpty(b, 'blkiotune', (el) => {
    if (blkio.weight !== undefined) add(el, 'weight', {}, blkio.weight);
    for (const dev of blkio.devices) {
      const throttles: Array<[string, number | bigint | undefined]> = [
        ['weight', dev.weight],
        ['read_iops_sec', dev.readIopsSec],
        ['write_iops_sec', dev.writeIopsSec],
        ['read_bytes_sec', dev.readBytesSec],
        ['write_bytes_sec', dev.writeBytesSec],
      ];
      const set = throttles.filter(([, v]) => v !== undefined);
      if (set.length === 0) continue;
      const device = add(el, 'device');
      add(device, 'path', {}, dev.path);
      for (const [name, value] of set) add(device, name, {}, value);
    }
  });
}

function formatMemtune(b: Builder, memtune: MemTune | undefined): void {
  if (!memtune) return;
  addUnlessEmpty(b, 'memtune', (el) => {
    const limits: Array<[string, bigint | undefined]> = [
      ['hard_limit', memtune.hardLimitKiB],
      ['soft_limit', memtune.softLimitKiB],
      ['min_guarantee', memtune.minGuaranteeKiB],
      ['swap_hard_limit', memtune.swapHardLimitKiB],
    ];
    for (const [name, value] of limits) if (value !== undefined) add(el, name, { unit: 'KiB' }, value);
  });
}

function formatMemoryBacking(b: Builder, backing: MemoryBacking | undefined): void {
  if (!backing) return;
  addUnlessEmpty(b, 'memoryBacking', (el) => {
    if (backing.hugepages) {
      const hugepages = add(el, 'hugepages');
      for (const page of backing.hugepages) {
        add(hugepages, 'page', {
          size: page.sizeKiB,
          unit: 'KiB',
          nodeset: page.nodeset && formatBitmap(page.nodeset),
        });
      }
    }
    if (backing.nosharepages) add(el, 'nosharepages');
    if (backing.locked) add(el, 'locked');
    if (backing.source) add(el, 'source', { type: backing.source });
    if (backing.access) add(el, 'access', { mode: backing.access });
    if (backing.allocationMode || backing.allocationThreads) {
      add(el, 'allocation', { mode: backing.allocationMode, threads: backing.allocationThreads });
    }
    if (backing.discard) add(el, 'discard');
  });
}

/** maxMemory?, memory, currentMemory, blkiotune?, memtune?, memoryBacking? */
export function formatMemoryPart(b: Builder, def: MemoryPart): void {
  if (def.maxMemory) {
    add(b, 'maxMemory', { slots: def.maxMemory.slots || undefined, unit: 'KiB' }, def.maxMemory.sizeKiB);
  }
  add(b, 'memory', { dumpCore: def.memoryDumpCore, unit: 'KiB' }, def.memoryKiB);
  add(b, 'currentMemory', { unit: 'KiB' }, def.currentMemoryKiB);
  formatBlkiotune(b, def.blkiotune);
  formatMemtune(b, def.memtune);
  formatMemoryBacking(b, def.memoryBacking);
}
