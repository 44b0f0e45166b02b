/**
 * Entering a running container (native/enter → build/Release/nsvirt_enter,
 * run by src/driver/runtime/enter.ts): the command sees the container's
 * hostname, processes, namespaces and cgroups, and its exit status comes
 * back as virsh's child reports it. Real containers from hand-written
 * plans; needs root; removes what it made.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTER_EXIT, enterHelperPath, runInContainer, type CommandExit } from '../src/driver/runtime/enter.js';
import { cgroupMembers, isRoot, pidsIn, processesMentioning, TestContainer, USERNS_BASE } from './support/container.js';

const NAMESPACES = ['user', 'ipc', 'uts', 'net', 'pid', 'mnt', 'cgroup'];

async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Run extends CommandExit {
  out: string;
  err: string;
}

describe.skipIf(!isRoot())('nsvirt_enter (root)', () => {
  let scratch: string;
  let runs = 0;

  /** Run argv inside the container, capturing its output through files. */
  async function run(container: TestContainer, argv: string[]): Promise<Run> {
    const outFile = join(scratch, `out-${++runs}`);
    const errFile = join(scratch, `err-${runs}`);
    const out = openSync(outFile, 'w');
    const err = openSync(errFile, 'w');
    try {
      const exit = await runInContainer(container.initPid, argv, { stdio: ['ignore', out, err] });
      return { ...exit, out: readFileSync(outFile, 'utf8'), err: readFileSync(errFile, 'utf8') };
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }

  beforeAll(() => {
    if (!existsSync(enterHelperPath())) throw new Error(`${enterHelperPath()} missing: build it with 'npx node-gyp rebuild'`);
    scratch = mkdtempSync(join(tmpdir(), 'nsvirt-enter-'));
  });
  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
    expect(existsSync(scratch)).toBe(false);
  });

  describe('a container without a user namespace', () => {
    const container = new TestContainer();
    beforeAll(async () => {
      await container.start({ init: ['/bin/sh', '-c', 'exec sleep 1000'] });
    });
    afterAll(async () => {
      expect(await container.dispose()).toEqual([]);
      expect(processesMentioning(container.name)).toEqual([]);
    });

    it('sees the container hostname, and only the container processes, init being 1', async () => {
      const r = await run(container, ['/bin/sh', '-c', 'hostname; echo ---; ls /proc']);
      expect(r).toMatchObject({ code: 0, signal: null, err: '' });
      const [hostname, listing] = r.out.split('---\n');
      expect(hostname!.trim()).toBe(container.name);
      // init, the shell and ls: nothing of the host
      const pids = pidsIn(listing!);
      expect(pids).toContain(1);
      expect(pids.length).toBe(3);
    });

    it('is in every namespace of the container (the user namespace is the host one here)', async () => {
      const r = await run(container, ['/bin/sh', '-c', NAMESPACES.map((n) => `readlink /proc/self/ns/${n}`).join('; ')]);
      expect(r.code).toBe(0);
      expect(r.out.trim().split('\n')).toEqual(NAMESPACES.map((n) => readlinkSync(`/proc/${container.initPid}/ns/${n}`)));
      expect(readlinkSync(`/proc/${container.initPid}/ns/user`)).toBe(readlinkSync('/proc/self/ns/user'));
    });

    it('is in the container cgroups, and its cgroup namespace is the container one', async () => {
      expect(container.cgroups.length).toBeGreaterThan(0);
      const running = run(container, ['/bin/sh', '-c', 'cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup; exec sleep 1']);
      // Seen from the host: the helper and the command it forked sit with init in every cgroup of the container.
      await until('the command in the cgroups', () => container.cgroups.every((dir) => cgroupMembers(dir).length === 3));
      for (const dir of container.cgroups) expect(cgroupMembers(dir)).toContain(container.initPid);
      const r = await running;
      expect(r.code).toBe(0);
      // Seen from inside: the same cgroups as init, the root of its cgroup namespace.
      const [self, init] = r.out.split('---\n');
      expect(self).toBe(init);
      expect(self).toContain('0::/\n');
      for (const dir of container.cgroups) expect(cgroupMembers(dir)).toEqual([container.initPid]);
    });

    it('runs in / of the container', async () => {
      expect(await run(container, ['/bin/pwd'])).toMatchObject({ code: 0, out: '/\n' });
      // A relative program is found from there, as virsh's execv() does.
      expect(await run(container, ['bin/echo', 'relative'])).toMatchObject({ code: 0, out: 'relative\n' });
    });

    it('propagates the exit status: 0, 3, and 127 for a command that does not exist', async () => {
      expect(await run(container, ['/bin/true'])).toMatchObject({ code: 0, signal: null });
      expect(await run(container, ['/bin/sh', '-c', 'exit 3'])).toMatchObject({ code: 3, signal: null });
      const missing = await run(container, ['/nonexistent/cmd']);
      expect(missing).toMatchObject({ code: ENTER_EXIT.notFound, signal: null });
      expect(missing.err).toBe("nsvirt_enter: cannot execute '/nonexistent/cmd': No such file or directory\n");
      expect(await run(container, ['/etc/hostname'])).toMatchObject({ code: ENTER_EXIT.cannotInvoke });
    });

    it('dies of the signal that killed the command', async () => {
      expect(await run(container, ['/bin/sh', '-c', 'kill -TERM $$'])).toMatchObject({ code: null, signal: 'SIGTERM' });
      expect(await run(container, ['/bin/sh', '-c', 'kill -KILL $$'])).toMatchObject({ code: null, signal: 'SIGKILL' });
    });

    it('fails with 125 when the container is gone, naming what failed', async () => {
      const r = await runInContainer(0x3ffffffe, ['/bin/true'], { stdio: 'ignore' });
      expect(r).toMatchObject({ code: ENTER_EXIT.setupFailed });
      await expect(runInContainer(container.initPid, [])).rejects.toThrow('no command to run');
    });
  });

  describe('a container with a user namespace', () => {
    const container = new TestContainer();
    beforeAll(async () => {
      await container.start({ init: ['/bin/sh', '-c', 'exec sleep 1000'], userns: true });
    });
    afterAll(async () => {
      expect(await container.dispose()).toEqual([]);
      expect(processesMentioning(container.name)).toEqual([]);
    });

    it('joins it and becomes its root', async () => {
      const r = await run(container, ['/bin/sh', '-c', `id -u; id -g; cat /proc/self/uid_map; ${NAMESPACES.map((n) => `readlink /proc/self/ns/${n}`).join('; ')}`]);
      expect(r).toMatchObject({ code: 0, err: '' });
      const [uid, gid, uidMap, ...links] = r.out.trim().split('\n');
      expect([uid, gid]).toEqual(['0', '0']);
      expect(uidMap!.trim().split(/\s+/)).toEqual(['0', String(USERNS_BASE), '65536']);
      expect(links).toEqual(NAMESPACES.map((n) => readlinkSync(`/proc/${container.initPid}/ns/${n}`)));
      expect(links[0]).not.toBe(readlinkSync('/proc/self/ns/user'));
    });

    it('propagates the exit status', async () => {
      expect(await run(container, ['/bin/sh', '-c', 'exit 3'])).toMatchObject({ code: 3 });
    });
  });
});
