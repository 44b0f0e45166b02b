/**
 * Running domains, read from the state directory and checked against
 * reality: a status file whose supervisor is gone is reconciled (its host
 * resources removed from the plan, its last state recorded), so every
 * command reports the truth whatever happened in between (a killed CLI, a
 * killed supervisor, a reboot of the host).
 */
import { existsSync, readFileSync, readdirSync, rmSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { DomainDef } from '../../xml/model.js';
import type { ParseContext } from '../../xml/context.js';
import { parseDomainXML } from '../../xml/parse.js';
import { formatDomainXML } from '../../xml/format.js';
import { writeFileAtomic } from '../atomic.js';
import { tryExclusiveLock } from '../lock.js';
import type { LiveDomain, LiveState } from '../live.js';
import type { DriverPaths } from '../paths.js';
import type { DomainStateInfo } from '../state.js';
import { runtimeFiles } from './files.js';
import { decodePlan } from './plan-encoding.js';
import { isSupervisorAlive, readStatus, type SupervisorStatus } from './supervisor.js';
import { DEFAULT_PARTITION } from './cgroups.js';
import { rootFilesystem } from './filesystems.js';
import { containerUsage } from './cgroupusage.js';

/** What `domstate --reason` shows for a status the supervisor wrote. */
function stateInfo(s: SupervisorStatus): DomainStateInfo {
  switch (s.state) {
    case 'running':
      return { state: 'running', reason: s.reason === 'unpaused' ? 'unpaused' : 'booted' };
    case 'paused':
      return { state: 'paused', reason: 'user' };
    case 'crashed':
      return { state: 'crashed', reason: 'unknown' };
    case 'shutoff': {
      const reasons = ['shutdown', 'destroyed', 'crashed', 'failed'] as const;
      const r = reasons.find((x) => x === s.reason);
      return { state: 'shutoff', reason: r ?? 'unknown' };
    }
  }
}

/**
 * The running definition as libvirt shows it (§2.2): the default resource
 * partition, the implicit root filesystem when none is given, and each
 * console's host pty and alias.
 */
export function withLiveAdditions(
  def: DomainDef,
  id: number,
  consoles: readonly string[],
  interfaces: ReadonlyArray<{ readonly host?: string; readonly guest: string }> = [],
): DomainDef {
  const live: DomainDef = structuredClone(def);
  live.id = id;
  live.resource = { ...live.resource, partition: live.resource?.partition ?? DEFAULT_PARTITION };
  if (rootFilesystem(live) === undefined) {
    live.devices.filesystems.unshift({ type: 'mount', source: '/', target: '/', readonly: false, info: {} });
  }
  live.devices.consoles.forEach((c, i) => {
    const path = consoles[i];
    if (path !== undefined) c.source = { ...c.source, type: 'pty', path };
    c.info.alias = `console${i}`;
  });
  live.devices.interfaces.forEach((iface, i) => {
    const names = interfaces[i];
    if (!names) return;
    if (names.host !== undefined) iface.hostDevName = names.host;
    iface.guestDevName ??= names.guest;
  });
  return live;
}

/** The names each running interface got (host end, name inside), by position. */
export type RunningInterfaceNames = Array<{ host?: string; guest: string }>;

export function readInterfaceNames(path: string): RunningInterfaceNames {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RunningInterfaceNames;
  } catch {
    return [];
  }
}

export function writeInterfaceNames(path: string, names: Readonly<RunningInterfaceNames>): void {
  writeFileAtomic(path, JSON.stringify(names), 0o644);
}

/** Record a changed running definition (ROOT/run/nsvirt/lxc/NAME.xml), as startDomain writes it. */
export function saveRunningDefinition(paths: DriverPaths, def: DomainDef): void {
  writeFileAtomic(runtimeFiles(paths, def.name).liveXml, formatDomainXML(def, { secure: true }), 0o600);
}

/** How the domain last stopped, kept while it is shut off (libvirt keeps it in the daemon). */
export function readLastState(paths: DriverPaths, name: string): DomainStateInfo | undefined {
  try {
    const [state, reason] = readFileSync(runtimeFiles(paths, name).lastState, 'utf8').trim().split(' ');
    if (state === 'shutoff') return stateInfo({ state, reason: reason ?? 'unknown', supervisorPid: 0, initPid: 0, consoles: [] });
  } catch {
    // never started, or started before the state directory was cleared
  }
  return undefined;
}

function removeIfPresent(path: string, dir = false): void {
  try {
    if (dir) rmdirSync(path);
    else unlinkSync(path);
  } catch {
    // already gone (or, for a directory, not empty: then it is not ours to remove)
  }
}

/** Kill what is left in a cgroup and its children, then remove them deepest first. */
function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroup(join(dir, entry.name));
  }
  for (let attempt = 0; attempt < 50; attempt++) {
    let pids: number[] = [];
    try {
      pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return;
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    try {
      rmdirSync(dir);
      return;
    } catch {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

/**
 * Remove what a dead supervisor left behind, from its plan: cgroups, the
 * cleanup list, the control socket; then the runtime files. Records the
 * last state. Only called with the domain lock held (or known free).
 */
export function reconcileStopped(paths: DriverPaths, name: string, status: SupervisorStatus | undefined, supervisorDied: boolean): void {
  const files = runtimeFiles(paths, name);
  if (existsSync(files.plan)) {
    const records = decodePlan(readFileSync(files.plan, 'utf8'));
    for (const [kw, path] of records) if (kw === 'cgroup' && path) removeCgroup(path);
    for (const [kw, path] of [...records].reverse()) {
      if (kw === 'cleanup-rmdir' && path) removeIfPresent(path, true);
      if (kw === 'cleanup-unlink' && path) removeIfPresent(path);
    }
  }
  removeIfPresent(files.control);
  removeIfPresent(files.stageDir, true);
  const reason = supervisorDied && status?.state !== 'shutoff' ? 'failed' : (status?.reason ?? 'unknown');
  writeFileAtomic(files.lastState, `shutoff ${reason}\n`, 0o644);
  for (const f of [files.status, files.plan, files.liveXml, files.interfaces, `${files.status}.tmp`]) rmSync(f, { force: true });
}

/** Live state from the state directory: nsvirt's implementation of LiveState. */
export class RuntimeLiveState implements LiveState {
  constructor(
    private readonly paths: DriverPaths,
    private readonly ctx: ParseContext,
  ) {}

  async list(): Promise<readonly LiveDomain[]> {
    let entries: string[];
    try {
      entries = readdirSync(this.paths.stateDir);
    } catch {
      return [];
    }
    const domains: LiveDomain[] = [];
    for (const entry of entries.filter((e) => e.endsWith('.status'))) {
      const live = this.inspect(entry.slice(0, -'.status'.length));
      if (live) domains.push(live);
    }
    return domains;
  }

  /** One domain's live view, reconciling it first if its supervisor is gone or done. */
  private inspect(name: string): LiveDomain | undefined {
    const files = runtimeFiles(this.paths, name);
    const status = readStatus(files.status);
    // A live supervisor means an active domain, whatever its status says: between an init's
    // end and its restart (on_reboot), or with on_poweroff 'preserve', it reads 'shutoff'.
    if (status === undefined || !isSupervisorAlive(status.supervisorPid)) {
      this.reconcile(name, status);
      return undefined;
    }
    let def: DomainDef;
    try {
      def = parseDomainXML(readFileSync(files.liveXml), this.ctx);
    } catch {
      return undefined; // being started: the running definition is not written yet
    }
    return {
      id: status.supervisorPid,
      initPid: status.initPid,
      def: withLiveAdditions(def, status.supervisorPid, status.consoles, readInterfaceNames(files.interfaces)),
      state: stateInfo(status),
      ...containerUsage(def),
    };
  }

  private reconcile(name: string, status: SupervisorStatus | undefined): void {
    const lock = tryExclusiveLock(this.paths.domainLock(name));
    if (!lock) return; // someone is starting or stopping it right now
    try {
      // Re-check under the lock: a start may have finished meanwhile.
      const now = readStatus(runtimeFiles(this.paths, name).status) ?? status;
      if (now && isSupervisorAlive(now.supervisorPid)) return;
      reconcileStopped(this.paths, name, now, now?.state !== 'shutoff');
    } finally {
      lock.release();
    }
  }
}
