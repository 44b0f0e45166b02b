/**
 * <filesystem>: what the container mounts. The runtime uses the type,
 * source, usage, target, readonly flag and the driver type/format of file
 * images; the other attributes are stored only.
 */
import { attr, child, elements, type XmlElement } from '../../tree.js';
import { add, type Builder } from '../../writer.js';
import { VirError, invalidValue, unsupported, xmlError } from '../../errors.js';
import { ULLONG_MAX, parseUnsigned, scaleInteger } from '../../units.js';
import { nonEmptyAttr, propEnum, xpathText } from '../xml-access.js';
import {
  isStorageFormat,
  parseULongLongWrapping,
  parseVolumeSource,
  propOctalUInt,
  type StorageFormat,
  type VolumeSource,
} from './storage-props.js';
import { formatDeviceInfo, parseDeviceInfo, validateDeviceInfo, type DeviceInfo } from './deviceinfo.js';

const FS_TYPES = ['mount', 'block', 'file', 'template', 'ram', 'bind', 'volume'] as const;
export type FilesystemType = (typeof FS_TYPES)[number];
const ACCESS_MODES = ['passthrough', 'mapped', 'squash'] as const;
export type FilesystemAccessMode = (typeof ACCESS_MODES)[number];
const FS_MODELS = ['virtio', 'virtio-transitional', 'virtio-non-transitional'] as const;
const MULTIDEVS = ['remap', 'forbid', 'warn'] as const;
const FS_DRIVER_TYPES = ['path', 'handle', 'loop', 'nbd', 'ploop', 'virtiofs'] as const;
export type FilesystemDriverType = (typeof FS_DRIVER_TYPES)[number];

export interface FilesystemDriverDef {
  /** How a file image is attached: 'loop' or 'nbd' (others fail at start). */
  type?: FilesystemDriverType;
  /** Image format of a file filesystem. */
  format?: StorageFormat;
  writePolicy?: 'immediate';
}

export interface FilesystemDef {
  type: FilesystemType;
  /** Defaults to passthrough (left unset only for a socket source). */
  accessMode?: FilesystemAccessMode;
  model?: (typeof FS_MODELS)[number];
  multidevs?: (typeof MULTIDEVS)[number];
  /** fmode/dmode permission bits (at most 0777). */
  fileMode?: number;
  dirMode?: number;
  driver?: FilesystemDriverDef;
  /**
   * What is mounted: a host directory (mount), a directory inside the
   * container (bind), a block device (block), an image file (file) or a
   * template name (template). Kept verbatim, trailing slashes included.
   */
  source?: string;
  /** A vhost-user socket instead of a source path (virtiofs). */
  socket?: string;
  /** type 'ram': tmpfs size in bytes. */
  usageBytes?: bigint;
  /** type 'volume': the storage pool volume. */
  volume?: VolumeSource;
  /** Mount point inside the container ('/' for the root filesystem). */
  target: string;
  readonly: boolean;
  spaceHardLimitBytes?: bigint;
  spaceSoftLimitBytes?: bigint;
  /** Guest address and boot order (virtiofs only), stored only. */
  info: DeviceInfo;
}

/** Which <source> attribute names the source path, per type. */
const SOURCE_ATTR: Partial<Record<FilesystemType, string>> = {
  mount: 'dir', bind: 'dir', file: 'file', block: 'dev', template: 'name',
};

const withoutDefault = <T extends string>(value: T | 'default' | undefined): T | undefined =>
  value === 'default' ? undefined : value;

function parsePermissionBits(el: XmlElement, name: 'fmode' | 'dmode'): number | undefined {
  const bits = propOctalUInt(el, name);
  if (bits !== undefined && bits > 0o777) throw xmlError(`invalid ${name}: '0${bits.toString(8)}'`);
  return bits || undefined;
}

/** virParseScaledValue("./NAME[1]") in bytes; 0 means unset. */
function parseSpaceLimit(el: XmlElement, name: string): bigint | undefined {
  const text = xpathText(el, name);
  if (text === undefined) return undefined;
  const value = parseUnsigned(text);
  if (value === undefined) throw invalidValue(text, `./${name}[1]`);
  const bytes = scaleInteger(value, nonEmptyAttr(child(el, name), 'unit'), 1n, ULLONG_MAX);
  return bytes || undefined;
}

function parseDriver(el: XmlElement): FilesystemDriverDef | undefined {
  const driver = child(el, 'driver');
  if (driver === undefined) return undefined;
  const type = withoutDefault(propEnum(driver, 'type', ['default', ...FS_DRIVER_TYPES] as const));
  const writePolicy = withoutDefault(propEnum(driver, 'wrpolicy', ['default', 'immediate'] as const));
  const format = attr(driver, 'format');
  if (format !== undefined && !isStorageFormat(format)) throw unsupported(`unknown driver format value '${format}'`);
  if (type === undefined && format === undefined && writePolicy === undefined) return undefined;
  return { type, format, writePolicy };
}

/** <source usage units>: the size of a ram filesystem, in bytes (default unit KiB). */
function parseRamUsage(sourceEl: XmlElement | undefined): bigint {
  const usage = sourceEl && attr(sourceEl, 'usage');
  if (usage === undefined) throw xmlError("missing 'usage' attribute for RAM filesystem");
  const value = parseULongLongWrapping(usage);
  if (value === undefined) throw xmlError(`cannot parse usage '${usage}' for RAM filesystem`);
  return scaleInteger(value, attr(sourceEl!, 'units'), 1024n, ULLONG_MAX);
}

/** string(./target/@dir): the first target's dir, undefined when absent or empty. */
function parseTarget(el: XmlElement): string | undefined {
  const dir = elements(el, 'target').map((t) => attr(t, 'dir')).find((d) => d !== undefined);
  return dir === '' ? undefined : dir;
}

export function parseFilesystem(el: XmlElement): FilesystemDef {
  const type = propEnum(el, 'type', FS_TYPES) ?? 'mount';
  const accessMode = withoutDefault(propEnum(el, 'accessmode', ['default', ...ACCESS_MODES] as const));
  const fileMode = parsePermissionBits(el, 'fmode');
  const dirMode = parsePermissionBits(el, 'dmode');
  const model = propEnum(el, 'model', FS_MODELS);
  const multidevs = withoutDefault(propEnum(el, 'multidevs', ['default', ...MULTIDEVS] as const));
  const spaceHardLimitBytes = parseSpaceLimit(el, 'space_hard_limit');
  const spaceSoftLimitBytes = parseSpaceLimit(el, 'space_soft_limit');
  const sourceEl = child(el, 'source');
  const socket = sourceEl && attr(sourceEl, 'socket');
  const sourceAttr = SOURCE_ATTR[type];
  const source = sourceEl && sourceAttr !== undefined ? attr(sourceEl, sourceAttr) : undefined;
  const volume = sourceEl && type === 'volume' ? parseVolumeSource(sourceEl) : undefined;
  const target = parseTarget(el);
  const readonly = child(el, 'readonly') !== undefined;
  const driver = parseDriver(el);
  if (source === undefined && sourceAttr !== undefined && socket === undefined) {
    throw new VirError('VIR_ERR_NO_SOURCE', target ?? '');
  }
  const usageBytes = type === 'ram' ? parseRamUsage(sourceEl) : undefined;
  const info = parseDeviceInfo(el, { allowBoot: true });
  if (target === undefined) throw new VirError('VIR_ERR_NO_TARGET', source ?? socket ?? '');
  return {
    type,
    accessMode: accessMode ?? (socket === undefined ? 'passthrough' : undefined),
    model,
    multidevs,
    fileMode,
    dirMode,
    driver,
    source,
    socket,
    usageBytes,
    volume,
    target,
    readonly,
    spaceHardLimitBytes,
    spaceSoftLimitBytes,
    info,
  };
}

export function validateFilesystem(fs: FilesystemDef): void {
  validateDeviceInfo(fs.info);
  if (fs.info.bootOrder !== undefined && fs.driver?.type !== 'virtiofs') {
    throw unsupported('boot order is only supported for virtiofs');
  }
}

const octal = (bits: number | undefined): string | undefined => bits?.toString(8).padStart(4, '0');

function formatSource(el: Builder, fs: FilesystemDef): void {
  if (fs.type === 'ram') {
    add(el, 'source', { usage: (fs.usageBytes ?? 0n) / 1024n, units: 'KiB' });
  } else if (fs.type === 'volume') {
    if (fs.volume) add(el, 'source', { pool: fs.volume.pool, volume: fs.volume.volume });
  } else if (fs.socket !== undefined && (fs.type === 'mount' || fs.type === 'bind')) {
    add(el, 'source', { socket: fs.socket });
  } else if (fs.source !== undefined) {
    add(el, 'source', { [SOURCE_ATTR[fs.type]!]: fs.source });
  }
}

export function formatFilesystem(parent: Builder, fs: FilesystemDef): void {
  const el = add(parent, 'filesystem', [
    ['type', fs.type],
    ['accessmode', fs.accessMode],
    ['model', fs.model],
    ['multidevs', fs.multidevs],
    ['fmode', octal(fs.fileMode)],
    ['dmode', octal(fs.dirMode)],
  ]);
  // libvirt prints <driver> only when it names a type, so a lone format is lost.
  if (fs.driver?.type !== undefined) {
    add(el, 'driver', [['type', fs.driver.type], ['format', fs.driver.format], ['wrpolicy', fs.driver.writePolicy]]);
  }
  formatSource(el, fs);
  add(el, 'target', { dir: fs.target });
  if (fs.readonly) add(el, 'readonly');
  formatDeviceInfo(el, fs.info);
  if (fs.spaceHardLimitBytes) add(el, 'space_hard_limit', { unit: 'bytes' }, fs.spaceHardLimitBytes);
  if (fs.spaceSoftLimitBytes) add(el, 'space_soft_limit', { unit: 'bytes' }, fs.spaceSoftLimitBytes);
}
