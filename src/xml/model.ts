/**
 * The typed domain model: one interface per area, composed here. Each part
 * is defined (with its parser and formatter) in `sections/`.
 */
import type { GeneralPart } from './sections/general.js';
import type { MemoryPart } from './sections/memory.js';
import type { CpuPart } from './sections/cpu.js';
import type { OsPart } from './sections/os.js';
import type { FeaturesPart } from './sections/features.js';
import type { SecurityPart } from './sections/security.js';
import type { DevicesDef } from './sections/devices/index.js';
import type { ParseContext } from './context.js';

export interface DomainDef extends GeneralPart, MemoryPart, CpuPart, OsPart, FeaturesPart, SecurityPart {
  type: 'lxc';
  devices: DevicesDef;
}

/**
 * Checks and defaults that need the whole definition, run in libvirt's
 * order after every part has been parsed: postParse (defaults, implicit
 * devices), then validate (cross-field rules).
 */
export interface SectionHooks {
  postParse?: (def: DomainDef, ctx: ParseContext) => void;
  validate?: (def: DomainDef, ctx: ParseContext) => void;
}
