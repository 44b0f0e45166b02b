/** virsh's VSH_EXCLUSIVE_OPTIONS and the --live/--config/--current option family. */
import type { CommandOptions, OptionSpec } from './spec.js';
import type { Session } from './session.js';

export const CONFIG: OptionSpec = { name: 'config', type: 'bool', help: 'affect next boot' };
export const LIVE: OptionSpec = { name: 'live', type: 'bool', help: 'affect running domain' };
export const CURRENT: OptionSpec = { name: 'current', type: 'bool', help: 'affect current domain' };
export const PERSISTENT: OptionSpec = { name: 'persistent', type: 'bool', help: 'make live change persistent' };

/** False (after virsh's error line) when two options of one pair are both given. */
export function exclusiveOptionsOk(session: Session, opts: CommandOptions, pairs: ReadonlyArray<readonly [string, string]>): boolean {
  for (const [a, b] of pairs) {
    if (opts.flag(a) && opts.flag(b)) {
      session.error(`Options --${a} and --${b} are mutually exclusive`);
      return false;
    }
  }
  return true;
}
