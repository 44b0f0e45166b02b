/**
 * Memory sizing and tunables: maxMemory (rejected), memory, currentMemory,
 * blkiotune, memtune, memoryBacking. STUB: to be completed (units, limits).
 */
import type { SectionHooks } from '../model.js';
import type { ParseContext } from '../context.js';
import { childText, type XmlElement } from '../tree.js';
import { add, type Builder } from '../writer.js';
import { xmlError } from '../errors.js';

export interface MemoryPart {
  /** <memory> in KiB (0 = not given). */
  memoryKiB: bigint;
  currentMemoryKiB: bigint;
}

export function parseMemoryPart(root: XmlElement, _ctx: ParseContext): MemoryPart {
  const text = childText(root, 'memory');
  const memoryKiB = text === undefined || text === '' ? 0n : BigInt(text);
  const cur = childText(root, 'currentMemory');
  return { memoryKiB, currentMemoryKiB: cur ? BigInt(cur) : 0n };
}

export function postParseMemory(def: MemoryPart): void {
  if (def.memoryKiB === 0n) {
    throw xmlError('Memory size must be specified via <memory> or in the <numa> configuration');
  }
  if (def.currentMemoryKiB === 0n || def.currentMemoryKiB > def.memoryKiB) def.currentMemoryKiB = def.memoryKiB;
}

/** maxMemory?, memory, currentMemory, blkiotune?, memtune?, memoryBacking? */
export function formatMemoryPart(b: Builder, def: MemoryPart): void {
  add(b, 'memory', { unit: 'KiB' }, def.memoryKiB);
  add(b, 'currentMemory', { unit: 'KiB' }, def.currentMemoryKiB);
}

export const hooks: SectionHooks = { postParse: (def) => postParseMemory(def) };
