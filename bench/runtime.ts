/**
 * Container runtime benchmark (root only): start latency through the library
 * and through nsvirsh, a start+destroy cycle, the supervisor's resident
 * memory per container, and 50 containers started then destroyed with a
 * count of what they left behind. Each beside `unshare(1)` doing the same
 * namespace work in the same run, as the kernel's floor. Medians; compare
 * ratios, these machines are noisy.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Connection, type Domain } from '../src/index.js';
import { packageRoot } from '../src/package.js';
import { median, printTable } from './table.js';

const UNSHARE = ['--mount', '--uts', '--ipc', '--pid', '--cgroup', '--fork', '--mount-proc'];

const xml = (name: string): string => `<domain type='lxc'><name>${name}</name><memory unit='MiB'>64</memory>
  <os><type>exe</type><init>/bin/sleep</init><initarg>600</initarg></os>
  <devices><filesystem type='mount'><source dir='/'/><target dir='/'/><readonly/></filesystem><console type='pty'/></devices></domain>`;

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

async function timed(fn: () => unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return ms(t0);
}

function unshareOnce(): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('unshare', [...UNSHARE, 'true']);
  if (r.status !== 0) throw new Error(`unshare failed: ${r.stderr.toString()}`);
  return ms(t0);
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function leftoverCount(root: string): number {
  let n = 0;
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', h, 'machine');
    if (existsSync(dir)) n += readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name.startsWith('bench-')).length;
  }
  const state = join(root, 'run/nsvirt/lxc');
  if (existsSync(state)) n += readdirSync(state).filter((f) => f.startsWith('bench-') && !f.endsWith('.laststate')).length;
  return n;
}

async function define(conn: Connection, name: string): Promise<Domain> {
  return conn.defineXML(xml(name));
}

export async function runRuntimeBench(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('\nruntime benchmark skipped: starting containers needs root');
    return;
  }
  const root = mkdtempSync(join(tmpdir(), 'nsvirt-bench-'));
  const conn = connect('lxc:///', { root });
  const cli = join(packageRoot(), 'dist', 'src', 'cli', 'nsvirsh.js');
  try {
    const dom = await define(conn, 'bench-one');
    const starts: number[] = [];
    const destroys: number[] = [];
    const cycles: number[] = [];
    const cliStarts: number[] = [];
    const unshares: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < 15; i++) {
      starts.push(await timed(() => dom.create()));
      rss.push(rssKiB((await dom.getID())!));
      destroys.push(await timed(() => dom.destroy()));
      cycles.push(await timed(async () => {
        await dom.create();
        await dom.destroy();
      }));
      cliStarts.push(await timed(() => spawnSync(process.execPath, [cli, 'start', 'bench-one'], { env: { ...process.env, NSVIRT_ROOT: root } })));
      await dom.destroy();
      unshares.push(unshareOnce());
    }
    const floor = median(unshares);
    const row = (label: string, v: number): [string, string] => [label, `${v.toFixed(1)} ms  (${(v / floor).toFixed(1)}x unshare)`];

    const many = await Promise.all(Array.from({ length: 50 }, (_, i) => define(conn, `bench-${i}`)));
    const t50 = await timed(async () => {
      for (const d of many) await d.create();
    });
    const d50 = await timed(async () => {
      for (const d of many) await d.destroy();
    });
    const u50 = await timed(() => {
      for (let i = 0; i < 50; i++) unshareOnce();
    });
    const leaks = leftoverCount(root);
    for (const d of [dom, ...many]) await d.undefine();

    printTable('Container runtime (median of 15 unless noted)', [
      ['unshare(1) floor: namespaces + fork + exec', `${floor.toFixed(1)} ms`],
      row('start, library call', median(starts)),
      row('start, nsvirsh (incl. node startup)', median(cliStarts)),
      row('destroy, library call', median(destroys)),
      row('start + destroy cycle', median(cycles)),
      ['supervisor resident memory', `${median(rss).toFixed(0)} KiB per container`],
      ['50 containers: start all / destroy all', `${t50.toFixed(0)} ms / ${d50.toFixed(0)} ms (unshare x50: ${u50.toFixed(0)} ms)`],
      ['left behind after 50 start/destroy', `${leaks} (cgroup dirs + state files)`],
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runRuntimeBench();
