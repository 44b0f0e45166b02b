/**
 * <disk>: the container gets a device node /dev/<target> for the host block
 * device (or for a loop/nbd device the controller attaches to an image
 * file). Bus, drive address and controllers are stored only, with libvirt's
 * defaults.
 */
import { attr, child, type XmlElement } from '../../tree.js';
import { add, type Builder } from '../../writer.js';
import { VirError, internalError, unsupported, xmlError } from '../../errors.js';
import { propEnum, propSwitch, xpathText, type Switch } from '../xml-access.js';
import { isStorageFormat, parseVolumeSource, type StorageFormat, type VolumeSource } from './storage-props.js';
import { propUInt } from './props.js';
import { formatDeviceInfo, parseDeviceInfo, validateDeviceInfo, type DeviceAddress, type DeviceInfo } from './deviceinfo.js';

const DISK_TYPES = ['file', 'block', 'dir', 'network', 'volume', 'nvme', 'vhostuser'] as const;
/** The source kinds nsvirt models; the others cannot back a container disk. */
export type DiskType = 'file' | 'block' | 'dir' | 'volume';
const DISK_DEVICES = ['disk', 'cdrom', 'floppy', 'lun'] as const;
export type DiskDevice = (typeof DISK_DEVICES)[number];
const DISK_BUSES = ['ide', 'fdc', 'scsi', 'virtio', 'xen', 'usb', 'uml', 'sata', 'sd'] as const;
export type DiskBus = (typeof DISK_BUSES)[number];
const DISK_MODELS = ['virtio', 'virtio-transitional', 'virtio-non-transitional'] as const;
const SNAPSHOT_LOCATIONS = ['no', 'internal', 'external', 'manual'] as const;
export const STARTUP_POLICIES = ['mandatory', 'requisite', 'optional'] as const;
export type StartupPolicy = (typeof STARTUP_POLICIES)[number];
const CACHE_MODES = ['none', 'writethrough', 'writeback', 'directsync', 'unsafe'] as const;
const ERROR_POLICIES = ['stop', 'report', 'ignore', 'enospace'] as const;
const IO_MODES = ['native', 'threads', 'io_uring'] as const;
const DISCARD_MODES = ['unmap', 'ignore'] as const;
const DETECT_ZEROES_MODES = ['off', 'on', 'unmap'] as const;
/** Buses whose disks sit on a controller and take a drive address. */
const DRIVE_ADDRESS_BUSES: readonly DiskBus[] = ['ide', 'fdc', 'scsi', 'sata'];
/** Target name prefixes, as virDiskNameParse knows them. */
const TARGET_PREFIXES = ['fd', 'hd', 'vd', 'sd', 'xvd', 'ubd'];

export type DriveAddress = Extract<DeviceAddress, { type: 'drive' }>;

export interface DiskDriverDef {
  /** Backend: 'loop' or 'nbd' for image files (nbd needs a format). */
  name?: string;
  format?: StorageFormat;
  cache?: (typeof CACHE_MODES)[number];
  errorPolicy?: (typeof ERROR_POLICIES)[number];
  readErrorPolicy?: Exclude<(typeof ERROR_POLICIES)[number], 'enospace'>;
  io?: (typeof IO_MODES)[number];
  copyOnRead?: Switch;
  discard?: (typeof DISCARD_MODES)[number];
  detectZeroes?: (typeof DETECT_ZEROES_MODES)[number];
}

export interface DiskDef {
  type: DiskType;
  device: DiskDevice;
  model?: (typeof DISK_MODELS)[number];
  snapshot?: (typeof SNAPSHOT_LOCATIONS)[number];
  driver?: DiskDriverDef;
  /** Host path: the image file (file), device node (block) or directory (dir). */
  source?: string;
  /** type 'volume': the storage pool volume. */
  volume?: VolumeSource;
  startupPolicy?: StartupPolicy;
  /** Device name in the container: the node is /dev/<target>. */
  target: string;
  /** Given, or derived from the target name (hd → ide, sd → scsi, vd → virtio…). */
  bus: DiskBus;
  /** cdrom/floppy only; 'closed' is the default and not stored. */
  trayOpen?: boolean;
  removable?: Switch;
  rotationRate?: number;
  readonly: boolean;
  shareable: boolean;
  transient: boolean;
  serial?: string;
  wwn?: string;
  vendor?: string;
  product?: string;
  /** Boot order and guest address; ide/fdc/scsi/sata disks get a drive address from the target name. */
  info: DeviceInfo;
}

/** virDiskNameToIndex: 'sda' → 0, 'hdc' → 2, 'sdaa' → 26; undefined when not a disk name. */
export function diskNameToIndex(name: string): number | undefined {
  const prefix = TARGET_PREFIXES.find((p) => name.startsWith(p));
  if (prefix === undefined) return undefined;
  const m = /^([a-z]*)([0-9]*)$/.exec(name.slice(prefix.length));
  if (!m) return undefined;
  let index = 0;
  [...m[1]!].forEach((ch, i) => {
    index = (index + (i < 1 ? 0 : 1)) * 26 + (ch.charCodeAt(0) - 97);
  });
  return index;
}

/** The bus libvirt assumes when <target> names none. */
function defaultBus(device: DiskDevice, target: string): DiskBus {
  if (device === 'floppy') return 'fdc';
  const byPrefix: ReadonlyArray<readonly [string, DiskBus]> = [
    ['hd', 'ide'], ['sd', 'scsi'], ['vd', 'virtio'], ['xvd', 'xen'], ['ubd', 'uml'],
  ];
  return byPrefix.find(([prefix]) => target.startsWith(prefix))?.[1] ?? 'ide';
}

function parseDriver(el: XmlElement): DiskDriverDef | undefined {
  const driver = child(el, 'driver');
  if (driver === undefined) return undefined;
  const name = attr(driver, 'name');
  const cache = propEnum(driver, 'cache', ['default', ...CACHE_MODES]);
  const errorPolicy = propEnum(driver, 'error_policy', ERROR_POLICIES);
  const readErrorPolicy = propEnum(driver, 'rerror_policy', ERROR_POLICIES);
  if (readErrorPolicy === 'enospace') throw unsupported("Invalid disk read error policy: 'enospace'");
  const def: DiskDriverDef = {
    name,
    cache: cache === 'default' ? undefined : cache,
    errorPolicy,
    readErrorPolicy,
    io: propEnum(driver, 'io', IO_MODES),
    copyOnRead: propSwitch(driver, 'copy_on_read'),
    discard: propEnum(driver, 'discard', DISCARD_MODES),
    detectZeroes: propEnum(driver, 'detect_zeroes', DETECT_ZEROES_MODES),
    format: parseDriverFormat(driver),
  };
  return Object.values(def).some((v) => v !== undefined) ? def : undefined;
}

function parseDriverFormat(driver: XmlElement): StorageFormat | undefined {
  const type = attr(driver, 'type');
  if (type === undefined) return undefined;
  if (type === 'aio') return 'raw'; // Xen back-compat spelling
  if (!isStorageFormat(type)) throw unsupported(`unknown driver format value '${type}'`);
  return type;
}

interface SourceInfo {
  type: DiskType;
  source?: string;
  volume?: VolumeSource;
}

/** virDomainStorageSourceParse for the kinds nsvirt models. */
function parseSource(el: XmlElement): SourceInfo {
  const declared = propEnum(el, 'type', DISK_TYPES) ?? 'file';
  const sourceEl = child(el, 'source');
  // Without <source> libvirt treats the disk as an empty file disk.
  if (sourceEl === undefined) return { type: 'file' };
  if (declared === 'network' || declared === 'nvme' || declared === 'vhostuser') {
    // libvirt stores these and fails at start with this message.
    throw unsupported("Can't setup disk for non-block device");
  }
  if (declared === 'volume') return { type: declared, volume: parseVolumeSource(sourceEl) };
  const pathAttr = { file: 'file', block: 'dev', dir: 'dir' }[declared];
  const path = attr(sourceEl, pathAttr);
  // An empty path means "no media", as libvirt treats it.
  return { type: declared, source: path === '' ? undefined : path };
}

function missingTarget(src: SourceInfo): VirError {
  if (src.volume) return new VirError('VIR_ERR_NO_TARGET', `pool = '${src.volume.pool}', volume = '${src.volume.volume}'`);
  return new VirError('VIR_ERR_NO_TARGET', src.source ?? '');
}

/** A parsed disk with the bus as written, which decides libvirt's insertion order. */
interface ParsedDisk {
  disk: DiskDef;
  explicitBus?: DiskBus;
}

function parseDisk(el: XmlElement): ParsedDisk {
  const src = parseSource(el);
  const device = propEnum(el, 'device', DISK_DEVICES) ?? 'disk';
  const model = propEnum(el, 'model', ['default', ...DISK_MODELS]);
  const snapshot = propEnum(el, 'snapshot', SNAPSHOT_LOCATIONS);
  const sourceEl = child(el, 'source');
  const startupPolicy = sourceEl && propEnum(sourceEl, 'startupPolicy', STARTUP_POLICIES);
  const targetEl = child(el, 'target');
  const target = targetEl && attr(targetEl, 'dev');
  const explicitBus = targetEl && propEnum(targetEl, 'bus', DISK_BUSES);
  const tray = targetEl && propEnum(targetEl, 'tray', ['closed', 'open'] as const);
  const removable = targetEl && propSwitch(targetEl, 'removable');
  const rotationRate = targetEl && (propUInt(targetEl, 'rotation_rate') || undefined);
  const driver = parseDriver(el);
  if (target === undefined) throw missingTarget(src);
  const bus = explicitBus ?? defaultBus(device, target);
  const disk: DiskDef = {
    ...src,
    device,
    model: model === 'default' ? undefined : model,
    snapshot,
    driver,
    startupPolicy,
    target,
    bus,
    trayOpen: tray === 'open' ? true : undefined,
    removable,
    rotationRate,
    // A cdrom is always read-only.
    readonly: device === 'cdrom' || child(el, 'readonly') !== undefined,
    shareable: child(el, 'shareable') !== undefined,
    transient: child(el, 'transient') !== undefined,
    serial: xpathText(el, 'serial'),
    wwn: xpathText(el, 'wwn'),
    vendor: xpathText(el, 'vendor'),
    product: xpathText(el, 'product'),
    info: parseDeviceInfo(el, { allowBoot: true }),
  };
  return { disk, explicitBus };
}

/**
 * virDomainDiskInsertPreAlloced: a disk goes before the first later disk of
 * the same (as written) bus with a higher target index. This is why libvirt
 * re-sorts disks.
 */
function insertDisk(list: ParsedDisk[], entry: ParsedDisk): void {
  const indexOf = (d: DiskDef): number => diskNameToIndex(d.target) ?? -1;
  let insertAt = -1;
  for (let i = list.length - 1; i >= 0; i--) {
    if (list[i]!.explicitBus !== entry.explicitBus) continue;
    if (indexOf(list[i]!.disk) > indexOf(entry.disk)) insertAt = i;
    else if (insertAt === -1) insertAt = i + 1;
  }
  list.splice(insertAt === -1 ? list.length : insertAt, 0, entry);
}

export function parseDisks(els: readonly XmlElement[]): DiskDef[] {
  const list: ParsedDisk[] = [];
  for (const el of els) insertDisk(list, parseDisk(el));
  return list.map((e) => e.disk);
}

const drive = (controller: number, bus: number, unit: number): DriveAddress => ({ type: 'drive', controller, bus, target: 0, unit });

/** virDomainDiskDefAssignAddress: the default drive address for a target name. */
export function defaultDriveAddress(disk: DiskDef): DriveAddress | undefined {
  const index = diskNameToIndex(disk.target);
  if (index === undefined) throw xmlError(`Unknown disk name '${disk.target}' and no address specified`);
  switch (disk.bus) {
    case 'scsi': // narrow SCSI: 7 units on one bus per controller
      return drive(Math.floor(index / 7), 0, index % 7);
    case 'ide': // 2 units per bus, 2 buses per controller
      return drive(Math.floor(index / 4), Math.floor((index % 4) / 2), index % 2);
    case 'sata':
      return drive(Math.floor(index / 6), 0, index % 6);
    case 'fdc':
      return drive(Math.floor(index / 2), 0, index % 2);
    default:
      return undefined;
  }
}

export function postParseDisk(disk: DiskDef): void {
  if (disk.info.address === undefined) {
    const address = defaultDriveAddress(disk);
    if (address) disk.info.address = address;
  }
}

/** The drive address of a disk, if it has one. */
export const driveAddressOf = (disk: DiskDef): DriveAddress | undefined =>
  disk.info.address?.type === 'drive' ? disk.info.address : undefined;

const isPrintable = (s: string): boolean => /^[\x20-\x7e]*$/.test(s);

function checkVendorProduct(disk: DiskDef): void {
  if (disk.vendor !== undefined) {
    if (!isPrintable(disk.vendor)) throw xmlError('disk vendor is not printable string');
    if (disk.vendor.length > 8) throw unsupported('disk vendor is more than 8 characters');
  }
  if (disk.product !== undefined) {
    const max = disk.bus === 'scsi' ? 16 : 40;
    if (!isPrintable(disk.product)) throw xmlError('disk product is not printable string');
    if (disk.product.length > max) throw unsupported(`disk product is more than ${max} characters`);
  }
}

function checkBusAndDevice(disk: DiskDef): void {
  const addressType = disk.info.address?.type;
  if (addressType !== undefined && addressType !== 'drive' && DRIVE_ADDRESS_BUSES.includes(disk.bus)) {
    throw unsupported(`Invalid address type '${addressType}' for the disk '${disk.target}' with the bus type '${disk.bus}'`);
  }
  if (disk.model !== undefined && disk.bus !== 'virtio') {
    throw unsupported(`disk model '${disk.model}' not supported for bus '${disk.bus}'`);
  }
  if (disk.trayOpen && disk.device !== 'floppy' && disk.device !== 'cdrom') {
    throw unsupported('tray is only valid for cdrom and floppy');
  }
  checkVendorProduct(disk);
  if (disk.device === 'floppy' && disk.bus !== 'fdc') throw internalError(`Invalid bus type '${disk.bus}' for floppy disk`);
  if (disk.device !== 'floppy' && disk.bus === 'fdc') throw internalError(`Invalid bus type '${disk.bus}' for disk`);
}

const WWN = /^(0x)?[0-9a-fA-F]{16}$/;

function checkNames(disk: DiskDef): void {
  if (disk.startupPolicy === 'requisite' && disk.device !== 'cdrom' && disk.device !== 'floppy') {
    throw xmlError("disk startupPolicy 'requisite' is allowed only for cdrom or floppy");
  }
  if (disk.wwn !== undefined && !WWN.test(disk.wwn)) throw internalError(`Malformed wwn: ${disk.wwn}`);
  const hardDisk = disk.device === 'disk' || disk.device === 'lun';
  if (hardDisk && !['hd', 'sd', 'vd', 'xvd', 'ubd'].some((p) => disk.target.startsWith(p))) {
    throw internalError(`Invalid harddisk device name: ${disk.target}`);
  }
  if (disk.device === 'floppy' && !disk.target.startsWith('fd')) {
    throw internalError(`Invalid floppy device name: ${disk.target}`);
  }
}

/** virDomainDiskDefValidate, for the fields nsvirt models. */
export function validateDisk(disk: DiskDef): void {
  validateDeviceInfo(disk.info);
  checkBusAndDevice(disk);
  checkNames(disk);
  // Only removable media may have no source.
  const empty = disk.type !== 'volume' && disk.source === undefined;
  if (empty && disk.device === 'disk') throw new VirError('VIR_ERR_NO_SOURCE', disk.target);
}

const sameAddress = (a: DriveAddress, b: DriveAddress): boolean =>
  a.controller === b.controller && a.bus === b.bus && a.target === b.target && a.unit === b.unit;

/** Two disks may share neither a target name nor a drive address on one bus. */
export function validateDiskSet(disks: readonly DiskDef[]): void {
  disks.forEach((a, i) => {
    const b = disks.slice(i + 1).find((d) => d.target === a.target);
    if (b) {
      throw xmlError(
        `target '${a.target}' duplicated for disk sources '${a.source ?? '<null>'}' and '${b.source ?? '<null>'}'`,
      );
    }
  });
  disks.forEach((a, i) => {
    const address = driveAddressOf(a);
    const clash = disks.slice(i + 1).find((b) => {
      const other = driveAddressOf(b);
      return b.bus === a.bus && address !== undefined && other !== undefined && sameAddress(address, other);
    });
    if (clash && address) {
      const { controller, bus, target, unit } = address;
      throw unsupported(
        `Found duplicate drive address for disk with target name '${a.target}' controller='${controller}' bus='${bus}' target='${target}' unit='${unit}'`,
      );
    }
  });
}

function formatDriver(el: Builder, driver: DiskDriverDef | undefined): void {
  if (driver === undefined) return;
  add(el, 'driver', [
    ['name', driver.name],
    ['type', driver.format],
    ['cache', driver.cache],
    ['error_policy', driver.errorPolicy],
    ['rerror_policy', driver.readErrorPolicy],
    ['io', driver.io],
    ['copy_on_read', driver.copyOnRead],
    ['discard', driver.discard],
    ['detect_zeroes', driver.detectZeroes],
  ]);
}

function formatSource(el: Builder, disk: DiskDef): void {
  const pathAttr = { file: 'file', block: 'dev', dir: 'dir', volume: undefined }[disk.type];
  const attrs: Array<[string, string | undefined]> = [
    ['pool', disk.volume?.pool],
    ['volume', disk.volume?.volume],
    ['mode', disk.volume?.mode],
  ];
  if (pathAttr !== undefined) attrs.push([pathAttr, disk.source]);
  attrs.push(['startupPolicy', disk.startupPolicy]);
  if (attrs.some(([, v]) => v !== undefined)) add(el, 'source', attrs);
}

export function formatDisk(parent: Builder, disk: DiskDef): void {
  const snapshot = disk.snapshot === 'no' && disk.readonly ? undefined : disk.snapshot;
  const el = add(parent, 'disk', [['type', disk.type], ['device', disk.device], ['model', disk.model], ['snapshot', snapshot]]);
  formatDriver(el, disk.driver);
  formatSource(el, disk);
  const removableMedia = disk.device === 'floppy' || disk.device === 'cdrom';
  add(el, 'target', [
    ['dev', disk.target],
    ['bus', disk.bus],
    ['tray', removableMedia && disk.trayOpen ? 'open' : undefined],
    ['removable', disk.bus === 'usb' ? disk.removable : undefined],
    ['rotation_rate', disk.rotationRate],
  ]);
  if (disk.readonly) add(el, 'readonly');
  if (disk.shareable) add(el, 'shareable');
  if (disk.transient) add(el, 'transient');
  for (const name of ['serial', 'wwn', 'vendor', 'product'] as const) {
    if (disk[name] !== undefined) add(el, name, {}, disk[name]);
  }
  formatDeviceInfo(el, disk.info);
}
