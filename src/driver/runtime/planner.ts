/**
 * Domain definition → launch plan. Pure: every fact about the host comes in
 * through HostFacts, every decision is made here (libvirt's
 * virLXCProcessStart, the controller and the container child, §3 of the
 * behavioural reference), and the supervisor only executes the result.
 */
import { join } from 'node:path';
import { VirError } from '../../xml/errors.js';
import type { DomainDef } from '../../xml/model.js';
import type { LifecycleAction } from '../../xml/sections/features.js';
import type { IdmapEntry } from '../../xml/sections/os.js';
import { capabilitiesToDrop } from './capabilities.js';
import { DEFAULT_PARTITION, containerCgroups, type ContainerCgroups } from './cgroups.js';
import { cgroupLayout, tunableWrites, type Controller } from './tunables.js';
import { deviceRules, formatV1Rule } from './deviceacl.js';
import { filesystemLayout, rootFilesystem } from './filesystems.js';
import type { HostFacts } from './hostfacts.js';
import { containerHostname, initEnvironment, resolveInitIdentity } from './init.js';
import type { ChildOp, LaunchPlan, NamespaceFlag, SharedKind, SupervisorAction } from './plan.js';
import type { RuntimeFiles } from './files.js';
import { networkPlan, type NetworkFacts } from './network.js';

const unsupported = (msg: string): VirError => new VirError('VIR_ERR_CONFIG_UNSUPPORTED', msg);

/** Where shared namespaces come from: running domains' init pids and /run/netns. */
export interface NamespaceSources {
  initPidOf(domainName: string): number | undefined;
  readonly netnsDir: string;
}

export interface PlanInputs {
  readonly def: DomainDef;
  readonly files: RuntimeFiles;
  readonly stateDir: string;
  readonly facts: HostFacts;
  readonly namespaces: NamespaceSources;
  readonly network: NetworkFacts;
}

/** libvirt's start-time console checks (virLXCProcessStart). */
function checkConsoles(def: DomainDef): void {
  if (def.devices.consoles.length === 0) throw unsupported('At least one PTY console is required');
  if (def.devices.consoles.some((c) => c.source.type !== 'pty')) throw unsupported('Only PTY console types are supported');
}

/** `rename-restart` and the coredump variants map onto what a container can do. */
function supervisorAction(action: LifecycleAction): SupervisorAction {
  switch (action) {
    case 'restart':
    case 'rename-restart':
    case 'coredump-restart':
      return 'restart';
    case 'preserve':
      return 'preserve';
    default:
      return 'destroy';
  }
}

const KIND_OF: Record<'sharenet' | 'shareipc' | 'shareuts', SharedKind> = { sharenet: 'net', shareipc: 'ipc', shareuts: 'uts' };

/** `<lxc:namespace>` entries as namespace files to join (lxc_process.c:virLXCProcessSetupNamespaces). */
function sharedNamespaces(def: DomainDef, sources: NamespaceSources): Array<{ kind: SharedKind; path: string }> {
  const shares: Array<{ kind: SharedKind; path: string }> = [];
  for (const [key, kind] of Object.entries(KIND_OF) as Array<[keyof typeof KIND_OF, SharedKind]>) {
    const src = def.lxcNamespace?.[key];
    if (src === undefined || src.type === 'none') continue;
    if (src.type === 'name') {
      const pid = sources.initPidOf(src.value);
      if (pid === undefined) throw new VirError('VIR_ERR_NO_DOMAIN', `No domain with matching name '${src.value}'`);
      shares.push({ kind, path: `/proc/${pid}/ns/${kind}` });
    } else if (src.type === 'pid') {
      shares.push({ kind, path: `/proc/${src.value}/ns/${kind}` });
    } else {
      if (kind !== 'net') throw unsupported("'netns' namespace source can only be used with sharenet");
      shares.push({ kind, path: join(sources.netnsDir, src.value) });
    }
  }
  return shares;
}

/** A private network namespace: privnet, interfaces or a host interface handed over (lxcNeedNetworkNamespace). */
function needsNetns(def: DomainDef): boolean {
  return (
    def.features.privnet === true ||
    def.devices.interfaces.length > 0 ||
    def.devices.hostdevs.some((h) => h.mode === 'capabilities' && h.type === 'net')
  );
}

/** The in-container id that the host id `id` of a map covers (for devpts' gid=). */
function mapped(ranges: readonly IdmapEntry[], inside: number): boolean {
  return ranges.some((r) => inside >= r.start && inside < r.start + r.count);
}

const TTY_GID = 5;

export function buildLaunchPlan(inputs: PlanInputs): LaunchPlan {
  const { def, files, facts } = inputs;
  checkConsoles(def);
  const share = sharedNamespaces(def, inputs.namespaces);
  const netns = needsNetns(def);
  if (netns && share.some((s) => s.kind === 'net')) {
    throw unsupported('Config asks for inherit net namespace as well as private network interfaces');
  }
  const idmap = def.idmap;
  const userns = idmap !== undefined && idmap.uid.length > 0 && idmap.gid.length > 0;
  const shared = new Set(share.map((s) => s.kind));
  const clone: NamespaceFlag[] = ['mnt', 'pid', 'cgroup'];
  for (const kind of ['uts', 'ipc'] as const) if (!shared.has(kind)) clone.push(kind);
  if (netns) clone.push('net');
  if (userns) clone.push('user');

  const root = rootFilesystem(def);
  const rootDir = (root?.type ?? 'mount') === 'mount' ? (root?.source ?? '/') : undefined;
  const identity = resolveInitIdentity(def, (p) => (rootDir === undefined ? undefined : facts.readFile(join(rootDir, p))));

  const operations: ChildOp[] = [
    ...filesystemLayout(
      def,
      {
        stage: files.stageDir,
        userns,
        netns,
        cgroupns: true,
        ttyGid: !userns || mapped(idmap!.gid, TTY_GID) ? TTY_GID : undefined,
      },
      facts,
      inputs.stateDir,
    ),
    { op: 'sethostname', name: containerHostname(def.name) },
  ];
  const network = networkPlan(def, inputs.network);
  if (netns) operations.push({ op: 'ifup', name: 'lo' }, ...network.child);

  const cgroups = containerCgroups(def.name, def.resource?.partition ?? DEFAULT_PARTITION, facts);
  const limits = resourceControl(def, facts, cgroups);
  const rootUid = userns ? idmap!.uid[0]!.target : undefined;
  const rootGid = userns ? idmap!.gid[0]!.target : undefined;
  return {
    name: def.name,
    files: { log: files.log, status: files.status, control: files.control },
    clone,
    share,
    uidmap: userns ? idmap!.uid : [],
    gidmap: userns ? idmap!.gid : [],
    cgroups: cgroups.dirs,
    cgroupWrites: [...cgroups.writes, ...limits.writes],
    consoles: def.devices.consoles.map((_, index) => (userns ? { index, uid: rootUid!, gid: rootGid! } : { index })),
    lifecycle: {
      onPoweroff: supervisorAction(def.onPoweroff),
      onReboot: supervisorAction(def.onReboot),
      onCrash: supervisorAction(def.onCrash),
    },
    network: network.host,
    interfaceNames: network.names,
    operations,
    init: {
      path: def.os.init,
      argv: [def.os.init, ...def.os.initArgs],
      env: initEnvironment(def),
      ...identity,
      cwd: def.os.initDir,
      capsDrop: capabilitiesToDrop(def.features.capabilities),
      stdioConsole: 0,
    },
    cleanup: [{ kind: 'rmdir', path: files.stageDir }, ...network.cleanupLinks.map((path) => ({ kind: 'link' as const, path }))],
    ...(limits.deviceFilter ? { deviceFilter: limits.deviceFilter } : {}),
  };
}

/**
 * The domain's limits and device access as writes into its cgroups. Device
 * rules go to v1's devices.deny/devices.allow where that controller exists,
 * and into a BPF program on the unified hierarchy wherever one is mounted:
 * on a hybrid host both apply the same rules, so access stays denied
 * whichever hierarchy a process is judged by.
 */
function resourceControl(
  def: DomainDef,
  facts: HostFacts,
  cgroups: ContainerCgroups,
): { writes: LaunchPlan['cgroupWrites']; deviceFilter?: LaunchPlan['deviceFilter'] } {
  const layout = cgroupLayout(facts);
  const inDir = (controller: Controller, file: string, value: string): { path: string; value: string } => {
    const m = layout.provider(controller);
    if (!m) throw new VirError('VIR_ERR_INTERNAL_ERROR', `Unable to find '${controller}' cgroups controller mount`);
    return { path: join(cgroups.dirIn(m), file), value };
  };
  const writes = tunableWrites(def, layout, facts).map((w) => inDir(w.controller, w.file, w.value));
  const rules = deviceRules(def, facts);
  const devices = layout.provider('devices');
  if (!devices) throw new VirError('VIR_ERR_INTERNAL_ERROR', "Unable to find 'devices' cgroups controller mount");
  if (devices.version === 1) {
    writes.push(inDir('devices', 'devices.deny', 'a'), ...rules.map((r) => inDir('devices', 'devices.allow', formatV1Rule(r))));
  }
  return layout.unified ? { writes, deviceFilter: { cgroupDir: cgroups.dirIn(layout.unified), rules } } : { writes };
}
