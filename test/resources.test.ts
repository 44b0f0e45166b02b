/**
 * Resource control on real containers (root only): limits as the kernel's own
 * cgroup files show them, and by behaviour — a process over its memory limit
 * is OOM-killed, a device outside the ACL gives EPERM, a frozen container
 * makes no progress — plus 100 start/destroy cycles that leave no cgroup.
 */
import { eventually } from './support/wait.js';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { chmodSync } from 'node:fs';
import { connect, type Connection, type Domain } from '../src/index.js';
import { useTempRoot } from './support/tmproot.js';
import { deviceFilterQuery } from '../src/native.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('resources.test.ts: skipped, starting containers needs root');

const { root } = useTempRoot('nsvirt-res-');
beforeEach(() => chmodSync(root(), 0o755));

const open = (): Connection => connect('lxc:///', { root: root() });

/** A container on the host's own root (read-only) with a scratch tmpfs at /tmp. */
const containerXML = (name: string, script: string, extra = ''): string => `<domain type='lxc'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>${extra}
  <os><type>exe</type><init>/bin/sh</init><initarg>-c</initarg><initarg>${script}</initarg></os>
  <devices>
    <filesystem type='mount'><source dir='/'/><target dir='/'/><readonly/></filesystem>
    <filesystem type='ram'><source usage='16' units='MiB'/><target dir='/tmp'/></filesystem>
    <console type='pty'/>
  </devices>
</domain>`;

const cgroupFile = (controller: string, name: string, file: string): string =>
  readFileSync(join('/sys/fs/cgroup', controller, 'machine', `${name}.libvirt-lxc`, file), 'utf8').trim();

const log = (name: string): string => {
  const path = join(root(), 'var/log/nsvirt/lxc', `${name}.log`);
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
};

function cgroupsLeft(prefix: string): string[] {
  const left: string[] = [];
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', h, 'machine');
    if (!existsSync(dir)) continue;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory() && e.name.startsWith(prefix)) left.push(join(dir, e.name));
  }
  return left;
}

async function running(conn: Connection, xml: string): Promise<Domain> {
  const dom = await conn.defineXML(xml);
  await dom.create();
  return dom;
}

describe.skipIf(!isRoot)('resource control (root)', () => {
  it('applies memory, memtune, cputune and cpuset limits in the kernel files (cgroup v1)', async () => {
    const dom = await running(
      open(),
      containerXML(
        'limits',
        'exec sleep 300',
        `
  <memtune><hard_limit unit='MiB'>48</hard_limit><soft_limit unit='MiB'>32</soft_limit><swap_hard_limit unit='MiB'>64</swap_hard_limit></memtune>
  <vcpu placement='static' cpuset='0'>1</vcpu>
  <cputune><shares>512</shares><period>50000</period><quota>25000</quota></cputune>`,
      ),
    );
    try {
      expect(cgroupFile('memory', 'limits', 'memory.limit_in_bytes')).toBe(String(48 * 1024 * 1024));
      expect(cgroupFile('memory', 'limits', 'memory.soft_limit_in_bytes')).toBe(String(32 * 1024 * 1024));
      expect(cgroupFile('memory', 'limits', 'memory.memsw.limit_in_bytes')).toBe(String(64 * 1024 * 1024));
      expect(cgroupFile('cpu', 'limits', 'cpu.shares')).toBe('512');
      expect(cgroupFile('cpu', 'limits', 'cpu.cfs_period_us')).toBe('50000');
      expect(cgroupFile('cpu', 'limits', 'cpu.cfs_quota_us')).toBe('25000');
      expect(cgroupFile('cpuset', 'limits', 'cpuset.cpus')).toBe('0');
      expect(cgroupFile('devices', 'limits', 'devices.list').split('\n')).toContain('c 1:3 rwm');
      // cgroup2 (controller-less here) gets the same rules as a BPF device program.
      expect(deviceFilterQuery('/sys/fs/cgroup/unified/machine/limits.libvirt-lxc')).toHaveLength(1);
      // The supervisor stays outside the container's cgroup; init is in it.
      const procs = cgroupFile('memory', 'limits', 'cgroup.procs').split('\n').map(Number);
      expect(procs).not.toContain(await dom.getID());
      expect(procs.length).toBeGreaterThan(0);
    } finally {
      await dom.destroy();
    }
    expect(cgroupsLeft('limits')).toEqual([]);
  });

  it('OOM-kills a process that goes over the memory limit, inside the container only', async () => {
    const dom = await running(
      open(),
      containerXML('hungry', 'head -c 256M /dev/zero | tail > /dev/null; echo "tail status $?"; exec sleep 300', "\n  <memtune><hard_limit unit='MiB'>32</hard_limit></memtune>"),
    );
    try {
      await eventually(() => log('hungry').includes('tail status'));
      expect(log('hungry')).toMatch(/tail status 137/); // SIGKILL from the OOM killer
      expect(cgroupFile('memory', 'hungry', 'memory.oom_control')).toMatch(/oom_kill [1-9]/);
      expect((await dom.getState()).state).toBe('running'); // init itself survived
    } finally {
      await dom.destroy();
    }
  });

  it('denies a device outside the ACL with EPERM, even where mknod is allowed', async () => {
    const dom = await running(
      open(),
      containerXML(
        'acl',
        'mknod /dev/mem c 1 1 &amp;&amp; echo mknod ok; cat /dev/mem &gt; /dev/null 2&gt; /tmp/err; echo "mem: $(cat /tmp/err)"; echo null &gt; /dev/null &amp;&amp; echo "null ok"; exec sleep 300',
        "\n  <features><capabilities policy='default'><mknod state='on'/></capabilities></features>",
      ),
    );
    try {
      await eventually(() => log('acl').includes('null ok'));
      expect(log('acl')).toContain('mknod ok');
      // /dev is the container's own tmpfs (no nodev): only the device cgroup stands in the way.
      expect(log('acl')).toMatch(/mem: .*Operation not permitted/);
    } finally {
      await dom.destroy();
    }
  });

  it('suspend freezes the container (no progress), resume lets it go on', async () => {
    const conn = open();
    const dom = await running(conn, containerXML('frost', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.02; done'));
    try {
      const init = Number(/init_pid=(\d+)/.exec(readFileSync(join(root(), 'run/nsvirt/lxc/frost.status'), 'utf8'))![1]);
      const count = (): number => Number(readFileSync(`/proc/${init}/root/tmp/count`, 'utf8') || 0);
      await eventually(() => count() > 3);
      await dom.suspend();
      expect(await dom.getState()).toEqual({ state: 'paused', reason: 'user' });
      expect(cgroupFile('freezer', 'frost', 'freezer.state')).toBe('FROZEN');
      const frozenAt = count();
      await new Promise((r) => setTimeout(r, 300));
      expect(count()).toBe(frozenAt);
      await dom.suspend(); // already paused: fine
      await dom.resume();
      expect(await dom.getState()).toEqual({ state: 'running', reason: 'unpaused' });
      await eventually(() => count() > frozenAt + 3);
      await expect(dom.resume()).rejects.toThrow('Requested operation is not valid: domain is already running');
      // Destroying a frozen container works too.
      await dom.suspend();
    } finally {
      await dom.destroy();
    }
    expect(cgroupsLeft('frost')).toEqual([]);
  });

  it('100 containers started and destroyed leave no cgroup directory behind', async () => {
    const conn = open();
    const dom = await conn.defineXML(containerXML('cycle100', 'exec sleep 300'));
    for (let i = 0; i < 100; i++) {
      await dom.create();
      await dom.destroy();
    }
    expect(cgroupsLeft('cycle100')).toEqual([]);
    expect(readdirSync(join(root(), 'run/nsvirt/lxc')).filter((f) => f.startsWith('cycle100.') && !f.endsWith('.laststate'))).toEqual([]);
  }, 120_000);
});
