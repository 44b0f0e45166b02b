/**
 * nsvirsh commands that reach into a running domain — console,
 * lxc-enter-namespace, send-process-signal — against virsh's output and
 * error formats (reference §4, §5). Refusals that need no running domain
 * run in-process; the rest start a real domain with `nsvirsh start`
 * (root) and run nsvirsh as a program where a terminal or inherited stdio
 * matters (the console under script(1), which gives it a pty).
 */
import { sleep } from './support/wait.js';
import { runNsvirsh } from './support/cli.js';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../src/driver/connection.js';
import { driverPaths } from '../src/driver/paths.js';
import { packageRoot } from '../src/package.js';
import { domainXML, useTempRoot } from './support/tmproot.js';
import { processesMentioning, runnableDomainXML } from './support/runnable.js';

const IS_ROOT = process.getuid?.() === 0;
const VITE_NODE = join(packageRoot(), 'node_modules/.bin/vite-node');
const NSVIRSH_MAIN = join(packageRoot(), 'test/support/nsvirsh-main.ts');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}


async function until(what: string, probe: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function cli(root: () => string): (args: string[]) => Promise<Result> {
  return (args) => runNsvirsh(args, { env: { NSVIRT_ROOT: root() }, cwd: root() });
}

const failed = (stderr: string, stdout = '\n'): Result => ({ code: 1, stdout, stderr });

describe('refusals that need no running domain', () => {
  const { root } = useTempRoot('nsvirt-cli-runtime-');
  const nsvirsh = cli(root);
  const define = async (): Promise<void> => {
    await connect(undefined, { root: root() }).defineXML(domainXML('web'));
  };

  it('help describes the commands as virsh does', async () => {
    const enter = (await nsvirsh(['help', 'lxc-enter-namespace'])).stdout;
    expect(enter).toContain('  SYNOPSIS\n    lxc-enter-namespace <domain> [--noseclabel] {[--cmd] <string>}...\n');
    expect(enter).toContain('    [--cmd] <string>  command to run\n');
    expect((await nsvirsh(['help', 'console'])).stdout).toContain(
      '  SYNOPSIS\n    console <domain> [--devname <string>] [--force] [--safe]\n',
    );
    expect((await nsvirsh(['help', 'send-process-signal'])).stdout).toContain(
      '  SYNOPSIS\n    send-process-signal <domain> <pid> <signame>\n',
    );
  });

  it('console: a shut off domain is not running', async () => {
    await define();
    expect(await nsvirsh(['console', 'web'])).toEqual(failed('error: The domain is not running\n'));
    expect(await nsvirsh(['console', 'nope'])).toEqual(failed("error: failed to get domain 'nope'\n"));
  });

  it('lxc-enter-namespace: the command is required; a shut off domain cannot be entered', async () => {
    await define();
    expect(await nsvirsh(['lxc-enter-namespace', 'web'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: command 'lxc-enter-namespace' requires <cmd> option\n",
    });
    expect(await nsvirsh(['lxc-enter-namespace', 'web', '/bin/ls', '--color'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: command 'lxc-enter-namespace' doesn't support option --color\n",
    });
    for (const args of [['web', '--', '/bin/ls', '--color'], ['web', '--cmd', '/bin/ls', '--noseclabel', '--cmd', '-l']]) {
      expect(await nsvirsh(['lxc-enter-namespace', ...args])).toEqual(failed('error: Requested operation is not valid: domain is not running\n'));
    }
  });

  it('send-process-signal: argument errors first, then the driver checks in libvirt order', async () => {
    await define();
    expect(await nsvirsh(['send-process-signal', 'web', 'one', 'term'])).toEqual(
      failed("error: Numeric value 'one' for <pid> option is malformed or out of range\n"),
    );
    for (const name of ['bogus', '-1', 'sig', '99999999999']) {
      expect(await nsvirsh(['send-process-signal', 'web', '1', name])).toEqual(failed(`error: malformed signal name: ${name}\n`));
    }
    expect(await nsvirsh(['send-process-signal', 'web', '0', 'term'])).toEqual(
      failed('error: invalid argument: pid_value in virDomainSendProcessSignal must not be zero\n'),
    );
    expect(await nsvirsh(['send-process-signal', 'web', '1', '65'])).toEqual(failed('error: invalid argument: signum value 65 is out of range\n'));
    for (const name of ['SIGTERM', 'sigterm', 'term', 'TERM', '15', 'rt32', 'nop']) {
      expect(await nsvirsh(['send-process-signal', 'web', '1', name])).toEqual(failed('error: Requested operation is not valid: domain is not running\n'));
    }
    expect(await nsvirsh(['send-process-signal', 'web', '2'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: command 'send-process-signal' requires <signame> option\n",
    });
  });
});

/** nsvirsh run as a program from the sources, with pipes. */
function nsvirshProgram(root: string, args: string[]): Result {
  const r = spawnSync(VITE_NODE, [NSVIRSH_MAIN, '--', ...args], { env: { ...process.env, NSVIRT_ROOT: root }, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** nsvirsh console in a pty of its own (script(1)); the terminal settings are printed before and after. */
class ConsoleSession {
  readonly proc: ChildProcessWithoutNullStreams;
  output = '';
  exitCode: number | null | undefined;

  constructor(root: string, args: string[]) {
    const command = `stty -g; ${VITE_NODE} ${NSVIRSH_MAIN} -- ${args.join(' ')}; echo "EXIT=$?"; stty -g`;
    this.proc = spawn('script', ['-q', '-f', '-e', '-E', 'never', '-c', command, '/dev/null'], {
      env: { ...process.env, NSVIRT_ROOT: root },
    });
    this.proc.stdout.on('data', (d: Buffer) => (this.output += d.toString('utf8')));
    this.proc.on('exit', (code) => (this.exitCode = code));
  }

  type(bytes: string): void {
    this.proc.stdin.write(bytes);
  }

  async ended(): Promise<void> {
    await until('the console session to end', () => this.exitCode !== undefined);
  }

  /** The two `stty -g` lines: the terminal before nsvirsh and after it. */
  terminalSettings(): string[] {
    return this.output.split(/\r?\n/).filter((l) => /^[0-9a-f]+(:[0-9a-f]+)+$/.test(l));
  }
}

describe.skipIf(!IS_ROOT)('a running domain (root)', () => {
  const { root } = useTempRoot('nsvirt-cli-runtime-');
  const nsvirsh = cli(root);
  const name = `h9-cli-${process.pid}`;
  // Echoes console lines, reports SIGUSR1.
  const INIT = `trap 'echo got-usr1' USR1; while :; do if read -r line; then echo "got:$line"; fi; done`;

  // Each test has its own root: it starts the domain and stops it again.
  let running = false;
  const startDomain = async (): Promise<void> => {
    writeFileSync(join(root(), 'dom.xml'), runnableDomainXML(name, INIT));
    expect((await nsvirsh(['define', 'dom.xml'])).code).toBe(0);
    expect(await nsvirsh(['start', name])).toEqual({ code: 0, stdout: `Domain '${name}' started\n\n`, stderr: '' });
    running = true;
  };
  const stopDomain = async (): Promise<void> => {
    if (!running) return;
    running = false;
    expect(await nsvirsh(['destroy', name])).toEqual({ code: 0, stdout: `Domain '${name}' destroyed\n\n`, stderr: '' });
    expect(processesMentioning(root())).toEqual([]);
  };
  const consoleLog = (): string => readFileSync(driverPaths({ root: root() }).logFile(name), 'utf8');
  const domain = () => connect(undefined, { root: root() }).lookupByName(name);

  afterAll(() => {
    expect(processesMentioning(name)).toEqual([]);
  });

  it('send-process-signal delivers to init only, by number or name', async () => {
    await startDomain();
    try {
      expect(await nsvirsh(['send-process-signal', name, '2', 'term'])).toEqual(
        failed('error: argument unsupported: Only the init process may be killed\n'),
      );
      expect(await nsvirsh(['send-process-signal', name, '1', 'nop'])).toEqual({ code: 0, stdout: '\n', stderr: '' });
      for (const signame of ['SIGUSR1', 'usr1', '10']) {
        const before = consoleLog().split('got-usr1').length;
        expect(await nsvirsh(['send-process-signal', name, '1', signame])).toEqual({ code: 0, stdout: '\n', stderr: '' });
        await until(`init trapping ${signame}`, () => consoleLog().split('got-usr1').length > before);
      }
      // The library call behind it.
      const dom = await domain();
      await expect(dom.sendProcessSignal(1, 10)).resolves.toBeUndefined();
      await expect(dom.sendProcessSignal(7, 10)).rejects.toThrow('argument unsupported: Only the init process may be killed');
    } finally {
      await stopDomain();
    }
  });

  it('lxc-enter-namespace runs the command inside, and reports its failure as virsh does', async () => {
    await startDomain();
    try {
      expect(nsvirshProgram(root(), ['lxc-enter-namespace', name, '--', '/bin/sh', '-c', 'hostname'])).toEqual({
        code: 0,
        stdout: `${name}\n\n`,
        stderr: '',
      });
      expect(nsvirshProgram(root(), ['-q', 'lxc-enter-namespace', name, '--noseclabel', '/bin/true'])).toEqual({ code: 0, stdout: '', stderr: '' });

      const three = nsvirshProgram(root(), ['lxc-enter-namespace', name, '--', '/bin/sh', '-c', 'exit 3']);
      expect(three).toMatchObject({ code: 1, stdout: '\n' });
      expect(three.stderr).toMatch(/^error: internal error: Child process \(\d+\) unexpected exit status 3\n$/);

      // No PATH search, as virsh: a bare name is looked up in the container's /.
      const relative = nsvirshProgram(root(), ['lxc-enter-namespace', name, 'ls']);
      expect(relative).toMatchObject({ code: 1, stdout: '\n' });
      expect(relative.stderr).toMatch(
        /^nsvirt_enter: cannot execute 'ls': No such file or directory\nerror: internal error: Child process \(\d+\) unexpected exit status 127\n$/,
      );

      const killed = nsvirshProgram(root(), ['lxc-enter-namespace', name, '--', '/bin/sh', '-c', 'kill -KILL $$']);
      expect(killed.stderr).toMatch(/^error: internal error: Child process \(\d+\) unexpected fatal signal 9\n$/);

      // The library call behind it: the exit comes back instead of an error.
      const dom = await domain();
      expect(await dom.lxcEnterNamespace(['/bin/sh', '-c', 'exit 4'], { stdio: 'ignore' })).toMatchObject({ code: 4, signal: null });
    } finally {
      await stopDomain();
    }
  });

  it('console relays a terminal in raw mode, detaches on ^] and restores the terminal', async () => {
    await startDomain();
    try {
      const session = new ConsoleSession(root(), ['console', name]);
      try {
        await until('the banner', () => session.output.includes('Escape character is ^] (Ctrl + ])\r\n'));
        expect(session.output).toContain(`Connected to domain '${name}'\r\nEscape character is ^] (Ctrl + ])\r\n`);
        session.type('ping\n');
        await until('the echo of init', () => session.output.includes('got:ping'));

        // One session at a time: the library is refused while it is attached, unless it forces.
        const dom = await domain();
        await expect(dom.openConsole()).rejects.toThrow('operation failed: Active console session exists for this domain');
        await expect(dom.openConsole('console1')).rejects.toThrow("internal error: cannot find console device 'console1'");

        session.type('\x1d');
        await session.ended();
        expect(session.output).toContain('EXIT=0');
        const [before, after] = session.terminalSettings();
        expect(before).toBeDefined();
        expect(after).toBe(before);
      } finally {
        session.proc.kill();
      }
    } finally {
      await stopDomain();
    }
  });

  it('console --force takes over a session; the console ends when the domain does', async () => {
    await startDomain();
    let stream: Duplex | undefined;
    const session = new ConsoleSession(root(), ['console', name, '--devname', 'console0', '--safe']);
    try {
      await until('the banner', () => session.output.includes('Escape character is'));
      const dom = await domain();
      stream = await dom.openConsole('console0', { force: true });
      await session.ended(); // the forced-out nsvirsh leaves cleanly
      expect(session.output).toContain('EXIT=0');
      const [before, after] = session.terminalSettings();
      expect(after).toBe(before);

      let echoed = '';
      stream.on('data', (d: Buffer) => (echoed += d.toString('utf8')));
      let closed = false;
      stream.on('close', () => (closed = true));
      stream.write('from-the-library\n');
      await until('the echo through the library stream', () => echoed.includes('got:from-the-library'));
      await stopDomain();
      await until('the console stream to end with the domain', () => closed);
    } finally {
      session.proc.kill();
      stream?.destroy();
      await stopDomain();
    }
  });

  it('console needs a terminal', async ({ skip }) => {
    if (process.stdin.isTTY) skip('the test runner has a terminal on stdin');
    await startDomain();
    try {
      expect(await nsvirsh(['console', name])).toEqual(failed('error: Cannot run interactive console without a controlling TTY\n'));
    } finally {
      await stopDomain();
    }
  });
});
