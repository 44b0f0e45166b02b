/**
 * What the disk and filesystem parsers share: storage format names, pool
 * volume sources, and the two ways of reading numbers they need that
 * ./props.js does not offer (octal permission bits, strtoull's wrapping).
 */
import { attr, type XmlElement } from '../../tree.js';
import { xmlError } from '../../errors.js';
import { propEnum } from '../xml-access.js';
import { parseULongLongStrict } from './props.js';

/** virStorageFileFormat names ("none" is not accepted in XML). */
export const STORAGE_FORMATS = [
  'raw', 'dir', 'bochs', 'cloop', 'dmg', 'iso', 'vpc', 'vdi', 'fat', 'vhd', 'ploop', 'luks',
  'cow', 'qcow', 'qcow2', 'qed', 'vmdk',
] as const;
export type StorageFormat = (typeof STORAGE_FORMATS)[number];

export const isStorageFormat = (s: string): s is StorageFormat => (STORAGE_FORMATS as readonly string[]).includes(s);

/** A storage pool volume named as a disk or filesystem source. */
export interface VolumeSource {
  pool: string;
  volume: string;
  /** How a disk uses an iSCSI volume; stored only. */
  mode?: 'host' | 'direct';
}

/** virDomainDiskSourcePoolDefParse: undefined when neither pool nor volume is given. */
export function parseVolumeSource(source: XmlElement): VolumeSource | undefined {
  const pool = attr(source, 'pool');
  const volume = attr(source, 'volume');
  if (pool === undefined && volume === undefined) return undefined;
  if (pool === undefined || volume === undefined) {
    throw xmlError("'pool' and 'volume' must be specified together for 'pool' type source");
  }
  const mode = propEnum(source, 'mode', ['host', 'direct'] as const);
  return mode === undefined ? { pool, volume } : { pool, volume, mode };
}

const LEADING_MINUS = /^[ \t\n\v\f\r]*-/;

/** virStrToLong_ull: as strtoull, a leading '-' wraps the value modulo 2^64. */
export function parseULongLongWrapping(text: string): bigint | undefined {
  const negative = LEADING_MINUS.test(text);
  const magnitude = parseULongLongStrict(negative ? text.replace('-', '') : text);
  if (magnitude === undefined || !negative || magnitude === 0n) return magnitude;
  return (1n << 64n) - magnitude;
}

/** virXMLPropUInt with base 8, as libvirt reads permission bits. */
export function propOctalUInt(el: XmlElement, name: string): number | undefined {
  const raw = attr(el, name);
  if (raw === undefined) return undefined;
  const digits = /^[ \t\n\v\f\r]*\+?([0-7]+)$/.exec(raw)?.[1];
  const value = digits === undefined ? undefined : parseInt(digits, 8);
  if (value === undefined || value > 0xffffffff) {
    throw xmlError(`Invalid value for attribute '${name}' in element '${el.local}': '${raw}'. Expected non-negative integer value`);
  }
  return value;
}
