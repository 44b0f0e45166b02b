#!/usr/bin/env node
/**
 * nsvirt-autostart: start every persistent domain marked for autostart
 * (`nsvirsh autostart DOMAIN`) that is not running, one after the other,
 * as libvirtd does for its LXC driver when it starts. Meant to run once at
 * boot (docs/autostart.md). Exit status 0 when every such domain could be
 * started, 1 otherwise. Honours NSVIRT_ROOT and LIBVIRT_DEFAULT_URI.
 */
import { connect, type Connection } from '../driver/connection.js';
import { VirError } from '../xml/errors.js';

const USAGE = 'usage: nsvirt-autostart\nStarts every autostart domain that is not running.\n';

const describe = (e: unknown): string => (e instanceof Error && e.message !== '' ? e.message : String(e));

/** Start the domains; reports each on stdout / stderr. True when none failed. */
async function startAutostartDomains(conn: Connection): Promise<boolean> {
  const domains = await conn.listAllDomains({ persistent: true, autostart: true, inactive: true, active: false });
  let allStarted = true;
  for (const dom of domains) {
    try {
      await dom.create();
      process.stdout.write(`Domain '${dom.name}' started\n`);
    } catch (e) {
      if (!(e instanceof VirError)) throw e;
      // Started by someone else in the meantime: that is what we wanted.
      if (await dom.isActive()) continue;
      process.stderr.write(`error: Failed to autostart domain '${dom.name}'\nerror: ${describe(e)}\n`);
      allStarted = false;
    }
  }
  return allStarted;
}

async function main(args: readonly string[]): Promise<number> {
  if (args.length > 0) {
    const help = args[0] === '-h' || args[0] === '--help';
    (help ? process.stdout : process.stderr).write(USAGE);
    return help ? 0 : 1;
  }
  let conn: Connection;
  try {
    conn = connect(undefined, { onWarning: (m) => process.stderr.write(`warning: ${m}\n`) });
  } catch (e) {
    process.stderr.write(`error: failed to connect to the hypervisor\nerror: ${describe(e)}\n`);
    return 1;
  }
  try {
    return (await startAutostartDomains(conn)) ? 0 : 1;
  } finally {
    conn.close();
  }
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (e: unknown) => {
    process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
