/**
 * virDomainOpenConsole for containers (lxcDomainOpenConsole): find the
 * console by its alias (console0, console1, …; default the first) and
 * attach to it through the supervisor, which relays the host pty.
 */
import type { Duplex } from 'node:stream';
import type { ConsoleDef } from '../../xml/sections/devices/chardev.js';
import { VirError, internalError } from '../../xml/errors.js';
import type { DomainRef } from '../driver.js';
import { openConsoleStream, SupervisorError } from './control.js';
import { runningDomain, type DomainSource } from './running.js';

export interface ConsoleOptions {
  /**
   * Take the console over from a session already attached (virsh console
   * --force). Without it an attached session makes the call fail.
   */
  readonly force?: boolean;
}

const EBUSY = 16;

/** libvirt gives each console of a running domain the alias consoleN. */
const aliasOf = (c: ConsoleDef, index: number): string => c.info.alias ?? `console${index}`;

function findConsole(consoles: readonly ConsoleDef[], devname: string | undefined): { console: ConsoleDef; index: number } {
  const index = devname === undefined ? (consoles.length > 0 ? 0 : -1) : consoles.findIndex((c, i) => aliasOf(c, i) === devname);
  const found = consoles[index];
  if (found === undefined) throw internalError(`cannot find console device '${devname ?? 'default'}'`);
  return { console: found, index };
}

/** A stream of the console's raw bytes, both ways, until either side ends it. */
export async function openDomainConsole(
  source: DomainSource,
  ref: DomainRef,
  devname: string | undefined,
  opts: ConsoleOptions = {},
): Promise<Duplex> {
  const domain = await runningDomain(source, ref);
  const { console, index } = findConsole(domain.live.def.devices.consoles, devname);
  if (console.source.type !== 'pty') {
    throw internalError(`character device ${devname ?? aliasOf(console, index)} is not using a PTY`);
  }
  try {
    return await openConsoleStream(domain.files.control, index, opts.force ?? false);
  } catch (e) {
    if (e instanceof SupervisorError && e.errno === EBUSY) {
      throw new VirError('VIR_ERR_OPERATION_FAILED', 'Active console session exists for this domain');
    }
    throw e;
  }
}
