/**
 * Advisory file locks (flock) that exclude other processes and, through an
 * in-process queue per path, other callers in this process.
 *
 * The driver's locks and their order:
 *   1. the driver lock (paths.driverLock), exclusive, around define and
 *      undefine: name and UUID uniqueness span all domains;
 *   2. a domain lock (paths.domainLock(name)), exclusive, around anything
 *      that changes one domain (its definition, starting, stopping).
 * Take them in that order only: code holding a domain lock must never wait
 * for the driver lock. Readers take no lock: definitions are replaced by
 * atomic rename, so a reader sees the old file or the new one. After taking
 * a domain lock, re-read the definition: it may have changed while waiting.
 *
 * Lock files are never deleted: unlinking a lock file that another process
 * has open and is waiting on would let two holders in at once.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { lockFile, lockFileSync, unlockFile } from '../native.js';
import { ensureDirectory } from './atomic.js';
import type { DriverPaths } from './paths.js';

export type LockMode = 'shared' | 'exclusive';

export interface HeldLock {
  readonly path: string;
  /** Release the lock; safe to call more than once. */
  release(): void;
}

/**
 * Tail of the in-process queue per lock path. Besides ordering callers in
 * this process, it keeps at most one of them waiting in flock, so waiters
 * cannot fill libuv's small thread pool.
 */
const queueTails = new Map<string, Promise<void>>();

function joinQueue(path: string): { myTurn: Promise<void>; leave: () => void } {
  const previous = queueTails.get(path) ?? Promise.resolve();
  let leave!: () => void;
  const done = new Promise<void>((resolve) => (leave = resolve));
  const tail = previous.then(() => done);
  queueTails.set(path, tail);
  return {
    myTurn: previous,
    leave: () => {
      leave();
      if (queueTails.get(path) === tail) queueTails.delete(path);
    },
  };
}

function openLockFile(path: string): number {
  ensureDirectory(dirname(path), 0o700);
  // libuv opens every descriptor O_CLOEXEC, so children never inherit a lock.
  return openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
}

export async function acquireLock(path: string, mode: LockMode): Promise<HeldLock> {
  const { myTurn, leave } = joinQueue(path);
  await myTurn;
  let fd: number | undefined;
  try {
    fd = openLockFile(path);
    const exclusive = mode === 'exclusive';
    // Try without blocking first: the uncontended case needs no worker thread.
    if (!lockFileSync(fd, exclusive, false)) await lockFile(fd, exclusive);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    leave();
    throw e;
  }
  return heldLock(path, fd, leave);
}

/** A lock held through `fd`; releasing unlocks, closes and then runs `after` (once). */
function heldLock(path: string, fd: number, after: () => void = () => {}): HeldLock {
  let released = false;
  return {
    path,
    release: () => {
      if (released) return;
      released = true;
      try {
        unlockFile(fd);
      } finally {
        closeSync(fd);
        after();
      }
    },
  };
}

export async function withLock<T>(path: string, mode: LockMode, fn: () => T | Promise<T>): Promise<T> {
  const lock = await acquireLock(path, mode);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** Run `fn` holding the driver-wide lock (lock order: first). */
export const withDriverLock = <T>(paths: DriverPaths, fn: () => T | Promise<T>): Promise<T> =>
  withLock(paths.driverLock, 'exclusive', fn);

/** Run `fn` holding the lock of domain `name` (lock order: after the driver lock). */
export const withDomainLock = <T>(paths: DriverPaths, name: string, fn: () => T | Promise<T>): Promise<T> =>
  withLock(paths.domainLock(name), 'exclusive', fn);

/**
 * Take an exclusive lock only if nobody holds it (no waiting, no queue):
 * for housekeeping that can simply be left to whoever holds the lock.
 * Within one process a second holder is refused too (flock is per open file).
 */
export function tryExclusiveLock(path: string): HeldLock | undefined {
  const fd = openLockFile(path);
  let locked = false;
  try {
    locked = lockFileSync(fd, true, false);
  } finally {
    if (!locked) closeSync(fd);
  }
  return locked ? heldLock(path, fd) : undefined;
}
