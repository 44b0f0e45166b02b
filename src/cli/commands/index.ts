/** The command table, and the `help` command that describes it. */
import { GROUPS, type CommandSpec } from '../spec.js';
import { commandHelp, commandList, groupHelp } from '../help.js';
import { domainCommands } from './domain.js';
import { monitorCommands } from './monitor.js';
import { hostCommands } from './host.js';
import { lifecycleCommands } from './lifecycle.js';
import { guestCommands } from './guest.js';
import { autostartCommands } from './autostart.js';
import { tuningCommands } from './tuning.js';
import { networkCommands } from './network.js';
import { deviceCommands } from './devices.js';

const help: CommandSpec = {
  name: 'help',
  group: GROUPS.virsh,
  help: 'print help',
  description: 'Prints global help, command specific help, or help for a group of related commands',
  options: [{ name: 'command', type: 'data', help: 'Prints global help, command specific help, or help for a group of related commands' }],
  noConnect: true,
  async run(session, opts) {
    const name = opts.value('command');
    if (name === undefined || name === '') {
      session.print(commandList(COMMANDS));
      return true;
    }
    const command = findCommand(name);
    if (command) {
      session.print(commandHelp(command));
      return true;
    }
    const group = Object.values(GROUPS).find((g) => g.keyword === name || g.name === name);
    if (group) {
      session.print(groupHelp(group, COMMANDS));
      return true;
    }
    session.error(`command or command group '${name}' doesn't exist`);
    return false;
  },
};

/** Every command, grouped as virsh groups them and sorted by name within a group. */
export const COMMANDS: readonly CommandSpec[] = [
  ...domainCommands,
  ...lifecycleCommands,
  ...guestCommands,
  ...autostartCommands,
  ...monitorCommands,
  ...hostCommands,
  ...tuningCommands,
  ...networkCommands,
  ...deviceCommands,
  help,
].sort((a, b) => a.name.localeCompare(b.name));

export const findCommand = (name: string): CommandSpec | undefined => COMMANDS.find((c) => c.name === name);
