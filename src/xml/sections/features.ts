/** <features>, <clock>, lifecycle actions, <pm>, <perf>. STUB: to be completed. */
import type { SectionHooks } from '../model.js';
import type { ParseContext } from '../context.js';
import type { XmlElement } from '../tree.js';
import { add, type Builder } from '../writer.js';

export type LifecycleAction = string;

export interface FeaturesPart {
  onPoweroff: LifecycleAction;
  onReboot: LifecycleAction;
  onCrash: LifecycleAction;
}

export function parseFeaturesPart(_root: XmlElement, _ctx: ParseContext): FeaturesPart {
  return { onPoweroff: 'destroy', onReboot: 'restart', onCrash: 'destroy' };
}

/** features? (printed after idmap). */
export function formatFeatures(_b: Builder, _def: FeaturesPart): void {}

/** clock, on_poweroff, on_reboot, on_crash, on_lockfailure?, pm?, perf? */
export function formatClockAndLifecycle(b: Builder, def: FeaturesPart): void {
  add(b, 'clock', { offset: 'utc' });
  add(b, 'on_poweroff', {}, def.onPoweroff);
  add(b, 'on_reboot', {}, def.onReboot);
  add(b, 'on_crash', {}, def.onCrash);
}

export const hooks: SectionHooks = {};
