/**
 * The per-container supervisor (native/supervisor → build/Release/nsvirt_lxc),
 * driven by hand-written plans. Real namespaces, cgroups, ptys and loop
 * devices: needs root. Every test removes what it made and checks it is gone.
 */
import { sleep, waitFor } from './support/wait.js';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeLine, decodePlan, encodePlan } from './support/plan.js';
import { buildRootfs, findHostBinary, type Rootfs } from './support/rootfs.js';

const SUPERVISOR = resolve(import.meta.dirname, '../build/Release/nsvirt_lxc');
const IS_ROOT = process.getuid?.() === 0;
const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'devices', 'freezer', 'pids'];
const UNIFIED = '/sys/fs/cgroup/unified';
const USERNS_BASE = 100000;

if (!IS_ROOT) console.warn('supervisor tests skipped: they need root (namespaces, cgroups, loop devices)');

// ------------------------------------------------------------------ helpers


const readIf = (p: string): string | undefined => (existsSync(p) ? readFileSync(p, 'utf8') : undefined);
/** Content of a file the container writes, once complete (non-empty, newline-terminated). */
const complete = (p: string): string | undefined => {
  const t = readIf(p);
  return t?.endsWith('\n') ? t : undefined;
};

function nsenter(pid: number, args: string[]): string {
  return execFileSync('nsenter', ['-t', String(pid), '-a', ...args], { encoding: 'utf8', env: { PATH: '/bin:/usr/bin' } });
}

function ipcKeys(output: string): string[] {
  return output
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((k) => /^0x[0-9a-f]+$/.test(k));
}

function tryRmdir(path: string): boolean {
  try {
    rmdirSync(path);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

function processAlive(pid: number): boolean {
  const st = readIf(`/proc/${pid}/stat`);
  return st !== undefined && !/^\d+ \(.*\) Z/.test(st);
}

function parseStatus(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** A line-oriented client of the control socket. */
class ControlClient {
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {});
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  static open(path: string): Promise<ControlClient> {
    return new Promise((res, rej) => {
      const s = connect(path, () => res(new ControlClient(s)));
      s.once('error', rej);
    });
  }
  send(data: string): void {
    this.sock.write(data);
  }
  /** Everything received so far (raw). */
  get received(): string {
    return this.buf;
  }
  async line(timeoutMs = 10_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buf.indexOf('\n');
      if (i >= 0) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        return l;
      }
      if (this.closed) throw new Error('control connection closed');
      if (Date.now() > end) throw new Error('timed out waiting for a control line');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  async until(pred: (s: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    while (!pred(this.buf)) {
      if (this.closed || Date.now() > end) throw new Error(`control: condition not met; got ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.buf;
  }
  async command(line: string): Promise<string[]> {
    this.send(`${line}\n`);
    return decodeLine(await this.line());
  }
  close(): void {
    this.sock.destroy();
  }
}

interface PlanOptions {
  clone?: string[];
  cgroups?: string[];
  writes?: [string, string][];
  shares?: [string, string][];
  userns?: boolean;
  consoleOwner?: [number, number];
  actions?: { poweroff?: string; reboot?: string; crash?: string };
  /** child operations after the standard ones, before the pivot (paths are host paths under rootfs) */
  beforePivot?: string[][];
  init?: string[];
  hostname?: string;
  cwd?: string;
  /** extra exec records (user, groups, caps-drop, env) */
  execRecords?: string[][];
}

/** One container under test: its rootfs, state dir, cgroups, plan and supervisor process. */
class Fixture {
  readonly id = randomBytes(4).toString('hex');
  readonly name = `nsvirt-test-${this.id}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'nsvirt-sup-'));
  readonly results = join(this.dir, 'results');
  readonly planPath = join(this.dir, 'plan');
  readonly logPath = join(this.dir, 'console.log');
  readonly statusPath = join(this.dir, 'status');
  readonly sockPath = join(this.dir, 'control.sock');
  readonly cleanupDir = join(this.dir, 'cleanup-dir');
  readonly cleanupFile = join(this.dir, 'cleanup-file');
  readonly cgroupDirs: string[];
  rootfs: Rootfs;
  proc?: ChildProcess;
  stderr = '';
  exitCode?: number | null;
  private exited?: Promise<number | null>;
  supPid = 0;
  initPid = 0;

  constructor(opts: { userns?: boolean; v1?: string[] } = {}) {
    const owner = opts.userns ? { uid: USERNS_BASE, gid: USERNS_BASE } : undefined;
    this.rootfs = buildRootfs({ owner });
    mkdirSync(join(this.rootfs.path, 'results'));
    if (owner) chownSync(join(this.rootfs.path, 'results'), owner.uid, owner.gid);
    mkdirSync(this.results);
    if (owner) chmodSync(this.dir, 0o711); // the namespace's root must reach results/
    if (owner) chownSync(this.results, owner.uid, owner.gid);
    mkdirSync(this.cleanupDir);
    writeFileSync(this.cleanupFile, 'x');
    this.cgroupDirs = [...(opts.v1 ?? V1_CONTROLLERS).map((c) => `/sys/fs/cgroup/${c}/${this.name}`), `${UNIFIED}/${this.name}`];
  }

  plan(o: PlanOptions = {}): string[][] {
    const root = this.rootfs.path;
    const recs: string[][] = [
      ['name', this.name],
      ['log', this.logPath],
      ['status', this.statusPath],
      ['control', this.sockPath],
      ['clone', ...(o.clone ?? ['mnt', 'uts', 'ipc', 'pid', 'net', 'cgroup'])],
      ...(o.shares ?? []).map(([k, p]) => ['share', k, p]),
    ];
    if (o.userns) recs.push(['uidmap', '0', String(USERNS_BASE), '65536'], ['gidmap', '0', String(USERNS_BASE), '65536']);
    for (const cg of o.cgroups ?? this.cgroupDirs) recs.push(['cgroup', cg]);
    for (const [p, v] of o.writes ?? []) recs.push(['cgroup-write', p, v]);
    recs.push(['console', '0', ...(o.consoleOwner ?? []).map(String)]);
    recs.push(
      ['on-poweroff', o.actions?.poweroff ?? 'destroy'],
      ['on-reboot', o.actions?.reboot ?? 'destroy'],
      ['on-crash', o.actions?.crash ?? 'destroy'],
      ['cleanup-rmdir', this.cleanupDir],
      ['cleanup-unlink', this.cleanupFile],
    );
    // child operations, the way the driver will lay out a container root
    recs.push(
      ['mount', '', '/', '', 'rslave,rec', ''],
      ['mount', root, root, '', 'bind,rec', ''],
      ['mount', 'proc', `${root}/proc`, 'proc', 'nosuid,nodev,noexec', ''],
      ['mount', 'devfs', `${root}/dev`, 'tmpfs', 'nosuid', 'mode=755,size=65536'],
    );
    if (o.userns) {
      // mknod is not allowed in a user namespace: bind the host's nodes
      for (const d of ['null', 'zero']) recs.push(['touch', `${root}/dev/${d}`, '666'], ['mount', `/dev/${d}`, `${root}/dev/${d}`, '', 'bind', '']);
    } else {
      recs.push(['mknod', `${root}/dev/null`, 'c', '1', '3', '666'], ['mknod', `${root}/dev/zero`, 'c', '1', '5', '666']);
    }
    recs.push(
      ['mkdir', `${root}/dev/pts`, '755'],
      ['symlink', '/proc/self/fd', `${root}/dev/fd`],
      ['touch', `${root}/dev/console`, '600'],
      ['bind-console', '0', `${root}/dev/console`],
      ['mount', this.results, `${root}/results`, '', 'bind', ''],
      ['mount', '/sys', `${root}/sys`, '', 'bind,rec,rdonly', ''],
      ...(o.beforePivot ?? []),
      ['sethostname', o.hostname ?? this.name],
      ['pivot', root, '.oldroot'],
      ['umount', '/.oldroot'],
      ['env', 'PATH=/bin'],
      ['env', 'HOME=/'],
      ['env', `container=lxc-libvirt`],
      ['cwd', o.cwd ?? '/'],
      ...(o.execRecords ?? []),
      ['stdio-console', '0'],
      ['exec', ...(o.init ?? ['/bin/sh', 'sh', '-c', 'exec sleep 1000'])],
    );
    return recs;
  }

  /** Start the supervisor on PLAN; resolves with the decoded report line. */
  async start(records: string[][]): Promise<string[]> {
    const text = encodePlan(records);
    expect(decodePlan(text)).toEqual(records);
    writeFileSync(this.planPath, text);
    if (!existsSync(SUPERVISOR)) throw new Error(`${SUPERVISOR} missing: build it with 'npx node-gyp rebuild'`);
    const proc = spawn(SUPERVISOR, ['--plan', this.planPath, '--report-fd', '3'], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.supPid = proc.pid!;
    this.exited = new Promise((res) =>
      proc.on('exit', (code) => {
        this.exitCode = code;
        res(code);
      }),
    );
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      this.stderr += d;
    });
    const report = proc.stdio[3] as Readable;
    let text2 = '';
    await new Promise<void>((res) => {
      report.setEncoding('utf8');
      report.on('data', (d: string) => {
        text2 += d;
      });
      report.on('end', res);
      report.on('close', res);
    });
    const fields = decodeLine(text2);
    if (fields[0] === 'ok') {
      expect(Number(fields[1])).toBe(this.supPid);
      this.initPid = Number(fields[2]);
    }
    return fields;
  }

  async startOk(records: string[][]): Promise<void> {
    const r = await this.start(records);
    if (r[0] !== 'ok') throw new Error(`start failed: ${r.join(' ')}\n${this.stderr}`);
  }

  waitExit(timeoutMs = 15_000): Promise<number | null> {
    return Promise.race([
      this.exited ?? Promise.resolve(null),
      sleep(timeoutMs).then(() => {
        throw new Error(`supervisor ${this.supPid} did not exit; stderr: ${this.stderr}`);
      }),
    ]);
  }

  async control(line: string): Promise<string[]> {
    const c = await ControlClient.open(this.sockPath);
    try {
      return await c.command(line);
    } finally {
      c.close();
    }
  }

  status(): Record<string, string> {
    return parseStatus(readFileSync(this.statusPath, 'utf8'));
  }

  /** Host resources of this fixture that still exist. */
  leftovers(): string[] {
    const left: string[] = [];
    for (const cg of this.cgroupDirs) if (existsSync(cg)) left.push(`cgroup ${cg}`);
    for (const p of [this.cleanupDir, this.cleanupFile, this.sockPath]) if (existsSync(p)) left.push(`path ${p}`);
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n'))
      if (line.includes(this.rootfs.path) || line.includes(this.dir)) left.push(`mount ${line}`);
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      const cmd = readIf(`/proc/${pid}/cmdline`) ?? '';
      if (cmd.includes(this.planPath) && processAlive(Number(pid))) left.push(`process ${pid} ${cmd}`);
    }
    for (const pid of [this.supPid, this.initPid]) if (pid && processAlive(pid)) left.push(`pid ${pid}`);
    return left;
  }

  async expectAllGone(): Promise<void> {
    await this.waitExit();
    expect(this.leftovers()).toEqual([]);
    this.expectCleanExit();
  }

  /** The supervisor warned about nothing while tearing down. */
  expectCleanExit(): void {
    expect(this.stderr).not.toMatch(/: (cgroup|cleanup-\w+|control|status|log|console \d+): /);
  }

  /** Unconditional teardown (also after failures): kill, remove, verify. */
  async dispose(): Promise<void> {
    if (this.proc && this.exitCode === undefined) {
      try {
        process.kill(this.supPid, 'SIGKILL'); // init follows (parent-death signal)
      } catch {
        // gone
      }
      await this.waitExit().catch(() => undefined);
    }
    for (const cg of this.cgroupDirs) {
      // A frozen task only dies once thawed.
      for (const [file, thawed] of [['freezer.state', 'THAWED'], ['cgroup.freeze', '0']] as const) {
        if (existsSync(join(cg, file))) writeFileSync(join(cg, file), thawed);
      }
      for (let i = 0; i < 100 && existsSync(cg); i++) {
        for (const pid of (readIf(join(cg, 'cgroup.procs')) ?? '').split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // gone
          }
        }
        try {
          rmdirSync(cg);
        } catch {
          await sleep(20);
        }
      }
    }
    const left = this.leftovers().filter((l) => !l.startsWith('path'));
    this.rootfs.remove();
    rmSync(this.dir, { recursive: true, force: true });
    expect(left).toEqual([]);
  }
}

// ------------------------------------------------------------------ tests

describe.skipIf(!IS_ROOT)('nsvirt_lxc supervisor (root)', () => {
  beforeAll(() => {
    if (!existsSync(SUPERVISOR)) throw new Error(`${SUPERVISOR} missing: build it with 'npx node-gyp rebuild'`);
  });

  const fixtures: Fixture[] = [];
  const fixture = (opts?: ConstructorParameters<typeof Fixture>[0]): Fixture => {
    const f = new Fixture(opts);
    fixtures.push(f);
    return f;
  };
  afterEach(async () => {
    for (const f of fixtures.splice(0)) await f.dispose();
  });

  describe('a running container', () => {
    let f: Fixture;
    let hostShmKey: string | undefined;
    beforeAll(async () => {
      f = new Fixture();
      const mem = `/sys/fs/cgroup/memory/${f.name}`;
      const pids = `/sys/fs/cgroup/pids/${f.name}`;
      const dev = `/sys/fs/cgroup/devices/${f.name}`;
      await f.startOk(
        f.plan({
          writes: [
            [`${mem}/memory.limit_in_bytes`, '67108864'],
            [`${pids}/pids.max`, '64'],
            [`${dev}/devices.deny`, 'a'],
            [`${dev}/devices.allow`, 'c 1:3 rwm'],
            [`${dev}/devices.allow`, 'c 1:5 rwm'],
            [`${dev}/devices.allow`, 'c 136:* rwm'],
          ],
          init: [
            '/bin/sh',
            'sh',
            '-c',
            'hostname > /results/hostname; ls /proc > /results/proc; cat /proc/self/cgroup > /results/cgroup; ' +
              'echo console-hello-from-init; exec sh -i',
          ],
        }),
      );
    });
    afterAll(async () => {
      if (hostShmKey) execFileSync('ipcrm', ['-M', hostShmKey]);
      await f.dispose();
    });

    it('reports the supervisor and init pids; init is the supervisor child in its own session', () => {
      expect(f.initPid).toBeGreaterThan(0);
      const st = readFileSync(`/proc/${f.initPid}/status`, 'utf8');
      expect(st).toMatch(new RegExp(`^PPid:\\s+${f.supPid}$`, 'm'));
      // pid 1 of its namespace
      expect(st).toMatch(/^NSpid:\s+\d+\s+1$/m);
      const s = f.status();
      expect(s).toMatchObject({ state: 'running', reason: 'booted', supervisor_pid: String(f.supPid), init_pid: String(f.initPid) });
      expect(Number(s.started)).toBeGreaterThan(0);
      // the supervisor leads its own session
      const supStat = readFileSync(`/proc/${f.supPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      expect(Number(supStat[3])).toBe(f.supPid); // session id
    });

    it('has its own hostname', async () => {
      expect((await waitFor('hostname file', () => complete(join(f.results, 'hostname')))).trim()).toBe(f.name);
      expect(nsenter(f.initPid, ['hostname']).trim()).toBe(f.name);
      expect(execFileSync('hostname', { encoding: 'utf8' }).trim()).not.toBe(f.name);
    });

    it('sees only its own processes in /proc, init being PID 1', async () => {
      const early = await waitFor('proc listing', () => complete(join(f.results, 'proc')));
      const pidsEarly = early.split(/\s+/).filter((e) => /^\d+$/.test(e));
      expect(pidsEarly).toContain('1');
      expect(pidsEarly.length).toBeLessThanOrEqual(3);
      const now = nsenter(f.initPid, ['ls', '/proc'])
        .split(/\s+/)
        .filter((e) => /^\d+$/.test(e))
        .map(Number);
      expect(now).toContain(1);
      expect(now.length).toBe(2); // init and this ls
      expect(now.every((p) => p < 100)).toBe(true);
    });

    it('lives in its own namespaces', () => {
      for (const ns of ['mnt', 'uts', 'ipc', 'pid', 'net', 'cgroup'])
        expect(readlinkSync(`/proc/${f.initPid}/ns/${ns}`), ns).not.toBe(readlinkSync(`/proc/self/ns/${ns}`));
      // not asked for: shared with the host
      expect(readlinkSync(`/proc/${f.initPid}/ns/user`)).toBe(readlinkSync('/proc/self/ns/user'));
    });

    it('does not share SysV IPC with the host', () => {
      execFileSync('ipcmk', ['-M', '4096'], { encoding: 'utf8' });
      const before = new Set(ipcKeys(execFileSync('ipcs', ['-m'], { encoding: 'utf8' })));
      hostShmKey = [...before].at(-1);
      expect(hostShmKey).toBeDefined();
      expect(ipcKeys(nsenter(f.initPid, ['ipcs', '-m']))).toEqual([]);
      nsenter(f.initPid, ['ipcmk', '-M', '4096']);
      const inside = ipcKeys(nsenter(f.initPid, ['ipcs', '-m']));
      expect(inside.length).toBe(1);
      const host = ipcKeys(execFileSync('ipcs', ['-m'], { encoding: 'utf8' }));
      // (keys are random; a clash would need the same 32-bit key twice)
      expect(host).not.toContain(inside[0]);
      expect(inside).not.toContain(hostShmKey);
    });

    it('is placed in every cgroup, with the plan values written and a cgroup namespace rooted there', async () => {
      for (const cg of f.cgroupDirs) expect(readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n'), cg).toContain(String(f.initPid));
      expect(readFileSync(`/sys/fs/cgroup/memory/${f.name}/memory.limit_in_bytes`, 'utf8').trim()).toBe('67108864');
      expect(readFileSync(`/sys/fs/cgroup/pids/${f.name}/pids.max`, 'utf8').trim()).toBe('64');
      expect(readFileSync(`/sys/fs/cgroup/devices/${f.name}/devices.list`, 'utf8').split('\n')).toEqual(
        expect.arrayContaining(['c 1:3 rwm', 'c 1:5 rwm', 'c 136:* rwm']),
      );
      expect(readFileSync(`/proc/${f.initPid}/cgroup`, 'utf8')).toContain(`0::/${f.name}\n`);
      const inside = await waitFor('cgroup file', () => complete(join(f.results, 'cgroup')));
      expect(inside).toContain('0::/\n');
    });

    it('writes console output to the log file', async () => {
      await waitFor('console output in the log', () => readIf(f.logPath)?.includes('console-hello-from-init'));
    });

    it('answers status and relays a console over the control socket', async () => {
      expect(await f.control('status')).toEqual(['ok', 'running', String(f.initPid)]);
      expect(await f.control('bogus')).toEqual(['error', '22', 'unknown command']);
      const con = await ControlClient.open(f.sockPath);
      try {
        expect(await con.command('console 0')).toEqual(['ok']);
        con.send('echo relay-$((6*7))\n');
        await con.until((s) => s.includes('relay-42'));
        // one client per console unless forced
        expect((await f.control('console 0'))[0]).toBe('error');
        const other = await ControlClient.open(f.sockPath);
        expect(await other.command('console 0 force')).toEqual(['ok']);
        await waitFor('first console client dropped', () => con.closed);
        other.send("trap 'echo usr1 > /results/usr1' USR1\n");
        other.send('echo trap-$((1+1))\n');
        await other.until((s) => s.includes('trap-2'));
        expect(await f.control('signal 10')).toEqual(['ok']);
        other.send('echo after-signal\n'); // dash runs pending traps once it has read a command
        expect((await waitFor('trap output', () => complete(join(f.results, 'usr1')))).trim()).toBe('usr1');
        other.close();
      } finally {
        con.close();
      }
      expect(readFileSync(f.logPath, 'utf8')).toContain('relay-42');
      expect(await f.control('signal 99')).toEqual(['error', '22', 'bad signal number']);
    });

    it('poweroff: SIGKILL to init ends the container and the supervisor removes everything', async () => {
      expect(await f.control('signal 9')).toEqual(['ok']);
      expect(await f.waitExit()).toBe(0);
      expect(f.status()).toMatchObject({ state: 'shutoff', reason: 'shutdown', init_pid: '0', exit_status: '9' });
      expect(f.leftovers()).toEqual([]);
      f.expectCleanExit();
    });
  });

  it('runs in a user namespace with the configured maps, sharing the host network namespace', async () => {
    const f = fixture({ userns: true, v1: ['memory', 'pids'] });
    await f.startOk(
      f.plan({
        userns: true,
        clone: ['mnt', 'uts', 'ipc', 'pid', 'user'],
        shares: [['net', `/proc/${process.pid}/ns/net`]],
        consoleOwner: [USERNS_BASE, USERNS_BASE],
        init: [
          '/bin/sh',
          'sh',
          '-c',
          'cat /proc/self/uid_map > /results/uid_map; cat /proc/self/gid_map > /results/gid_map; id -u > /results/uid; ' +
            'hostname > /results/hostname; exec sleep 1000',
        ],
      }),
    );
    const norm = (s: string) => s.trim().split(/\s+/).join(' ');
    expect(norm(await waitFor('uid_map', () => complete(join(f.results, 'uid_map'))))).toBe(`0 ${USERNS_BASE} 65536`);
    expect(norm(await waitFor('gid_map', () => complete(join(f.results, 'gid_map'))))).toBe(`0 ${USERNS_BASE} 65536`);
    expect((await waitFor('uid', () => complete(join(f.results, 'uid')))).trim()).toBe('0');
    expect((await waitFor('hostname', () => complete(join(f.results, 'hostname')))).trim()).toBe(f.name);
    expect(readFileSync(`/proc/${f.initPid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${USERNS_BASE}\\s`, 'm'));
    expect(readFileSync(`/proc/${f.initPid}/uid_map`, 'utf8').trim().split(/\s+/)).toEqual(['0', String(USERNS_BASE), '65536']);
    for (const ns of ['user', 'mnt', 'uts', 'ipc', 'pid'])
      expect(readlinkSync(`/proc/${f.initPid}/ns/${ns}`), ns).not.toBe(readlinkSync(`/proc/self/ns/${ns}`));
    expect(readlinkSync(`/proc/${f.initPid}/ns/net`)).toBe(readlinkSync('/proc/self/ns/net'));
    // the console slave was given to the namespace's root
    const tty = readlinkSync(`/proc/${f.initPid}/fd/0`);
    expect(tty).toMatch(/^\/dev\/pts\/\d+$/);
    expect(statSync(tty).uid).toBe(USERNS_BASE);

    expect(await f.control('destroy')).toEqual(['ok']);
    expect(await f.waitExit()).toBe(0);
    expect(f.status()).toMatchObject({ state: 'shutoff', reason: 'destroyed' });
    expect(f.leftovers()).toEqual([]);
    f.expectCleanExit();
    expect(existsSync(tty) ? statSync(tty).uid : 0).not.toBe(USERNS_BASE); // pty released
  });

  it('on-reboot restart: a new init in the same supervisor, cgroups kept; poweroff then destroys', async () => {
    const f = fixture();
    if (!f.rootfs.hasRebootHelper) return console.warn('skipped: no C compiler for the reboot helper');
    const script =
      'if [ -e /results/booted ]; then echo second > /results/second; while [ ! -e /results/go2 ]; do sleep 0.05; done; ' +
      'exec /sbin/nsvirt-reboot poweroff; fi; ' +
      'echo first > /results/booted; while [ ! -e /results/go1 ]; do sleep 0.05; done; exec /sbin/nsvirt-reboot restart';
    await f.startOk(f.plan({ actions: { reboot: 'restart', poweroff: 'destroy' }, init: ['/bin/sh', 'sh', '-c', script] }));
    const first = f.initPid;
    const watch = await ControlClient.open(f.sockPath);
    expect(await watch.command('watch')).toEqual(['ok']);
    writeFileSync(join(f.results, 'go1'), '');
    const events = await watch.until((s) => /event running booted \d+/.test(s));
    const second = Number(/event running booted (\d+)/.exec(events)![1]);
    expect(events).toMatch(/^event shutoff shutdown 0 1\n/); // 1 = killed by SIGHUP
    expect(second).not.toBe(first);
    expect(processAlive(first)).toBe(false);
    await waitFor('second boot', () => complete(join(f.results, 'second')));
    expect(await f.control('status')).toEqual(['ok', 'running', String(second)]);
    expect(f.status()).toMatchObject({ state: 'running', init_pid: String(second), supervisor_pid: String(f.supPid) });
    expect(readFileSync(`/proc/${second}/status`, 'utf8')).toMatch(new RegExp(`^PPid:\\s+${f.supPid}$`, 'm'));
    for (const cg of f.cgroupDirs) expect(readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(second));

    writeFileSync(join(f.results, 'go2'), '');
    await watch.until((s) => s.includes('event shutoff shutdown 0 2\n')); // 2 = SIGINT (poweroff)
    expect(await f.waitExit()).toBe(0);
    expect(f.status()).toMatchObject({ state: 'shutoff', reason: 'shutdown', exit_status: '2' });
    await waitFor('watch connection closed', () => watch.closed);
    expect(f.leftovers()).toEqual([]);
  });

  it('on-crash preserve keeps the supervisor and cgroups until destroy', async () => {
    const f = fixture();
    if (!f.rootfs.hasRebootHelper) return console.warn('skipped: no C compiler for the crash helper');
    await f.startOk(f.plan({ actions: { crash: 'preserve' }, init: ['/sbin/nsvirt-reboot', 'nsvirt-reboot', 'crash'] }));
    await waitFor('crashed state', () => f.status().state === 'crashed');
    const st = f.status();
    expect(st).toMatchObject({ state: 'crashed', reason: 'crashed', init_pid: '0' });
    expect(Number(st.exit_status) & 0x7f).toBe(11); // SIGSEGV
    expect(await f.control('status')).toEqual(['ok', 'crashed', '0']);
    expect(await f.control('signal 15')).toEqual(['error', '3', 'init is not running']);
    for (const cg of f.cgroupDirs) expect(existsSync(cg)).toBe(true);
    expect(processAlive(f.supPid)).toBe(true);
    expect(await f.control('destroy')).toEqual(['ok']);
    await f.expectAllGone();
  });

  it('exec records: user, groups, cwd, env, caps-drop', async () => {
    const f = fixture({ v1: ['memory'] });
    chmodSync(f.results, 0o777);
    await f.startOk(
      f.plan({
        cwd: '/home/nsvirt',
        execRecords: [
          ['user', '1000', '1000'],
          ['groups', '1000', '4242'],
          ['env', 'GREETING=hello world 100%'],
          ['caps-drop', '27', '25', '63'], // mknod, sys_time, one the kernel does not know
        ],
        init: ['/bin/sh', 'sh', '-c', 'id > /results/id; pwd > /results/pwd; env > /results/env; exec sleep 1000'],
      }),
    );
    expect((await waitFor('id', () => complete(join(f.results, 'id')))).trim()).toBe(
      'uid=1000(nsvirt) gid=1000(nsvirt) groups=1000(nsvirt),4242',
    );
    expect((await waitFor('pwd', () => complete(join(f.results, 'pwd')))).trim()).toBe('/home/nsvirt');
    const env = (await waitFor('env', () => complete(join(f.results, 'env')))).trim().split('\n').sort();
    expect(env).toEqual(['GREETING=hello world 100%', 'HOME=/', 'PATH=/bin', 'PWD=/home/nsvirt', 'container=lxc-libvirt']);
    const st = readFileSync(`/proc/${f.initPid}/status`, 'utf8');
    const capBnd = BigInt(`0x${/^CapBnd:\s+(\w+)$/m.exec(st)![1]}`);
    expect(capBnd & (1n << 27n)).toBe(0n);
    expect(capBnd & (1n << 25n)).toBe(0n);
    expect(capBnd & (1n << 0n)).toBe(1n); // chown still there
    expect(/^CapEff:\s+(\w+)$/m.exec(st)![1]).toBe('0000000000000000'); // non-root user
    expect(await f.control('destroy')).toEqual(['ok']);
    await f.expectAllGone();
  });

  it('SIGKILL to the supervisor: init dies with it; plan and status stay for the driver to clean up', async () => {
    const f = fixture({ v1: ['memory'] });
    await f.startOk(f.plan());
    process.kill(f.supPid, 'SIGKILL');
    await f.waitExit();
    await waitFor('init gone (parent-death signal)', () => !processAlive(f.initPid));
    expect(existsSync(f.planPath)).toBe(true);
    expect(f.status()).toMatchObject({ state: 'running', supervisor_pid: String(f.supPid) });
    // what the driver does from the plan: remove the cgroups and the cleanup list
    const left = decodePlan(readFileSync(f.planPath, 'utf8'));
    for (const [kw, path] of left.reverse()) {
      if (kw === 'cgroup') await waitFor(`rmdir ${path}`, () => tryRmdir(path!));
      else if (kw === 'cleanup-rmdir' || kw === 'cleanup-unlink' || kw === 'control') rmSync(path!, { recursive: true, force: true });
    }
    expect(f.leftovers()).toEqual([]);
  });

  it('SIGTERM to the supervisor kills init and cleans up', async () => {
    const f = fixture({ v1: ['memory', 'freezer'] });
    await f.startOk(f.plan());
    // even a frozen container goes away
    writeFileSync(`/sys/fs/cgroup/freezer/${f.name}/freezer.state`, 'FROZEN');
    await waitFor('frozen', () => readFileSync(`/sys/fs/cgroup/freezer/${f.name}/freezer.state`, 'utf8').trim() === 'FROZEN');
    expect(await f.control('set-state paused user')).toEqual(['ok']);
    expect(f.status()).toMatchObject({ state: 'paused', reason: 'user' });
    process.kill(f.supPid, 'SIGTERM');
    expect(await f.waitExit()).toBe(0);
    expect(f.status()).toMatchObject({ state: 'shutoff', reason: 'destroyed', exit_status: '9' });
    expect(f.leftovers()).toEqual([]);
    f.expectCleanExit();
  });

  it.skipIf(!findHostBinary('mkfs.ext4'))('mount-loop: an image file mounted read-only, loop device released at the end', async () => {
    const f = fixture({ v1: ['memory'] });
    const src = join(f.dir, 'image-src');
    mkdirSync(src);
    writeFileSync(join(src, 'hello'), 'from-the-image\n');
    const img = join(f.dir, 'disk.img');
    writeFileSync(img, Buffer.alloc(0));
    execFileSync('truncate', ['-s', '8M', img]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-d', src, img]);
    await f.startOk(
      f.plan({
        beforePivot: [['mount-loop', img, `${f.rootfs.path}/mnt`, 'ext4', 'rdonly,nosuid', '']],
        init: ['/bin/sh', 'sh', '-c', 'cat /mnt/hello > /results/loop; touch /mnt/x 2> /results/rofs; exec sleep 1000'],
      }),
    );
    expect(await waitFor('loop content', () => complete(join(f.results, 'loop')))).toBe('from-the-image\n');
    expect(await waitFor('read-only error', () => complete(join(f.results, 'rofs')))).toMatch(/Read-only file system/);
    expect(execFileSync('losetup', ['-j', img], { encoding: 'utf8' }).trim()).not.toBe('');
    expect(await f.control('destroy')).toEqual(['ok']);
    await f.expectAllGone();
    await waitFor('loop device released', () => execFileSync('losetup', ['-j', img], { encoding: 'utf8' }).trim() === '');
  });

  describe('start failures undo everything and report STEP ERRNO MESSAGE', () => {
    it('missing init: libvirt-style message, nothing left behind', async () => {
      const f = fixture();
      const r = await f.start(f.plan({ init: ['/sbin/init', 'init'] }));
      expect(r).toEqual([
        'error',
        'exec',
        '2',
        "cannot find init path '/sbin/init' relative to container root: No such file or directory",
      ]);
      expect(await f.waitExit()).toBe(1);
      expect(f.status()).toMatchObject({ state: 'shutoff', reason: 'failed', init_pid: '0' });
      expect(f.leftovers()).toEqual([]);
    });

    it('exec failure is caught through the close-on-exec pipe', async () => {
      const f = fixture({ v1: ['memory'] });
      const r = await f.start(f.plan({ init: ['/etc/passwd', 'passwd'] }));
      expect(r).toEqual(['error', 'exec', '13', 'cannot execute binary /etc/passwd: Permission denied']);
      expect(await f.waitExit()).toBe(1);
      expect(f.leftovers()).toEqual([]);
    });

    it('a failing child operation names its step and errno', async () => {
      const f = fixture({ v1: ['memory'] });
      const r = await f.start(f.plan({ beforePivot: [['mount', '/nonexistent-nsvirt', `${f.rootfs.path}/mnt`, '', 'bind', '']] }));
      expect(r.slice(0, 3)).toEqual(['error', 'mount', '2']);
      expect(r[3]).toContain("failed to mount '/nonexistent-nsvirt'");
      expect(await f.waitExit()).toBe(1);
      expect(f.leftovers()).toEqual([]);
    });

    it('a failing cgroup write aborts before any process exists', async () => {
      const f = fixture({ v1: ['memory', 'pids'] });
      const r = await f.start(f.plan({ writes: [[`/sys/fs/cgroup/pids/${f.name}/pids.max`, 'not-a-number']] }));
      expect(r.slice(0, 3)).toEqual(['error', 'cgroup-write', '22']);
      expect(await f.waitExit()).toBe(1);
      expect(f.leftovers()).toEqual([]);
    });

    it('a malformed plan is rejected before anything is created', async () => {
      const f = fixture({ v1: ['memory'] });
      const recs = f.plan();
      recs.splice(5, 0, ['clone', 'time-travel']);
      const r = await f.start(recs);
      expect(r).toEqual(['error', 'plan', '22', 'line 7: clone: unknown namespace']);
      expect(await f.waitExit()).toBe(1);
      expect(existsSync(f.cleanupDir)).toBe(true); // nothing was run: the driver still owns these
      expect(existsSync(f.statusPath)).toBe(false);
      rmSync(f.cleanupDir, { recursive: true });
      rmSync(f.cleanupFile);
      expect(f.leftovers()).toEqual([]);
    });
  });
});

describe('plan encoding', () => {
  it('percent-encodes %, space, control and non-ASCII bytes; empty fields are %-', () => {
    const text = encodePlan([
      ['exec', '/bin/sh', 'sh', '-c', 'echo 100% done\n'],
      ['mount', '', '/', '', 'rprivate', ''],
      ['env', 'GREETING=héllo'],
    ]);
    expect(text).toBe(
      'nsvirt-plan 1\nexec /bin/sh sh -c echo%20100%25%20done%0A\nmount %- / %- rprivate %-\nenv GREETING=h%C3%A9llo\n',
    );
    expect(decodePlan(text)).toEqual([
      ['exec', '/bin/sh', 'sh', '-c', 'echo 100% done\n'],
      ['mount', '', '/', '', 'rprivate', ''],
      ['env', 'GREETING=héllo'],
    ]);
    expect(() => decodePlan('nsvirt-plan 1\nexec a%2\n')).toThrow();
    expect(() => encodePlan([['Bad keyword']])).toThrow();
  });
});
