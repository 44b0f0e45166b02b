/**
 * The public object model: a Connection to the LXC driver and Domain
 * handles, shaped after libvirt's virConnect and virDomain APIs.
 */
import type { Duplex } from 'node:stream';
import { VirError } from '../xml/errors.js';
import { defaultContext, type ParseContext } from '../xml/context.js';
import { Driver, type DomainInfo, type DomainRef, type DomainSnapshot, type XMLDescOptions } from './driver.js';
import { driverPaths } from './paths.js';
import { DEFAULT_URI, resolveURI } from './uri.js';
import { NEVER_STARTED, type DomainState, type DomainStateInfo } from './state.js';
import type { LoadProblem } from './store.js';
import type { ShutdownMode } from './runtime/lifecycle.js';
import type { InterfaceAddresses, InterfaceRow, InterfaceStats } from './runtime/interfaces.js';
import { setAutostart } from './autostart.js';
import { openDomainConsole, type ConsoleOptions } from './runtime/console.js';
import { sendProcessSignal } from './runtime/signal.js';
import { enterDomain, type CommandExit, type EnterOptions } from './runtime/enter.js';
import * as tuning from './runtime/tuning.js';
import { collectDomainStats, type DomainStatsOptions, type DomainStatsRecord } from './runtime/domainstats.js';
import type { AffectOptions } from './runtime/impact.js';
import { interfaceToDetach, interfaceXML, type InterfaceSpec } from './interfacexml.js';

/** libvirt release whose LXC driver behaviour nsvirt follows. */
export const LIBVIRT_COMPAT_VERSION = 9_000_000;
export const HYPERVISOR_TYPE = 'LXC';

export interface ConnectOptions {
  /** Prefix for every file the driver uses (default: $NSVIRT_ROOT, else "/"). */
  root?: string;
  /** Host facts and randomness used when parsing definitions. */
  context?: Partial<ParseContext>;
  /** Told about stored definitions that cannot be loaded and are skipped (default: process.emitWarning). */
  onWarning?: (message: string) => void;
  /** Environment to read NSVIRT_ROOT and LIBVIRT_DEFAULT_URI from (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * virConnectListAllDomains filters. Each group left unset matches every
 * domain; the groups combine with AND.
 */
export interface ListDomainsFilter {
  /** Include running domains (default: true unless only `inactive` is set). */
  active?: boolean;
  /** Include shut-off domains (default: true unless only `active` is set). */
  inactive?: boolean;
  /** true: persistent domains only; false: transient ones only. */
  persistent?: boolean;
  /** true: autostarted domains only; false: the others only. */
  autostart?: boolean;
  /** Only domains in one of these states. */
  states?: readonly DomainState[];
}

function matches(d: DomainSnapshot, filter: ListDomainsFilter): boolean {
  const wantActive = filter.active ?? !filter.inactive;
  const wantInactive = filter.inactive ?? !filter.active;
  const state = (d.live?.state ?? NEVER_STARTED).state;
  return (
    (d.live ? wantActive : wantInactive) &&
    (filter.persistent === undefined || d.persistent === filter.persistent) &&
    (filter.autostart === undefined || d.autostart === filter.autostart) &&
    (filter.states === undefined || filter.states.includes(state))
  );
}

const warnProcess = (message: string): void => process.emitWarning(message, 'NsvirtWarning');

/**
 * Open a connection. Accepts lxc:///, lxc:///system and lxc://; without a
 * URI, uses LIBVIRT_DEFAULT_URI or lxc:///system.
 */
export function connect(uri?: string, opts: ConnectOptions = {}): Connection {
  const env = opts.env ?? process.env;
  const canonical = resolveURI(uri ?? (env.LIBVIRT_DEFAULT_URI || DEFAULT_URI));
  const warn = opts.onWarning ?? warnProcess;
  const driver = new Driver({
    paths: driverPaths({ root: opts.root }, env),
    ctx: defaultContext(opts.context),
    onProblem: (p: LoadProblem) => warn(`skipping stored definition ${p.file}: ${p.reason}`),
  });
  return new Connection(driver, canonical);
}

export class Connection {
  private closed = false;

  /** @internal Use connect(). */
  constructor(
    private readonly driver: Driver,
    private readonly uri: string,
  ) {}

  /** Define (or update) a persistent domain from domain XML. */
  async defineXML(xml: string | Uint8Array): Promise<Domain> {
    const { ref } = await this.open().defineXML(xml);
    return this.domain(ref);
  }

  /** Start a domain from XML without defining it (transient unless one of that name and UUID is defined). */
  async createXML(xml: string | Uint8Array): Promise<Domain> {
    return this.domain(await this.open().createXML(xml));
  }

  async lookupByName(name: string): Promise<Domain> {
    return this.domain(await this.open().lookupByName(name));
  }

  /** Accepts the forms libvirt accepts: 36-character UUIDs, or 32 hex digits. */
  async lookupByUUID(uuid: string): Promise<Domain> {
    return this.domain(await this.open().lookupByUUID(uuid));
  }

  async lookupByID(id: number): Promise<Domain> {
    return this.domain(await this.open().lookupByID(id));
  }

  /** virConnectListAllDomains; with no filter, every domain. */
  async listAllDomains(filter: ListDomainsFilter = {}): Promise<Domain[]> {
    const all = await this.open().listAll();
    return all.filter((d) => matches(d, filter)).map((d) => this.domain(d));
  }

  /** Convert a native configuration ('lxc-tools': an LXC config file) to domain XML. */
  async domainXMLFromNative(format: string, config: string): Promise<string> {
    return this.open().domainXMLFromNative(format, config);
  }

  getURI(): string {
    this.open();
    return this.uri;
  }

  getType(): string {
    this.open();
    return HYPERVISOR_TYPE;
  }

  /** Hypervisor version: the host kernel release, major * 1,000,000 + minor * 1,000 + micro. */
  getVersion(): number {
    return this.open().hypervisorVersion();
  }

  /** The libvirt version whose behaviour this library follows, encoded like getVersion(). */
  getLibVersion(): number {
    this.open();
    return LIBVIRT_COMPAT_VERSION;
  }

  /** virNodeGetSecurityModel: the host's security driver ('none' here) and its DOI. */
  getSecurityModel(): { model: string; doi: string } {
    return this.open().securityModel();
  }

  isAlive(): boolean {
    return !this.closed;
  }

  close(): void {
    this.closed = true;
  }

  /**
   * Statistics of every domain, or of `opts.domains` (virConnectGetAllDomainStats,
   * virDomainListGetStats): the state, cpu-total and balloon groups.
   */
  async getAllDomainStats(opts: DomainStatsOptions = {}): Promise<DomainStatsRecord[]> {
    const records = await collectDomainStats(this.open(), opts, (d) => matches(d, opts.filter ?? {}));
    return records.map(({ snapshot, params }) => ({ domain: this.domain(snapshot), params }));
  }

  private open(): Driver {
    if (this.closed) throw new VirError('VIR_ERR_INVALID_CONN', 'the connection is closed');
    return this.driver;
  }

  private domain(ref: DomainRef): Domain {
    return new Domain(() => this.open(), ref);
  }
}

/** A handle on one domain, like virDomainPtr: it names the domain, the driver holds its state. */
export class Domain implements DomainRef {
  readonly name: string;
  readonly uuid: string;

  /** @internal Domains come from a Connection; `driver` fails once it is closed. */
  constructor(
    private readonly driver: () => Driver,
    ref: DomainRef,
  ) {
    this.name = ref.name;
    this.uuid = ref.uuid;
  }

  /** The domain ID (its supervisor's PID), or undefined when it is not running. */
  async getID(): Promise<number | undefined> {
    return this.driver().id(this);
  }

  async getXMLDesc(opts: XMLDescOptions = {}): Promise<string> {
    return this.driver().xmlDesc(this, opts);
  }

  /** Start the defined domain (virDomainCreate). */
  async create(): Promise<void> {
    return this.driver().start(this);
  }

  /** Stop it at once, killing every process (virDomainDestroy). */
  async destroy(): Promise<void> {
    return this.driver().destroy(this);
  }

  /** Ask init to power off (initctl, then a signal; `mode` limits the methods). Returns before it has stopped. */
  async shutdown(opts: { mode?: readonly ShutdownMode[] } = {}): Promise<void> {
    return this.driver().shutdown(this, opts.mode);
  }

  /** Ask init to reboot; the container starts again with the same ID. */
  async reboot(opts: { mode?: readonly ShutdownMode[] } = {}): Promise<void> {
    return this.driver().reboot(this, opts.mode);
  }

  /** The interfaces (running definition unless `inactive`), as `domiflist` shows them. */
  async interfaceList(opts: { inactive?: boolean } = {}): Promise<InterfaceRow[]> {
    return this.driver().interfaceList(this, opts);
  }

  /** The addresses each interface of the running domain was configured with. */
  async interfaceAddresses(): Promise<InterfaceAddresses[]> {
    return this.driver().interfaceAddresses(this);
  }

  /** Traffic counters of one interface (its host device name or MAC), as the guest sees them. */
  async interfaceStats(device: string): Promise<InterfaceStats> {
    return this.driver().interfaceStats(this, device);
  }

  /**
   * Add a device (virDomainAttachDeviceFlags): `live` to the running
   * container, `config` to the persistent definition; neither means the
   * running domain if it runs, else the definition. Only `<interface>` can be
   * attached; it is set up inside like an interface present at start.
   */
  async attachDevice(xml: string | Uint8Array, opts: AffectOptions = {}): Promise<void> {
    return this.driver().attachDevice(this, xml, opts);
  }

  /** Remove a device (virDomainDetachDeviceFlags): the `<interface>` with the XML's MAC address. */
  async detachDevice(xml: string | Uint8Array, opts: AffectOptions = {}): Promise<void> {
    return this.driver().detachDevice(this, xml, opts);
  }

  /** virsh attach-interface: attach the interface these options describe (see interfaceXML). */
  async attachInterface(spec: InterfaceSpec, opts: AffectOptions = {}): Promise<void> {
    return this.attachDevice(interfaceXML(spec), opts);
  }

  /**
   * virsh detach-interface: detach the interface of `type` (with MAC address
   * `mac` when there are several), from the persistent definition with
   * `config`, and from the running domain with `live` (neither: the current
   * one). Throws InterfaceRequestError when no single interface matches.
   */
  async detachInterface(type: string, opts: AffectOptions & { readonly mac?: string } = {}): Promise<void> {
    if (opts.config) {
      const { def } = await this.driver().snapshot(this);
      await this.detachDevice(interfaceToDetach(def, type, opts.mac), { config: true });
    }
    if (opts.live || !opts.config) {
      const { def, live } = await this.driver().snapshot(this);
      await this.detachDevice(interfaceToDetach(live?.def ?? def, type, opts.mac), { live: opts.live });
    }
  }

  /** Freeze every process of the container (state paused, reason user). */
  async suspend(): Promise<void> {
    return this.driver().suspend(this);
  }

  /** Thaw a suspended container (state running, reason unpaused). */
  async resume(): Promise<void> {
    return this.driver().resume(this);
  }

  async undefine(): Promise<void> {
    return this.driver().undefine(this);
  }

  async getInfo(): Promise<DomainInfo> {
    return this.driver().info(this);
  }

  async getState(): Promise<DomainStateInfo> {
    return this.driver().state(this);
  }

  async isActive(): Promise<boolean> {
    return (await this.driver().snapshot(this)).live !== undefined;
  }

  async isPersistent(): Promise<boolean> {
    return (await this.driver().snapshot(this)).persistent;
  }

  async getAutostart(): Promise<boolean> {
    return (await this.driver().snapshot(this)).autostart;
  }

  /** Start the domain when the host boots (a persistent domain only), or stop doing so. */
  async setAutostart(autostart: boolean): Promise<void> {
    return setAutostart(this.driver(), this, autostart);
  }

  /**
   * Attach to a console of the running domain (virDomainOpenConsole):
   * `devname` is its alias (console0, console1, …; default the first).
   * The stream carries the console's raw bytes both ways; end it to detach.
   */
  async openConsole(devname?: string, opts: ConsoleOptions = {}): Promise<Duplex> {
    return openDomainConsole(this.driver(), this, devname, opts);
  }

  /** Send signal `signum` (0..64) to process `pid` of the domain: only its init, pid 1, can be signalled. */
  async sendProcessSignal(pid: number, signum: number): Promise<void> {
    return sendProcessSignal(this.driver(), this, pid, signum);
  }

  /**
   * Run a command inside the running domain, in its namespaces and cgroups
   * (virsh lxc-enter-namespace). `command[0]` is the program's path in the
   * container (no PATH search); stdio is inherited unless given.
   */
  async lxcEnterNamespace(command: readonly string[], opts: EnterOptions = {}): Promise<CommandExit> {
    return enterDomain(this.driver(), this, command, opts);
  }

  /** Always 'exe' for containers. */
  async getOSType(): Promise<string> {
    return (await this.driver().snapshot(this)).def.os.type;
  }

  /** The <title>, if the definition has one (running definition unless `inactive`). */
  async getTitle(opts: { inactive?: boolean } = {}): Promise<string | undefined> {
    const { def, live } = await this.driver().snapshot(this);
    return (live && !opts.inactive ? live.def : def).title;
  }

  /** The scheduler ('posix') and how many scheduler parameters the domain has. */
  async getSchedulerType(): Promise<tuning.SchedulerType> {
    return tuning.schedulerType(this.driver(), this);
  }

  /** cpu_shares, vcpu_period, vcpu_quota of the running domain or, with `config`, of the definition. */
  async getSchedulerParameters(opts: tuning.AffectOptions = {}): Promise<tuning.SchedulerParameters> {
    return tuning.getSchedulerParameters(this.driver(), this, opts);
  }

  async setSchedulerParameters(params: tuning.SchedulerChanges, opts: tuning.AffectOptions = {}): Promise<void> {
    return tuning.setSchedulerParameters(this.driver(), this, params, opts);
  }

  /** The memory limits (KiB or 'unlimited'). */
  async getMemoryParameters(opts: tuning.AffectOptions = {}): Promise<tuning.MemoryParameters> {
    return tuning.getMemoryParameters(this.driver(), this, opts);
  }

  async setMemoryParameters(params: tuning.MemoryParameterChanges, opts: tuning.AffectOptions = {}): Promise<void> {
    return tuning.setMemoryParameters(this.driver(), this, params, opts);
  }

  /** The blkio weight and per-device weights and throttles. */
  async getBlkioParameters(opts: tuning.AffectOptions = {}): Promise<tuning.BlkioParameters> {
    return tuning.getBlkioParameters(this.driver(), this, opts);
  }

  async setBlkioParameters(params: tuning.BlkioParameterChanges, opts: tuning.AffectOptions = {}): Promise<void> {
    return tuning.setBlkioParameters(this.driver(), this, params, opts);
  }

  /**
   * Change the memory allocation to `kib`: without options the running
   * domain only (virDomainSetMemory), else as virDomainSetMemoryFlags.
   */
  async setMemory(kib: bigint, opts?: tuning.AffectOptions): Promise<void> {
    return tuning.setMemory(this.driver(), this, kib, opts);
  }

  /** Change the maximum memory (<memory>) of the definition; not possible while running. */
  async setMaxMemory(kib: bigint, opts?: tuning.AffectOptions): Promise<void> {
    return tuning.setMaxMemory(this.driver(), this, kib, opts);
  }

  /** Memory statistics of the running domain, KiB: actual, swap_in, rss. */
  async memoryStats(): Promise<tuning.MemoryStats> {
    return tuning.memoryStats(this.driver(), this);
  }

  /** CPU time of the running domain: in total, user and system, and per host CPU. */
  async getCPUStats(): Promise<tuning.CPUStats> {
    return tuning.cpuStats(this.driver(), this);
  }
}
