/**
 * Typed access to the native addon (native/*.cc, built by node-gyp into
 * build/Release/nsvirt_native.node at the package root). The addon is
 * loaded on first use, so modules that never lock never need it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from './package.js';

/** A failed system call, shaped like Node's own errors (errno is negative, as in Node). */
export interface SystemCallError extends Error {
  errno: number;
  code: string;
  syscall: string;
}

interface NativeAddon {
  lockFileSync(fd: number, exclusive: boolean, wait: boolean): boolean;
  lockFile(fd: number, exclusive: boolean): Promise<void>;
  unlockFile(fd: number): void;
  strerror(errno: number): string;
  deviceFilterAttach(cgroupDir: string, insns: Buffer, replaceProgId?: number): number;
  deviceFilterDetach(cgroupDir: string, progId: number): void;
  deviceFilterQuery(cgroupDir: string): number[];
  linkStats(ifname: string): LinkStats;
}

const ADDON_PATH = join('build', 'Release', 'nsvirt_native.node');

let addon: NativeAddon | undefined;

function load(): NativeAddon {
  if (addon) return addon;
  const path = join(packageRoot(), ADDON_PATH);
  if (!existsSync(path)) {
    throw new Error(`nsvirt: native addon missing at ${path}; build it with 'npx node-gyp rebuild'`);
  }
  addon = createRequire(import.meta.url)(path) as NativeAddon;
  return addon;
}

export const isSystemCallError = (e: unknown): e is SystemCallError =>
  e instanceof Error && typeof (e as Partial<SystemCallError>).errno === 'number' && typeof (e as Partial<SystemCallError>).syscall === 'string';

/**
 * flock(fd, LOCK_SH|LOCK_EX [| LOCK_NB]). Returns false only when `wait` is
 * false and a conflicting lock is held; blocks the calling thread otherwise.
 */
export const lockFileSync = (fd: number, exclusive: boolean, wait: boolean): boolean =>
  load().lockFileSync(fd, exclusive, wait);

/** flock(fd, LOCK_SH|LOCK_EX), waiting on a worker thread. */
export const lockFile = (fd: number, exclusive: boolean): Promise<void> => load().lockFile(fd, exclusive);

/** flock(fd, LOCK_UN). */
export const unlockFile = (fd: number): void => load().unlockFile(fd);

/** The C library's strerror() text, e.g. "No such file or directory". */
export const strerror = (errno: number): string => load().strerror(Math.abs(errno));

/**
 * Loads a BPF_PROG_TYPE_CGROUP_DEVICE program (see compileDeviceFilter) and
 * attaches it to a cgroup v2 directory with BPF_F_ALLOW_MULTI, returning its
 * program id. With `replaceProgId` the new program takes that one's place in
 * one step (BPF_F_REPLACE): never two filters, never none. A program the
 * verifier rejects fails with its log in the message.
 */
export const deviceFilterAttach = (cgroupDir: string, insns: Buffer, replaceProgId?: number): number =>
  load().deviceFilterAttach(cgroupDir, insns, replaceProgId);

/** Detaches the device program `progId` from the cgroup, which frees it. */
export const deviceFilterDetach = (cgroupDir: string, progId: number): void => load().deviceFilterDetach(cgroupDir, progId);

/** Ids of the device programs attached to the cgroup itself (not inherited), in run order. */
export const deviceFilterQuery = (cgroupDir: string): number[] => load().deviceFilterQuery(cgroupDir);

/** Counters of a network interface (struct rtnl_link_stats64), as `virsh domifstat` reports them. */
export interface LinkStats {
  rxBytes: bigint;
  rxPackets: bigint;
  rxErrors: bigint;
  rxDrops: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  txDrops: bigint;
}

/**
 * The counters of interface `ifname` in the caller's network namespace
 * (rtnetlink RTM_GETLINK, IFLA_STATS64). A missing interface fails with
 * code ENODEV, syscall 'RTM_GETLINK'.
 */
export const linkStats = (ifname: string): LinkStats => load().linkStats(ifname);
