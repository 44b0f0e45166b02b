/**
 * Starting the supervisor (build/Release/nsvirt_lxc) and reading what it
 * reports: the start protocol's one line, and its status file.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../package.js';
import { VirError } from '../../xml/errors.js';
import { decodeLine } from './plan-encoding.js';

export const supervisorPath = (): string => join(packageRoot(), 'build', 'Release', 'nsvirt_lxc');

export interface Started {
  readonly supervisorPid: number;
  readonly initPid: number;
}

/** How long a start may take before the driver gives up on the report line. */
const START_TIMEOUT_MS = 60_000;

/**
 * Run the supervisor on a plan file, detached (it outlives this process),
 * its stdout/stderr appended to the domain log, and wait for its report.
 * A failed start has already been cleaned up by the supervisor when the
 * error line arrives.
 */
export async function launchSupervisor(planFile: string, logFile: string): Promise<Started> {
  const logFd = openSync(logFile, 'a', 0o600);
  let line: string;
  try {
    const child = spawn(supervisorPath(), ['--plan', planFile, '--report-fd', '3'], {
      detached: true,
      stdio: ['ignore', logFd, logFd, 'pipe'],
    });
    line = await readReportLine(child.stdio[3] as NodeJS.ReadableStream, child);
    child.unref();
  } finally {
    closeSync(logFd);
  }
  const fields = decodeLine(line);
  if (fields[0] === 'ok') return { supervisorPid: Number(fields[1]), initPid: Number(fields[2]) };
  if (fields[0] === 'error') throw new VirError('VIR_ERR_INTERNAL_ERROR', `guest failed to start: ${fields[3] ?? 'unknown error'}`);
  throw new VirError('VIR_ERR_INTERNAL_ERROR', `guest failed to start: unexpected report '${line}'`);
}

function readReportLine(stream: NodeJS.ReadableStream, child: { once(e: 'exit', f: (code: number | null, sig: string | null) => void): unknown }): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new VirError('VIR_ERR_INTERNAL_ERROR', 'guest failed to start: no report from the supervisor')), START_TIMEOUT_MS);
    const finish = (fn: () => void): void => {
      clearTimeout(timer);
      fn();
    };
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl >= 0) finish(() => resolve(text.slice(0, nl)));
    });
    stream.on('end', () => {
      if (!text.includes('\n')) finish(() => reject(new VirError('VIR_ERR_INTERNAL_ERROR', 'guest failed to start: the supervisor exited without a report')));
    });
    child.once('exit', (code, sig) => {
      if (!text.includes('\n')) {
        finish(() => reject(new VirError('VIR_ERR_INTERNAL_ERROR', `guest failed to start: unexpected exit status ${code ?? sig}`)));
      }
    });
  });
}

export interface SupervisorStatus {
  readonly state: 'running' | 'shutoff' | 'crashed' | 'paused';
  readonly reason: string;
  readonly supervisorPid: number;
  readonly initPid: number;
  readonly exitStatus?: number;
  /** Host pty path of each console, by index. */
  readonly consoles: readonly string[];
}

export function readStatus(path: string): SupervisorStatus | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const kv = new Map(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const consoles: string[] = [];
  for (const [k, v] of kv) {
    const m = /^console(\d+)$/.exec(k);
    if (m) consoles[Number(m[1])] = v;
  }
  const state = kv.get('state');
  if (state !== 'running' && state !== 'shutoff' && state !== 'crashed' && state !== 'paused') return undefined;
  const exit = kv.get('exit_status');
  return {
    state,
    reason: kv.get('reason') ?? 'unknown',
    supervisorPid: Number(kv.get('supervisor_pid') ?? 0),
    initPid: Number(kv.get('init_pid') ?? 0),
    ...(exit === undefined ? {} : { exitStatus: Number(exit) }),
    consoles,
  };
}

/** Is `pid` a live nsvirt supervisor (not a recycled pid)? */
export function isSupervisorAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.split('\0')[0]!.endsWith('nsvirt_lxc')) return false;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat); // a zombie has finished
  } catch {
    return false;
  }
}
