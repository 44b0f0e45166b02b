/**
 * Integers and scaled sizes as libvirt reads them (virStrToLong_*,
 * virScaleInteger, virDomainParseMemory). Values are bigint: sizes reach
 * 2^64 bytes, beyond what a JS number holds exactly.
 */
import { VirError, invalidArg } from './errors.js';

export const ULLONG_MAX = (1n << 64n) - 1n;
export const LLONG_MAX = (1n << 63n) - 1n;
/** VIR_DOMAIN_MEMORY_PARAM_UNLIMITED, in KiB: "no limit" for memtune values. */
export const MEMORY_UNLIMITED_KIB = 9007199254740991n;

/**
 * strtoull-style parse of an unsigned decimal: optional leading blanks and
 * '+', no trailing characters, no sign, no overflow. Returns undefined when
 * libvirt's virStrToLong_ullp would fail.
 */
export function parseUnsigned(text: string): bigint | undefined {
  const m = /^[ \t\n\r\f\v]*\+?([0-9]+)$/.exec(text);
  if (!m) return undefined;
  const v = BigInt(m[1]!);
  return v > ULLONG_MAX ? undefined : v;
}

/** Signed decimal as virStrToLong_ll: leading blanks, optional sign, range of long long. */
export function parseSigned(text: string): bigint | undefined {
  const m = /^[ \t\n\r\f\v]*([+-]?)([0-9]+)$/.exec(text);
  if (!m) return undefined;
  const v = BigInt(m[2]!) * (m[1] === '-' ? -1n : 1n);
  return v > LLONG_MAX || v < -LLONG_MAX - 1n ? undefined : v;
}

/**
 * Multiplier for a unit suffix (case-insensitive), as virScaleInteger: an
 * absent or empty suffix means `defaultScale`.
 */
export function unitScale(suffix: string | undefined, defaultScale: bigint): bigint {
  if (suffix === undefined || suffix === '') return defaultScale;
  const s = suffix.toLowerCase();
  if (s === 'b' || s === 'byte' || s === 'bytes') return 1n;
  const powers = 'kmgtpe';
  const exp = powers.indexOf(s[0]!) + 1;
  if (exp > 0) {
    const rest = s.slice(1);
    if (rest === '' || rest === 'ib') return 1024n ** BigInt(exp);
    if (rest === 'b') return 1000n ** BigInt(exp);
  }
  throw invalidArg(`unknown suffix '${suffix}'`);
}

/**
 * value × unit, refusing results above `limit` with libvirt's
 * "numerical overflow: value too large: <value><unit>" message.
 */
export function scaleInteger(value: bigint, suffix: string | undefined, defaultScale: bigint, limit: bigint): bigint {
  const scale = unitScale(suffix, defaultScale);
  const scaled = value * scale;
  if (scaled > limit) {
    throw new VirError('VIR_ERR_OVERFLOW', `value too large: ${value}${suffix ?? ''}`);
  }
  return scaled;
}

/** ceil(bytes / 1024), libvirt's VIR_DIV_UP when storing memory in KiB. */
export const bytesToKiBRoundUp = (bytes: bigint): bigint => (bytes + 1023n) / 1024n;
