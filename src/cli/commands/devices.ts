/**
 * Device hot-plug commands: attach-device, detach-device, attach-interface,
 * detach-interface — virsh's options, flag rules and error lines
 * (tools/virsh-domain.c).
 */
import type { Domain } from '../../driver/connection.js';
import { InterfaceRequestError, interfaceXML, type InterfaceSpec } from '../../driver/interfacexml.js';
import type { AffectOptions } from '../../driver/runtime/impact.js';
import { GROUPS, domainOption, type CommandOptions, type CommandSpec, type OptionSpec } from '../spec.js';
import type { Session } from '../session.js';
import { CONFIG, CURRENT, LIVE, PERSISTENT, exclusiveOptionsOk } from '../exclusive.js';

const AFFECT_OPTIONS: readonly OptionSpec[] = [PERSISTENT, CONFIG, LIVE, CURRENT];

/** VSH_EXCLUSIVE_OPTIONS_VAR for --persistent/--current, --current/--live, --current/--config. */
const AFFECT_EXCLUSIONS = [['persistent', 'current'], ['current', 'live'], ['current', 'config']] as const;

/**
 * The flags virsh passes. No option at all calls virDomainAttachDevice /
 * DetachDevice, which act on the running domain; --current asks for the
 * current one; --persistent is --config, plus --live when the domain runs.
 */
async function affectedDefinitions(dom: Domain, opts: CommandOptions): Promise<AffectOptions> {
  const config = opts.flag('config') || opts.flag('persistent');
  const live = opts.flag('live') || (opts.flag('persistent') && (await dom.isActive()));
  if (!live && !config && !opts.flag('current')) return { live: true };
  return { live, config };
}

function deviceCommand(action: 'attach' | 'detach'): CommandSpec {
  const Action = action === 'attach' ? 'Attach' : 'Detach';
  return {
    name: `${action}-device`,
    group: GROUPS.domain,
    help: `${action} device from an XML file`,
    description: `${Action} device from an XML <file>.`,
    options: [domainOption(), { name: 'file', type: 'data', required: true, help: 'XML file' }, ...AFFECT_OPTIONS],
    async run(session: Session, opts: CommandOptions) {
      if (!exclusiveOptionsOk(session, opts, AFFECT_EXCLUSIONS)) return false;
      const dom = await session.domain(opts);
      if (!dom) return false;
      const file = opts.required('file');
      const affect = await affectedDefinitions(dom, opts);
      const xml = session.readFile(file);
      await session.withContext(`Failed to ${action} device from ${file}`, () =>
        action === 'attach' ? dom.attachDevice(xml, affect) : dom.detachDevice(xml, affect),
      );
      session.printExtra(`Device ${action}ed successfully\n`);
      return true;
    },
  };
}

/** vshCommandOptInt for --mtu: undefined when absent, null after the error. */
function mtuOption(session: Session, opts: CommandOptions): number | undefined | null {
  const text = opts.value('mtu');
  if (text === undefined) return undefined;
  const mtu = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(mtu) || mtu > 0x7fffffff) {
    session.error(`Numeric value '${text}' for <mtu> option is malformed or out of range`);
    return null;
  }
  return mtu;
}

/** Print a refusal virsh makes itself: on its own line, before the command's failure line. */
function refused(session: Session, e: unknown, failure?: string): false {
  if (!(e instanceof InterfaceRequestError)) throw e;
  session.error(e.message);
  if (failure !== undefined) session.error(failure);
  return false;
}

const attachInterface: CommandSpec = {
  name: 'attach-interface',
  group: GROUPS.domain,
  help: 'attach network interface',
  description: 'Attach new network interface.',
  options: [
    domainOption(),
    { name: 'type', type: 'data', required: true, help: 'network interface type' },
    { name: 'source', type: 'data', required: true, help: 'source of network interface' },
    { name: 'target', type: 'string', help: 'target network name' },
    { name: 'mac', type: 'string', help: 'MAC address' },
    { name: 'model', type: 'string', help: 'model type' },
    { name: 'mtu', type: 'string', help: 'MTU of the interface' },
    { name: 'source-mode', type: 'string', help: 'mode attribute of <source/> element' },
    ...AFFECT_OPTIONS,
    { name: 'print-xml', type: 'bool', help: 'print XML document rather than attach the interface' },
  ],
  async run(session, opts) {
    if (!exclusiveOptionsOk(session, opts, AFFECT_EXCLUSIONS)) return false;
    const mtu = mtuOption(session, opts);
    if (mtu === null) return false;
    const spec: InterfaceSpec = {
      type: opts.required('type'),
      source: opts.required('source'),
      target: opts.value('target'),
      mac: opts.value('mac'),
      model: opts.value('model'),
      mtu,
      sourceMode: opts.value('source-mode'),
    };
    let xml: string;
    try {
      xml = interfaceXML(spec);
    } catch (e) {
      return refused(session, e);
    }
    if (opts.flag('print-xml')) {
      session.print(xml);
      return true;
    }
    const dom = await session.domain(opts);
    if (!dom) return false;
    const affect = await affectedDefinitions(dom, opts);
    await session.withContext('Failed to attach interface', () => dom.attachDevice(xml, affect));
    session.printExtra('Interface attached successfully\n');
    return true;
  },
};

const detachInterface: CommandSpec = {
  name: 'detach-interface',
  group: GROUPS.domain,
  help: 'detach network interface',
  description: 'Detach network interface.',
  options: [
    domainOption(),
    { name: 'type', type: 'data', required: true, help: 'network interface type' },
    { name: 'mac', type: 'string', help: 'MAC address' },
    ...AFFECT_OPTIONS,
  ],
  async run(session, opts) {
    if (!exclusiveOptionsOk(session, opts, AFFECT_EXCLUSIONS)) return false;
    const dom = await session.domain(opts);
    if (!dom) return false;
    const affect = await affectedDefinitions(dom, opts);
    try {
      await session.withContext('Failed to detach interface', () =>
        dom.detachInterface(opts.required('type'), { ...affect, mac: opts.value('mac') }),
      );
    } catch (e) {
      return refused(session, e, 'Failed to detach interface');
    }
    session.printExtra('Interface detached successfully\n');
    return true;
  },
};

export const deviceCommands: readonly CommandSpec[] = [deviceCommand('attach'), attachInterface, deviceCommand('detach'), detachInterface];
