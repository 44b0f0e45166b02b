/** Domain lifecycle commands: start, create, destroy, shutdown, reboot. */
import { VirError } from '../../xml/errors.js';
import type { ShutdownMode } from '../../driver/runtime/lifecycle.js';
import { GROUPS, domainOption, type CommandOptions, type CommandSpec } from '../spec.js';
import type { Session } from '../session.js';
import { runConsole } from './guest.js';

const BY_NAME_OR_UUID = { name: true, uuid: true } as const;

/** virsh's --mode values; the LXC driver implements initctl and signal (flags 0x4 and 0x8). */
const MODE_FLAGS: Readonly<Record<string, number>> = { acpi: 0x1, agent: 0x2, initctl: 0x4, signal: 0x8, paravirt: 0x10 };

function parseModes(opts: CommandOptions, fn: string): ShutdownMode[] {
  const text = opts.value('mode');
  if (text === undefined) return [];
  const modes = text.split(',');
  const unknown = modes.find((m) => !(m in MODE_FLAGS));
  if (unknown !== undefined) {
    throw new VirError('VIR_ERR_INVALID_ARG', `Unknown mode ${unknown} value, expecting 'acpi', 'agent', 'initctl', 'signal' or 'paravirt'`);
  }
  const unsupported = modes.filter((m) => m !== 'initctl' && m !== 'signal').reduce((f, m) => f | MODE_FLAGS[m]!, 0);
  if (unsupported) {
    throw new VirError('VIR_ERR_INVALID_ARG', `unsupported flags (0x${unsupported.toString(16)}) in function ${fn}`);
  }
  return modes as ShutdownMode[];
}

const unsupportedFlag = (flag: number, fn: string): VirError =>
  new VirError('VIR_ERR_INVALID_ARG', `unsupported flags (0x${flag.toString(16)}) in function ${fn}`);

const start: CommandSpec = {
  name: 'start',
  group: GROUPS.domain,
  help: 'start a (previously defined) inactive domain',
  description: 'Start a domain, either from the last managedsave state, or via a fresh boot if no managedsave state is present.',
  options: [
    domainOption('name of the inactive domain'),
    { name: 'console', type: 'bool', help: 'attach to console after creation' },
    { name: 'paused', type: 'bool', help: 'leave the guest paused after creation' },
  ],
  async run(session, opts) {
    const dom = await session.domain(opts, BY_NAME_OR_UUID);
    if (!dom) return false;
    if (await dom.isActive()) {
      session.error('Domain is already active');
      return false;
    }
    let lostRace = false;
    await session.withContext(`Failed to start domain '${dom.name}'`, async () => {
      if (opts.flag('paused')) throw unsupportedFlag(0x1, 'lxcDomainCreateWithFiles');
      try {
        await dom.create();
      } catch (e) {
        // Another start won after the check above: say so as the check would have.
        if (!(e instanceof VirError && e.code === 'VIR_ERR_OPERATION_INVALID' && e.detail === 'domain is already running')) throw e;
        lostRace = true;
      }
    });
    if (lostRace) {
      session.error('Domain is already active');
      return false;
    }
    session.printExtra(`Domain '${dom.name}' started\n`);
    return opts.flag('console') ? runConsole(session, dom, undefined) : true;
  },
};

const create: CommandSpec = {
  name: 'create',
  group: GROUPS.domain,
  help: 'create a domain from an XML file',
  description: 'Create a domain.',
  options: [
    { name: 'file', type: 'data', required: true, help: 'file containing an XML domain description' },
    { name: 'console', type: 'bool', help: 'attach to console after creation' },
    { name: 'paused', type: 'bool', help: 'leave the guest paused after creation' },
    { name: 'validate', type: 'bool', help: 'validate the XML against the schema' },
  ],
  async run(session, opts) {
    const file = opts.required('file');
    const xml = session.readFile(file);
    const dom = await session.withContext(`Failed to create domain from ${file}`, async () => {
      if (opts.flag('paused')) throw unsupportedFlag(0x1, 'lxcDomainCreateXMLWithFiles');
      return session.connected.createXML(xml);
    });
    session.printExtra(`Domain '${dom.name}' created from ${file}\n`);
    return opts.flag('console') ? runConsole(session, dom, undefined) : true;
  },
};

const destroy: CommandSpec = {
  name: 'destroy',
  group: GROUPS.domain,
  help: 'destroy (stop) a domain',
  description: 'Forcefully stop a given domain, but leave its resources intact.',
  options: [domainOption(), { name: 'graceful', type: 'bool', help: 'terminate gracefully' }],
  async run(session, opts) {
    const dom = await session.domain(opts);
    if (!dom) return false;
    const given = opts.required('domain');
    await session.withContext(`Failed to destroy domain '${given}'`, async () => {
      if (opts.flag('graceful')) throw unsupportedFlag(0x1, 'lxcDomainDestroyFlags');
      await dom.destroy();
    });
    session.printExtra(`Domain '${given}' destroyed\n`);
    return true;
  },
};

function stopCommand(action: 'shutdown' | 'reboot'): CommandSpec {
  const fn = action === 'shutdown' ? 'lxcDomainShutdownFlags' : 'lxcDomainReboot';
  return {
    name: action,
    group: GROUPS.domain,
    help: action === 'shutdown' ? 'gracefully shutdown a domain' : 'reboot a domain',
    description: action === 'shutdown' ? 'Run shutdown in the target domain.' : 'Run a reboot command in the target domain.',
    options: [domainOption(), { name: 'mode', type: 'string', help: 'shutdown mode: acpi|agent|initctl|signal|paravirt' }],
    async run(session: Session, opts: CommandOptions) {
      const dom = await session.domain(opts);
      if (!dom) return false;
      const given = opts.required('domain');
      await session.withContext(`Failed to ${action} domain '${given}'`, async () => {
        const mode = parseModes(opts, fn);
        await (action === 'shutdown' ? dom.shutdown({ mode }) : dom.reboot({ mode }));
      });
      session.printExtra(`Domain '${given}' is being ${action === 'shutdown' ? 'shutdown' : 'rebooted'}\n`);
      return true;
    },
  };
}

function freezerCommand(action: 'suspend' | 'resume'): CommandSpec {
  return {
    name: action,
    group: GROUPS.domain,
    help: action === 'suspend' ? 'suspend a domain' : 'resume a domain',
    description: action === 'suspend' ? 'Suspend a running domain.' : 'Resume a previously suspended domain.',
    options: [domainOption()],
    async run(session: Session, opts: CommandOptions) {
      const dom = await session.domain(opts);
      if (!dom) return false;
      const given = opts.required('domain');
      await session.withContext(`Failed to ${action} domain '${given}'`, () => (action === 'suspend' ? dom.suspend() : dom.resume()));
      session.printExtra(`Domain '${given}' ${action === 'suspend' ? 'suspended' : 'resumed'}\n`);
      return true;
    },
  };
}

export const lifecycleCommands: readonly CommandSpec[] = [
  create,
  destroy,
  stopCommand('reboot'),
  stopCommand('shutdown'),
  start,
  freezerCommand('suspend'),
  freezerCommand('resume'),
];
