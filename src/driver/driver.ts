/**
 * The LXC driver's domain operations: what libvirt's lxc_driver.c does for
 * define, undefine, lookups, listing, info, state and XML description, on
 * top of the definition store and the live state of running domains.
 */
import { release } from 'node:os';
import { parseDomainXML } from '../xml/parse.js';
import { formatDomainXML } from '../xml/format.js';
import { defaultContext, type ParseContext } from '../xml/context.js';
import type { DomainDef } from '../xml/model.js';
import { VirError } from '../xml/errors.js';
import { parseUUID } from '../xml/sections/general.js';
import { lxcConfigToDomainXML } from '../xml/lxcconf.js';
import { DefinitionStore, type LoadProblem } from './store.js';
import type { LiveDomain, LiveState } from './live.js';
import { NEVER_STARTED, type DomainStateInfo } from './state.js';
import { withDomainLock } from './lock.js';
import { RuntimeLiveState, readLastState } from './runtime/livestate.js';
import { isActive, alreadyRunning, destroyDomain, requestStop, startDomain, type ShutdownMode } from './runtime/lifecycle.js';
import { readStatus, isSupervisorAlive } from './runtime/supervisor.js';
import { runtimeFiles } from './runtime/files.js';
import type { NamespaceSources } from './runtime/planner.js';
import { freeze, thaw } from './runtime/freezer.js';
import { configuredAddresses, interfaceRows, interfaceStats, type InterfaceAddresses, type InterfaceRow, type InterfaceStats } from './runtime/interfaces.js';
import { controlRequest } from './runtime/control.js';
import { attachDevice, detachDevice } from './runtime/hotplug.js';
import type { AffectOptions } from './runtime/impact.js';
import type { DriverPaths } from './paths.js';
import { domainGone, domainNotRunning, noDomainWithID, noDomainWithName, noDomainWithUUID } from './errors.js';

/** Identifies a domain the way a libvirt virDomainPtr does. */
export interface DomainRef {
  readonly name: string;
  readonly uuid: string;
}

/** One domain as the driver sees it at one moment. */
export interface DomainSnapshot extends DomainRef {
  /** The persistent definition, or the running one for a transient domain. */
  readonly def: DomainDef;
  readonly persistent: boolean;
  /** Started when the host boots (persistent domains only). */
  readonly autostart: boolean;
  readonly live: LiveDomain | undefined;
}

export interface DomainInfo {
  readonly state: DomainStateInfo['state'];
  readonly maxMemKiB: bigint;
  readonly memoryKiB: bigint;
  readonly nrVirtCpu: number;
  readonly cpuTimeNs: bigint;
}

export interface DriverOptions {
  readonly paths: DriverPaths;
  readonly ctx?: ParseContext;
  readonly live?: LiveState;
  /** Told about stored definitions that had to be skipped. */
  readonly onProblem?: (problem: LoadProblem) => void;
}

/** The only native configuration format libvirt's LXC driver converts. */
export const LXC_NATIVE_FORMAT = 'lxc-tools';

/** virDomainGetXMLDesc flags. */
export interface XMLDescOptions {
  /** VIR_DOMAIN_XML_INACTIVE: the persistent definition even when running. */
  inactive?: boolean;
  /** VIR_DOMAIN_XML_SECURE: include secrets such as graphics passwords. */
  securityInfo?: boolean;
}

export class Driver {
  readonly paths: DriverPaths;
  private readonly ctx: ParseContext;
  private readonly store: DefinitionStore;
  private readonly live: LiveState;
  private readonly onProblem: (problem: LoadProblem) => void;

  constructor(opts: DriverOptions) {
    this.paths = opts.paths;
    this.ctx = opts.ctx ?? defaultContext();
    this.store = new DefinitionStore(this.paths, this.ctx);
    this.live = opts.live ?? new RuntimeLiveState(this.paths, this.ctx);
    this.onProblem = opts.onProblem ?? (() => {});
  }

  /** virDomainDefineXML: a failed define leaves the store untouched. */
  async defineXML(xml: string | Uint8Array): Promise<{ ref: DomainRef; isNew: boolean }> {
    const def = parseDomainXML(xml, this.ctx);
    const { replaced } = await this.store.define(def);
    return { ref: { name: def.name, uuid: def.uuid }, isNew: replaced === undefined };
  }

  /** virDomainUndefine. A running domain would become transient (once the runtime exists). */
  async undefine(ref: DomainRef): Promise<void> {
    const snapshot = await this.snapshot(ref);
    if (!snapshot.persistent) {
      throw new VirError('VIR_ERR_OPERATION_INVALID', 'Cannot undefine transient domain');
    }
    await this.store.undefine(ref.name, ref.uuid);
  }

  async lookupByName(name: string): Promise<DomainRef> {
    const def = this.loadByName(name) ?? (await this.live.list()).find((l) => l.def.name === name)?.def;
    if (!def) throw noDomainWithName(name);
    return refOf(def);
  }

  /** Accepts any form libvirt's virUUIDParse accepts (dashes optional). */
  async lookupByUUID(uuidText: string): Promise<DomainRef> {
    const uuid = parseUUID(uuidText);
    if (uuid === undefined) {
      throw new VirError('VIR_ERR_INVALID_ARG', 'uuidstr in virDomainLookupByUUIDString must be a valid UUID');
    }
    const found = (await this.listAll()).find((d) => d.uuid === uuid);
    if (!found) throw noDomainWithUUID(uuid);
    return refOf(found.def);
  }

  async lookupByID(id: number): Promise<DomainRef> {
    const live = (await this.live.list()).find((l) => l.id === id);
    if (!live) throw noDomainWithID(id);
    return refOf(live.def);
  }

  /** Every domain: persistent ones (running or not) and transient running ones. */
  async listAll(): Promise<DomainSnapshot[]> {
    const { domains, problems } = this.store.loadAll();
    problems.forEach(this.onProblem);
    const live = await this.live.list();
    const liveByUUID = new Map(live.map((l) => [l.def.uuid, l]));
    const persistentUUIDs = new Set(domains.map((d) => d.uuid));
    return [
      ...domains.map((def) => this.persistentSnapshot(def, liveByUUID.get(def.uuid))),
      ...live.filter((l) => !persistentUUIDs.has(l.def.uuid)).map(transientSnapshot),
    ];
  }

  /** The current view of a domain; fails if it has gone since it was looked up. */
  async snapshot(ref: DomainRef): Promise<DomainSnapshot> {
    const stored = this.loadByName(ref.name);
    const persistent = stored?.uuid === ref.uuid ? stored : undefined;
    const live = (await this.live.list()).find((l) => l.def.uuid === ref.uuid);
    if (persistent) return this.persistentSnapshot(persistent, live);
    if (live) return transientSnapshot(live);
    throw domainGone(ref.uuid, ref.name);
  }

  async info(ref: DomainRef): Promise<DomainInfo> {
    const { def, live } = await this.snapshot(ref);
    const running = live?.def ?? def;
    return {
      state: (live?.state ?? this.stoppedState(ref.name)).state,
      maxMemKiB: running.memoryKiB,
      memoryKiB: live ? live.memoryKiB : def.currentMemoryKiB,
      nrVirtCpu: running.vcpu.count,
      cpuTimeNs: live?.cpuTimeNs ?? 0n,
    };
  }

  async state(ref: DomainRef): Promise<DomainStateInfo> {
    return (await this.snapshot(ref)).live?.state ?? this.stoppedState(ref.name);
  }

  async id(ref: DomainRef): Promise<number | undefined> {
    return (await this.snapshot(ref)).live?.id;
  }

  /** virNodeGetSecurityModel: the security driver and its domain of interpretation. */
  securityModel(): { model: string; doi: string } {
    return { model: this.ctx.securityModel, doi: '0' };
  }

  /** virDomainGetXMLDesc: the running definition unless `inactive` asks for the persistent one. */
  async xmlDesc(ref: DomainRef, opts: XMLDescOptions = {}): Promise<string> {
    const { def, live } = await this.snapshot(ref);
    const secure = opts.securityInfo ?? false;
    if (live && !opts.inactive) return formatDomainXML({ ...live.def, id: live.id }, { secure });
    return formatDomainXML(def, { inactive: true, secure });
  }

  /** virConnectDomainXMLFromNative. */
  domainXMLFromNative(format: string, config: string): string {
    if (format !== LXC_NATIVE_FORMAT) throw new VirError('VIR_ERR_INVALID_ARG', `unsupported config type ${format}`);
    return lxcConfigToDomainXML(config, this.ctx);
  }

  /** virConnectGetVersion: the host kernel release as major * 1,000,000 + minor * 1,000 + micro. */
  hypervisorVersion(): number {
    return kernelVersion(release());
  }

  /** How a shut-off domain got there (libvirt keeps this in the daemon; nsvirt in the state directory). */
  private stoppedState(name: string): DomainStateInfo {
    return readLastState(this.paths, name) ?? NEVER_STARTED;
  }

  /** virDomainCreate: start a defined domain. */
  async start(ref: DomainRef): Promise<void> {
    await withDomainLock(this.paths, ref.name, async () => {
      const def = this.loadByName(ref.name);
      if (def?.uuid !== ref.uuid) throw domainGone(ref.uuid, ref.name);
      if (isActive(this.paths, def.name)) throw alreadyRunning();
      await startDomain(this.paths, def, this.namespaceSources());
    });
  }

  /** virDomainCreateXML: start a transient domain (or run a defined one with this definition). */
  async createXML(xml: string | Uint8Array): Promise<DomainRef> {
    const def = parseDomainXML(xml, this.ctx);
    await withDomainLock(this.paths, def.name, async () => {
      const { domains } = this.store.loadAll();
      const sameName = domains.find((d) => d.name === def.name);
      if (sameName && sameName.uuid !== def.uuid) {
        throw new VirError('VIR_ERR_OPERATION_FAILED', `domain '${def.name}' already exists with uuid ${sameName.uuid}`);
      }
      const sameUUID = domains.find((d) => d.uuid === def.uuid && d.name !== def.name);
      if (sameUUID) throw new VirError('VIR_ERR_OPERATION_FAILED', `domain '${sameUUID.name}' is already defined with uuid ${def.uuid}`);
      if (isActive(this.paths, def.name)) throw new VirError('VIR_ERR_OPERATION_FAILED', `domain '${def.name}' is already active`);
      await startDomain(this.paths, def, this.namespaceSources());
    });
    return refOf(def);
  }

  /** virDomainDestroy. */
  async destroy(ref: DomainRef): Promise<void> {
    await this.snapshot(ref);
    await withDomainLock(this.paths, ref.name, () => destroyDomain(this.paths, ref.name));
  }

  /** virDomainShutdownFlags: asks init to power off; returns before it has. */
  async shutdown(ref: DomainRef, modes: readonly ShutdownMode[] = []): Promise<void> {
    await this.snapshot(ref);
    await requestStop(this.paths, ref.name, 'shutdown', modes);
  }

  /** virDomainReboot: asks init to restart; the supervisor then boots it again. */
  async reboot(ref: DomainRef, modes: readonly ShutdownMode[] = []): Promise<void> {
    await this.snapshot(ref);
    await requestStop(this.paths, ref.name, 'reboot', modes);
  }

  /** domiflist: the interfaces of the running definition, or of the persistent one. */
  async interfaceList(ref: DomainRef, opts: { inactive?: boolean } = {}): Promise<InterfaceRow[]> {
    const { def, live } = await this.snapshot(ref);
    return interfaceRows(live && !opts.inactive ? live.def : def);
  }

  /** virDomainInterfaceAddresses: what nsvirt configured on each interface. */
  async interfaceAddresses(ref: DomainRef): Promise<InterfaceAddresses[]> {
    const { live } = await this.snapshot(ref);
    if (!live) throw domainNotRunning();
    return configuredAddresses(live.def);
  }

  /** virDomainInterfaceStats: counters of one interface (host device name or MAC). */
  async interfaceStats(ref: DomainRef, device: string): Promise<InterfaceStats> {
    const { live } = await this.snapshot(ref);
    if (!live) throw domainNotRunning();
    return interfaceStats(live.def, device);
  }

  /** virDomainSuspend: freeze every process of the container. Already paused is fine. */
  async suspend(ref: DomainRef): Promise<void> {
    await withDomainLock(this.paths, ref.name, async () => {
      const { live } = await this.snapshot(ref);
      if (!live) throw domainNotRunning();
      if (live.state.state === 'paused') return;
      await freeze(live.def);
      await controlRequest(runtimeFiles(this.paths, ref.name).control, 'set-state paused user', 10_000);
    });
  }

  /** virDomainResume: thaw a suspended container. */
  async resume(ref: DomainRef): Promise<void> {
    await withDomainLock(this.paths, ref.name, async () => {
      const { live } = await this.snapshot(ref);
      if (!live) throw domainNotRunning();
      if (live.state.state !== 'paused') throw new VirError('VIR_ERR_OPERATION_INVALID', 'domain is already running');
      await thaw(live.def);
      await controlRequest(runtimeFiles(this.paths, ref.name).control, 'set-state running unpaused', 10_000);
    });
  }

  /** virDomainAttachDeviceFlags: interfaces only (set up inside like boot-time ones). */
  async attachDevice(ref: DomainRef, xml: string | Uint8Array, opts: AffectOptions = {}): Promise<void> {
    await attachDevice(this, ref, xml, opts, this.ctx);
  }

  /** virDomainDetachDeviceFlags: interfaces only, found by MAC address. */
  async detachDevice(ref: DomainRef, xml: string | Uint8Array, opts: AffectOptions = {}): Promise<void> {
    await detachDevice(this, ref, xml, opts, this.ctx);
  }

  /** Namespaces a definition may join: running domains' init by name, /run/netns for netns. */
  private namespaceSources(): NamespaceSources {
    return {
      initPidOf: (name) => {
        const status = readStatus(runtimeFiles(this.paths, name).status);
        return status && status.initPid > 0 && isSupervisorAlive(status.supervisorPid) ? status.initPid : undefined;
      },
      netnsDir: '/run/netns',
    };
  }

  private persistentSnapshot(def: DomainDef, live: LiveDomain | undefined): DomainSnapshot {
    return { name: def.name, uuid: def.uuid, def, persistent: true, autostart: this.store.isAutostart(def.name), live };
  }

  private loadByName(name: string): DomainDef | undefined {
    const { def, problem } = this.store.loadByName(name);
    if (problem) this.onProblem(problem);
    return def;
  }
}

const refOf = (def: DomainDef): DomainRef => ({ name: def.name, uuid: def.uuid });

const transientSnapshot = (live: LiveDomain): DomainSnapshot => ({
  name: live.def.name,
  uuid: live.def.uuid,
  def: live.def,
  persistent: false,
  autostart: false,
  live,
});

/** libvirt's virParseVersionString with allowMissing: "6.1.0-generic" → 6001000, "5.4" → 5004000. */
export function kernelVersion(kernelRelease: string): number {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(kernelRelease);
  if (!m) return 0;
  const [major, minor, micro] = [m[1], m[2], m[3]].map((p) => Number(p ?? 0)) as [number, number, number];
  return major * 1_000_000 + minor * 1_000 + micro;
}
