/** The autostart command: start a domain when the host boots, or stop doing so. */
import { GROUPS, domainOption, type CommandSpec } from '../spec.js';

const autostart: CommandSpec = {
  name: 'autostart',
  group: GROUPS.domain,
  help: 'autostart a domain',
  description: 'Configure a domain to be automatically started at boot.',
  options: [domainOption(), { name: 'disable', type: 'bool', help: 'disable autostarting' }],
  async run(session, opts) {
    const dom = await session.domain(opts);
    if (!dom) return false;
    // virsh names the domain as it was given on the command line.
    const given = opts.required('domain');
    const enable = !opts.flag('disable');
    const marking = enable ? 'mark' : 'unmark';
    await session.withContext(`Failed to ${marking} domain '${given}' as autostarted`, () => dom.setAutostart(enable));
    session.printExtra(`Domain '${given}' ${marking}ed as autostarted\n`);
    return true;
  },
};

export const autostartCommands: readonly CommandSpec[] = [autostart];
