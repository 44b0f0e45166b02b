/**
 * The control-socket client (src/driver/runtime/control.ts) against a real
 * supervisor running a hand-written plan: requests, refusals, console
 * relays (both directions, one session at a time, forced takeover),
 * signals to init and status events. Needs root; removes what it made.
 */
import { sleep } from './support/wait.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirError } from '../src/xml/errors.js';
import {
  controlRequest,
  openConsoleStream,
  SupervisorError,
  watchEvents,
  type SupervisorEvent,
} from '../src/driver/runtime/control.js';
import { isRoot, TestContainer } from './support/container.js';


/** Everything a stream delivers, as text, and whether it has ended. */
function collect(stream: Duplex): { text: () => string; ended: () => boolean } {
  let text = '';
  let ended = false;
  stream.on('data', (d: Buffer) => (text += d.toString('utf8')));
  stream.on('close', () => (ended = true));
  stream.on('error', () => (ended = true));
  return { text: () => text, ended: () => ended };
}

async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('control client without a supervisor', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsvirt-control-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    expect(existsSync(dir)).toBe(false);
  });

  it('a missing socket means the domain is not running', async () => {
    const e = await controlRequest(join(dir, 'none.sock'), 'status').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(VirError);
    expect((e as VirError).message).toBe('Requested operation is not valid: domain is not running');
  });

  it('so does a socket nobody listens on any more', async () => {
    const stale = join(dir, 'stale.sock');
    // A process that exits without closing its server leaves the socket file behind.
    const made = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.exit(0))`]);
    expect(made.status).toBe(0);
    expect(existsSync(stale)).toBe(true);
    await expect(openConsoleStream(stale, 0, false)).rejects.toThrow('Requested operation is not valid: domain is not running');
  });

  it('refuses requests the protocol cannot carry', async () => {
    await expect(controlRequest(join(dir, 'x.sock'), 'status\nsignal 9')).rejects.toThrow('invalid control request');
  });
});

describe.skipIf(!isRoot())('control client against a running supervisor (root)', () => {
  const container = new TestContainer();
  // init: echoes every console line back, and says so when it gets SIGUSR1.
  const INIT = `trap 'echo got-usr1' USR1; echo init-ready; while :; do if read -r line; then echo "got:$line"; fi; done`;

  beforeAll(async () => {
    await container.start({ init: ['/bin/sh', '-c', INIT], consoles: 2 });
    await until('init output in the log', () => container.log().includes('init-ready'));
  });
  afterAll(async () => {
    expect(await container.dispose()).toEqual([]);
  });

  it('answers status with the state and init pid', async () => {
    expect(await controlRequest(container.socket, 'status')).toEqual(['running', String(container.initPid)]);
  });

  it('turns an error reply into a SupervisorError with the errno', async () => {
    const e = await controlRequest(container.socket, 'frobnicate').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SupervisorError);
    expect(e).toMatchObject({ errno: 22, reason: 'unknown command', request: 'frobnicate' });
    expect((e as Error).message).toBe('operation failed: unknown command');
    await expect(openConsoleStream(container.socket, 7, false)).rejects.toMatchObject({ errno: 2, reason: 'no such console' });
  });

  it('relays console bytes both ways: what is written reaches init, its output comes back', async () => {
    const stream = await openConsoleStream(container.socket, 0, false);
    const got = collect(stream);
    stream.write('hello console\n');
    await until('the echo of init', () => got.text().includes('got:hello console'));
    stream.write(Buffer.from([0x65, 0x75, 0x72, 0x6f, 0x20, 0xe2, 0x82, 0xac, 0x0a])); // "euro €\n"
    await until('the echo of bytes beyond ASCII', () => got.text().includes('got:euro €'));
    stream.end();
    await until('the relay closed', got.ended);
  });

  it('lets one session in at a time; force takes the console over', async () => {
    const first = await openConsoleStream(container.socket, 0, false);
    const firstGot = collect(first);
    first.write('first\n');
    await until('the first session works', () => firstGot.text().includes('got:first'));

    await expect(openConsoleStream(container.socket, 0, false)).rejects.toMatchObject({ errno: 16 });

    const second = await openConsoleStream(container.socket, 0, true);
    const secondGot = collect(second);
    await until('the first session dropped', firstGot.ended);
    second.write('second\n');
    await until('the second session works', () => secondGot.text().includes('got:second'));
    expect(firstGot.text()).not.toContain('got:second');
    second.destroy();
    await until('the second relay closed', secondGot.ended);
  });

  it('attaches to another console by index', async () => {
    const other = await openConsoleStream(container.socket, 1, false);
    const got = collect(other);
    // Nobody reads console 1; attaching must not disturb console 0.
    const main = await openConsoleStream(container.socket, 0, false);
    const mainGot = collect(main);
    main.write('still here\n');
    await until('console 0 echo', () => mainGot.text().includes('got:still here'));
    expect(got.text()).toBe('');
    other.destroy();
    main.destroy();
    await until('both relays closed', () => got.ended() && mainGot.ended());
  });

  it('delivers signals to init', async () => {
    const stream = await openConsoleStream(container.socket, 0, false);
    const got = collect(stream);
    expect(await controlRequest(container.socket, 'signal 10')).toEqual([]);
    await until('the USR1 trap output', () => got.text().includes('got-usr1'));
    await expect(controlRequest(container.socket, 'signal 99')).rejects.toMatchObject({ errno: 22 });
    stream.destroy();
    await until('the relay closed', got.ended);
  });

  it('watches status changes until the supervisor exits (this ends the container)', async () => {
    const events: SupervisorEvent[] = [];
    const watch = await watchEvents(container.socket, (e) => events.push(e));
    expect(await controlRequest(container.socket, 'signal 9')).toEqual([]);
    await watch.closed;
    expect(events).toContainEqual({ state: 'shutoff', reason: 'shutdown', initPid: 0, exitStatus: 9 });
    await container.waitExit();
    expect(container.leftovers()).toEqual([]);
    await expect(controlRequest(container.socket, 'status')).rejects.toThrow('domain is not running');
  });
});
