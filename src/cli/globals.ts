/**
 * nsvirsh's own options, before the command: virsh's getopt_long loop
 * (optstring "+:c:hqvV") restricted to the options nsvirsh implements.
 * Long options may be abbreviated to any unique prefix, as getopt_long allows.
 */
import { UsageError } from './parse.js';

export interface GlobalOptions {
  connect?: string;
  quiet: boolean;
  /** -h / --help, or -v / -V / --version: print and exit before any command. */
  action?: 'usage' | 'short-version' | 'long-version';
  /** The command and its arguments. */
  command: string[];
}

interface LongOption {
  name: string;
  short: string;
  arg: 'none' | 'required' | 'optional';
}

const LONG_OPTIONS: readonly LongOption[] = [
  { name: 'connect', short: 'c', arg: 'required' },
  { name: 'help', short: 'h', arg: 'none' },
  { name: 'quiet', short: 'q', arg: 'none' },
  { name: 'version', short: 'v', arg: 'optional' },
];

const SHORT_WITH_ARG = new Set(['c']);
const SHORT_FLAGS = new Set(['h', 'q', 'v', 'V']);

const unsupported = (what: string): UsageError => new UsageError(`unsupported option '${what}'. See --help.`);

function requiresArgument(short: string): UsageError {
  const long = LONG_OPTIONS.find((o) => o.short === short);
  return new UsageError(
    long ? `option '-${short}'/'--${long.name}' requires an argument` : `option '-${short}' requires an argument`,
  );
}

function findLong(name: string, word: string): LongOption {
  const exact = LONG_OPTIONS.find((o) => o.name === name);
  if (exact) return exact;
  const prefixed = LONG_OPTIONS.filter((o) => o.name.startsWith(name));
  if (prefixed.length !== 1) throw unsupported(word);
  return prefixed[0]!;
}

export function parseGlobalOptions(argv: readonly string[]): GlobalOptions {
  const out: GlobalOptions = { quiet: false, command: [] };
  const apply = (short: string, value: string | undefined): boolean => {
    switch (short) {
      case 'c':
        out.connect = value;
        return false;
      case 'q':
        out.quiet = true;
        return false;
      case 'h':
        out.action = 'usage';
        return true;
      case 'v':
        out.action = value === 'long' ? 'long-version' : 'short-version';
        return true;
      case 'V':
        out.action = 'long-version';
        return true;
    }
    return false;
  };

  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      i++;
      break;
    }
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const opt = findLong(eq < 0 ? word.slice(2) : word.slice(2, eq), word);
      let value = eq < 0 ? undefined : word.slice(eq + 1);
      if (opt.arg === 'none' && value !== undefined) throw unsupported(word);
      if (opt.arg === 'required' && value === undefined) {
        value = argv[++i];
        if (value === undefined) throw requiresArgument(opt.short);
      }
      if (apply(opt.short, value)) return out;
      continue;
    }
    if (word.startsWith('-') && word.length > 1) {
      for (let j = 1; j < word.length; j++) {
        const short = word[j]!;
        if (SHORT_WITH_ARG.has(short)) {
          const value = j + 1 < word.length ? word.slice(j + 1) : argv[++i];
          if (value === undefined) throw requiresArgument(short);
          apply(short, value);
          break;
        }
        if (!SHORT_FLAGS.has(short)) throw unsupported(`-${short}`);
        if (apply(short, undefined)) return out;
      }
      continue;
    }
    break;
  }
  out.command = argv.slice(i);
  return out;
}
