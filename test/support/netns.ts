/**
 * A network namespace per test, holding a bridge br0 (10.77.0.1/24) and a veth
 * pair `uplink`/`uplink-peer` (a lower device for macvlan), with the driver
 * (compiled nsvirsh) run inside it. The bridge, host ends and addresses live
 * there, never on the machine's own interfaces; traffic goes only to
 * addresses inside the test namespaces. Also: a rootfs for the containers.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { packageRoot } from '../../src/package.js';
import { buildRootfs, type Rootfs } from './rootfs.js';
import { useTempRoot } from './tmproot.js';
import type { CliResult } from './cli.js';

export const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'nsvirsh.js');

/** Root and a compiled dist/ (the driver must run in another network namespace than vitest). */
export const networkTestsCanRun = (): boolean => process.getuid?.() === 0 && existsSync(CLI);

export interface TestNetwork {
  readonly ns: string;
  root(): string;
  rootfs(): Rootfs;
  /** `ip -n NS ARGS`. */
  ipn(...args: string[]): string;
  /** veth links of the namespace other than the uplink pair. */
  hostVeths(): string[];
  /** nsvirsh run inside the namespace (nsenter --net only: `ip netns exec` would hide the cgroup mounts behind a fresh /sys). */
  nsvirsh(...args: string[]): CliResult;
  /** Define a container on the test rootfs, init `sleep 300`, with these devices (and features, and other top-level XML). */
  define(name: string, devices: string, features?: string, extra?: string): void;
  initPid(name: string): number;
  /** From inside `pid`'s network namespace, or the test namespace ('ns'), can a TCP connection be made? */
  canConnect(from: number | 'ns', host: string, port: number): boolean;
  /** A TCP listener inside `pid`'s network namespace or the test namespace; returns its stop function. */
  listen(at: number | 'ns', host: string, port: number): () => void;
}

/** Register the hooks in the calling file and return the harness. */
export function useTestNetwork(prefix: string): TestNetwork {
  const ns = `${prefix}-${process.pid}`;
  const { root } = useTempRoot(`${prefix}-`);
  let rootfs: Rootfs | undefined;
  const ipn = (...args: string[]): string => execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
  const inNamespace = (at: number | 'ns', argv: string[]): [string, string[]] =>
    at === 'ns' ? ['ip', ['netns', 'exec', ns, ...argv]] : ['nsenter', ['-t', String(at), '-n', ...argv]];

  beforeAll(() => {
    if (networkTestsCanRun()) rootfs = buildRootfs({ rebootHelper: false });
  });
  afterAll(() => rootfs?.remove());
  beforeEach(() => {
    if (!networkTestsCanRun()) return;
    chmodSync(root(), 0o755);
    execFileSync('ip', ['netns', 'add', ns]);
    ipn('link', 'set', 'lo', 'up');
    ipn('link', 'add', 'br0', 'type', 'bridge');
    ipn('addr', 'add', '10.77.0.1/24', 'dev', 'br0');
    ipn('link', 'set', 'br0', 'up');
    // A lower device for macvlan (this kernel has no dummy driver): one end of a veth pair.
    ipn('link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'uplink-peer');
    ipn('link', 'set', 'uplink', 'up');
  });
  afterEach(() => {
    if (!networkTestsCanRun()) return;
    execFileSync('ip', ['netns', 'del', ns]);
    expect(existsSync(`/run/netns/${ns}`)).toBe(false);
  });

  const harness: TestNetwork = {
    ns,
    root,
    rootfs: () => rootfs!,
    ipn,
    hostVeths: () =>
      ipn('-o', 'link', 'show', 'type', 'veth')
        .split('\n')
        .filter((l) => l !== '' && !/ uplink(-peer)?@/.test(l)),
    nsvirsh(...args) {
      const r = spawnSync('nsenter', [`--net=/run/netns/${ns}`, process.execPath, CLI, '-c', 'lxc:///', ...args], {
        encoding: 'utf8',
        env: { ...process.env, NSVIRT_ROOT: root() },
        cwd: root(),
      });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    define(name, devices, features = '', extra = '') {
      writeFileSync(
        join(root(), `${name}.xml`),
        `<domain type='lxc'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <os><type>exe</type><init>/bin/sleep</init><initarg>300</initarg></os>
  <features>${features}</features>
  ${extra}
  <devices>
    <filesystem type='mount'><source dir='${rootfs!.path}'/><target dir='/'/></filesystem>
    ${devices}
    <console type='pty'/>
  </devices>
</domain>`,
      );
      expect(harness.nsvirsh('define', `${name}.xml`).code).toBe(0);
    },
    initPid: (name) => Number(/init_pid=(\d+)/.exec(readFileSync(join(root(), 'run/nsvirt/lxc', `${name}.status`), 'utf8'))![1]),
    canConnect(from, host, port) {
      const script = `const s=require('net').connect(${port},'${host}',()=>{s.end();process.exit(0)});s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(2),2000)`;
      const [cmd, argv] = inNamespace(from, [process.execPath, '-e', script]);
      return spawnSync(cmd, argv).status === 0;
    },
    listen(at, host, port) {
      const script = `require('net').createServer((c)=>c.end()).listen(${port},'${host}')`;
      const [cmd, argv] = inNamespace(at, [process.execPath, '-e', script]);
      const child = spawn(cmd, argv);
      return () => child.kill('SIGKILL');
    },
  };
  return harness;
}

export { eventually } from './wait.js';
