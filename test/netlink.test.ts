/**
 * Network records of the supervisor (raw rtnetlink: veth, macvlan, link
 * attributes, addresses, routes, moving links into the container) and the
 * linkStats addon function. Root only.
 *
 * Every test makes its own network namespace (nsvirt-t-<random>) with a
 * bridge br0 (10.77.0.1/24) and starts the supervisor inside it (nsenter
 * --net), so the host ends, bridges and addresses never touch the machine's
 * own interfaces; traffic only goes between these namespaces. The namespaces
 * are removed afterwards and checked to be gone.
 */
import { sleep, waitFor } from './support/wait.js';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isSystemCallError, linkStats, type LinkStats } from '../src/native.js';
import { decodeLine, encodePlan } from './support/plan.js';
import { buildRootfs, DEFAULT_BINARIES, type Rootfs } from './support/rootfs.js';

const SUPERVISOR = resolve(import.meta.dirname, '../build/Release/nsvirt_lxc');
const ADDON = resolve(import.meta.dirname, '../build/Release/nsvirt_native.node');
const IS_ROOT = process.getuid?.() === 0;
const HAS_TOOLS = ['ip', 'nsenter', 'bash'].every((t) => {
  try {
    execFileSync('/bin/sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});

if (!IS_ROOT || !HAS_TOOLS) console.warn('netlink tests skipped: they need root, ip, nsenter and bash');


const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

// ------------------------------------------------------------------ test network namespaces

/** A network namespace of its own with bridge br0 (10.77.0.1/24), standing in for the host. */
class TestNet {
  readonly name = `nsvirt-t-${randomBytes(4).toString('hex')}`;
  readonly path = `/run/netns/${this.name}`;

  constructor() {
    run('ip', ['netns', 'add', this.name]);
    try {
      this.ip('link', 'set', 'lo', 'up');
      this.ip('link', 'add', 'name', 'br0', 'type', 'bridge');
      this.ip('addr', 'add', '10.77.0.1/24', 'dev', 'br0');
      this.ip('link', 'set', 'br0', 'up');
    } catch (e) {
      run('ip', ['netns', 'del', this.name]);
      throw e;
    }
  }

  ip(...args: string[]): string {
    return run('ip', ['-n', this.name, ...args]);
  }

  /** Names of its links. */
  links(): string[] {
    return this.ip('-o', 'link', 'show')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(': ')[1]!.split('@')[0]!);
  }

  /** `ip -o link show NAME`, or undefined when there is no such link. */
  link(name: string): string | undefined {
    try {
      return this.ip('-o', '-d', 'link', 'show', 'dev', name);
    } catch {
      return undefined;
    }
  }

  remove(): void {
    run('ip', ['netns', 'del', this.name]);
    expect(existsSync(this.path)).toBe(false);
    expect(run('ip', ['netns', 'list'])).not.toContain(this.name);
  }
}

/** Run a command in a container: all its namespaces, its root (like virsh lxc-enter-namespace). */
const inContainer = (pid: number, script: string): string => run('nsenter', ['-t', String(pid), '-a', '/bin/bash', '-c', script]);
/** `ip …` in the container's network namespace, with the host's ip binary. */
const ipIn = (pid: number, ...args: string[]): string => run('nsenter', ['-t', String(pid), '-n', 'ip', ...args]);

interface Listener {
  /** What the first client sent, once it closed the connection. */
  data: Promise<string>;
  stop(): void;
}

/** A one-shot TCP server (a node process) in the network namespace nsenter's NSARGS select. */
async function listen(nsArgs: string[], host: string, port: number): Promise<Listener> {
  const script =
    `const s=require('net').createServer(c=>{let d='';c.setEncoding('utf8');c.on('data',x=>d+=x);` +
    `c.on('end',()=>{process.stdout.write(d);c.end();s.close();})});` +
    `s.listen(${port},${JSON.stringify(host)},()=>process.stderr.write('listening\\n'));setTimeout(()=>process.exit(3),30000).unref();`;
  const proc = spawn('nsenter', [...nsArgs, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const ended = new Promise<number | null>((res) => proc.on('exit', res));
  await new Promise<void>((res, rej) => {
    proc.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (err.includes('listening')) res();
    });
    void ended.then((code) => rej(new Error(`listener exited (${code}): ${err}`)));
  });
  return {
    data: ended.then((code) => {
      if (code !== 0) throw new Error(`listener exited (${code}): ${err}`);
      return out;
    }),
    stop: () => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
}

/** linkStats run in another network namespace (a node process loading the addon there). */
function statsIn(nsPath: string, ifname: string): Record<keyof LinkStats, bigint> {
  const script = `const s=require(${JSON.stringify(ADDON)}).linkStats(${JSON.stringify(ifname)});console.log(JSON.stringify(s,(k,v)=>typeof v==='bigint'?v.toString():v))`;
  const out = run('nsenter', [`--net=${nsPath}`, process.execPath, '-e', script]);
  return Object.fromEntries(Object.entries(JSON.parse(out) as Record<string, string>).map(([k, v]) => [k, BigInt(v)])) as Record<
    keyof LinkStats,
    bigint
  >;
}

// ------------------------------------------------------------------ containers

interface ContainerPlan {
  host?: string[][];
  child?: string[][];
  onReboot?: string;
}

/** One supervisor started inside a TestNet. */
class Container {
  readonly dir = mkdtempSync(join(tmpdir(), 'nsvirt-net-'));
  readonly name = `nsvirt-net-${randomBytes(3).toString('hex')}`;
  readonly sock = join(this.dir, 'control.sock');
  proc?: ChildProcess;
  supPid = 0;
  initPid = 0;
  stderr = '';
  exitCode?: number | null;
  private exited?: Promise<number | null>;

  constructor(
    readonly net: TestNet,
    readonly rootfs: Rootfs,
  ) {}

  plan(o: ContainerPlan): string[][] {
    const root = this.rootfs.path;
    return [
      ['name', this.name],
      ['status', join(this.dir, 'status')],
      ['control', this.sock],
      ['clone', 'mnt', 'uts', 'ipc', 'pid', 'net'],
      ...(o.host ?? []),
      ['on-reboot', o.onReboot ?? 'destroy'],
      ['mount', '', '/', '', 'rslave,rec', ''],
      ['mount', root, root, '', 'bind,rec', ''],
      ['mount', 'proc', `${root}/proc`, 'proc', 'nosuid,nodev,noexec', ''],
      ['mount', 'devfs', `${root}/dev`, 'tmpfs', 'nosuid', 'mode=755,size=65536'],
      ['mknod', `${root}/dev/null`, 'c', '1', '3', '666'],
      ['pivot', root, '.'],
      ['ifup', 'lo'],
      ...(o.child ?? []),
      ['env', 'PATH=/bin'],
      ['exec', '/bin/sleep', 'sleep', '100000'],
    ];
  }

  /** Start the supervisor in the test namespace; resolves with the decoded report line. */
  async start(records: string[][]): Promise<string[]> {
    const planPath = join(this.dir, 'plan');
    writeFileSync(planPath, encodePlan(records));
    const proc = spawn('nsenter', [`--net=${this.net.path}`, SUPERVISOR, '--plan', planPath, '--report-fd', '3'], {
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
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    const report = proc.stdio[3] as Readable;
    let text = '';
    await new Promise<void>((res) => {
      report.setEncoding('utf8');
      report.on('data', (d: string) => (text += d));
      report.on('end', res);
      report.on('close', res);
    });
    const fields = decodeLine(text);
    if (fields[0] === 'ok') {
      expect(Number(fields[1])).toBe(this.supPid); // nsenter exec'd the supervisor
      this.initPid = Number(fields[2]);
    }
    return fields;
  }

  async startOk(o: ContainerPlan): Promise<void> {
    const r = await this.start(this.plan(o));
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

  /** One control command; resolves with the decoded reply. */
  control(line: string): Promise<string[]> {
    return new Promise((res, rej) => {
      const s = connect(this.sock);
      let buf = '';
      s.setEncoding('utf8');
      s.on('connect', () => s.write(`${line}\n`));
      s.on('data', (d: string) => {
        buf += d;
        if (buf.includes('\n')) {
          s.destroy();
          res(decodeLine(buf.slice(0, buf.indexOf('\n'))));
        }
      });
      s.on('error', rej);
    });
  }

  async destroy(): Promise<void> {
    expect(await this.control('destroy')).toEqual(['ok']);
    expect(await this.waitExit()).toBe(0);
    expect(this.stderr).not.toMatch(/: (network|cleanup-link): /);
  }

  async dispose(): Promise<void> {
    if (this.proc && this.exitCode === undefined) {
      try {
        process.kill(this.supPid, 'SIGKILL'); // init follows (parent-death signal)
      } catch {
        // gone
      }
      await this.waitExit().catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Host and child records of a veth interface on br0, the way the driver lays them out. */
function bridgedVeth(hostEnd: string, peer: string, mac: string, address: string): ContainerPlan {
  return {
    host: [
      ['veth', hostEnd, peer],
      ['link-mtu', hostEnd, '1400'],
      ['link-master', hostEnd, 'br0'],
      ['link-up', hostEnd],
      ['link-mac', peer, mac],
      ['link-mtu', peer, '1400'],
      ['link-netns', peer],
      ['cleanup-link', hostEnd],
    ],
    child: [
      ['link-rename', peer, 'eth0'],
      ['addr-add', 'eth0', address, '24', ''],
      ['link-set', 'eth0', 'up'],
      ['route-add', 'eth0', 'ipv4', '0.0.0.0', '0', '10.77.0.1', '0'],
    ],
  };
}

/** The container sends TEXT to HOST:PORT over TCP (bash's /dev/tcp), retrying while the link comes up. */
function sendFrom(pid: number, host: string, port: number, text: string): void {
  inContainer(pid, `for i in $(seq 50); do echo ${text} > /dev/tcp/${host}/${port} && exit 0; sleep 0.1; done; exit 1`);
}

// ------------------------------------------------------------------ tests

describe.skipIf(!IS_ROOT || !HAS_TOOLS)('network records (root)', () => {
  let rootfs: Rootfs;
  const nets: TestNet[] = [];
  const containers: Container[] = [];
  const listeners: Listener[] = [];

  const testNet = (): TestNet => {
    const n = new TestNet();
    nets.push(n);
    return n;
  };
  const container = (net: TestNet): Container => {
    const c = new Container(net, rootfs);
    containers.push(c);
    return c;
  };
  const listener = async (nsArgs: string[], host: string, port: number): Promise<Listener> => {
    const l = await listen(nsArgs, host, port);
    listeners.push(l);
    return l;
  };

  beforeAll(() => {
    if (!existsSync(SUPERVISOR)) throw new Error(`${SUPERVISOR} missing: build it with 'npx node-gyp rebuild'`);
    rootfs = buildRootfs({ binaries: [...DEFAULT_BINARIES, 'bash', 'seq'] });
  });
  afterEach(async () => {
    for (const l of listeners.splice(0)) l.stop();
    for (const c of containers.splice(0)) await c.dispose();
    for (const n of nets.splice(0)) n.remove();
  });
  afterAll(() => rootfs?.remove());

  it('veth on a bridge: host end enslaved and up, peer moved in, renamed and configured; traffic; destroy removes the host end', async () => {
    const net = testNet();
    const a = container(net);
    const b = container(net);
    await a.startOk(bridgedVeth('vnet0', 'vnet1', '52:54:00:00:00:0a', '10.77.0.2'));
    await b.startOk(bridgedVeth('vnet2', 'vnet3', '52:54:00:00:00:0b', '10.77.0.3'));

    // host side: the host ends are on br0 and up; the peers left
    for (const end of ['vnet0', 'vnet2']) expect(net.link(end)).toMatch(/<[^>]*\bUP\b[^>]*>.* mtu 1400 .*master br0/);
    expect(net.links().sort()).toEqual(['br0', 'lo', 'vnet0', 'vnet2']);

    // inside: name, MAC, MTU, state, address, default route
    const link = ipIn(a.initPid, '-o', 'link', 'show', 'dev', 'eth0');
    expect(link).toMatch(/eth0@\S+: <[^>]*\bUP\b[^>]*> mtu 1400 /);
    expect(link).toContain('link/ether 52:54:00:00:00:0a');
    expect(ipIn(a.initPid, '-o', '-4', 'addr', 'show', 'dev', 'eth0')).toContain('inet 10.77.0.2/24 brd 10.77.0.255');
    expect(ipIn(a.initPid, 'route', 'show', 'default')).toContain('default via 10.77.0.1 dev eth0');
    expect(ipIn(a.initPid, '-o', 'link').split('\n').filter(Boolean)).toHaveLength(2); // lo and eth0

    // traffic: container → bridge address, counted on the host end
    const before = statsIn(net.path, 'vnet0');
    const toHost = await listener([`--net=${net.path}`], '10.77.0.1', 7001);
    sendFrom(a.initPid, '10.77.0.1', 7001, 'hello-from-a');
    expect((await toHost.data).trim()).toBe('hello-from-a');
    const after = statsIn(net.path, 'vnet0');
    expect(after.rxPackets).toBeGreaterThan(before.rxPackets); // what a sent
    expect(after.rxBytes).toBeGreaterThan(before.rxBytes + 12n);
    expect(after.txPackets).toBeGreaterThan(before.txPackets);
    expect(after.rxErrors).toBe(0n);

    // container → container across br0
    const inA = await listener(['-t', String(a.initPid), '-n'], '10.77.0.2', 7002);
    sendFrom(b.initPid, '10.77.0.2', 7002, 'hello-from-b');
    expect((await inA.data).trim()).toBe('hello-from-b');

    await a.destroy();
    expect(net.link('vnet0')).toBeUndefined(); // cleanup-link: gone when the supervisor has exited
    process.kill(b.supPid, 'SIGTERM');
    expect(await b.waitExit()).toBe(0);
    expect(net.links().sort()).toEqual(['br0', 'lo']);
  });

  it("ethernet: host-addr and host-route on the host end, peer addresses, IPv6; traffic both ways through the host's route", async () => {
    const net = testNet();
    const c = container(net);
    await c.startOk({
      host: [
        ['veth', 'veth-web', 'vnet5'],
        ['link-up', 'veth-web'],
        ['host-addr', 'veth-web', '192.0.2.1', '32', '192.0.2.2'],
        ['host-route', 'veth-web', 'ipv4', '198.51.100.0', '24', '192.0.2.2', '0'],
        ['host-route', 'veth-web', 'ipv4', '203.0.113.0', '24', '', '42'],
        ['link-mac', 'vnet5', '52:54:00:00:00:03'],
        ['link-netns', 'vnet5'],
        ['cleanup-link', 'veth-web'],
      ],
      child: [
        ['link-rename', 'vnet5', 'eth1'],
        ['addr-add', 'eth1', '192.0.2.2', '32', '192.0.2.1'],
        ['addr-add', 'eth1', '198.51.100.7', '32'],
        ['addr-add', 'eth1', '2001:db8::2', '64', ''],
        ['link-set', 'eth1', 'up'],
        ['route-add', 'eth1', 'ipv4', '0.0.0.0', '0', '192.0.2.1', '0'],
        ['route-add', 'eth1', 'ipv6', '2001:db8:1::', '48', '2001:db8::1', '100'],
        ['route-add', 'eth1', 'ipv6', '2001:db8:2::', '64', '', '0'],
      ],
    });
    expect(net.ip('-o', '-4', 'addr', 'show', 'dev', 'veth-web')).toContain('inet 192.0.2.1 peer 192.0.2.2/32');
    const hostRoutes = net.ip('route', 'show', 'dev', 'veth-web');
    expect(hostRoutes).toContain('198.51.100.0/24 via 192.0.2.2');
    expect(hostRoutes).toMatch(/203\.0\.113\.0\/24 scope link metric 42/);
    expect(ipIn(c.initPid, '-o', '-4', 'addr', 'show', 'dev', 'eth1')).toContain('inet 192.0.2.2 peer 192.0.2.1/32');
    expect(ipIn(c.initPid, '-o', '-6', 'addr', 'show', 'dev', 'eth1')).toContain('inet6 2001:db8::2/64');
    const v6 = ipIn(c.initPid, '-6', 'route', 'show', 'dev', 'eth1');
    expect(v6).toContain('2001:db8:1::/48 via 2001:db8::1 metric 100');
    expect(v6).toContain('2001:db8:2::/64 metric 1024');

    // host → container through host-route (gateway = the container's peer address)
    const inC = await listener(['-t', String(c.initPid), '-n'], '198.51.100.7', 7003);
    run('nsenter', [`--net=${net.path}`, 'bash', '-c', 'echo to-container > /dev/tcp/198.51.100.7/7003']);
    expect((await inC.data).trim()).toBe('to-container');
    // container → host through its default route
    const toHost = await listener([`--net=${net.path}`], '192.0.2.1', 7004);
    sendFrom(c.initPid, '192.0.2.1', 7004, 'to-host');
    expect((await toHost.data).trim()).toBe('to-host');

    await c.destroy();
    expect(net.links().sort()).toEqual(['br0', 'lo']);
  });

  it('macvlan (bridge mode) on a link of the test namespace: moved in, configured; two macvlans reach each other', async () => {
    const net = testNet();
    net.ip('link', 'add', 'name', 'lowa', 'type', 'veth', 'peer', 'name', 'lowb');
    net.ip('addr', 'add', '10.88.0.1/24', 'dev', 'lowb');
    net.ip('link', 'set', 'lowa', 'up');
    net.ip('link', 'set', 'lowb', 'up');
    const macvlan = (name: string, mac: string, address: string): ContainerPlan => ({
      host: [
        ['macvlan', name, 'lowa', 'bridge'],
        ['link-mac', name, mac],
        ['link-netns', name],
      ],
      child: [
        ['link-rename', name, 'eth2'],
        ['addr-add', 'eth2', address, '24', ''],
        ['link-set', 'eth2', 'up'],
      ],
    });
    const a = container(net);
    const b = container(net);
    await a.startOk(macvlan('macvlan0', '52:54:00:00:00:04', '10.88.0.2'));
    await b.startOk(macvlan('macvlan1', '52:54:00:00:00:05', '10.88.0.3'));
    expect(net.links().sort()).toEqual(['br0', 'lo', 'lowa', 'lowb']);
    const link = ipIn(a.initPid, '-o', '-d', 'link', 'show', 'dev', 'eth2');
    expect(link).toContain('link/ether 52:54:00:00:00:04');
    expect(link).toMatch(/macvlan mode bridge/);

    // out through the lower device's veth to the test namespace
    const toHost = await listener([`--net=${net.path}`], '10.88.0.1', 7005);
    sendFrom(a.initPid, '10.88.0.1', 7005, 'via-macvlan');
    expect((await toHost.data).trim()).toBe('via-macvlan');
    // bridge mode: macvlans of one lower device talk directly
    const inA = await listener(['-t', String(a.initPid), '-n'], '10.88.0.2', 7006);
    sendFrom(b.initPid, '10.88.0.2', 7006, 'macvlan-to-macvlan');
    expect((await inA.data).trim()).toBe('macvlan-to-macvlan');

    await a.destroy();
    await b.destroy();
    // the macvlans are gone with their containers: the same MAC can be used again on the lower device
    net.ip('link', 'add', 'link', 'lowa', 'name', 'mvcheck', 'address', '52:54:00:00:00:04', 'type', 'macvlan', 'mode', 'bridge');
    net.ip('link', 'del', 'mvcheck');
    expect(net.links().sort()).toEqual(['br0', 'lo', 'lowa', 'lowb']);
  });

  it('on-reboot restart makes the links again (veth and macvlan) and the new init is reachable', async () => {
    const net = testNet();
    net.ip('link', 'add', 'name', 'lowa', 'type', 'veth', 'peer', 'name', 'lowb');
    net.ip('link', 'set', 'lowa', 'up');
    const veth = bridgedVeth('vnet0', 'vnet1', '52:54:00:00:00:0a', '10.77.0.2');
    const c = container(net);
    await c.startOk({
      onReboot: 'restart',
      host: [...veth.host!, ['macvlan', 'macvlan0', 'lowa', 'passthru'], ['link-mac', 'macvlan0', '52:54:00:00:00:0c'], ['link-netns', 'macvlan0']],
      child: [...veth.child!, ['link-rename', 'macvlan0', 'eth1']],
    });
    expect(rootfs.hasRebootHelper).toBe(true);
    const first = c.initPid;
    const firstIndex = net.ip('-o', 'link', 'show', 'dev', 'vnet0').split(':')[0];
    try {
      inContainer(first, 'exec /bin/nsvirt-reboot restart');
    } catch {
      // killed along with init
    }
    const status = join(c.dir, 'status');
    const newInit = await waitFor('the restarted init', () => {
      const m = /^init_pid=(\d+)$/m.exec(existsSync(status) ? readFileSync(status, 'utf8') : '');
      return m && m[1] !== '0' && Number(m[1]) !== first && /state=running/.test(readFileSync(status, 'utf8')) ? Number(m[1]) : undefined;
    });
    expect(c.exitCode, c.stderr).toBeUndefined();
    expect(c.stderr).not.toMatch(/network: /);
    expect(net.link('vnet0')).toMatch(/master br0/);
    expect(net.ip('-o', 'link', 'show', 'dev', 'vnet0').split(':')[0]).not.toBe(firstIndex); // a new pair
    expect(ipIn(newInit, '-o', '-4', 'addr', 'show', 'dev', 'eth0')).toContain('inet 10.77.0.2/24');
    expect(ipIn(newInit, '-o', '-d', 'link', 'show', 'dev', 'eth1')).toMatch(/macvlan mode passthru/);
    const toHost = await listener([`--net=${net.path}`], '10.77.0.1', 7007);
    sendFrom(newInit, '10.77.0.1', 7007, 'after-reboot');
    expect((await toHost.data).trim()).toBe('after-reboot');
    await c.destroy();
    expect(net.links().sort()).toEqual(['br0', 'lo', 'lowa', 'lowb']);
  });

  describe('failed starts report the record and leave no link behind', () => {
    it('link-master to a missing bridge', async () => {
      const net = testNet();
      const c = container(net);
      const r = await c.start(c.plan(bridgedVeth('vnet0', 'vnet1', '52:54:00:00:00:0a', '10.77.0.2')).map((rec) => (rec[0] === 'link-master' ? ['link-master', 'vnet0', 'br9'] : rec)));
      expect(r).toEqual(['error', 'link-master', '19', "cannot attach 'vnet0' to bridge 'br9': No such device"]);
      expect(await c.waitExit()).toBe(1);
      expect(net.links().sort()).toEqual(['br0', 'lo']);
    });

    it('a child operation after the move (the links in the container namespace go too)', async () => {
      const net = testNet();
      net.ip('link', 'add', 'name', 'lowa', 'type', 'veth', 'peer', 'name', 'lowb');
      const veth = bridgedVeth('vnet0', 'vnet1', '52:54:00:00:00:0a', '10.77.0.2');
      const c = container(net);
      const r = await c.start(
        c.plan({
          host: [...veth.host!, ['macvlan', 'macvlan0', 'lowa', 'private'], ['link-netns', 'macvlan0']],
          child: [...veth.child!, ['addr-add', 'eth7', '10.77.0.9', '24', '']],
        }),
      );
      expect(r).toEqual(['error', 'addr-add', '19', "cannot add address 10.77.0.9/24 to 'eth7': No such device"]);
      expect(await c.waitExit()).toBe(1);
      expect(net.links().sort()).toEqual(['br0', 'lo', 'lowa', 'lowb']);
      // the macvlan went synchronously: lowa can take a passthru macvlan (only possible with no other macvlan on it)
      net.ip('link', 'add', 'link', 'lowa', 'name', 'mvcheck', 'type', 'macvlan', 'mode', 'passthru');
      net.ip('link', 'del', 'mvcheck');
    });

    it('an existing link name, a missing lower device, a rename to a taken name', async () => {
      const net = testNet();
      const c1 = container(net);
      expect(await c1.start(c1.plan({ host: [['veth', 'br0', 'vnet1']] }))).toEqual([
        'error',
        'veth',
        '17',
        "cannot create veth pair 'br0' / 'vnet1': File exists",
      ]);
      const c2 = container(net);
      expect(await c2.start(c2.plan({ host: [['veth', 'vnet0', 'vnet1'], ['macvlan', 'macvlan0', 'nolower0', 'vepa']] }))).toEqual([
        'error',
        'macvlan',
        '19',
        "cannot create macvlan 'macvlan0' on 'nolower0' (mode vepa): No such device",
      ]);
      const c3 = container(net);
      const r3 = await c3.start(
        c3.plan({
          host: [['veth', 'vnet0', 'vnet1'], ['link-netns', 'vnet1'], ['cleanup-link', 'vnet0']],
          child: [['link-rename', 'vnet1', 'lo']],
        }),
      );
      expect(r3).toEqual(['error', 'link-rename', '17', "cannot rename 'vnet1' to 'lo': File exists"]);
      for (const c of [c1, c2, c3]) expect(await c.waitExit()).toBe(1);
      expect(net.links().sort()).toEqual(['br0', 'lo']);
    });
  });

  it('rejects malformed network records before doing anything', async () => {
    const net = testNet();
    const cases: [string[], string][] = [
      [['link-mac', 'vnet0', '52:54:00:00:00'], 'link-mac: bad MAC address (expected xx:xx:xx:xx:xx:xx)'],
      [['veth', 'vnet0', 'a/b'], 'veth: bad interface name'],
      [['veth', 'vnet0', 'vnet0'], 'veth: the two interface names are the same'],
      [['link-up', 'x'.repeat(16)], 'link-up: bad interface name'],
      [['macvlan', 'mv0', 'lowa', 'source'], 'macvlan: mode must be vepa, private, bridge or passthru'],
      [['link-mtu', 'vnet0', '0'], 'link-mtu: bad MTU'],
      [['host-addr', 'vnet0', '10.0.0.1', '33'], 'host-addr: bad prefix length'],
      [['host-addr', 'vnet0', '10.0.0.1', '24', 'fe80::1'], 'host-addr: bad peer address'],
      [['host-route', 'vnet0', 'inet', '10.0.0.0', '8', '', '0'], 'host-route: family must be ipv4 or ipv6'],
      [['host-route', 'vnet0', 'ipv4', '10.0.0.0', '8', '2001:db8::1', '0'], 'host-route: bad gateway'],
      [['host-route', 'vnet0', 'ipv6', '10.0.0.0', '8', '', '0'], 'host-route: bad destination'],
      [['host-route', 'vnet0', 'ipv4', '10.0.0.0', '8', '', '-1'], 'host-route: bad metric'],
      [['link-set', 'eth0', 'sideways'], 'link-set: state must be up or down'],
      [['addr-add', 'eth0', 'not-an-address', '24'], 'addr-add: bad address'],
      [['route-add', 'eth0', 'ipv6', '::', '129', '', '0'], 'route-add: bad prefix length'],
      [['link-netns'], 'link-netns: wrong number of fields'],
    ];
    for (const [rec, message] of cases) {
      const c = container(net);
      const recs = c.plan({});
      recs.splice(4, 0, rec);
      expect(await c.start(recs), rec.join(' ')).toEqual(['error', 'plan', '22', `line 6: ${message}`]);
      expect(await c.waitExit()).toBe(1);
    }
    expect(net.links().sort()).toEqual(['br0', 'lo']);
  });
});

describe.skipIf(!IS_ROOT)('linkStats', () => {
  it("counts traffic on an interface of the caller's network namespace (loopback here)", async () => {
    const before = linkStats('lo');
    for (const k of ['rxBytes', 'rxPackets', 'rxErrors', 'rxDrops', 'txBytes', 'txPackets', 'txErrors', 'txDrops'] as const)
      expect(typeof before[k]).toBe('bigint');
    const server = createServer((s) => s.pipe(s));
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as { port: number }).port;
    const payload = 'x'.repeat(10_000);
    await new Promise<void>((res, rej) => {
      const s = connect(port, '127.0.0.1', () => s.end(payload));
      let echoed = 0;
      s.on('data', (d) => (echoed += d.length));
      s.on('close', () => (echoed === payload.length ? res() : rej(new Error(`echoed ${echoed}`))));
      s.on('error', rej);
    });
    await new Promise<void>((res) => server.close(() => res()));
    const after = linkStats('lo');
    expect(after.rxBytes - before.rxBytes).toBeGreaterThanOrEqual(20_000n);
    expect(after.txPackets).toBeGreaterThan(before.txPackets);
    expect(after.rxPackets).toBeGreaterThan(before.rxPackets);
  });

  it('fails like a Node system call for a missing link', () => {
    let caught: unknown;
    try {
      linkStats('nsvirt-nope0');
    } catch (e) {
      caught = e;
    }
    expect(isSystemCallError(caught)).toBe(true);
    expect(caught).toMatchObject({ code: 'ENODEV', errno: -19, syscall: 'RTM_GETLINK', message: "ENODEV: no such device, RTM_GETLINK 'nsvirt-nope0'" });
    expect(() => linkStats('x'.repeat(16))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => (linkStats as (n: unknown) => LinkStats)(42)).toThrow(TypeError);
  });
});
