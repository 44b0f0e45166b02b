/**
 * The flock addon and the lock module on top of it: exclusion between
 * processes, shared locks, waiting off the event loop, and errors that
 * carry errno and the failed system call.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockFile, lockFileSync, strerror, unlockFile, isSystemCallError } from '../src/native.js';
import { acquireLock } from '../src/driver/lock.js';
import { packageRoot } from '../src/package.js';
import { useTempRoot } from './support/tmproot.js';

const ADDON = join(packageRoot(), 'build/Release/nsvirt_native.node');
const { root } = useTempRoot('nsvirt-lock-');

const openFds: number[] = [];
const openLockFile = (name = 'test.lock'): number => {
  const fd = openSync(join(root(), name), 'a+');
  openFds.push(fd);
  return fd;
};
afterEach(() => {
  for (const fd of openFds.splice(0)) closeSync(fd);
});

/** Run a snippet in another node process with `addon` and `fd` (the lock file opened read-write) in scope. */
function runInChild(file: string, body: string): Promise<string> {
  const script = `const addon = require(${JSON.stringify(ADDON)}); const fd = require('fs').openSync(${JSON.stringify(file)}, 'a+'); ${body}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`child failed (${code}): ${err}`))));
  });
}

/** A child that takes the lock, says "locked", and holds it until its stdin closes. */
function childHoldingLock(file: string, exclusive: boolean): Promise<ChildProcessWithoutNullStreams> {
  const script =
    `const addon = require(${JSON.stringify(ADDON)}); const fd = require('fs').openSync(${JSON.stringify(file)}, 'a+');` +
    `addon.lockFileSync(fd, ${exclusive}, true); process.stdout.write('locked\\n');` +
    `process.stdin.resume(); process.stdin.on('end', () => { addon.unlockFile(fd); process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', script]);
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve(child));
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`holder exited early (${code})`)));
  });
}

const release = (child: ChildProcessWithoutNullStreams): Promise<void> =>
  new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', () => resolve());
    child.stdin.end();
  });

describe('flock addon', () => {
  it('an exclusive lock excludes another process until it is released', async () => {
    const fd = openLockFile();
    const file = join(root(), 'test.lock');
    expect(lockFileSync(fd, true, false)).toBe(true);
    expect(await runInChild(file, 'console.log(addon.lockFileSync(fd, true, false))')).toBe('false');
    expect(await runInChild(file, 'console.log(addon.lockFileSync(fd, false, false))')).toBe('false');
    unlockFile(fd);
    expect(await runInChild(file, 'console.log(addon.lockFileSync(fd, true, false))')).toBe('true');
  });

  it('shared locks coexist and exclude an exclusive one', async () => {
    const fd = openLockFile();
    const file = join(root(), 'test.lock');
    expect(lockFileSync(fd, false, false)).toBe(true);
    expect(await runInChild(file, 'console.log(addon.lockFileSync(fd, false, false))')).toBe('true');
    expect(await runInChild(file, 'console.log(addon.lockFileSync(fd, true, false))')).toBe('false');
  });

  it('two descriptors of one process exclude each other (locks belong to open files)', () => {
    const a = openLockFile();
    const b = openLockFile();
    expect(lockFileSync(a, true, false)).toBe(true);
    expect(lockFileSync(b, true, false)).toBe(false);
    unlockFile(a);
    expect(lockFileSync(b, true, false)).toBe(true);
  });

  it('lockFile waits on a worker thread while the event loop keeps running', async () => {
    const file = join(root(), 'test.lock');
    const holder = await childHoldingLock(file, true);
    const fd = openLockFile();
    let acquired = false;
    const waiting = lockFile(fd, true).then(() => (acquired = true));
    // Timers still fire while the lock is being waited for.
    await new Promise((r) => setTimeout(r, 150));
    expect(acquired).toBe(false);
    await release(holder);
    await waiting;
    expect(acquired).toBe(true);
  });

  it('errors carry errno, code and syscall like Node system errors', async () => {
    const bad = 987654;
    let thrown: unknown;
    try {
      lockFileSync(bad, true, false);
    } catch (e) {
      thrown = e;
    }
    expect(isSystemCallError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ errno: -9, code: 'EBADF', syscall: 'flock', message: 'EBADF: bad file descriptor, flock' });
    await expect(lockFile(bad, false)).rejects.toMatchObject({ errno: -9, code: 'EBADF', syscall: 'flock' });
    expect(() => unlockFile(-1)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'flock' }));
  });

  it('rejects arguments of the wrong type', () => {
    expect(() => lockFileSync('3' as unknown as number, true, false)).toThrow(TypeError);
    expect(() => lockFileSync(3, 'yes' as unknown as boolean, false)).toThrow(TypeError);
  });

  it('strerror gives the C library text', () => {
    expect(strerror(2)).toBe('No such file or directory');
    expect(strerror(-13)).toBe('Permission denied');
  });
});

describe('acquireLock', () => {
  it('queues callers of one process in order', async () => {
    const path = join(root(), 'lock/queue.lock');
    const order: string[] = [];
    const first = await acquireLock(path, 'exclusive');
    const second = acquireLock(path, 'exclusive').then((l) => {
      order.push('second');
      return l;
    });
    await new Promise((r) => setTimeout(r, 50));
    order.push('first releases');
    first.release();
    (await second).release();
    expect(order).toEqual(['first releases', 'second']);
  });

  it('waits for a lock held by another process', async () => {
    const path = join(root(), 'held.lock');
    const holder = await childHoldingLock(path, true);
    let acquired = false;
    const pending = acquireLock(path, 'exclusive').then((l) => {
      acquired = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(acquired).toBe(false);
    await release(holder);
    const lock = await pending;
    expect(acquired).toBe(true);
    lock.release();
    lock.release(); // idempotent
    expect(await runInChild(path, 'console.log(addon.lockFileSync(fd, true, false))')).toBe('true');
  });

  it('a release lets another process in', async () => {
    const path = join(root(), 'x.lock');
    const lock = await acquireLock(path, 'exclusive');
    expect(await runInChild(path, 'console.log(addon.lockFileSync(fd, true, false))')).toBe('false');
    lock.release();
    expect(await runInChild(path, 'console.log(addon.lockFileSync(fd, true, false))')).toBe('true');
  });
});
