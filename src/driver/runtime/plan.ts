/**
 * The launch plan: everything a container start does, decided in TypeScript
 * and written down as data for the supervisor (docs/plan-format.md). The
 * structured form is what the planner builds and tests inspect; `planRecords`
 * turns it into the wire records in the order the format requires.
 */
import { encodePlan } from './plan-encoding.js';
import type { DeviceRule } from './devicefilter.js';

export type NamespaceFlag = 'mnt' | 'uts' | 'ipc' | 'pid' | 'net' | 'user' | 'cgroup';
export type SharedKind = 'net' | 'ipc' | 'uts';
export type SupervisorAction = 'destroy' | 'restart' | 'preserve';

export interface IdRange {
  readonly start: number;
  readonly target: number;
  readonly count: number;
}

/** One operation the container child runs, in order (the wire keyword first). */
export type ChildOp =
  | { op: 'sethostname'; name: string }
  | { op: 'mount'; source: string; target: string; fstypes: string; flags: string; data: string }
  | { op: 'mount-loop'; file: string; target: string; fstypes: string; flags: string; data: string }
  | { op: 'mkdir'; path: string; mode: string }
  | { op: 'touch'; path: string; mode: string }
  | { op: 'mknod'; path: string; type: 'c' | 'b'; major: number; minor: number; mode: string }
  | { op: 'symlink'; target: string; path: string }
  | { op: 'chown'; path: string; uid: number; gid: number }
  | { op: 'bind-console'; index: number; target: string }
  | { op: 'pivot'; newRoot: string; oldRoot: string }
  | { op: 'umount'; path: string }
  | { op: 'remount'; path: string; flags: string }
  | { op: 'ifup'; name: string }
  | { op: 'link-rename'; from: string; to: string }
  | { op: 'link-set'; name: string; state: 'up' | 'down' }
  | { op: 'addr-add'; name: string; address: string; prefix: number; peer: string }
  | { op: 'route-add'; name: string; route: RouteFields }
  /** Delete a link inside (a missing one is fine): only in a network change (net-apply). */
  | { op: 'link-remove'; name: string };

/** family, destination, prefix, gateway ('' = none), metric ('0' = default). */
export type RouteFields = readonly [string, string, string, string, string];

/** Network set-up the supervisor does on the host side (docs/plan-format.md, Network records). */
export type HostNetOp =
  | { op: 'veth'; host: string; peer: string }
  | { op: 'macvlan'; name: string; lower: string; mode: string }
  | { op: 'link-mac'; name: string; mac: string }
  | { op: 'link-mtu'; name: string; mtu: number }
  | { op: 'link-master'; name: string; bridge: string }
  | { op: 'link-up'; name: string }
  | { op: 'host-addr'; name: string; address: string; prefix: number; peer: string }
  | { op: 'host-route'; name: string; route: RouteFields }
  | { op: 'link-netns'; name: string }
  /** Delete a host link (a missing one is fine). */
  | { op: 'link-del'; name: string };

export interface InitSpec {
  /** Absolute path inside the container; argv[0] included in argv. */
  readonly path: string;
  readonly argv: readonly string[];
  readonly env: readonly string[];
  readonly uid?: number;
  readonly gid?: number;
  readonly groups?: readonly number[];
  readonly cwd?: string;
  readonly capsDrop: readonly number[];
  readonly stdioConsole?: number;
}

export interface LaunchPlan {
  readonly name: string;
  readonly files: { readonly log: string; readonly status: string; readonly control: string };
  readonly clone: readonly NamespaceFlag[];
  readonly share: ReadonlyArray<{ readonly kind: SharedKind; readonly path: string }>;
  readonly uidmap: readonly IdRange[];
  readonly gidmap: readonly IdRange[];
  /** One leaf directory per cgroup hierarchy, created by the supervisor and removed when the container ends. */
  readonly cgroups: readonly string[];
  readonly cgroupWrites: ReadonlyArray<{ readonly path: string; readonly value: string }>;
  /** Host ptys, one per console, owned by `uid`/`gid` when a user namespace maps root elsewhere. */
  readonly consoles: ReadonlyArray<{ readonly index: number; readonly uid?: number; readonly gid?: number }>;
  readonly lifecycle: { readonly onPoweroff: SupervisorAction; readonly onReboot: SupervisorAction; readonly onCrash: SupervisorAction };
  /** Host-side network set-up, in order (links created, configured, moved in). */
  readonly network: readonly HostNetOp[];
  readonly operations: readonly ChildOp[];
  readonly init: InitSpec;
  /** Host paths removed, and host links deleted, when the container ends (in reverse order). */
  readonly cleanup: ReadonlyArray<{ readonly kind: 'rmdir' | 'unlink' | 'link'; readonly path: string }>;
  /**
   * cgroup v2 device access: a BPF program the driver attaches to this
   * directory before the container joins it (not part of the wire plan).
   */
  readonly deviceFilter?: { readonly cgroupDir: string; readonly rules: readonly DeviceRule[] };
  /** The names each `<interface>` gets, for the live definition (not part of the wire plan). */
  readonly interfaceNames: ReadonlyArray<{ readonly host?: string; readonly guest: string }>;
}

type Rec = readonly string[];

function opRecord(op: ChildOp): Rec {
  switch (op.op) {
    case 'sethostname':
      return [op.op, op.name];
    case 'mount':
      return [op.op, op.source, op.target, op.fstypes, op.flags, op.data];
    case 'mount-loop':
      return [op.op, op.file, op.target, op.fstypes, op.flags, op.data];
    case 'mkdir':
    case 'touch':
      return [op.op, op.path, op.mode];
    case 'mknod':
      return [op.op, op.path, op.type, String(op.major), String(op.minor), op.mode];
    case 'symlink':
      return [op.op, op.target, op.path];
    case 'chown':
      return [op.op, op.path, String(op.uid), String(op.gid)];
    case 'bind-console':
      return [op.op, String(op.index), op.target];
    case 'pivot':
      return [op.op, op.newRoot, op.oldRoot];
    case 'umount':
      return [op.op, op.path];
    case 'remount':
      return [op.op, op.path, op.flags];
    case 'ifup':
    case 'link-remove':
      return [op.op, op.name];
    case 'link-rename':
      return [op.op, op.from, op.to];
    case 'link-set':
      return [op.op, op.name, op.state];
    case 'addr-add':
      return [op.op, op.name, op.address, String(op.prefix), op.peer];
    case 'route-add':
      return [op.op, op.name, ...op.route];
  }
}

function hostNetRecord(op: HostNetOp): Rec {
  switch (op.op) {
    case 'veth':
      return [op.op, op.host, op.peer];
    case 'macvlan':
      return [op.op, op.name, op.lower, op.mode];
    case 'link-mac':
      return [op.op, op.name, op.mac];
    case 'link-mtu':
      return [op.op, op.name, String(op.mtu)];
    case 'link-master':
      return [op.op, op.name, op.bridge];
    case 'link-up':
    case 'link-netns':
    case 'link-del':
      return [op.op, op.name];
    case 'host-addr':
      return [op.op, op.name, op.address, String(op.prefix), op.peer];
    case 'host-route':
      return [op.op, op.name, ...op.route];
  }
}

const range = (kw: string, r: IdRange): Rec => [kw, String(r.start), String(r.target), String(r.count)];

function initRecords(init: InitSpec): Rec[] {
  const recs: Rec[] = [];
  if (init.capsDrop.length > 0) recs.push(['caps-drop', ...init.capsDrop.map(String)]);
  if (init.uid !== undefined && init.gid !== undefined) recs.push(['user', String(init.uid), String(init.gid)]);
  if (init.groups && init.groups.length > 0) recs.push(['groups', ...init.groups.map(String)]);
  if (init.cwd !== undefined) recs.push(['cwd', init.cwd]);
  for (const e of init.env) recs.push(['env', e]);
  if (init.stdioConsole !== undefined) recs.push(['stdio-console', String(init.stdioConsole)]);
  recs.push(['exec', init.path, ...init.argv]);
  return recs;
}

/** The plan as wire records, in the order docs/plan-format.md describes. */
export function planRecords(plan: LaunchPlan): Rec[] {
  return [
    ['name', plan.name],
    ['log', plan.files.log],
    ['status', plan.files.status],
    ['control', plan.files.control],
    ['clone', ...plan.clone],
    ...plan.share.map((s): Rec => ['share', s.kind, s.path]),
    ...plan.uidmap.map((r) => range('uidmap', r)),
    ...plan.gidmap.map((r) => range('gidmap', r)),
    ...plan.cgroups.map((d): Rec => ['cgroup', d]),
    ...plan.cgroupWrites.map((w): Rec => ['cgroup-write', w.path, w.value]),
    ...plan.consoles.map((c): Rec =>
      c.uid === undefined ? ['console', String(c.index)] : ['console', String(c.index), String(c.uid), String(c.gid ?? -1)],
    ),
    ...plan.network.map(hostNetRecord),
    ['on-poweroff', plan.lifecycle.onPoweroff],
    ['on-reboot', plan.lifecycle.onReboot],
    ['on-crash', plan.lifecycle.onCrash],
    ...plan.cleanup.map((c): Rec => [`cleanup-${c.kind}`, c.path]),
    ...plan.operations.map(opRecord),
    ...initRecords(plan.init),
  ];
}

export const encodeLaunchPlan = (plan: LaunchPlan): string => encodePlan(planRecords(plan));

/** A network change for a running container (the control command net-apply): host records, then child operations. */
export const encodeNetworkChange = (host: readonly HostNetOp[], child: readonly ChildOp[]): string =>
  encodePlan([...host.map(hostNetRecord), ...child.map(opRecord)]);
