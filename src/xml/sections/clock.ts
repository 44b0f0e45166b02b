/**
 * <clock> and its <timer>s (virDomainDefClockParse, virDomainTimerDefParseXML,
 * virDomainClockDefFormat). A container shares the host clock; the LXC
 * driver only looks at rtc/hpet timers under offset localtime, at start.
 */
import { attr, child, type XmlElement } from '../tree.js';
import { add, type Builder } from '../writer.js';
import { internalError, unsupported, xmlError } from '../errors.js';
import { parseSigned, parseUnsigned } from '../units.js';
import { propEnum, propYesNo, selectAll, type YesNo } from './xml-access.js';

const TIMER_NAMES = ['platform', 'pit', 'rtc', 'hpet', 'tsc', 'kvmclock', 'hypervclock', 'armvtimer'] as const;
export type TimerName = (typeof TIMER_NAMES)[number];
const TICK_POLICIES = ['delay', 'catchup', 'merge', 'discard'] as const;
const TRACKS = ['boot', 'guest', 'wall', 'realtime'] as const;
const TIMER_MODES = ['auto', 'native', 'emulate', 'paravirt', 'smpsafe'] as const;

export interface TimerCatchup {
  threshold?: bigint;
  slew?: bigint;
  limit?: bigint;
}

export interface Timer {
  name: TimerName;
  present?: YesNo;
  tickPolicy?: (typeof TICK_POLICIES)[number];
  track?: (typeof TRACKS)[number];
  /** Hz; tsc only. */
  frequency?: bigint;
  /** tsc only. */
  mode?: (typeof TIMER_MODES)[number];
  catchup?: TimerCatchup;
}

export type ClockBasis = 'utc' | 'localtime';

/** The guest clock's offset from the host, one shape per `offset` value. */
export type ClockOffset =
  | { offset: 'utc' | 'localtime'; adjustmentReset?: true }
  | { offset: 'variable'; adjustment: bigint; basis: ClockBasis }
  | { offset: 'timezone'; timezone: string }
  | { offset: 'absolute'; start: bigint };

export type Clock = ClockOffset & { timers: Timer[] };

const OFFSETS: readonly string[] = ['utc', 'localtime', 'variable', 'timezone', 'absolute'];

/** string(./clock/@NAME): the first such attribute in document order, undefined if empty. */
function clockAttr(root: XmlElement, name: string): string | undefined {
  const value = selectAll(root, 'clock')
    .map((el) => attr(el, name))
    .find((v) => v !== undefined);
  return value === '' ? undefined : value;
}

function parseOffset(root: XmlElement): ClockOffset {
  const offset = clockAttr(root, 'offset') ?? 'utc';
  if (!OFFSETS.includes(offset)) throw unsupported(`unknown clock offset '${offset}'`);
  switch (offset) {
    case 'variable': {
      // A malformed adjustment silently counts as 0 here.
      const adjustment = parseSigned(clockAttr(root, 'adjustment') ?? '') ?? 0n;
      const basis = clockAttr(root, 'basis') ?? 'utc';
      if (basis !== 'utc' && basis !== 'localtime') throw unsupported(`unknown clock basis '${basis}'`);
      return { offset, adjustment, basis };
    }
    case 'timezone': {
      const timezone = clockAttr(root, 'timezone');
      if (timezone === undefined) {
        throw internalError("missing 'timezone' attribute for clock with offset='timezone'");
      }
      return { offset, timezone };
    }
    case 'absolute': {
      const start = parseUnsigned(clockAttr(root, 'start') ?? '');
      if (start === undefined) throw internalError("missing 'start' attribute for clock with offset='absolute'");
      return { offset, start };
    }
    default:
      return parseUtcOrLocaltime(offset as 'utc' | 'localtime', clockAttr(root, 'adjustment'));
  }
}

/** A numeric adjustment turns utc/localtime into a variable offset with that basis. */
function parseUtcOrLocaltime(offset: 'utc' | 'localtime', adjustment: string | undefined): ClockOffset {
  if (adjustment === undefined) return { offset };
  if (adjustment === 'reset') return { offset, adjustmentReset: true };
  const seconds = parseSigned(adjustment);
  if (seconds === undefined) throw xmlError(`unknown clock adjustment '${adjustment}'`);
  return { offset: 'variable', adjustment: seconds, basis: offset };
}

function parseCatchupValue(el: XmlElement, name: string): bigint | undefined {
  const text = attr(el, name);
  if (text === undefined || text === '') return undefined;
  const value = parseUnsigned(text);
  if (value === undefined) throw internalError(`invalid catchup ${name}`);
  return value;
}

function parseTimer(el: XmlElement): Timer {
  const timer: Timer = { name: propEnum(el, 'name', TIMER_NAMES, true)! };
  timer.present = propYesNo(el, 'present');
  timer.tickPolicy = propEnum(el, 'tickpolicy', TICK_POLICIES);
  timer.track = propEnum(el, 'track', TRACKS);
  const frequency = attr(el, 'frequency');
  if (frequency !== undefined && frequency !== '') {
    timer.frequency = parseUnsigned(frequency);
    if (timer.frequency === undefined) throw internalError('invalid timer frequency');
  }
  timer.mode = propEnum(el, 'mode', TIMER_MODES);
  const catchup = child(el, 'catchup');
  if (catchup !== undefined) {
    timer.catchup = {
      threshold: parseCatchupValue(catchup, 'threshold'),
      slew: parseCatchupValue(catchup, 'slew'),
      limit: parseCatchupValue(catchup, 'limit'),
    };
  }
  return dropUnset(timer);
}

/** Keep the model free of explicit undefined members. */
function dropUnset<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as Array<keyof T>) if (obj[key] === undefined) delete obj[key];
  return obj;
}

export function parseClock(root: XmlElement): Clock {
  return { ...parseOffset(root), timers: selectAll(root, 'clock', 'timer').map(parseTimer) };
}

const hasCatchup = (c: TimerCatchup | undefined): boolean =>
  c !== undefined && [c.threshold, c.slew, c.limit].some((v) => v !== undefined && v !== 0n);

/** virDomainDefPostParseTimer: settings a timer kind does not have. */
export function postParseClock(clock: Clock): void {
  for (const timer of clock.timers) {
    if ((timer.name === 'kvmclock' || timer.name === 'hypervclock') && timer.tickPolicy !== undefined) {
      throw unsupported(`timer ${timer.name} doesn't support setting of timer tickpolicy`);
    }
    if (timer.tickPolicy !== 'catchup' && hasCatchup(timer.catchup)) {
      throw unsupported("setting of timer catchup policies is only supported with tickpolicy='catchup'");
    }
    if (timer.name !== 'tsc') {
      if (timer.frequency !== undefined && timer.frequency !== 0n) {
        throw unsupported(`timer ${timer.name} doesn't support setting of timer frequency`);
      }
      if (timer.mode !== undefined) throw unsupported(`timer ${timer.name} doesn't support setting of timer mode`);
    }
    if (timer.name !== 'platform' && timer.name !== 'rtc' && timer.track !== undefined) {
      throw unsupported(`timer ${timer.name} doesn't support setting of timer track`);
    }
  }
}

const positive = (v: bigint | undefined): bigint | undefined => (v !== undefined && v > 0n ? v : undefined);

function formatTimer(b: Builder, timer: Timer): void {
  const tsc = timer.name === 'tsc';
  const el = add(b, 'timer', {
    name: timer.name,
    present: timer.present,
    tickpolicy: timer.tickPolicy,
    track: timer.track,
    frequency: tsc ? positive(timer.frequency) : undefined,
    mode: tsc ? timer.mode : undefined,
  });
  if (hasCatchup(timer.catchup)) {
    const { threshold, slew, limit } = timer.catchup!;
    add(el, 'catchup', { threshold: positive(threshold), slew: positive(slew), limit: positive(limit) });
  }
}

function offsetAttrs(clock: ClockOffset): Record<string, string | bigint | undefined> {
  switch (clock.offset) {
    case 'variable':
      return { offset: clock.offset, adjustment: clock.adjustment, basis: clock.basis };
    case 'timezone':
      return { offset: clock.offset, timezone: clock.timezone };
    case 'absolute':
      return { offset: clock.offset, start: clock.start };
    default:
      return { offset: clock.offset, adjustment: clock.adjustmentReset ? 'reset' : undefined };
  }
}

export function formatClock(b: Builder, clock: Clock): void {
  const el = add(b, 'clock', offsetAttrs(clock));
  for (const timer of clock.timers) formatTimer(el, timer);
}
