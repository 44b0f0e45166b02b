/**
 * Every on-disk location of the driver, derived from one root. The layout
 * mirrors libvirt's LXC driver with "libvirt" replaced by "nsvirt":
 *
 *   ROOT/etc/nsvirt/lxc/NAME.xml            persistent definitions
 *   ROOT/etc/nsvirt/lxc/autostart/NAME.xml  autostart symlinks
 *   ROOT/etc/nsvirt/networks/NAME.xml       networks for <interface type='network'>
 *   ROOT/run/nsvirt/lxc/                    runtime state of running domains
 *   ROOT/run/nsvirt/lxc/lock/driver.lock    driver-wide lock (define/undefine)
 *   ROOT/run/nsvirt/lxc/lock/domain/NAME.lock  per-domain locks
 *   ROOT/var/log/nsvirt/lxc/NAME.log        per-domain logs
 *
 * ROOT is "/" unless the NSVIRT_ROOT environment variable or an explicit
 * option names a prefix (tests, unprivileged use).
 */
import { join, resolve } from 'node:path';

export interface DriverPaths {
  readonly root: string;
  readonly configDir: string;
  readonly autostartDir: string;
  readonly networkDir: string;
  readonly stateDir: string;
  readonly logDir: string;
  readonly lockDir: string;
  readonly driverLock: string;
  configFile(name: string): string;
  autostartLink(name: string): string;
  domainLock(name: string): string;
  logFile(name: string): string;
}

export interface PathOptions {
  /** Prefix for every location; wins over NSVIRT_ROOT. */
  root?: string;
}

export function driverPaths(opts: PathOptions = {}, env: NodeJS.ProcessEnv = process.env): DriverPaths {
  const root = resolve(opts.root ?? (env.NSVIRT_ROOT || '/'));
  const configDir = join(root, 'etc/nsvirt/lxc');
  const autostartDir = join(configDir, 'autostart');
  const stateDir = join(root, 'run/nsvirt/lxc');
  const logDir = join(root, 'var/log/nsvirt/lxc');
  // Domain locks get their own directory so no domain name can collide with driver.lock.
  const lockDir = join(stateDir, 'lock');
  const domainLockDir = join(lockDir, 'domain');
  return {
    root,
    configDir,
    autostartDir,
    networkDir: join(root, 'etc/nsvirt/networks'),
    stateDir,
    logDir,
    lockDir,
    driverLock: join(lockDir, 'driver.lock'),
    configFile: (name) => join(configDir, `${name}.xml`),
    autostartLink: (name) => join(autostartDir, `${name}.xml`),
    domainLock: (name) => join(domainLockDir, `${name}.lock`),
    logFile: (name) => join(logDir, `${name}.log`),
  };
}
