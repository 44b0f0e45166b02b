/** Host and Hypervisor commands: version, uri. */
import { packageVersion } from '../../package.js';
import { GROUPS, type CommandSpec } from '../spec.js';

/** libvirt's version encoding: major * 1,000,000 + minor * 1,000 + micro. */
export const versionText = (v: number): string =>
  `${Math.floor(v / 1_000_000)}.${Math.floor(v / 1_000) % 1_000}.${v % 1_000}`;

const version: CommandSpec = {
  name: 'version',
  group: GROUPS.host,
  help: 'show version',
  description: 'Display the system version information.',
  options: [],
  async run(session) {
    const conn = session.connected;
    const lib = versionText(conn.getLibVersion());
    const type = conn.getType();
    const hv = conn.getVersion();
    // virsh's lines, with libvirt's version being the one nsvirt is compatible with; nsvirt's own comes last.
    session.print(
      `Compiled against library: libvirt ${lib}\n` +
        `Using library: libvirt ${lib}\n` +
        `Using API: ${type} ${lib}\n` +
        (hv === 0
          ? `Cannot extract running ${type} hypervisor version\n`
          : `Running hypervisor: ${type} ${versionText(hv)}\n`) +
        `Implemented by: nsvirt ${packageVersion()}\n`,
    );
    return true;
  },
};

const uri: CommandSpec = {
  name: 'uri',
  group: GROUPS.host,
  help: 'print the hypervisor canonical URI',
  description: 'Prints the hypervisor canonical URI.',
  options: [],
  async run(session) {
    session.print(`${session.connected.getURI()}\n`);
    return true;
  },
};

export const hostCommands: readonly CommandSpec[] = [uri, version];
