/**
 * CPU placement and tunables: vcpu, vcpus (rejected), iothreads, cputune,
 * numatune, resource, and the stored-only <cpu> model. STUB: to be completed.
 */
import type { SectionHooks } from '../model.js';
import type { ParseContext } from '../context.js';
import { childText, type XmlElement } from '../tree.js';
import { add, type Builder } from '../writer.js';

export interface CpuPart {
  vcpu: { count: number; placement: 'static' | 'auto' };
}

export function parseCpuPart(root: XmlElement, _ctx: ParseContext): CpuPart {
  const text = childText(root, 'vcpu');
  return { vcpu: { count: text ? Number(text) : 1, placement: 'static' } };
}

/** vcpu, vcpus?, iothreads?, cputune?, numatune?, resource? */
export function formatVcpuAndTuning(b: Builder, def: CpuPart): void {
  add(b, 'vcpu', { placement: def.vcpu.placement }, def.vcpu.count);
}

/** <cpu> (printed after <features>). */
export function formatCpuModel(_b: Builder, _def: CpuPart): void {}

export const hooks: SectionHooks = {};
