/**
 * A small real container for tests of what talks to a running one (control
 * socket, consoles, entering): the supervisor run on a hand-written plan.
 * The container shares the host's files (read-only use) but has its own
 * namespaces, a /proc of its own, cgroups and consoles. Needs root.
 */
import { sleep } from './wait.js';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { supervisorPath } from '../../src/driver/runtime/supervisor.js';
import { decodeLine, encodePlan } from './plan.js';

export const USERNS_BASE = 100000;

export interface ContainerOptions {
  /** init's argv; argv[0] is the program. */
  init: readonly string[];
  /** Number of consoles (init's stdio is console 0). */
  consoles?: number;
  /** Give the container its own user namespace, root mapped to USERNS_BASE. */
  userns?: boolean;
}

/** Cgroup directories for NAME in the hierarchies this host mounts (a v1 memory one and the unified one). */
function cgroupDirs(name: string): string[] {
  const dirs: string[] = [];
  if (existsSync('/sys/fs/cgroup/memory/cgroup.procs')) dirs.push(`/sys/fs/cgroup/memory/${name}`);
  if (existsSync('/sys/fs/cgroup/unified/cgroup.procs')) dirs.push(`/sys/fs/cgroup/unified/${name}`);
  else if (existsSync('/sys/fs/cgroup/cgroup.controllers')) dirs.push(`/sys/fs/cgroup/${name}`);
  return dirs;
}


function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export class TestContainer {
  readonly name = `nsvirt-h9-${randomBytes(4).toString('hex')}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'nsvirt-container-'));
  readonly socket = join(this.dir, 'control.sock');
  readonly statusFile = join(this.dir, 'status');
  readonly logFile = join(this.dir, 'console.log');
  readonly cgroups = cgroupDirs(this.name);
  supervisorPid = 0;
  initPid = 0;
  private exited?: Promise<void>;
  stderr = '';

  private plan(o: ContainerOptions): string[][] {
    const owner = o.userns ? [String(USERNS_BASE), String(USERNS_BASE)] : [];
    return [
      ['name', this.name],
      ['log', this.logFile],
      ['status', this.statusFile],
      ['control', this.socket],
      ['clone', 'mnt', 'uts', 'ipc', 'pid', 'net', 'cgroup', ...(o.userns ? ['user'] : [])],
      ...(o.userns
        ? [
            ['uidmap', '0', String(USERNS_BASE), '65536'],
            ['gidmap', '0', String(USERNS_BASE), '65536'],
          ]
        : []),
      ...this.cgroups.map((d) => ['cgroup', d]),
      ...Array.from({ length: o.consoles ?? 1 }, (_, i) => ['console', String(i), ...owner]),
      ['mount', '', '/', '', 'rslave,rec', ''],
      ['mount', 'proc', '/proc', 'proc', 'nosuid,nodev,noexec', ''],
      ['sethostname', this.name],
      ['env', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
      ['stdio-console', '0'],
      ['exec', o.init[0]!, ...o.init],
    ];
  }

  /** Start the supervisor; resolves once init runs. */
  async start(o: ContainerOptions): Promise<this> {
    const planFile = join(this.dir, 'plan');
    writeFileSync(planFile, encodePlan(this.plan(o)));
    const proc = spawn(supervisorPath(), ['--plan', planFile, '--report-fd', '3'], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    let report = '';
    await new Promise<void>((resolve) => {
      const stream = proc.stdio[3] as Readable;
      stream.on('data', (d: Buffer) => (report += d.toString()));
      stream.once('close', resolve);
    });
    const fields = decodeLine(report);
    if (fields[0] !== 'ok') throw new Error(`container did not start: ${report} ${this.stderr}`);
    this.supervisorPid = Number(fields[1]);
    this.initPid = Number(fields[2]);
    return this;
  }

  /** Wait for the supervisor to exit by itself. */
  async waitExit(timeoutMs = 15_000): Promise<void> {
    await Promise.race([this.exited, sleep(timeoutMs).then(() => Promise.reject(new Error(`supervisor ${this.supervisorPid} did not exit`)))]);
  }

  /** What this container left on the host. */
  leftovers(): string[] {
    const left = this.cgroups.filter((d) => existsSync(d)).map((d) => `cgroup ${d}`);
    if (existsSync(this.socket)) left.push(`socket ${this.socket}`);
    for (const pid of [this.supervisorPid, this.initPid]) if (pid && processAlive(pid)) left.push(`process ${pid}`);
    return left;
  }

  /** Stop everything (SIGTERM = destroy), remove the directory; returns what could not be removed. */
  async dispose(): Promise<string[]> {
    if (this.supervisorPid && processAlive(this.supervisorPid)) {
      process.kill(this.supervisorPid, 'SIGTERM');
      await this.waitExit().catch(() => process.kill(this.supervisorPid, 'SIGKILL'));
    }
    const left = this.leftovers();
    rmSync(this.dir, { recursive: true, force: true });
    if (existsSync(this.dir)) left.push(`dir ${this.dir}`);
    return left;
  }

  /** Container console output so far (the supervisor logs every console). */
  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }
}

/** Numeric entries of a `ls /proc` output. */
export const pidsIn = (listing: string): number[] =>
  listing
    .split(/\s+/)
    .filter((e) => /^\d+$/.test(e))
    .map(Number);

/** Host pids in the cgroup directory `dir`. */
export const cgroupMembers = (dir: string): number[] => pidsIn(existsSync(dir) ? readFileSync(join(dir, 'cgroup.procs'), 'utf8') : '');

export const isRoot = (): boolean => process.getuid?.() === 0;

export { processesMentioning } from './runnable.js';
