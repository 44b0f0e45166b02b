/** Reaching into a running domain: console, lxc-enter-namespace, send-process-signal. */
import { constants } from 'node:os';
import { internalError } from '../../xml/errors.js';
import type { Domain } from '../../driver/connection.js';
import type { ConsoleOptions } from '../../driver/runtime/console.js';
import type { CommandExit } from '../../driver/runtime/enter.js';
import { ESCAPE_TEXT, relayConsole } from '../console-relay.js';
import { signalNumber } from '../signals.js';
import { GROUPS, domainOption, type CommandSpec } from '../spec.js';
import type { Session } from '../session.js';

/**
 * virsh's cmdRunConsole, also for `start --console` and `create --console`:
 * the checks, the banner, then this terminal relayed to the console until ^].
 */
export async function runConsole(session: Session, dom: Domain, devname: string | undefined, opts: ConsoleOptions = {}): Promise<boolean> {
  if ((await dom.getState()).state === 'shutoff') {
    session.error('The domain is not running');
    return false;
  }
  if (!process.stdin.isTTY) {
    session.error('Cannot run interactive console without a controlling TTY');
    return false;
  }
  session.printExtra(`Connected to domain '${dom.name}'\n`);
  session.printExtra(`Escape character is ${ESCAPE_TEXT}\n`);
  const stream = await dom.openConsole(devname, opts);
  await relayConsole(stream, { input: process.stdin, output: process.stdout });
  return true;
}

const consoleCommand: CommandSpec = {
  name: 'console',
  group: GROUPS.domain,
  help: 'connect to the guest console',
  description: 'Connect the virtual serial console for the guest',
  options: [
    domainOption(),
    { name: 'devname', type: 'string', help: 'character device name' },
    { name: 'force', type: 'bool', help: 'force console connection (disconnect already connected sessions)' },
    // The supervisor never lets two sessions share a console, so handling is always safe.
    { name: 'safe', type: 'bool', help: 'only connect if safe console handling is supported' },
  ],
  async run(session, opts) {
    const dom = await session.domain(opts);
    if (!dom) return false;
    return runConsole(session, dom, opts.value('devname'), { force: opts.flag('force') });
  },
};

/**
 * While a command in the container owns the terminal, ^C and ^\ are meant
 * for it (it gets them too): nsvirsh waits, as virsh does.
 */
async function ignoringInterrupts<T>(work: () => Promise<T>): Promise<T> {
  const ignore = (): void => {};
  process.on('SIGINT', ignore);
  process.on('SIGQUIT', ignore);
  try {
    return await work();
  } finally {
    process.removeListener('SIGINT', ignore);
    process.removeListener('SIGQUIT', ignore);
  }
}

/** virProcessTranslateStatus. */
const statusText = (exit: CommandExit): string =>
  exit.signal !== null ? `fatal signal ${constants.signals[exit.signal]}` : `exit status ${exit.code ?? 0}`;

const lxcEnterNamespace: CommandSpec = {
  name: 'lxc-enter-namespace',
  group: GROUPS.domain,
  help: 'LXC Guest Enter Namespace',
  description: 'Run an arbitrary command in a lxc guest namespace; use at your own risk',
  options: [
    domainOption(),
    // nsvirt has no security driver: there is no label to change.
    { name: 'noseclabel', type: 'bool', help: 'Do not change process security label' },
    { name: 'cmd', type: 'argv', required: true, help: 'command to run' },
  ],
  async run(session, opts) {
    const dom = await session.domain(opts);
    if (!dom) return false;
    const exit = await ignoringInterrupts(() => dom.lxcEnterNamespace(opts.words('cmd')));
    if (exit.code === 0) return true;
    throw internalError(`Child process (${exit.pid}) unexpected ${statusText(exit)}`);
  },
};

const LONG_LONG_MIN = -(2n ** 63n);
const LONG_LONG_MAX = 2n ** 63n - 1n;

/** virStrToLong_ll on the whole string. */
function parseLongLong(text: string): number | undefined {
  if (!/^\s*[+-]?\d+$/.test(text)) return undefined;
  const n = BigInt(text.trim());
  return n >= LONG_LONG_MIN && n <= LONG_LONG_MAX ? Number(n) : undefined;
}

const sendProcessSignal: CommandSpec = {
  name: 'send-process-signal',
  group: GROUPS.domain,
  help: 'Send signals to processes',
  description: 'Send signals to processes in the guest',
  options: [
    domainOption(),
    { name: 'pid', type: 'data', required: true, help: 'the process ID' },
    { name: 'signame', type: 'data', required: true, help: 'the signal number or name' },
  ],
  async run(session, opts) {
    const dom = await session.domain(opts);
    if (!dom) return false;
    const pidText = opts.required('pid');
    const pid = parseLongLong(pidText);
    if (pid === undefined) {
      session.error(`Numeric value '${pidText}' for <pid> option is malformed or out of range`);
      return false;
    }
    const signame = opts.required('signame');
    const signum = signalNumber(signame);
    if (signum === undefined) {
      session.error(`malformed signal name: ${signame}`);
      return false;
    }
    await dom.sendProcessSignal(pid, signum);
    return true;
  },
};

export const guestCommands: readonly CommandSpec[] = [consoleCommand, lxcEnterNamespace, sendProcessSignal];
