/**
 * Where a running domain's runtime files live, all in the state directory
 * (ROOT/run/nsvirt/lxc), named after the domain as libvirt names its own:
 *
 *   NAME.plan       the launch plan the supervisor runs (docs/plan-format.md)
 *   NAME.status     the supervisor's status file (state, pids, console ptys)
 *   NAME.sock       the supervisor's control socket
 *   NAME.xml        the running definition (libvirt's live additions)
 *   NAME.laststate  how the domain last stopped (shown while it is shut off)
 *   NAME.ifaces     the host and guest names of its interfaces (JSON)
 *   NAME.root/      staging mount point of the container's root filesystem
 */
import { join } from 'node:path';
import type { DriverPaths } from '../paths.js';

export interface RuntimeFiles {
  readonly plan: string;
  readonly status: string;
  readonly control: string;
  readonly liveXml: string;
  readonly lastState: string;
  readonly interfaces: string;
  readonly stageDir: string;
  readonly log: string;
}

export function runtimeFiles(paths: DriverPaths, name: string): RuntimeFiles {
  const at = (suffix: string): string => join(paths.stateDir, `${name}${suffix}`);
  return {
    plan: at('.plan'),
    status: at('.status'),
    control: at('.sock'),
    liveXml: at('.xml'),
    lastState: at('.laststate'),
    interfaces: at('.ifaces'),
    stageDir: at('.root'),
    log: paths.logFile(name),
  };
}
