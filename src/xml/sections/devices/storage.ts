/**
 * Storage-type devices: <disk>, <controller> (explicit and implicit),
 * <lease>, <filesystem> and <hostdev>. Each kind lives in its own module;
 * this one gathers them into the devices part, adds the controllers the
 * disks imply, and holds the small <lease>.
 */
import type { SectionHooks } from '../../model.js';
import type { ParseContext } from '../../context.js';
import { attr, elements, textOf, type XmlElement } from '../../tree.js';
import { add, type Builder } from '../../writer.js';
import { xmlError } from '../../errors.js';
import type { DeviceFormatter, DeviceKind } from './kinds.js';
import { parseULongLongWrapping } from './storage-props.js';
import {
  driveAddressOf, formatDisk, parseDisks, postParseDisk, validateDisk, validateDiskSet, type DiskBus, type DiskDef,
} from './disk.js';
import {
  addControllerIfMissing, formatController, parseControllers, rejectDuplicateControllers, validateController,
  type ControllerDef, type ControllerType,
} from './controller.js';
import { formatFilesystem, parseFilesystem, validateFilesystem, type FilesystemDef } from './filesystem.js';
import { formatHostdev, parseHostdev, validateHostdev, type HostdevDef } from './hostdev.js';

export type * from './disk.js';
export type * from './controller.js';
export type * from './filesystem.js';
export type * from './hostdev.js';
export type { StorageFormat, VolumeSource } from './storage-props.js';
export { isUsbDisabled } from './controller.js';

/** A lock manager lease, stored only (the LXC driver has no lock manager). */
export interface LeaseDef {
  lockspace?: string;
  key: string;
  targetPath: string;
  /** Byte offset of the lease in targetPath; 0 is not stored. */
  offset?: bigint;
}

export interface StorageDevices {
  /** Sorted as libvirt sorts them: by bus as written, then by target name. */
  disks: DiskDef[];
  /** Sorted by type and index within a type, implicit ones included. */
  controllers: ControllerDef[];
  leases: LeaseDef[];
  /** In document order: non-root filesystems are mounted in this order. */
  filesystems: FilesystemDef[];
  hostdevs: HostdevDef[];
}

const firstText = (el: XmlElement, name: string): string | undefined => {
  const found = elements(el, name)[0];
  return found === undefined ? undefined : textOf(found);
};

function parseLease(el: XmlElement): LeaseDef {
  const key = firstText(el, 'key');
  const lockspace = firstText(el, 'lockspace');
  const target = elements(el, 'target').find((t) => attr(t, 'path') !== undefined);
  if (key === undefined) throw xmlError("Missing 'key' element for lease");
  if (target === undefined) throw xmlError("Missing 'target' element for lease");
  const offsetText = attr(target, 'offset');
  const offset = offsetText === undefined ? 0n : parseULongLongWrapping(offsetText);
  if (offset === undefined) throw xmlError(`Malformed lease target offset ${offsetText}`);
  const lease: LeaseDef = { key, targetPath: attr(target, 'path')! };
  if (lockspace !== undefined) lease.lockspace = lockspace;
  if (offset !== 0n) lease.offset = offset;
  return lease;
}

function formatLease(parent: Builder, lease: LeaseDef): void {
  const el = add(parent, 'lease');
  if (lease.lockspace !== undefined) add(el, 'lockspace', {}, lease.lockspace);
  add(el, 'key', {}, lease.key);
  add(el, 'target', { path: lease.targetPath, offset: lease.offset });
}

export function parseStorageDevices(els: readonly XmlElement[], _ctx: ParseContext): StorageDevices {
  // libvirt's ./devices/NAME steps match elements in no namespace only.
  const named = (name: string): XmlElement[] => els.filter((e) => e.name === name && e.ns === '');
  return {
    disks: parseDisks(named('disk')),
    controllers: parseControllers(named('controller')),
    leases: named('lease').map(parseLease),
    filesystems: named('filesystem').map(parseFilesystem),
    hostdevs: named('hostdev').map(parseHostdev),
  };
}

/**
 * Add a controller unless one of that type and index exists
 * (virDomainDefMaybeAddController); a negative index takes the first free one.
 */
export function ensureController(devices: StorageDevices, type: ControllerType, index: number, model?: string): void {
  addControllerIfMissing(devices.controllers, type, index, model);
}

/** Controller types that drive addresses on each disk bus refer to, in libvirt's order. */
const DISK_CONTROLLERS: ReadonlyArray<readonly [ControllerType, DiskBus]> = [
  ['scsi', 'scsi'], ['fdc', 'fdc'], ['ide', 'ide'], ['sata', 'sata'],
];

/** virDomainDefAddDiskControllersForType: controllers 0..max used by the disks of each bus. */
function addDiskControllers(devices: StorageDevices): void {
  for (const [type, bus] of DISK_CONTROLLERS) {
    const used = devices.disks.filter((d) => d.bus === bus).map((d) => driveAddressOf(d)?.controller ?? -1);
    const max = Math.max(-1, ...used);
    for (let index = 0; index <= max; index++) ensureController(devices, type, index);
  }
}

function postParseStorage(devices: StorageDevices): void {
  devices.disks.forEach(postParseDisk);
  rejectDuplicateControllers(devices.controllers);
  addDiskControllers(devices);
}

function validateStorage(devices: StorageDevices): void {
  devices.disks.forEach(validateDisk);
  devices.hostdevs.forEach(validateHostdev);
  devices.controllers.forEach(validateController);
  devices.filesystems.forEach(validateFilesystem);
  validateDiskSet(devices.disks);
}

/**
 * Run before the other device modules' hooks: the implicit disk controllers
 * come before the virtio-serial one a <channel> adds, as in libvirt.
 */
export const storageHooks: SectionHooks = {
  postParse: (def) => postParseStorage(def.devices),
  validate: (def) => validateStorage(def.devices),
};

export const storageFormatters: Partial<Record<DeviceKind, DeviceFormatter<StorageDevices>>> = {
  disk: (b, d) => d.disks.forEach((x) => formatDisk(b, x)),
  controller: (b, d) => d.controllers.forEach((x) => formatController(b, x)),
  lease: (b, d) => d.leases.forEach((x) => formatLease(b, x)),
  filesystem: (b, d) => d.filesystems.forEach((x) => formatFilesystem(b, x)),
  hostdev: (b, d) => d.hostdevs.forEach((x) => formatHostdev(b, x)),
};
