/**
 * Running a command inside a running container (virsh lxc-enter-namespace,
 * i.e. virDomainLxcOpenNamespace + virDomainLxcEnterCGroup +
 * virDomainLxcEnterNamespace). Node is multi-threaded and must never
 * setns() itself, so the helper build/Release/nsvirt_enter (native/enter/)
 * joins the container's cgroups and namespaces, forks, and runs the command.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../package.js';
import { invalidArg } from '../../xml/errors.js';
import type { DomainRef } from '../driver.js';
import { initPidOf, runningDomain, type DomainSource } from './running.js';

export const enterHelperPath = (): string => join(packageRoot(), 'build', 'Release', 'nsvirt_enter');

/** The helper's own failures, as virsh's child reports them. */
export const ENTER_EXIT = {
  /** Joining the container failed. */
  setupFailed: 125,
  /** The command exists but could not be run. */
  cannotInvoke: 126,
  /** The command does not exist. */
  notFound: 127,
} as const;

export interface EnterOptions {
  /** stdio of the command (default: inherited, as virsh does). */
  readonly stdio?: StdioOptions;
  /** Environment of the command (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
}

/** How the command ended. `pid` is the helper's: the process virsh would report. */
export interface CommandExit {
  readonly pid: number;
  /** Exit status, or null when it was killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * Run `argv` (argv[0] is the program: an absolute path, or one relative to
 * the container's /; no PATH search) in the cgroups and namespaces of the
 * host process `initPid`.
 */
export async function runInContainer(initPid: number, argv: readonly string[], opts: EnterOptions = {}): Promise<CommandExit> {
  if (argv.length === 0) throw invalidArg('no command to run in the domain');
  const helper = enterHelperPath();
  if (!existsSync(helper)) throw new Error(`nsvirt: ${helper} missing; build it with 'npx node-gyp rebuild'`);
  return new Promise((resolve, reject) => {
    const child = spawn(helper, ['--pid', String(initPid), '--', ...argv], {
      stdio: opts.stdio ?? 'inherit',
      env: opts.env ?? process.env,
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ pid: child.pid ?? 0, code, signal }));
  });
}

/** virsh lxc-enter-namespace: run `argv` inside the running domain. */
export async function enterDomain(source: DomainSource, ref: DomainRef, argv: readonly string[], opts: EnterOptions = {}): Promise<CommandExit> {
  const initPid = initPidOf(await runningDomain(source, ref));
  return runInContainer(initPid, argv, opts);
}
