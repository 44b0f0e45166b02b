/** Help texts laid out as virsh lays them out (tools/vsh.c: cmdHelp, vshCmddefHelp, vshUsage). */
import type { CommandGroup, CommandSpec, OptionSpec } from './spec.js';

const commandLine = (c: CommandSpec): string => `    ${c.name.padEnd(30)} ${c.help}\n`;

const groupsOf = (commands: readonly CommandSpec[]): CommandGroup[] => [...new Set(commands.map((c) => c.group))];

/** One group: " NAME (help keyword 'KW'):" and its commands. */
export function groupHelp(group: CommandGroup, commands: readonly CommandSpec[]): string {
  return (
    ` ${group.name} (help keyword '${group.keyword}'):\n` +
    commands
      .filter((c) => c.group === group)
      .map(commandLine)
      .join('')
  );
}

/** `help` with no argument. */
export function commandList(commands: readonly CommandSpec[]): string {
  return 'Grouped commands:\n\n' + groupsOf(commands).map((g) => groupHelp(g, commands) + '\n').join('');
}

/**
 * vshCmddefHelp: an argv option is written in its long form once an
 * earlier option takes a value (`{[--cmd] <string>}...`), else `<cmd>...`.
 */
const longArgv = (c: CommandSpec, o: OptionSpec): boolean =>
  c.options.slice(0, c.options.indexOf(o)).some((p) => p.type === 'data' || p.type === 'string');

function synopsisWord(c: CommandSpec, o: OptionSpec): string {
  if (o.type === 'bool') return `[--${o.name}]`;
  if (o.type === 'string') return `[--${o.name} <string>]`;
  if (o.type === 'argv') {
    if (longArgv(c, o)) return o.required ? `{[--${o.name}] <string>}...` : `[[--${o.name}] <string>]...`;
    return o.required ? `<${o.name}>...` : `[<${o.name}>]...`;
  }
  return o.required ? `<${o.name}>` : `[<${o.name}>]`;
}

function optionLabel(c: CommandSpec, o: OptionSpec): string {
  if (o.type === 'bool') return `--${o.name}`;
  if (o.type === 'string') return `--${o.name} <string>`;
  if (o.type === 'argv' && !longArgv(c, o)) return `<${o.name}>`;
  return `[--${o.name}] <string>`;
}

/** `help NAME`: NAME, SYNOPSIS, DESCRIPTION (if any) and OPTIONS (if any). */
export function commandHelp(c: CommandSpec): string {
  let out = `  NAME\n    ${c.name} - ${c.help}\n`;
  out += `\n  SYNOPSIS\n    ${[c.name, ...c.options.map((o) => synopsisWord(c, o))].join(' ')}\n`;
  if (c.description) out += `\n  DESCRIPTION\n    ${c.description}\n`;
  if (c.options.length > 0) {
    out += '\n  OPTIONS\n';
    for (const o of c.options) out += `    ${optionLabel(c, o).padEnd(15)}  ${o.help}\n`;
  }
  return out + '\n';
}

/** `nsvirsh -h`. */
export function usage(program: string, commands: readonly CommandSpec[]): string {
  return (
    `\n${program} [options]... [<command_string>]\n` +
    `${program} [options]... <command> [args...]\n\n` +
    '  options:\n' +
    '    -c | --connect=URI      hypervisor connection URI\n' +
    '    -h | --help             this help\n' +
    '    -q | --quiet            quiet mode\n' +
    '    -v                      short version\n' +
    '    -V                      long version\n' +
    '         --version[=TYPE]   version, TYPE is short or long (default short)\n' +
    '  commands (non interactive mode):\n\n' +
    groupsOf(commands)
      .map((g) => groupHelp(g, commands) + '\n')
      .join('') +
    '  (specify help <group> for details about the commands in the group)\n\n' +
    '  (specify help <command> for details about the command)\n\n'
  );
}
