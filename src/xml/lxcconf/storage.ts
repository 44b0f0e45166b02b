/** Filesystems: lxc.rootfs.path (legacy lxc.rootfs) and lxc.mount.entry; lxc.mount.fstab is refused. */
import { VirError, internalError, unsupported } from '../errors.js';
import { entryError, shown, type ConfigEntry, type LxcConfig } from './config.js';
import { convertSize } from './numbers.js';

export type FilesystemPlan =
  | { type: 'mount'; sourceDir: string; target: string; readonly: boolean }
  | { type: 'block'; sourceDev: string; target: string; readonly: boolean }
  | { type: 'ram'; usageBytes: bigint; target: string; readonly: boolean };

/** Mounts libvirt sets up in every container itself (lxcIsBasicMountLocation). */
const BASIC_MOUNTS: ReadonlySet<string> = new Set([
  '/proc',
  '/proc/sys',
  '/proc/sys/net/ipv4',
  '/proc/sys/net/ipv6',
  '/sys',
  '/sys/kernel/security',
  '/sys/fs/selinux',
]);

const isDevicePath = (path: string): boolean => path.startsWith('/dev/');

/** A filesystem whose source is a host path: a block device under /dev/, else a directory. */
function hostPathFilesystem(source: string, target: string, readonly: boolean): FilesystemPlan {
  return isDevicePath(source)
    ? { type: 'block', sourceDev: source, target, readonly }
    : { type: 'mount', sourceDir: source, target, readonly };
}

/** The container's root filesystem (the value is used literally: no `dir:` prefix handling). */
export function rootFilesystem(config: LxcConfig): FilesystemPlan {
  const entry = config.first('lxc.rootfs.path', 'lxc.rootfs');
  if (entry === undefined) throw unsupported('Missing lxc.rootfs.path (or legacy lxc.rootfs) configuration');
  if (entry.value === '') throw entryError(entry, 'the root filesystem path must not be empty');
  return hostPathFilesystem(entry.value, '/', false);
}

/** libvirt cannot read fstab files: every mount has to be an lxc.mount.entry line. */
export function rejectFstab(config: LxcConfig): void {
  if (config.first('lxc.mount.fstab', 'lxc.mount') !== undefined) {
    throw new VirError(
      'VIR_ERR_ARGUMENT_UNSUPPORTED',
      'lxc.mount.fstab or lxc.mount found, use lxc.mount.entry lines instead',
    );
  }
}

/** tmpfs size in bytes from its `size=` mount option. */
function tmpfsSize(options: readonly string[]): bigint {
  const size = options.find((o) => o.startsWith('size='));
  if (size === undefined) throw internalError('missing tmpfs size, set the size option');
  return convertSize(size.slice('size='.length));
}

/** One fstab-style `source target type options [dump pass]` line; undefined for mounts libvirt provides. */
function mountEntryFilesystem(entry: ConfigEntry): FilesystemPlan | undefined {
  const fields = entry.value.split(/[ \t]+/).filter((f) => f !== '');
  if (fields.length < 4) {
    throw entryError(entry, `expecting 'source target type options', got '${shown(entry.value)}'`);
  }
  const [source, dst, fstype, optionList] = fields as [string, string, string, string];
  const target = dst.startsWith('/') ? dst : `/${dst}`;
  if (BASIC_MOUNTS.has(target)) return undefined;
  const options = optionList.split(',');
  const readonly = options.includes('ro');
  if (fstype === 'tmpfs') return { type: 'ram', usageBytes: tmpfsSize(options), target, readonly };
  return hostPathFilesystem(source, target, readonly);
}

export function mountEntryFilesystems(config: LxcConfig): FilesystemPlan[] {
  return config
    .all('lxc.mount.entry')
    .map(mountEntryFilesystem)
    .filter((fs): fs is FilesystemPlan => fs !== undefined);
}
