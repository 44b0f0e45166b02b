/**
 * Numbers in LXC configuration values, read as libvirt's conversion reads
 * them (virStrToLong_*, lxcConvertSize), with a length guard: libvirt's C
 * parsers fail fast on overflow, but turning a megabyte of digits into a
 * bigint would not.
 */
import { internalError } from '../errors.js';
import { ULLONG_MAX, LLONG_MAX, parseSigned, parseUnsigned, unitScale } from '../units.js';

export const UINT_MAX = 0xffffffffn;
export const INT_MAX = 0x7fffffffn;
export { ULLONG_MAX, LLONG_MAX };

/** Longer than any 64-bit number could be, even with some leading blanks or zeros. */
const MAX_NUMBER_CHARS = 64;

/** Unsigned decimal no greater than `max`; undefined when libvirt would fail to parse it. */
export function readUnsigned(text: string, max: bigint = ULLONG_MAX): bigint | undefined {
  if (text.length > MAX_NUMBER_CHARS) return undefined;
  const v = parseUnsigned(text);
  return v !== undefined && v <= max ? v : undefined;
}

/** Signed decimal within [-max-1, max]; undefined when libvirt would fail to parse it. */
export function readSigned(text: string, max: bigint = LLONG_MAX): bigint | undefined {
  if (text.length > MAX_NUMBER_CHARS) return undefined;
  const v = parseSigned(text);
  return v !== undefined && v <= max && v >= -max - 1n ? v : undefined;
}

const SIZE = /^[ \t\n\v\f\r]*\+?([0-9]+)(.*)$/s;

/** A size such as `8m` or `1073741824` in bytes (lxcConvertSize: unit suffix, default bytes). */
export function convertSize(text: string): bigint {
  const failed = internalError(`failed to convert size: '${text}'`);
  const m = text.length > MAX_NUMBER_CHARS ? null : SIZE.exec(text);
  if (!m) throw failed;
  const [, digits, unit] = m as unknown as [string, string, string];
  if (unit === '%') throw internalError(`can't convert relative size: '${text}'`);
  let scale: bigint;
  try {
    scale = unitScale(unit, 1n);
  } catch {
    throw failed;
  }
  const bytes = BigInt(digits) * scale;
  if (bytes > ULLONG_MAX) throw failed;
  return bytes;
}
