/**
 * Domain states and state reasons as in libvirt's virDomainState and the
 * per-state reason enums, named after the enum constants in lower case
 * (VIR_DOMAIN_SHUTOFF_DESTROYED → 'shutoff' / 'destroyed').
 */

export interface StateReasons {
  nostate: 'unknown';
  running:
    | 'unknown'
    | 'booted'
    | 'migrated'
    | 'restored'
    | 'from-snapshot'
    | 'unpaused'
    | 'migration-canceled'
    | 'save-canceled'
    | 'wakeup'
    | 'crashed'
    | 'postcopy';
  blocked: 'unknown';
  paused:
    | 'unknown'
    | 'user'
    | 'migration'
    | 'save'
    | 'dump'
    | 'ioerror'
    | 'watchdog'
    | 'from-snapshot'
    | 'shutting-down'
    | 'snapshot'
    | 'crashed'
    | 'starting-up'
    | 'postcopy'
    | 'postcopy-failed';
  shutdown: 'unknown' | 'user';
  shutoff:
    | 'unknown'
    | 'shutdown'
    | 'destroyed'
    | 'crashed'
    | 'migrated'
    | 'saved'
    | 'failed'
    | 'from-snapshot'
    | 'daemon';
  crashed: 'unknown' | 'panicked';
  pmsuspended: 'unknown';
}

export type DomainState = keyof StateReasons;

/** A state with one of its own reasons. */
export type DomainStateInfo = { [S in DomainState]: { state: S; reason: StateReasons[S] } }[DomainState];

/** A domain that was defined but never started since. */
export const NEVER_STARTED: DomainStateInfo = { state: 'shutoff', reason: 'unknown' };
