/**
 * Command-line parsing as virsh does it (tools/vsh.c vshCommandParse):
 * a command name, then options (--name, --name=value, --name value) and
 * positional values that fill the value options in order; "--" makes the
 * rest positional; --help anywhere asks for the command's help.
 */
import { CommandOptions, type CommandSpec, type OptionSpec, type OptionValue } from './spec.js';

/** A syntax error; virsh prints it as "error: <message>" and runs nothing. */
export class UsageError extends Error {}

export interface ParsedCommand {
  readonly spec: CommandSpec;
  readonly options: CommandOptions;
  /** `CMD --help`: show the command's help instead of running it. */
  readonly wantsHelp: boolean;
}

export type CommandLookup = (name: string) => CommandSpec | undefined;

/** Parse one command's words. */
export function parseCommand(words: readonly string[], lookup: CommandLookup): ParsedCommand {
  const [name, ...rest] = words;
  const spec = name === undefined ? undefined : lookup(name);
  if (!spec) throw new UsageError(`unknown command: '${name ?? ''}'`);

  const values = new Map<string, OptionValue>();
  // Options still waiting for a positional value, in declaration order; an argv option takes all the rest.
  const awaitingData = spec.options.filter((o) => o.type === 'data' || o.type === 'argv');
  let dataOnly = false;
  const addWord = (opt: OptionSpec, word: string): void => {
    const previous = values.get(opt.name);
    values.set(opt.name, [...(Array.isArray(previous) ? previous : []), word]);
  };

  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (!dataOnly && word === '--') {
      dataOnly = true;
      continue;
    }
    if (!dataOnly && /^--[A-Za-z0-9]/.test(word)) {
      const eq = word.indexOf('=');
      const optName = eq < 0 ? word.slice(2) : word.slice(2, eq);
      const inline = eq < 0 ? undefined : word.slice(eq + 1);
      if (optName === 'help') return { spec, options: new CommandOptions(values), wantsHelp: true };
      const opt = spec.options.find((o) => o.name === optName);
      if (!opt) throw new UsageError(`command '${spec.name}' doesn't support option --${optName}`);
      if (values.has(opt.name) && opt.type !== 'argv') throw new UsageError(`option --${opt.name} already seen`);
      if (opt.type === 'bool') {
        if (inline !== undefined) throw new UsageError(`invalid '=' after option --${opt.name}`);
        values.set(opt.name, true);
        continue;
      }
      const value = inline ?? rest[++i];
      if (value === undefined) throw new UsageError(`expected syntax: --${opt.name} <string>`);
      if (opt.type === 'argv') {
        addWord(opt, value);
        continue;
      }
      values.set(opt.name, value);
      const waiting = awaitingData.indexOf(opt);
      if (waiting >= 0) awaitingData.splice(waiting, 1);
      continue;
    }
    const target = awaitingData[0];
    if (!target) throw new UsageError(`unexpected data '${word}'`);
    if (target.type === 'argv') {
      addWord(target, word);
      continue;
    }
    awaitingData.shift();
    values.set(target.name, word);
  }

  const missing = spec.options.find((o) => o.required && !values.has(o.name));
  if (missing) {
    throw new UsageError(
      missing.type === 'data' || missing.type === 'argv'
        ? `command '${spec.name}' requires <${missing.name}> option`
        : `command '${spec.name}' requires --${missing.name} option`,
    );
  }
  return { spec, options: new CommandOptions(values), wantsHelp: false };
}

/**
 * Split a one-argument command string ("list --all; dominfo web") into
 * commands and words, with virsh's quoting: '…' is literal, "…" and bare
 * text take backslash escapes, ';' or newline end a command, '#' starts a
 * comment.
 */
export function splitCommandString(text: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let i = 0;
  const endCommand = (): void => {
    if (words.length > 0) commands.push(words);
    words = [];
  };
  for (;;) {
    while (text[i] === ' ' || text[i] === '\t' || (text[i] === '\\' && text[i + 1] === '\n')) i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) break;
    const c = text[i]!;
    if (c === ';' || c === '\n') {
      i++;
      endCommand();
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      i++;
      endCommand();
      continue;
    }
    let word = '';
    let single = false;
    let double = false;
    while (i < text.length) {
      const ch = text[i]!;
      if (!single && !double && (ch === ' ' || ch === '\t' || ch === ';' || ch === '\n')) break;
      if (!double && ch === "'") {
        single = !single;
        i++;
        continue;
      }
      if (!single && ch === '"') {
        double = !double;
        i++;
        continue;
      }
      if (!single && ch === '\\') {
        i++;
        if (i >= text.length) throw new UsageError('dangling \\');
        if (text[i] === '\n') {
          i++;
          continue;
        }
      }
      word += text[i]!;
      i++;
    }
    if (double) throw new UsageError('missing "');
    words.push(word);
  }
  endCommand();
  return commands;
}
