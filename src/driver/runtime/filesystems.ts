/**
 * The container's filesystem layout as an ordered list of child operations
 * (libvirt's lxcContainerSetupPivotRoot, step by step): the root staged at
 * STAGE, the basic mounts (/proc with /proc/sys read-only, /sys read-only,
 * the cgroup hierarchies), a private /dev with its standard nodes, devpts,
 * /dev/shm and the consoles, device nodes for disks and hostdevs, the other
 * filesystems in definition order, a read-only root if asked, then
 * pivot_root. Every path before the pivot is a host path under STAGE.
 */
import { basename, join } from 'node:path';
import { VirError } from '../../xml/errors.js';
import type { DomainDef } from '../../xml/model.js';
import type { FilesystemDef } from '../../xml/sections/devices/filesystem.js';
import type { ChildOp } from './plan.js';
import type { HostFacts } from './hostfacts.js';

const unsupported = (msg: string): VirError => new VirError('VIR_ERR_CONFIG_UNSUPPORTED', msg);

export interface LayoutOptions {
  /** Host directory the root is staged on (in the container's mount namespace only). */
  readonly stage: string;
  readonly userns: boolean;
  readonly netns: boolean;
  readonly cgroupns: boolean;
  /** gid the devpts instance gives new ptys (tty group), when it is mapped. */
  readonly ttyGid: number | undefined;
}

const STANDARD_DEVICES: ReadonlyArray<readonly [string, number, number]> = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
];

/** The filesystem whose target is `/`, as libvirt finds it (trailing slashes ignored). */
export const rootFilesystem = (def: DomainDef): FilesystemDef | undefined =>
  def.devices.filesystems.find((fs) => fs.target.replace(/\/+$/, '') === '');

const inStage = (stage: string, path: string): string => join(stage, path);

function fsFlags(readonly: boolean, ...more: string[]): string {
  const flags = [...more, ...(readonly ? ['rdonly'] : [])];
  return flags.length > 0 ? flags.join(',') : '';
}

/** Mount the root filesystem on STAGE (the staging mount the pivot turns into `/`). */
function rootOps(root: FilesystemDef | undefined, opts: LayoutOptions, facts: HostFacts): ChildOp[] {
  const ops: ChildOp[] = [{ op: 'mkdir', path: opts.stage, mode: '0755' }];
  const type = root?.type ?? 'mount';
  const source = root?.source ?? '/';
  switch (type) {
    case 'mount':
      ops.push({ op: 'mount', source, target: opts.stage, fstypes: '', flags: 'bind,rec', data: '' });
      ops.push(...hiddenHostMounts(source, opts, facts));
      break;
    case 'block':
      ops.push({
        op: 'mount', source, target: opts.stage, fstypes: facts.blockFilesystems.join(','),
        flags: fsFlags(root?.readonly ?? false), data: '',
      });
      break;
    case 'file':
      ops.push(fileMount(root!, opts.stage, facts));
      break;
    default:
      throw unsupported(`Unsupported root filesystem type ${type}`);
  }
  return ops;
}

function fileMount(fs: FilesystemDef, target: string, facts: HostFacts): ChildOp {
  const driver = fs.driver?.type ?? (fs.driver?.format === undefined || fs.driver.format === 'raw' ? 'loop' : 'nbd');
  if (driver !== 'loop') throw unsupported(`fs driver ${driver} is not supported`);
  if (fs.driver?.format !== undefined && fs.driver.format !== 'raw') {
    throw unsupported(`fs format ${fs.driver.format} is not supported`);
  }
  return {
    op: 'mount-loop', file: fs.source!, target, fstypes: facts.blockFilesystems.join(','),
    flags: fsFlags(fs.readonly), data: '',
  };
}

/**
 * A root directory that carries host mounts at /proc, /sys or /dev (the
 * host's own root, shared): detach those copies before mounting the
 * container's own, so nothing of the host's stays underneath (libvirt's
 * shared-root unmount step, which it also skips with a user namespace).
 */
function hiddenHostMounts(source: string, opts: LayoutOptions, facts: HostFacts): ChildOp[] {
  // In a user namespace the copied host mounts are locked together and cannot be detached one by one.
  if (opts.userns) return [];
  const base = source.replace(/\/+$/, '');
  return REPLACED.filter((dir) => facts.mountPoints.includes(`${base}${dir}`)).map((dir) => ({ op: 'umount', path: inStage(opts.stage, dir) }));
}

/** /proc (with /proc/sys read-only, its net part writable in a private netns) and a read-only /sys. */
function basicMounts(opts: LayoutOptions): ChildOp[] {
  const at = (p: string): string => inStage(opts.stage, p);
  const ops: ChildOp[] = [
    { op: 'mkdir', path: at('/proc'), mode: '0555' },
    { op: 'mount', source: 'proc', target: at('/proc'), fstypes: 'proc', flags: 'nosuid,nodev,noexec', data: '' },
  ];
  if (opts.netns) {
    ops.push({ op: 'mount', source: at('/proc/sys/net'), target: at('/proc/sys/net'), fstypes: '', flags: 'bind', data: '' });
  }
  ops.push(
    { op: 'mount', source: at('/proc/sys'), target: at('/proc/sys'), fstypes: '', flags: 'bind,rec', data: '' },
    { op: 'remount', path: at('/proc/sys'), flags: 'rdonly,nosuid,nodev,noexec' },
    { op: 'mkdir', path: at('/sys'), mode: '0555' },
  );
  if (opts.netns) {
    // A fresh sysfs shows the container's own network devices; mounted rw, then made read-only
    // on this mount only (a read-only mount flag would change the superblock).
    ops.push({ op: 'mount', source: 'sysfs', target: at('/sys'), fstypes: 'sysfs', flags: 'nosuid,nodev,noexec', data: '' });
  } else {
    // Without a network namespace of its own, sysfs is the host's superblock: bind it (a new
    // sysfs mount over the host's copy under a shared root would fail with EBUSY, and a user
    // namespace may not mount sysfs for a network namespace it does not own).
    ops.push({ op: 'mount', source: '/sys', target: at('/sys'), fstypes: '', flags: 'bind,rec', data: '' });
  }
  ops.push({ op: 'remount', path: at('/sys'), flags: 'rdonly,nosuid,nodev,noexec' });
  return ops;
}

/**
 * The host's cgroup hierarchies, mounted afresh inside the container's cgroup
 * namespace so it sees its own subtree as the root, under a tmpfs; read-only.
 */
function cgroupMounts(opts: LayoutOptions, facts: HostFacts): ChildOp[] {
  if (!opts.cgroupns || facts.cgroupMounts.length === 0) return [];
  const base = inStage(opts.stage, '/sys/fs/cgroup');
  const ops: ChildOp[] = [
    { op: 'mount', source: 'cgroup', target: base, fstypes: 'tmpfs', flags: 'nosuid,nodev,noexec', data: 'mode=755,size=65536' },
  ];
  for (const m of facts.cgroupMounts) {
    const dir = join(base, basename(m.mountPoint));
    ops.push({ op: 'mkdir', path: dir, mode: '0755' });
    ops.push(
      m.version === 1
        ? { op: 'mount', source: 'cgroup', target: dir, fstypes: 'cgroup', flags: 'nosuid,nodev,noexec', data: m.options }
        : { op: 'mount', source: 'cgroup2', target: dir, fstypes: 'cgroup2', flags: 'nosuid,nodev,noexec', data: '' },
    );
  }
  ops.push({ op: 'remount', path: base, flags: 'rdonly,nosuid,nodev,noexec' });
  return ops;
}

/** A device node in the container: mknod, or with a user namespace (no mknod there) a bind of the host node. */
function deviceNode(opts: LayoutOptions, path: string, hostPath: string, type: 'c' | 'b', major: number, minor: number, mode: string): ChildOp[] {
  const target = inStage(opts.stage, path);
  if (opts.userns) {
    return [
      { op: 'touch', path: target, mode },
      { op: 'mount', source: hostPath, target, fstypes: '', flags: 'bind', data: '' },
    ];
  }
  return [{ op: 'mknod', path: target, type, major, minor, mode }];
}

/** Private /dev: tmpfs, standard nodes, devpts, /dev/shm, the std* links and the consoles. */
function devOps(def: DomainDef, opts: LayoutOptions): ChildOp[] {
  const at = (p: string): string => inStage(opts.stage, p);
  const ops: ChildOp[] = [
    { op: 'mkdir', path: at('/dev'), mode: '0755' },
    { op: 'mount', source: 'devfs', target: at('/dev'), fstypes: 'tmpfs', flags: 'nosuid,strictatime', data: 'mode=755,size=65536' },
  ];
  for (const [name, major, minor] of STANDARD_DEVICES) ops.push(...deviceNode(opts, `/dev/${name}`, `/dev/${name}`, 'c', major, minor, '0666'));
  const ptsOptions = ['newinstance', 'ptmxmode=0666', 'mode=0620', ...(opts.ttyGid === undefined ? [] : [`gid=${opts.ttyGid}`])];
  ops.push(
    { op: 'mkdir', path: at('/dev/pts'), mode: '0755' },
    { op: 'mount', source: 'devpts', target: at('/dev/pts'), fstypes: 'devpts', flags: 'nosuid,noexec', data: ptsOptions.join(',') },
    { op: 'symlink', target: 'pts/ptmx', path: at('/dev/ptmx') },
    { op: 'mkdir', path: at('/dev/shm'), mode: '1777' },
    { op: 'mount', source: 'shm', target: at('/dev/shm'), fstypes: 'tmpfs', flags: 'nosuid,nodev', data: 'mode=1777' },
    { op: 'symlink', target: '/proc/self/fd', path: at('/dev/fd') },
    { op: 'symlink', target: '/proc/self/fd/0', path: at('/dev/stdin') },
    { op: 'symlink', target: '/proc/self/fd/1', path: at('/dev/stdout') },
    { op: 'symlink', target: '/proc/self/fd/2', path: at('/dev/stderr') },
  );
  def.devices.consoles.forEach((_, i) => {
    const ttys = i === 0 ? ['/dev/console', '/dev/tty1'] : [`/dev/tty${i + 1}`];
    for (const tty of ttys) {
      ops.push({ op: 'touch', path: at(tty), mode: '0600' }, { op: 'bind-console', index: i, target: at(tty) });
    }
  });
  return ops;
}

/** Nodes for `<disk type='block'>` (at /dev/<target>) and storage/misc hostdevs (at their own path), mode 0700. */
function deviceOps(def: DomainDef, opts: LayoutOptions, facts: HostFacts): ChildOp[] {
  const ops: ChildOp[] = [];
  const node = (hostPath: string, path: string, want: 'block' | 'char' | 'either', what: string): void => {
    const st = facts.stat(hostPath);
    if (st === undefined) throw new VirError('VIR_ERR_SYSTEM_ERROR', `Unable to stat ${what} ${hostPath}: No such file or directory`);
    const ok = want === 'either' ? st.kind === 'block' || st.kind === 'char' : st.kind === want;
    if (!ok) {
      throw unsupported(want === 'char' ? `Storage source ${hostPath} must be a character device` : `Storage source ${hostPath} must be a block device`);
    }
    ops.push(...deviceNode(opts, path, hostPath, st.kind === 'block' ? 'b' : 'c', st.major, st.minor, '0700'));
  };
  for (const disk of def.devices.disks) {
    if (disk.type !== 'block') throw unsupported("Can't setup disk for non-block device");
    if (disk.source === undefined) throw unsupported("Can't setup disk without media");
    node(disk.source, `/dev/${disk.target}`, 'either', 'disk');
  }
  for (const hd of def.devices.hostdevs) {
    if (hd.mode === 'capabilities' && hd.type === 'storage') node(hd.blockDevice, hd.blockDevice, 'block', 'storage');
    else if (hd.mode === 'capabilities' && hd.type === 'misc') node(hd.charDevice, hd.charDevice, 'char', 'device');
    else if (hd.mode === 'capabilities' && hd.type === 'net') continue; // moved in by the networking layer
    else throw unsupported(`Unsupported hostdev type ${hd.type}`);
  }
  return ops;
}

/** Every filesystem other than the root, in definition order (lxcContainerMountAllFS). */
function otherFilesystems(def: DomainDef, opts: LayoutOptions, facts: HostFacts): ChildOp[] {
  const ops: ChildOp[] = [];
  for (const fs of def.devices.filesystems) {
    const targetPath = fs.target.replace(/\/+$/, '');
    if (targetPath === '') continue;
    const target = inStage(opts.stage, targetPath);
    const sourceIsFile = fs.type === 'mount' && fs.source !== undefined && facts.stat(fs.source)?.kind === 'file';
    ops.push(sourceIsFile ? { op: 'touch', path: target, mode: '0644' } : { op: 'mkdir', path: target, mode: '0755' });
    switch (fs.type) {
      case 'mount':
        ops.push({ op: 'mount', source: fs.source!, target, fstypes: '', flags: fsFlags(fs.readonly, 'bind'), data: '' });
        break;
      case 'bind':
        ops.push({ op: 'mount', source: inStage(opts.stage, fs.source!), target, fstypes: '', flags: fsFlags(fs.readonly, 'bind'), data: '' });
        break;
      case 'ram':
        ops.push({
          op: 'mount', source: 'tmpfs', target, fstypes: 'tmpfs', flags: fsFlags(fs.readonly, 'nosuid', 'nodev'),
          data: `size=${fs.usageBytes ?? 0n}`,
        });
        break;
      case 'block':
        ops.push({ op: 'mount', source: fs.source!, target, fstypes: facts.blockFilesystems.join(','), flags: fsFlags(fs.readonly), data: '' });
        break;
      case 'file':
        ops.push(fileMount(fs, target, facts));
        break;
      default:
        throw unsupported(`Cannot mount filesystem type ${fs.type}`);
    }
  }
  return ops;
}

/**
 * A read-only root: the root mount and every host mount it carries along
 * (when the root is a host directory) become read-only, except the ones the
 * container replaces (/proc, /sys, /dev) and nsvirt's own state.
 */
function readonlyRootOps(root: FilesystemDef | undefined, opts: LayoutOptions, facts: HostFacts, replaced: readonly string[]): ChildOp[] {
  const ops: ChildOp[] = [{ op: 'remount', path: opts.stage, flags: 'rdonly' }];
  if ((root?.type ?? 'mount') !== 'mount') return ops;
  const source = (root?.source ?? '/').replace(/\/+$/, '') || '/';
  const under = (p: string, dir: string): boolean => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);
  const seen = new Set<string>();
  for (const mp of facts.mountPoints) {
    if (mp === source || !under(mp, source)) continue;
    const inside = source === '/' ? mp : mp.slice(source.length);
    if (replaced.some((r) => under(inside, r)) || under(mp, opts.stage) || seen.has(inside)) continue;
    seen.add(inside);
    ops.push({ op: 'remount', path: inStage(opts.stage, inside), flags: 'rdonly' });
  }
  return ops;
}

/** Mounts the container provides itself; host mounts below them are hidden. */
const REPLACED = ['/proc', '/sys', '/dev'];

export function filesystemLayout(def: DomainDef, opts: LayoutOptions, facts: HostFacts, stateDir: string): ChildOp[] {
  const root = rootFilesystem(def);
  const ops: ChildOp[] = [
    // Nothing the container mounts may propagate back to the host.
    { op: 'mount', source: '', target: '/', fstypes: '', flags: 'rslave', data: '' },
    ...rootOps(root, opts, facts),
    ...basicMounts(opts),
    ...cgroupMounts(opts, facts),
    ...devOps(def, opts),
    ...deviceOps(def, opts, facts),
    ...otherFilesystems(def, opts, facts),
  ];
  if (root?.readonly) ops.push(...readonlyRootOps(root, opts, facts, [...REPLACED, stateDir]));
  ops.push({ op: 'pivot', newRoot: opts.stage, oldRoot: '.' });
  return ops;
}
