/** How nsvirsh commands are described: virsh's vshCmdDef and vshCmdOptDef, typed. */
import type { Session } from './session.js';

/**
 * bool: a flag (--name).
 * data: a value given as --name VALUE or by position (virsh's VSH_OT_DATA).
 * string: a value given only as --name VALUE.
 * argv: every remaining positional word, and each --name VALUE (virsh's VSH_OT_ARGV).
 */
export type OptionType = 'bool' | 'data' | 'string' | 'argv';

/** A flag is `true`; an argv option collects its words. */
export type OptionValue = string | true | readonly string[];

export interface OptionSpec {
  readonly name: string;
  readonly type: OptionType;
  readonly required?: boolean;
  readonly help: string;
}

export interface CommandGroup {
  readonly name: string;
  /** What `help KEYWORD` takes to list the group. */
  readonly keyword: string;
}

export const GROUPS = {
  domain: { name: 'Domain Management', keyword: 'domain' },
  monitor: { name: 'Domain Monitoring', keyword: 'monitor' },
  host: { name: 'Host and Hypervisor', keyword: 'host' },
  virsh: { name: 'Virsh itself', keyword: 'virsh' },
} as const satisfies Record<string, CommandGroup>;

/** Option values of one command invocation. */
export class CommandOptions {
  constructor(private readonly values: ReadonlyMap<string, OptionValue>) {}

  flag(name: string): boolean {
    return this.values.get(name) === true;
  }

  value(name: string): string | undefined {
    const v = this.values.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  /** The words of an argv option (empty when none was given). */
  words(name: string): readonly string[] {
    const v = this.values.get(name);
    return Array.isArray(v) ? v : [];
  }

  /** A value the parser has already checked is present. */
  required(name: string): string {
    const v = this.value(name);
    if (v === undefined) throw new Error(`nsvirsh: option --${name} was not checked by the parser`);
    return v;
  }
}

export interface CommandSpec {
  readonly name: string;
  readonly group: CommandGroup;
  /** One-line summary for the command list. */
  readonly help: string;
  /** The DESCRIPTION paragraph of `help NAME` (may be empty). */
  readonly description: string;
  readonly options: readonly OptionSpec[];
  /** Runs without connecting (virsh's VSH_CMD_FLAG_NOCONNECT). */
  readonly noConnect?: boolean;
  /** True on success. Failures print their own error lines or throw a VirError. */
  run(session: Session, opts: CommandOptions): Promise<boolean>;
}

/** The usual `<domain>` argument. */
export const domainOption = (help = 'domain name, id or uuid'): OptionSpec => ({
  name: 'domain',
  type: 'data',
  required: true,
  help,
});
