/**
 * Crash-safe file replacement: the data goes to a temporary file in the same
 * directory, is fsynced, renamed over the target, and the directory is
 * fsynced so the rename itself is durable. A crash leaves either the old or
 * the new file, plus at worst a stray temporary file that readers ignore
 * (see isTempFile) and writers sweep (removeStaleTempFiles).
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Temporary names never end in ".xml", so they cannot be mistaken for a definition. */
const TEMP_MARK = '.tmp-';
const TEMP_PATTERN = /\.tmp-[0-9]+-[0-9a-f]{12}$/;

export const isTempFile = (fileName: string): boolean => TEMP_PATTERN.test(fileName);

const tempPathFor = (path: string): string =>
  join(dirname(path), `${basename(path)}${TEMP_MARK}${process.pid}-${randomBytes(6).toString('hex')}`);

export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * mkdir -p where only `dir` itself gets `mode`: parents it creates are 0755,
 * so a private leaf (a lock directory) never makes the state directory
 * above it unreachable for others (e.g. a container root in a user namespace).
 */
export function ensureDirectory(dir: string, mode = 0o755): void {
  mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
  try {
    mkdirSync(dir, { mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
}

/** Replace `path` with `data` atomically and durably. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const temp = tempPathFor(path);
  const fd = openSync(temp, 'wx', mode);
  try {
    try {
      writeAll(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (e) {
    unlinkQuietly(temp);
    throw e;
  }
  fsyncDirectory(dirname(path));
}

/** Make `path` a symbolic link to `target`, replacing whatever is there atomically and durably. */
export function symlinkAtomic(target: string, path: string): void {
  const temp = tempPathFor(path);
  symlinkSync(target, temp);
  try {
    renameSync(temp, path);
  } catch (e) {
    unlinkQuietly(temp);
    throw e;
  }
  fsyncDirectory(dirname(path));
}

/** Remove `path` durably. Returns false if it did not exist. */
export function removeFileDurable(path: string): boolean {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  fsyncDirectory(dirname(path));
  return true;
}

/**
 * Delete temporary files left in `dir` by writers that crashed. Only safe
 * while holding the lock that every writer of `dir` takes.
 */
export function removeStaleTempFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const stale = names.filter(isTempFile);
  for (const name of stale) unlinkQuietly(join(dir, name));
  return stale;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or the original error matters more.
  }
}
