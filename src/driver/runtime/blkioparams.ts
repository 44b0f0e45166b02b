/**
 * Block I/O parameters (libvirt's lxcDomainGet/SetBlkioParameters): the
 * weight and the per-device weights and throttles, in the running
 * container's blkio (v1) or io (v2) cgroup, or in a definition's
 * <blkiotune>. Device lists travel as libvirt's "path,value,path,value"
 * strings or as parsed lists.
 */
import { VirError, invalidArg, internalError } from '../../xml/errors.js';
import type { DomainDef } from '../../xml/model.js';
import type { BlkioDeviceTune, BlkioTune } from '../../xml/sections/memory.js';
import { UINT_MAX, ULLONG_MAX } from '../../xml/units.js';
import { strerror } from '../../native.js';
import { requireController, type DomainCgroup } from './domaincgroup.js';
import type { HostFacts } from './hostfacts.js';

export interface BlkioDeviceValue {
  readonly path: string;
  readonly value: bigint;
}

export type BlkioDeviceList = readonly BlkioDeviceValue[];

export interface BlkioParameters {
  readonly weight: number;
  readonly deviceWeight: BlkioDeviceList;
  readonly deviceReadIopsSec: BlkioDeviceList;
  readonly deviceWriteIopsSec: BlkioDeviceList;
  readonly deviceReadBytesSec: BlkioDeviceList;
  readonly deviceWriteBytesSec: BlkioDeviceList;
}

export type BlkioDeviceField = Exclude<keyof BlkioParameters, 'weight'>;

/** Device lists may be given as libvirt's strings; 0 clears a device's value. */
export type BlkioParameterChanges = { readonly weight?: number } & {
  readonly [K in BlkioDeviceField]?: BlkioDeviceList | string;
};

interface DeviceFieldInfo {
  /** libvirt's typed parameter name. */
  readonly param: string;
  readonly tune: Exclude<keyof BlkioDeviceTune, 'path'>;
  readonly max: bigint;
  /** v1 file, and v2 io.max key (weight: io.weight). */
  readonly v1File: string;
  readonly v2Key?: string;
}

const DEVICE_FIELDS: Readonly<Record<BlkioDeviceField, DeviceFieldInfo>> = {
  deviceWeight: { param: 'device_weight', tune: 'weight', max: UINT_MAX, v1File: 'blkio.weight_device' },
  deviceReadIopsSec: {
    param: 'device_read_iops_sec',
    tune: 'readIopsSec',
    max: UINT_MAX,
    v1File: 'blkio.throttle.read_iops_device',
    v2Key: 'riops',
  },
  deviceWriteIopsSec: {
    param: 'device_write_iops_sec',
    tune: 'writeIopsSec',
    max: UINT_MAX,
    v1File: 'blkio.throttle.write_iops_device',
    v2Key: 'wiops',
  },
  deviceReadBytesSec: {
    param: 'device_read_bytes_sec',
    tune: 'readBytesSec',
    max: ULLONG_MAX,
    v1File: 'blkio.throttle.read_bps_device',
    v2Key: 'rbps',
  },
  deviceWriteBytesSec: {
    param: 'device_write_bytes_sec',
    tune: 'writeBytesSec',
    max: ULLONG_MAX,
    v1File: 'blkio.throttle.write_bps_device',
    v2Key: 'wbps',
  },
};

/** libvirt's typed parameter name of a device field (device_weight, device_read_iops_sec, …). */
export const blkioParamName = (field: BlkioDeviceField): string => DEVICE_FIELDS[field].param;

const BLKIO_DEVICE_FIELDS = Object.keys(DEVICE_FIELDS) as BlkioDeviceField[];

/**
 * libvirt's virDomainDriverParseBlkioDeviceStr: "path,value[,path,value]…";
 * "" is an empty list.
 */
export function parseBlkioDeviceList(text: string, field: BlkioDeviceField): BlkioDeviceValue[] {
  const { param, max } = DEVICE_FIELDS[field];
  if (text === '') return [];
  const parseError = (): VirError => invalidArg(`unable to parse blkio device '${param}' '${text}'`);
  if ((text.split(',').length - 1) % 2 === 0) throw parseError();
  const list: BlkioDeviceValue[] = [];
  let rest = text;
  while (rest !== '') {
    const comma = rest.indexOf(',');
    if (comma < 0) throw parseError();
    const path = rest.slice(0, comma);
    const valueText = rest.slice(comma + 1);
    // virStrToLong_uip / _ullp with an end pointer: digits, then ',' or the end.
    const m = /^[ \t\n\v\f\r]*\+?(\d+)/.exec(valueText);
    const value = m ? BigInt(m[1]!) : undefined;
    if (value === undefined || value > max) throw invalidArg(`invalid value '${valueText}' for parameter '${param}' of device '${path}'`);
    list.push({ path, value });
    const after = valueText.slice(m![0].length);
    if (after === '') break;
    if (!after.startsWith(',')) throw parseError();
    rest = after.slice(1);
  }
  return list;
}

const listOf = (changes: BlkioParameterChanges, field: BlkioDeviceField): BlkioDeviceList | undefined => {
  const given = changes[field];
  return typeof given === 'string' ? parseBlkioDeviceList(given, field) : given;
};

/** The device values a definition sets for one field, in its order (libvirt skips zeros). */
function deviceValues(tune: BlkioTune | undefined, field: BlkioDeviceField): BlkioDeviceValue[] {
  const key = DEVICE_FIELDS[field].tune;
  return (tune?.devices ?? []).flatMap((d) => (d[key] ? [{ path: d.path, value: BigInt(d[key]) }] : []));
}

const devicesOf = (def: DomainDef, weight: number): BlkioParameters => ({
  weight,
  deviceWeight: deviceValues(def.blkiotune, 'deviceWeight'),
  deviceReadIopsSec: deviceValues(def.blkiotune, 'deviceReadIopsSec'),
  deviceWriteIopsSec: deviceValues(def.blkiotune, 'deviceWriteIopsSec'),
  deviceReadBytesSec: deviceValues(def.blkiotune, 'deviceReadBytesSec'),
  deviceWriteBytesSec: deviceValues(def.blkiotune, 'deviceWriteBytesSec'),
});

export const configBlkioParameters = (def: DomainDef): BlkioParameters => devicesOf(def, def.blkiotune?.weight ?? 0);

const blkioVersion = (cg: DomainCgroup): 1 | 2 => requireController(cg, 'blkio', "blkio cgroup isn't mounted");

/** The weight file the kernel offers: bfq's, else cfq's (v1) or io.weight (v2). */
function weightFile(cg: DomainCgroup): string | undefined {
  const candidates = blkioVersion(cg) === 1 ? ['blkio.bfq.weight', 'blkio.weight'] : ['io.bfq.weight', 'io.weight'];
  return candidates.find((f) => cg.has('blkio', f));
}

/** libvirt's words (v1 says "device" even for the group's weight). */
const noWeightFile = (cg: DomainCgroup): VirError =>
  new VirError(
    'VIR_ERR_OPERATION_INVALID',
    blkioVersion(cg) === 1
      ? 'blkio device weight is valid only for bfq or cfq scheduler'
      : 'blkio weight is valid only for bfq or cfq scheduler',
  );

const noDeviceWeightFile = (): VirError =>
  new VirError('VIR_ERR_OPERATION_INVALID', 'blkio device weight is valid only for cfq scheduler');

function readWeight(cg: DomainCgroup, file: string): number {
  const text = cg.read('blkio', file);
  const m = /^(?:default )?(\d+)/.exec(text);
  if (!m) throw internalError(`Unable to parse '${text}' as an integer`);
  return Number(m[1]);
}

/**
 * The running values: the weight from the cgroup, the device values from
 * the running definition (libvirt keeps them there). Without a weight file
 * (no bfq/cfq scheduler) nothing is weighted: nsvirt reports 0 where
 * libvirt fails the whole query.
 */
export function liveBlkioParameters(cg: DomainCgroup, live: DomainDef): BlkioParameters {
  const file = weightFile(cg);
  return devicesOf(live, file === undefined ? 0 : readWeight(cg, file));
}

/** virCgroupGetBlockDevString: "maj:min" of a block device. */
function deviceNumber(path: string, facts: HostFacts): string {
  const st = facts.stat(path);
  if (!st) throw new VirError('VIR_ERR_SYSTEM_ERROR', `Path '${path}' is not accessible: ${strerror(2)}`);
  if (st.kind !== 'block') throw new VirError('VIR_ERR_SYSTEM_ERROR', `Path '${path}' must be a block device: ${strerror(22)}`);
  return `${st.major}:${st.minor}`;
}

/** The line for `dev` in a per-device file ("maj:min …"), without the device. */
function lineFor(text: string, dev: string): string | undefined {
  return text
    .split('\n')
    .find((l) => l.startsWith(`${dev} `))
    ?.slice(dev.length + 1);
}

function parseNumber(text: string): bigint {
  if (!/^\d+$/.test(text)) throw internalError(`Unable to parse '${text}' as an integer`);
  return BigInt(text);
}

/** Write one device's value and read back what the kernel kept (0 = none). */
function setDeviceValue(cg: DomainCgroup, field: BlkioDeviceField, dev: string, value: bigint): bigint {
  const info = DEVICE_FIELDS[field];
  if (blkioVersion(cg) === 1) {
    if (field === 'deviceWeight' && !cg.has('blkio', info.v1File)) throw noDeviceWeightFile();
    cg.write('blkio', info.v1File, `${dev} ${value}`);
    const line = lineFor(cg.read('blkio', info.v1File), dev);
    return line === undefined ? 0n : parseNumber(line.trim());
  }
  if (!info.v2Key) {
    if (!cg.has('blkio', 'io.weight')) throw noDeviceWeightFile();
    cg.write('blkio', 'io.weight', `${dev} ${value}`);
    const line = lineFor(cg.read('blkio', 'io.weight'), dev);
    return line === undefined ? 0n : parseNumber(line.trim());
  }
  cg.write('blkio', 'io.max', `${dev} ${info.v2Key}=${value === 0n ? 'max' : value}`);
  const line = lineFor(cg.read('blkio', 'io.max'), dev);
  if (line === undefined) return 0n;
  const m = new RegExp(`(?:^| )${info.v2Key}=(\\S+)`).exec(line);
  if (!m) throw internalError(`Unable to find '${info.v2Key}=' limit for block device '${dev}'`);
  return m[1] === 'max' ? 0n : parseNumber(m[1]!);
}

/** virDomainDriverMergeBlkioDevice: update the entry for each path, add entries with a value. */
function mergeDevices(def: DomainDef, field: BlkioDeviceField, values: BlkioDeviceList): void {
  const key = DEVICE_FIELDS[field].tune;
  const tune: BlkioTune = (def.blkiotune ??= { devices: [] });
  for (const { path, value } of values) {
    let device = tune.devices.find((d) => d.path === path);
    if (!device) {
      if (value === 0n) continue;
      device = { path };
      tune.devices.push(device);
    }
    if (value === 0n) delete device[key];
    else if (key === 'readBytesSec' || key === 'writeBytesSec') device[key] = value;
    else device[key] = Number(value);
  }
}

/** Change the running container; the running definition `live` records what the kernel kept. */
export function applyBlkioLive(cg: DomainCgroup, facts: HostFacts, live: DomainDef, changes: BlkioParameterChanges): void {
  blkioVersion(cg);
  if (changes.weight !== undefined) {
    const file = weightFile(cg);
    if (file === undefined) throw noWeightFile(cg);
    const v1OrBfq = blkioVersion(cg) === 1 || file === 'io.bfq.weight';
    cg.write('blkio', file, v1OrBfq ? String(changes.weight) : `default ${changes.weight}`);
    (live.blkiotune ??= { devices: [] }).weight = readWeight(cg, file);
  }
  for (const field of BLKIO_DEVICE_FIELDS) {
    const list = listOf(changes, field);
    if (list === undefined) continue;
    const kept = list.map(({ path, value }) => ({ path, value: setDeviceValue(cg, field, deviceNumber(path, facts), value) }));
    mergeDevices(live, field, kept);
  }
}

/** Change the persistent definition's <blkiotune>. */
export function applyBlkioConfig(def: DomainDef, changes: BlkioParameterChanges): void {
  if (changes.weight !== undefined) {
    const tune: BlkioTune = (def.blkiotune ??= { devices: [] });
    if (changes.weight === 0) delete tune.weight;
    else tune.weight = changes.weight;
  }
  for (const field of BLKIO_DEVICE_FIELDS) {
    const list = listOf(changes, field);
    if (list !== undefined) mergeDevices(def, field, list);
  }
}
