/**
 * What follows <clock>: the lifecycle actions (on_poweroff, on_reboot,
 * on_crash, on_lockfailure), <pm> and <perf>. The LXC driver stores them
 * but never consults them: poweroff always stops, reboot always restarts.
 */
import { add, type Builder } from '../writer.js';
import type { XmlElement } from '../tree.js';
import { unsupported } from '../errors.js';
import { isOneOf, propEnum, propYesNo, selectAll, xpathText, type YesNo } from './xml-access.js';

const LIFECYCLE_ACTIONS = [
  'destroy', 'restart', 'rename-restart', 'preserve', 'coredump-destroy', 'coredump-restart',
] as const;
export type LifecycleAction = (typeof LIFECYCLE_ACTIONS)[number];

const LOCK_FAILURE_ACTIONS = ['default', 'poweroff', 'restart', 'pause', 'ignore'] as const;
export type LockFailureAction = Exclude<(typeof LOCK_FAILURE_ACTIONS)[number], 'default'>;

export const PERF_EVENTS = [
  'cmt', 'mbmt', 'mbml', 'cpu_cycles', 'instructions', 'cache_references', 'cache_misses',
  'branch_instructions', 'branch_misses', 'bus_cycles', 'stalled_cycles_frontend',
  'stalled_cycles_backend', 'ref_cpu_cycles', 'cpu_clock', 'task_clock', 'page_faults',
  'context_switches', 'cpu_migrations', 'page_faults_min', 'page_faults_maj', 'alignment_faults',
  'emulation_faults',
] as const;
export type PerfEvent = (typeof PERF_EVENTS)[number];

export interface PowerManagement {
  suspendToMem?: YesNo;
  suspendToDisk?: YesNo;
}

export interface Lifecycle {
  onPoweroff: LifecycleAction;
  onReboot: LifecycleAction;
  onCrash: LifecycleAction;
  /** Absent means the lock manager's default. */
  onLockFailure?: LockFailureAction;
  pm: PowerManagement;
  /** Perf events explicitly enabled ('yes') or disabled ('no'). */
  perf: Partial<Record<PerfEvent, YesNo>>;
}

/** string(./NAME[1]) read as one of `values`, or the default when absent or empty. */
function parseAction<T extends string>(root: XmlElement, name: string, values: readonly T[], fallback: T): T {
  const text = xpathText(root, name);
  if (text === undefined) return fallback;
  if (!isOneOf(values, text)) throw unsupported(`unknown ${name} action: ${text}`);
  return text;
}

/** The `enabled` attribute of the first ./pm/NAME element. */
function parsePmState(root: XmlElement, name: string): YesNo | undefined {
  const [el] = selectAll(root, 'pm', name);
  return el === undefined ? undefined : propYesNo(el, 'enabled');
}

function parsePerf(root: XmlElement): Lifecycle['perf'] {
  const perf: Lifecycle['perf'] = {};
  for (const el of selectAll(root, 'perf', 'event')) {
    const name = propEnum(el, 'name', PERF_EVENTS, true)!;
    const enabled = propYesNo(el, 'enabled', true)!;
    if (perf[name] !== undefined) throw unsupported(`perf event '${name}' was already specified`);
    perf[name] = enabled;
  }
  return perf;
}

/** virDomainDefLifecycleParse (its order: on_reboot, on_poweroff, on_crash, on_lockfailure, pm), then perf. */
export function parseLifecycle(root: XmlElement): Lifecycle {
  const onReboot = parseAction(root, 'on_reboot', LIFECYCLE_ACTIONS, 'restart');
  const onPoweroff = parseAction(root, 'on_poweroff', LIFECYCLE_ACTIONS, 'destroy');
  const onCrash = parseAction(root, 'on_crash', LIFECYCLE_ACTIONS, 'destroy');
  const lockFailure = parseAction(root, 'on_lockfailure', LOCK_FAILURE_ACTIONS, 'default');
  const pm: PowerManagement = {};
  const suspendToMem = parsePmState(root, 'suspend-to-mem');
  if (suspendToMem !== undefined) pm.suspendToMem = suspendToMem;
  const suspendToDisk = parsePmState(root, 'suspend-to-disk');
  if (suspendToDisk !== undefined) pm.suspendToDisk = suspendToDisk;
  const lifecycle: Lifecycle = { onPoweroff, onReboot, onCrash, pm, perf: parsePerf(root) };
  if (lockFailure !== 'default') lifecycle.onLockFailure = lockFailure;
  return lifecycle;
}

/** virDomainDefLifecycleActionValidate: coredump actions only make sense on crash. */
export function validateLifecycle(def: Lifecycle): void {
  const events: Array<[string, LifecycleAction]> = [
    ['poweroff', def.onPoweroff],
    ['reboot', def.onReboot],
  ];
  for (const [event, action] of events) {
    if (action.startsWith('coredump-')) {
      throw unsupported(`Lifecycle event '${event}' doesn't support '${action}' action`);
    }
  }
}

/** on_poweroff, on_reboot, on_crash, on_lockfailure?, pm?, perf? */
export function formatLifecycle(b: Builder, def: Lifecycle): void {
  add(b, 'on_poweroff', {}, def.onPoweroff);
  add(b, 'on_reboot', {}, def.onReboot);
  add(b, 'on_crash', {}, def.onCrash);
  if (def.onLockFailure !== undefined) add(b, 'on_lockfailure', {}, def.onLockFailure);
  if (def.pm.suspendToMem !== undefined || def.pm.suspendToDisk !== undefined) {
    const pm = add(b, 'pm');
    if (def.pm.suspendToMem !== undefined) add(pm, 'suspend-to-mem', { enabled: def.pm.suspendToMem });
    if (def.pm.suspendToDisk !== undefined) add(pm, 'suspend-to-disk', { enabled: def.pm.suspendToDisk });
  }
  const events = PERF_EVENTS.filter((name) => def.perf[name] !== undefined);
  if (events.length > 0) {
    const perf = add(b, 'perf');
    for (const name of events) add(perf, 'event', { name, enabled: def.perf[name] });
  }
}
