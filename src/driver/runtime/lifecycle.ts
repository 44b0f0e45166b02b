/**
 * Starting and stopping containers (libvirt's virLXCProcessStart/Stop and
 * the shutdown/reboot entry points). Every operation holds the domain lock,
 * so two commands racing on one domain cannot start it twice.
 */
import { appendFileSync, closeSync, constants, existsSync, mkdirSync, fstatSync, openSync, readFileSync, readdirSync, readlinkSync, statSync, writeSync } from 'node:fs';
import { VirError } from '../../xml/errors.js';
import { domainNotRunning } from '../errors.js';
import type { DomainDef } from '../../xml/model.js';
import { formatDomainXML } from '../../xml/format.js';
import { ensureDirectory, writeFileAtomic } from '../atomic.js';
import type { DriverPaths } from '../paths.js';
import { runtimeFiles } from './files.js';
import { readHostFacts, readNetworkFacts } from './hostfacts.js';
import { buildLaunchPlan, type NamespaceSources } from './planner.js';
import { encodeLaunchPlan } from './plan.js';
import { isSupervisorAlive, launchSupervisor, readStatus } from './supervisor.js';
import { reconcileStopped, withLiveAdditions, writeInterfaceNames } from './livestate.js';
import { controlRequest } from './control.js';
import { compileDeviceFilter, type DeviceRule } from './devicefilter.js';
import { deviceFilterAttach } from '../../native.js';

export const alreadyRunning = (): VirError => new VirError('VIR_ERR_OPERATION_INVALID', 'domain is already running');

/**
 * Is the domain's supervisor up (whatever the container's state)? Called
 * with the domain lock held: leftovers of a dead supervisor, or of a start
 * whose caller died before the supervisor reported, are cleaned up.
 */
export function isActive(paths: DriverPaths, name: string): boolean {
  const files = runtimeFiles(paths, name);
  const status = readStatus(files.status);
  if (status && isSupervisorAlive(status.supervisorPid)) return true;
  if (!status && supervisorRunningPlan(files.plan) !== undefined) return true; // still starting
  if (status || existsSync(files.plan)) reconcileStopped(paths, name, status, status !== undefined && status.state !== 'shutoff');
  return false;
}

/** The supervisor started on this plan file, if one is running (found by its command line). */
function supervisorRunningPlan(planFile: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('nsvirt_lxc') && argv.includes(planFile) && isSupervisorAlive(Number(entry))) return Number(entry);
    } catch {
      // exited while we looked
    }
  }
  return undefined;
}

const timestamp = (): string => new Date().toISOString().replace('T', ' ').replace('Z', '+0000');

/**
 * Start `def` (the caller holds the domain lock and has checked that it is
 * not running). On failure nothing is left behind: the supervisor undoes its
 * own work before it reports, and the runtime files are removed here.
 */
export async function startDomain(paths: DriverPaths, def: DomainDef, namespaces: NamespaceSources): Promise<number> {
  const files = runtimeFiles(paths, def.name);
  ensureDirectory(paths.stateDir, 0o755);
  ensureDirectory(paths.logDir, 0o700);
  const plan = buildLaunchPlan({
    def,
    files,
    stateDir: paths.stateDir,
    facts: readHostFacts(),
    namespaces,
    network: readNetworkFacts(paths.networkDir),
  });
  // Made here, as root of the host: a container root in a user namespace may not create it.
  ensureDirectory(files.stageDir, 0o755);
  writeFileAtomic(files.liveXml, formatDomainXML(def, { inactive: true, secure: true }), 0o600);
  writeFileAtomic(files.plan, encodeLaunchPlan(plan), 0o600);
  appendFileSync(files.log, `${timestamp()}: starting up\n`, { mode: 0o600 });
  try {
    if (plan.deviceFilter) attachDeviceFilter(plan.deviceFilter.cgroupDir, plan.deviceFilter.rules);
    const { supervisorPid } = await launchSupervisor(files.plan, files.log);
    // The running definition with libvirt's live additions (id, partition, implicit root, console ptys).
    const consoles = readStatus(files.status)?.consoles ?? [];
    writeInterfaceNames(files.interfaces, plan.interfaceNames);
    const live = withLiveAdditions(def, supervisorPid, consoles, plan.interfaceNames);
    writeFileAtomic(files.liveXml, formatDomainXML(live, { secure: true }), 0o600);
    return supervisorPid;
  } catch (e) {
    reconcileStopped(paths, def.name, readStatus(files.status), false);
    writeFileAtomic(files.lastState, 'shutoff failed\n', 0o644);
    throw e;
  }
}

/**
 * cgroup v2 device access: the BPF program goes on the container's cgroup
 * before the supervisor puts init there (its `cgroup` record accepts the
 * existing, empty directory). Removing the cgroup releases the program.
 */
function attachDeviceFilter(cgroupDir: string, rules: readonly DeviceRule[]): void {
  mkdirSync(cgroupDir, { recursive: true });
  deviceFilterAttach(cgroupDir, compileDeviceFilter(rules));
}

/** Stop at once (virDomainDestroy): the supervisor kills everything and cleans up. */
export async function destroyDomain(paths: DriverPaths, name: string): Promise<void> {
  const files = runtimeFiles(paths, name);
  const status = readStatus(files.status);
  if (!status || !isSupervisorAlive(status.supervisorPid)) throw domainNotRunning();
  try {
    await controlRequest(files.control, 'destroy', 30_000);
  } catch {
    // Unresponsive supervisor: SIGTERM is its destroy; SIGKILL leaves the cleanup to us.
    terminate(status.supervisorPid);
  }
  await waitForExit(status.supervisorPid, 10_000);
  reconcileStopped(paths, name, readStatus(files.status), false);
  writeFileAtomic(files.lastState, 'shutoff destroyed\n', 0o644);
}

function terminate(pid: number): void {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + 5_000;
  while (isSupervisorAlive(pid) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  if (isSupervisorAlive(pid)) process.kill(pid, 'SIGKILL');
}

async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isSupervisorAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

export type ShutdownMode = 'initctl' | 'signal';

/** Linux real-time signal number systemd treats as "halt" (SIGRTMIN+3 = 37 with glibc). */
const SIGRTMIN_PLUS_3 = 37;
const SIGHUP = 1;
const SIGINT = 2;
const SIGTERM = 15;

/** A systemd init (it ignores SIGTERM and halts on SIGRTMIN+3, reboots on SIGINT). */
function isSystemd(initPid: number): boolean {
  try {
    return /(^|\/)systemd$/.test(readlinkSync(`/proc/${initPid}/exe`));
  } catch {
    return false;
  }
}

/** sysvinit's /run/initctl request: magic, INIT_CMD_RUNLVL, runlevel, 384 bytes in all. */
function initctlRequest(runlevel: '0' | '6'): Buffer {
  const req = Buffer.alloc(384);
  req.writeInt32LE(0x03091969, 0);
  req.writeInt32LE(1, 4);
  req.writeInt32LE(runlevel.charCodeAt(0), 8);
  return req;
}

/**
 * libvirt's virLXCDomainSetRunlevel: write the request to the container's
 * initctl fifo, skipping the host's own. true when one was written.
 */
function sendInitctl(initPid: number, runlevel: '0' | '6'): boolean {
  const hostFifos = new Set<string>();
  for (const p of ['/run/initctl', '/dev/initctl', '/etc/.initctl']) {
    try {
      const s = statSync(p);
      hostFifos.add(`${s.dev}:${s.ino}`);
    } catch {
      // the host has none there
    }
  }
  for (const p of ['/run/initctl', '/dev/initctl', '/etc/.initctl']) {
    let fd: number;
    try {
      fd = openSync(`/proc/${initPid}/root${p}`, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch {
      continue;
    }
    try {
      const s = fstatSync(fd);
      if (!s.isFIFO() || hostFifos.has(`${s.dev}:${s.ino}`)) continue;
      writeSync(fd, initctlRequest(runlevel));
      return true;
    } catch {
      continue;
    } finally {
      closeSync(fd);
    }
  }
  return false;
}

/**
 * Ask init to power off (runlevel 0) or reboot (runlevel 6). Like libvirt:
 * initctl first, then a signal (SIGTERM / SIGHUP; a systemd init gets
 * SIGRTMIN+3 / SIGINT, the signals it acts on). Unlike libvirt, no initctl
 * fifo in the container falls back to the signal instead of doing nothing.
 */
export async function requestStop(paths: DriverPaths, name: string, action: 'shutdown' | 'reboot', modes: readonly ShutdownMode[]): Promise<void> {
  const files = runtimeFiles(paths, name);
  const status = readStatus(files.status);
  if (!status || !isSupervisorAlive(status.supervisorPid)) throw domainNotRunning();
  if (status.initPid === 0) throw new VirError('VIR_ERR_OPERATION_INVALID', 'Init process ID is not yet known');
  const tryInitctl = modes.length === 0 || modes.includes('initctl');
  const trySignal = modes.length === 0 || modes.includes('signal');
  if (tryInitctl && !isSystemd(status.initPid) && sendInitctl(status.initPid, action === 'shutdown' ? '0' : '6')) return;
  if (!trySignal) throw new VirError('VIR_ERR_OPERATION_UNSUPPORTED', 'Container does not provide an initctl pipe');
  const systemd = isSystemd(status.initPid);
  const signal = action === 'shutdown' ? (systemd ? SIGRTMIN_PLUS_3 : SIGTERM) : systemd ? SIGINT : SIGHUP;
  await controlRequest(files.control, `signal ${signal}`, 10_000);
}
