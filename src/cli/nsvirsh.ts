#!/usr/bin/env node
/**
 * nsvirsh: virsh for the nsvirt LXC driver. Same commands, options, output
 * and exit codes as `virsh -c lxc:///`, so scripts move over by changing
 * one word.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { COMMANDS, findCommand } from './commands/index.js';
import { parseGlobalOptions, type GlobalOptions } from './globals.js';
import { commandHelp, usage } from './help.js';
import { UsageError, parseCommand, splitCommandString, type ParsedCommand } from './parse.js';
import { Session, type CliIO } from './session.js';
import { versionText } from './commands/host.js';
import { LIBVIRT_COMPAT_VERSION } from '../driver/connection.js';
import { packageVersion } from '../package.js';

export type { CliIO } from './session.js';

const PROGRAM = 'nsvirsh';

/** Words after the options: one word is a command string ("list --all; dominfo x"), more are one command. */
function parseCommands(words: readonly string[]): ParsedCommand[] {
  const commands = words.length === 1 ? splitCommandString(words[0]!) : [words];
  return commands.map((c) => parseCommand(c, findCommand));
}

function informational(action: NonNullable<GlobalOptions['action']>): string {
  const libvirt = versionText(LIBVIRT_COMPAT_VERSION);
  switch (action) {
    case 'usage':
      return usage(PROGRAM, COMMANDS);
    case 'short-version':
      return `${libvirt}\n`;
    case 'long-version':
      return (
        `${PROGRAM} command line tool of nsvirt ${packageVersion()} (compatible with libvirt ${libvirt})\n\n` +
        'Compiled with support for:\n Hypervisors: LXC\n'
      );
  }
}

async function runOne(session: Session, command: ParsedCommand): Promise<boolean> {
  if (command.wantsHelp) {
    session.print(commandHelp(command.spec));
    return true;
  }
  if (!command.spec.noConnect && !session.connection()) return false;
  try {
    return await command.spec.run(session, command.options);
  } catch (e) {
    session.report(e);
    return false;
  }
}

/** Run nsvirsh with `argv` (without the program name); resolves to the exit status. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  let globals: GlobalOptions;
  let commands: ParsedCommand[];
  try {
    globals = parseGlobalOptions(argv);
    if (globals.action) {
      io.stdout(informational(globals.action));
      return 0;
    }
    commands = parseCommands(globals.command);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`error: ${e.message}\n`);
    return 1;
  }
  if (commands.length === 0) {
    io.stderr(`error: no command given; the interactive shell is not supported (see '${PROGRAM} help')\n`);
    return 1;
  }

  const session = new Session(io, globals.quiet, globals.connect ?? (io.env.VIRSH_DEFAULT_CONNECT_URI || undefined));
  // virsh connects to a URI named up front before running anything, and gives up if it cannot.
  if (session.hasExplicitURI && !session.connection()) return 1;
  let ok = true;
  try {
    for (const command of commands) {
      ok = await runOne(session, command);
      session.printExtra('\n');
    }
  } finally {
    session.close();
  }
  return ok ? 0 : 1;
}

const processIO = (): CliIO => ({
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
});

function invokedAsProgram(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedAsProgram()) {
  // A closed pipe (nsvirsh list | head -1) is not an error worth a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  runCli(process.argv.slice(2), processIO()).then(
    (status) => {
      process.exitCode = status;
    },
    (e: unknown) => {
      process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
