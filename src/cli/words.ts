/** The words virsh prints for domain states and reasons (virshDomainStateToString and friends). */
import type { DomainState, DomainStateInfo, StateReasons } from '../driver/state.js';

export const STATE_WORDS: Readonly<Record<DomainState, string>> = {
  nostate: 'no state',
  running: 'running',
  blocked: 'idle',
  paused: 'paused',
  shutdown: 'in shutdown',
  shutoff: 'shut off',
  crashed: 'crashed',
  pmsuspended: 'pmsuspended',
};

type ReasonWords = { [S in DomainState]: Readonly<Record<StateReasons[S], string>> };

const REASON_WORDS: ReasonWords = {
  nostate: { unknown: 'unknown' },
  running: {
    unknown: 'unknown',
    booted: 'booted',
    migrated: 'migrated',
    restored: 'restored',
    'from-snapshot': 'from snapshot',
    unpaused: 'unpaused',
    'migration-canceled': 'migration canceled',
    'save-canceled': 'save canceled',
    wakeup: 'event wakeup',
    crashed: 'crashed',
    postcopy: 'post-copy',
  },
  blocked: { unknown: 'unknown' },
  paused: {
    unknown: 'unknown',
    user: 'user',
    migration: 'migrating',
    save: 'saving',
    dump: 'dumping',
    ioerror: 'I/O error',
    watchdog: 'watchdog',
    'from-snapshot': 'from snapshot',
    'shutting-down': 'shutting down',
    snapshot: 'creating snapshot',
    crashed: 'crashed',
    'starting-up': 'starting up',
    postcopy: 'post-copy',
    'postcopy-failed': 'post-copy failed',
  },
  shutdown: { unknown: 'unknown', user: 'user' },
  shutoff: {
    unknown: 'unknown',
    shutdown: 'shutdown',
    destroyed: 'destroyed',
    crashed: 'crashed',
    migrated: 'migrated',
    saved: 'saved',
    failed: 'failed',
    'from-snapshot': 'from snapshot',
    daemon: 'daemon',
  },
  crashed: { unknown: 'unknown', panicked: 'panicked' },
  pmsuspended: { unknown: 'unknown' },
};

export function reasonWord(info: DomainStateInfo): string {
  const words: Readonly<Record<string, string>> = REASON_WORDS[info.state];
  return words[info.reason] ?? 'unknown';
}

/** One `dominfo`-style line: the label padded to 15 columns ("%-15s %s"). */
export const field = (label: string, value: string | number | bigint): string => `${label.padEnd(15)} ${value}\n`;
