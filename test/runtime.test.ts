/**
 * Real containers started through the driver (library API and nsvirsh), on a
 * root filesystem the test builds from host binaries. Asserts isolation the
 * way the kernel shows it, the lifecycle, and that every start, stop and
 * failure leaves nothing behind. Needs root; skipped with a message otherwise.
 */
import { hostLeftovers } from './support/leftovers.js';
import { eventually } from './support/wait.js';
import { runNsvirsh, type CliResult } from './support/cli.js';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, type Connection, type Domain } from '../src/index.js';
import { buildRootfs, type Rootfs } from './support/rootfs.js';
import { useTempRoot } from './support/tmproot.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('runtime.test.ts: skipped, starting containers needs root');

const { root } = useTempRoot('nsvirt-rt-');
let rootfs: Rootfs;

// NSVIRT_ROOT stands for '/': as on a real host, others may traverse it (a container root
// in a user namespace mounts its filesystems under ROOT/run/nsvirt/lxc itself).
beforeEach(() => chmodSync(root(), 0o755));

beforeAll(() => {
  if (isRoot) rootfs = buildRootfs();
});
afterAll(() => {
  if (!isRoot) return;
  rootfs.remove();
  expect(existsSync(rootfs.path)).toBe(false);
});

const open = (): Connection => connect('lxc:///', { root: root(), context: { hostArch: 'x86_64' } });

/** A container on the test rootfs; init runs `script` with /bin/sh. */
function containerXML(name: string, script: string, extra: { devices?: string; top?: string; os?: string; rootfs?: string } = {}): string {
  return `<domain type='lxc'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <os>
    <type>exe</type>
    <init>/bin/sh</init>
    <initarg>-c</initarg>
    <initarg>${script}</initarg>${extra.os ?? ''}
  </os>${extra.top ?? ''}
  <devices>
    <filesystem type='mount'>
      <source dir='${extra.rootfs ?? rootfs.path}'/>
      <target dir='/'/>
    </filesystem>${extra.devices ?? ''}
    <console type='pty'/>
  </devices>
</domain>`;
}

const cli = (...args: string[]): Promise<CliResult> =>
  runNsvirsh(['-c', 'lxc:///', ...args], { env: { ...process.env, NSVIRT_ROOT: root() }, cwd: root() });

const nsenter = (pid: number, args: string[]): string =>
  execFileSync('nsenter', ['-t', String(pid), '-a', ...args], { encoding: 'utf8', env: { PATH: '/bin:/usr/bin' } });

const nsInode = (pid: number | 'self', ns: string): string => readlinkSync(`/proc/${pid}/ns/${ns}`);

async function initPid(dom: Domain): Promise<number> {
  const conn = open();
  void conn;
  const status = readFileSync(join(root(), 'run/nsvirt/lxc', `${dom.name}.status`), 'utf8');
  return Number(/init_pid=(\d+)/.exec(status)![1]);
}

const leftovers = (name: string): string[] => hostLeftovers(root(), name);

describe.skipIf(!isRoot)('containers (root)', () => {
  it('isolates every namespace, as the kernel shows it, and cleans up on destroy', async () => {
    const conn = open();
    const dom = await conn.defineXML(containerXML('iso', 'ipcmk -M 4096 >/dev/null; exec sleep 300', { top: '<features><privnet/></features>' }));
    await dom.create();
    try {
      const pid = await initPid(dom);
      expect(await dom.getID()).toBeGreaterThan(0);
      expect(nsenter(pid, ['hostname']).trim()).toBe('iso');
      expect(nsenter(pid, ['ls', '/proc']).split('\n').filter((e) => /^\d+$/.test(e))).toEqual(
        expect.arrayContaining(['1']),
      );
      // Only the container's own processes: init (1) and the ls itself.
      expect(nsenter(pid, ['ls', '/proc']).split('\n').filter((e) => /^\d+$/.test(e)).length).toBeLessThanOrEqual(2);
      for (const ns of ['mnt', 'uts', 'ipc', 'pid', 'net', 'cgroup']) expect(nsInode(pid, ns)).not.toBe(nsInode('self', ns));
      expect(nsInode(pid, 'user')).toBe(nsInode('self', 'user'));
      // SysV IPC: the segment the container made is not the host's.
      await eventually(() => nsenter(pid, ['ipcs', '-m']).includes('0x'));
      expect(execFileSync('ipcs', ['-m'], { encoding: 'utf8' })).not.toContain(nsenter(pid, ['ipcs', '-m']).match(/0x[0-9a-f]+/)![0]);
      // Own mount table with a read-only /proc/sys and a private /dev.
      const mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
      expect(mounts).not.toBe(readFileSync('/proc/self/mountinfo', 'utf8'));
      expect(mounts).toMatch(/ \/proc\/sys ro,/);
      expect(nsenter(pid, ['ls', '/dev']).split('\n')).toEqual(expect.arrayContaining(['console', 'null', 'pts', 'shm', 'tty1', 'urandom']));
      // lo is up in the private network namespace.
      expect(readFileSync(`/proc/${pid}/net/dev`, 'utf8')).toMatch(/lo:/);
      expect((await dom.getState()).state).toBe('running');
    } finally {
      await dom.destroy();
    }
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'destroyed' });
    expect(leftovers('iso')).toEqual([]);
  });

  it("runs on the host's own root, read-only, sharing the host network (sysfs bound, not remounted)", async () => {
    const dom = await open().defineXML(
      `<domain type='lxc'><name>hostroot</name><memory unit='MiB'>64</memory>
        <os><type>exe</type><init>/bin/sleep</init><initarg>300</initarg></os>
        <devices><filesystem type='mount'><source dir='/'/><target dir='/'/><readonly/></filesystem>
        <filesystem type='ram'><source usage='8' units='MiB'/><target dir='/tmp'/></filesystem><console type='pty'/></devices></domain>`,
    );
    await dom.create();
    try {
      const pid = await initPid(dom);
      const mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n');
      const optionsAt = (mp: string): string | undefined => {
        const at = mounts.filter((l) => l.split(' ')[4] === mp);
        expect(at, `one mount at ${mp}`).toHaveLength(1);
        return at[0]!.split(' ')[5];
      };
      expect(optionsAt('/')).toMatch(/^ro/);
      expect(optionsAt('/sys')).toMatch(/^ro/);
      expect(optionsAt('/tmp')).toMatch(/^rw/);
      expect(nsInode(pid, 'net')).toBe(nsInode('self', 'net'));
      expect(() => nsenter(pid, ['touch', '/probe'])).toThrow();
      expect(nsenter(pid, ['touch', '/tmp/probe'])).toBe('');
    } finally {
      await dom.destroy();
    }
    expect(leftovers('hostroot')).toEqual([]);
  });

  it('every domain in examples/ starts as it is, and stops cleanly', async () => {
    const dir = join(import.meta.dirname, '..', 'examples');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.xml'))) {
      const dom = await open().defineXML(readFileSync(join(dir, file)));
      await dom.create();
      try {
        expect((await dom.getState()).state, file).toBe('running');
      } finally {
        await dom.destroy();
        await dom.undefine();
      }
      expect(leftovers(dom.name), file).toEqual([]);
    }
  });

  it('honours on_poweroff and on_crash (libvirt ignores them): restart, preserve', async () => {
    const conn = open();
    const looping = await conn.defineXML(
      containerXML('again', 'sleep 0.2; exit 0').replace('</os>', '</os>\n  <on_poweroff>restart</on_poweroff>'),
    );
    await looping.create();
    try {
      const id = await looping.getID();
      const first = await initPid(looping);
      await eventually(async () => {
        const pid = await initPid(looping).catch(() => 0);
        return pid !== 0 && pid !== first;
      });
      expect(await looping.getID()).toBe(id);
    } finally {
      await looping.destroy();
    }
    // A crash is init dying of a fault: the test helper dereferences NULL on purpose.
    const crashing = await conn.defineXML(
      containerXML('crash', 'exec /sbin/nsvirt-reboot crash').replace('</os>', '</os>\n  <on_crash>preserve</on_crash>'),
    );
    if (rootfs.hasRebootHelper) {
      await crashing.create();
      await eventually(async () => (await crashing.getState()).state === 'crashed');
      expect(await crashing.isActive()).toBe(true);
      await crashing.destroy();
      expect(await crashing.getState()).toEqual({ state: 'shutoff', reason: 'destroyed' });
    }
    expect([...leftovers('again'), ...leftovers('crash')]).toEqual([]);
  });

  it('mounts an image file through a loop device, and gives disks and hostdevs their device nodes', async (ctx) => {
    if (!existsSync('/usr/sbin/mkfs.ext4') && !existsSync('/sbin/mkfs.ext4')) ctx.skip();
    const image = join(root(), 'data.img');
    execFileSync('truncate', ['-s', '8M', image]);
    execFileSync('mkfs.ext4', ['-q', '-F', image]);
    const dom = await open().defineXML(
      containerXML('images', 'exec sleep 300', {
        devices: `
    <filesystem type='file'><driver type='loop' format='raw'/><source file='${image}'/><target dir='/data'/><readonly/></filesystem>
    <hostdev mode='capabilities' type='misc'><source><char>/dev/kmsg</char></source></hostdev>`,
      }),
    );
    await dom.create();
    try {
      const pid = await initPid(dom);
      const line = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === '/data');
      expect(line).toMatch(/ ro,.* - ext4 \/dev\/loop\d+ /);
      expect(nsenter(pid, ['ls', '/data'])).toContain('lost+found');
      expect(nsenter(pid, ['stat', '-c', '%F %t:%T %a', '/dev/kmsg'])).toBe('character special file 1:b 700\n');
    } finally {
      await dom.destroy();
    }
    expect(leftovers('images')).toEqual([]);
    // The loop device was released with the mount.
    expect(execFileSync('losetup', ['-j', image], { encoding: 'utf8' })).toBe('');
  });

  it('maps users with <idmap>: uid_map as configured, files owned by the mapped root', async () => {
    // The container's root (host uid 200000) mounts its own filesystems: give it a rootfs it owns.
    const owned = buildRootfs({ owner: { uid: 200000, gid: 200000 }, rebootHelper: false });
    const dom = await open().defineXML(
      containerXML('userns', 'exec sleep 300', {
        rootfs: owned.path,
        top: "\n  <idmap>\n    <uid start='0' target='200000' count='65536'/>\n    <gid start='0' target='200000' count='65536'/>\n  </idmap>",
      }),
    );
    await dom.create();
    try {
      const pid = await initPid(dom);
      expect(readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/)).toEqual(['0', '200000', '65536']);
      expect(readFileSync(`/proc/${pid}/gid_map`, 'utf8').trim().split(/\s+/)).toEqual(['0', '200000', '65536']);
      expect(nsInode(pid, 'user')).not.toBe(nsInode('self', 'user'));
      expect(statSync(`/proc/${pid}`).uid).toBe(200000);
    } finally {
      await dom.destroy();
      owned.remove();
    }
    expect(leftovers('userns')).toEqual([]);
  });

  it('shares namespaces of another running domain by name (lxc:namespace)', async () => {
    const conn = open();
    const peer = await conn.defineXML(containerXML('peer', 'exec sleep 300', { top: '<features><privnet/></features>' }));
    await peer.create();
    const guest = await conn.defineXML(
      containerXML('guest', 'exec sleep 300') +
        '',
    );
    void guest;
    const sharing = await conn.defineXML(
      containerXML('sharing', 'exec sleep 300').replace(
        '</domain>',
        "  <lxc:namespace xmlns:lxc='http://libvirt.org/schemas/domain/lxc/1.0'>\n    <lxc:sharenet type='name' value='peer'/>\n    <lxc:shareuts type='name' value='peer'/>\n  </lxc:namespace>\n</domain>",
      ),
    );
    await sharing.create();
    try {
      const [a, b] = [await initPid(peer), await initPid(sharing)];
      expect(nsInode(b, 'net')).toBe(nsInode(a, 'net'));
      expect(nsInode(b, 'uts')).toBe(nsInode(a, 'uts'));
      expect(nsInode(b, 'ipc')).not.toBe(nsInode(a, 'ipc'));
      expect(nsInode(b, 'pid')).not.toBe(nsInode(a, 'pid'));
    } finally {
      await sharing.destroy();
      await peer.destroy();
    }
    expect([...leftovers('peer'), ...leftovers('sharing')]).toEqual([]);
  });

  it('a failed start says why and leaves nothing behind', async () => {
    const xml = containerXML('broken', 'true').replace('<init>/bin/sh</init>', '<init>/sbin/no-such-init</init>');
    writeFileSync(join(root(), 'broken.xml'), xml);
    expect((await cli('define', 'broken.xml')).code).toBe(0);
    const r = await cli('start', 'broken');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "error: Failed to start domain 'broken'\n" +
        "error: internal error: guest failed to start: cannot find init path '/sbin/no-such-init' relative to container root: No such file or directory\n",
    );
    expect((await cli('domstate', '--reason', 'broken')).stdout).toBe('shut off (failed)\n\n');
    expect(leftovers('broken')).toEqual([]);
    // The stored definition is untouched.
    expect((await cli('dumpxml', 'broken')).stdout).toContain('<init>/sbin/no-such-init</init>');
  });

  it('two starts at once: exactly one wins', async () => {
    await open().defineXML(containerXML('race', 'exec sleep 300'));
    const results = await Promise.all([cli('start', 'race'), cli('start', 'race')]);
    try {
      expect(results.map((r) => r.code).sort()).toEqual([0, 1]);
      expect(results.find((r) => r.code === 1)!.stderr).toBe('error: Domain is already active\n');
      expect((await cli('list', '--name')).stdout).toBe('race\n\n');
    } finally {
      await cli('destroy', 'race');
    }
    expect(leftovers('race')).toEqual([]);
  });

  it('reports the truth after the supervisor, the init or the CLI is killed', async () => {
    const dom = await open().defineXML(containerXML('victim', 'exec sleep 300'));
    // Supervisor killed: the domain is shut off (failed), its resources removed.
    await dom.create();
    process.kill((await dom.getID())!, 'SIGKILL');
    await eventually(async () => (await dom.getState()).state === 'shutoff');
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'failed' });
    expect(leftovers('victim')).toEqual([]);
    // Init killed: on_poweroff (destroy) ends the domain as shut down.
    await dom.create();
    process.kill(await initPid(dom), 'SIGKILL');
    await eventually(async () => (await dom.getState()).state === 'shutoff');
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'shutdown' });
    expect(leftovers('victim')).toEqual([]);
    // The CLI killed in the middle of a start: the next command sees a running
    // domain or a shut-off one, never a half state, and destroy cleans up.
    const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'nsvirsh.js'), 'start', 'victim'], {
      env: { ...process.env, NSVIRT_ROOT: root() },
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 150));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await eventually(() => !existsSync(join(root(), 'run/nsvirt/lxc/victim.plan')) || existsSync(join(root(), 'run/nsvirt/lxc/victim.status')));
    const state = (await dom.getState()).state;
    expect(['running', 'shutoff']).toContain(state);
    if (state === 'running') await dom.destroy();
    expect(leftovers('victim')).toEqual([]);
  });

  it('reboot starts a new init under the same ID; shutdown stops a cooperative init', async (ctx) => {
    if (!rootfs.hasRebootHelper) ctx.skip();
    // A pid-namespace init only gets the signals it handles: like a real init, this one
    // powers off on SIGTERM and asks the kernel to restart (reboot(2)) on SIGHUP.
    const dom = await open().defineXML(
      containerXML('cycle', "trap 'exit 0' TERM; trap '/sbin/nsvirt-reboot restart' HUP; while :; do sleep 0.1; done"),
    );
    await dom.create();
    try {
    const id = await dom.getID();
    const firstInit = await initPid(dom);
    await dom.reboot({ mode: ['signal'] });
    // Between the two inits the status reads 'shutoff' with no init: wait for the new one to run.
    await eventually(async () => {
      try {
        const pid = await initPid(dom);
        return pid !== 0 && pid !== firstInit && (await dom.getState()).state === 'running';
      } catch {
        return false;
      }
    });
    expect(await dom.getID()).toBe(id);
    expect((await dom.getState()).state).toBe('running');
    await dom.shutdown({ mode: ['signal'] });
    await eventually(async () => (await dom.getState()).state === 'shutoff');
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'shutdown' });
    } finally {
      if (await dom.isActive()) await dom.destroy();
    }
    expect(leftovers('cycle')).toEqual([]);
  });

  it('nsvirsh: start, list, dominfo, console log, destroy; create runs a transient domain', async () => {
    writeFileSync(join(root(), 'c.xml'), containerXML('clidom', 'echo hello from the console; exec sleep 300'));
    expect(await cli('define', 'c.xml')).toMatchObject({ code: 0 });
    expect(await cli('start', 'clidom')).toEqual({ code: 0, stdout: "Domain 'clidom' started\n\n", stderr: '' });
    const id = (await cli('domid', 'clidom')).stdout.trim();
    expect(Number(id)).toBeGreaterThan(0);
    expect((await cli('list')).stdout).toMatch(new RegExp(` ${id} +clidom +running\n`));
    expect((await cli('dumpxml', 'clidom')).stdout).toMatch(new RegExp(`<domain type='lxc' id='${id}'>`));
    await eventually(() => readFileSync(join(root(), 'var/log/nsvirt/lxc/clidom.log'), 'utf8').includes('hello from the console'));
    // virsh prints the blank line after failed commands too.
    expect(await cli('start', 'clidom')).toEqual({ code: 1, stdout: '\n', stderr: 'error: Domain is already active\n' });
    expect(await cli('destroy', 'clidom')).toEqual({ code: 0, stdout: "Domain 'clidom' destroyed\n\n", stderr: '' });
    expect(await cli('destroy', 'clidom')).toEqual({
      code: 1,
      stdout: '\n',
      stderr: "error: Failed to destroy domain 'clidom'\nerror: Requested operation is not valid: domain is not running\n",
    });
    writeFileSync(join(root(), 't.xml'), containerXML('transient', 'exec sleep 300'));
    expect(await cli('create', 't.xml')).toEqual({ code: 0, stdout: "Domain 'transient' created from t.xml\n\n", stderr: '' });
    expect((await cli('dominfo', 'transient')).stdout).toMatch(/Persistent: +no\n/);
    expect((await cli('destroy', 'transient')).code).toBe(0);
    expect((await cli('domstate', 'transient')).stderr).toBe("error: failed to get domain 'transient'\n");
    expect([...leftovers('clidom'), ...leftovers('transient')]).toEqual([]);
  });
});
