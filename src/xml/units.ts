/**
 * Integers and scaled sizes as libvirt reads them (virStrToLong_*,
 * virScaleInteger, virParseScaledValue, virDomainParseMemory,
 * virXMLPropUInt/Int). Sizes are bigint: they reach 2^64 bytes, beyond
 * what a JS number holds exactly.
 */
import { VirError, invalidArg, xmlError } from './errors.js';
import { attr, type XmlElement } from './tree.js';

export const ULLONG_MAX = (1n << 64n) - 1n;
export const LLONG_MAX = (1n << 63n) - 1n;
export const UINT_MAX = 0xffffffffn;
const INT_MIN = -(1n << 31n);
const INT_MAX = (1n << 31n) - 1n;
/** VIR_DOMAIN_MEMORY_PARAM_UNLIMITED, in KiB: "no limit" for memtune values. */
export const MEMORY_UNLIMITED_KIB = 9007199254740991n;

/** A decimal as strtol/strtoull read it: leading blanks, optional sign, digits to the end. */
const DECIMAL = /^[ \t\n\r\f\v]*([+-]?)([0-9]+)$/;

interface Decimal {
  negative: boolean;
  magnitude: bigint;
}

function readDecimal(text: string): Decimal | undefined {
  const m = DECIMAL.exec(text);
  return m ? { negative: m[1] === '-', magnitude: BigInt(m[2]!) } : undefined;
}

/** -magnitude modulo 2^bits, as C's unsigned conversions compute it. */
const wrapNegative = (magnitude: bigint, modulus: bigint): bigint => (modulus - magnitude) % modulus;

/**
 * strtoull-style parse of an unsigned decimal: optional leading blanks and
 * '+', no trailing characters, no sign, no overflow. Returns undefined when
 * libvirt's virStrToLong_ullp would fail.
 */
export function parseUnsigned(text: string): bigint | undefined {
  const d = readDecimal(text);
  return d === undefined || d.negative || d.magnitude > ULLONG_MAX ? undefined : d.magnitude;
}

/**
 * virStrToLong_ull: like parseUnsigned, but a '-' is accepted and negates
 * modulo 2^64, as strtoull does ("-1" is ULLONG_MAX).
 */
export function parseUnsignedWrapping(text: string): bigint | undefined {
  const d = readDecimal(text);
  if (d === undefined || d.magnitude > ULLONG_MAX) return undefined;
  return d.negative ? wrapNegative(d.magnitude, ULLONG_MAX + 1n) : d.magnitude;
}

/**
 * virStrToLong_ui: an unsigned int where "-N" is read as 2^32 - N when N
 * fits in 32 bits (so "-1" is 4294967295).
 */
export function parseUInt32Wrapping(text: string): number | undefined {
  const d = readDecimal(text);
  if (d === undefined || d.magnitude > UINT_MAX) return undefined;
  return Number(d.negative ? wrapNegative(d.magnitude, UINT_MAX + 1n) : d.magnitude);
}

/** virStrToLong_uip: an unsigned int, no minus sign allowed. */
export function parseUInt32(text: string): number | undefined {
  const v = parseUnsigned(text);
  return v === undefined || v > UINT_MAX ? undefined : Number(v);
}

/** Signed decimal as virStrToLong_ll: leading blanks, optional sign, range of long long. */
export function parseSigned(text: string): bigint | undefined {
  const d = readDecimal(text);
  if (d === undefined) return undefined;
  const v = d.negative ? -d.magnitude : d.magnitude;
  return v > LLONG_MAX || v < -LLONG_MAX - 1n ? undefined : v;
}

/** virStrToLong_i: a signed int. */
export function parseInt32(text: string): number | undefined {
  const v = parseSigned(text);
  return v === undefined || v < INT_MIN || v > INT_MAX ? undefined : Number(v);
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

/** Largest byte count a domain memory size may have: off_t's range (virMemoryMaxValue). */
const MEMORY_MAX_BYTES = LLONG_MAX;

/**
 * virParseScaledValue: `text` (the string() of the element or attribute at
 * `xpath`) times its `unit`, in bytes. Empty or absent text means "not
 * given": undefined, or libvirt's "missing" error when `required`.
 */
export function parseScaledValue(
  text: string | undefined,
  unit: string | undefined,
  xpath: string,
  defaultScale: bigint,
  limit: bigint,
  required = false,
): bigint | undefined {
  if (text === undefined || text === '') {
    if (required) throw xmlError(`missing element or attribute '${xpath}'`);
    return undefined;
  }
  const value = parseUnsigned(text);
  if (value === undefined) throw xmlError(`Invalid value '${text}' for element or attribute '${xpath}'`);
  return scaleInteger(value, unit === '' ? undefined : unit, defaultScale, limit);
}

/** virDomainParseMemory: a size in KiB (default unit KiB, rounded up), below 2^53 KiB. */
export function parseMemoryKiB(
  text: string | undefined,
  unit: string | undefined,
  xpath: string,
  required = false,
): bigint | undefined {
  const bytes = parseScaledValue(text, unit, xpath, 1024n, MEMORY_MAX_BYTES, required);
  if (bytes === undefined) return undefined;
  const kib = bytesToKiBRoundUp(bytes);
  if (kib >= bytesToKiBRoundUp(MEMORY_MAX_BYTES)) throw new VirError('VIR_ERR_OVERFLOW', 'size value too large');
  return kib;
}

/**
 * virDomainParseMemoryLimit: a memtune limit in KiB, at most
 * MEMORY_UNLIMITED_KIB, which (like an absent value) means "no limit" and
 * is returned as undefined.
 */
export function parseMemoryLimitKiB(
  text: string | undefined,
  unit: string | undefined,
  xpath: string,
): bigint | undefined {
  const bytes = parseScaledValue(text, unit, xpath, 1024n, MEMORY_UNLIMITED_KIB << 10n);
  if (bytes === undefined) return undefined;
  const kib = bytesToKiBRoundUp(bytes);
  return kib >= MEMORY_UNLIMITED_KIB ? undefined : kib;
}

/* ---------- integer attributes (virXMLPropUInt / virXMLPropInt) ---------- */

export interface IntAttrOptions {
  /** Absence is libvirt's "Missing required attribute" error. */
  required?: boolean;
  /** Zero is libvirt's "Zero is not permitted" error. */
  nonzero?: boolean;
}

const missingAttr = (el: XmlElement, name: string): VirError =>
  xmlError(`Missing required attribute '${name}' in element '${el.local}'`);

function readIntAttr(
  el: XmlElement,
  name: string,
  opts: IntAttrOptions,
  parse: (text: string) => number | undefined,
  expected: string,
): number | undefined {
  const raw = attr(el, name);
  if (raw === undefined) {
    if (opts.required) throw missingAttr(el, name);
    return undefined;
  }
  const value = parse(raw);
  if (value === undefined) {
    throw xmlError(`Invalid value for attribute '${name}' in element '${el.local}': '${raw}'. Expected ${expected}`);
  }
  if (opts.nonzero && value === 0) {
    throw xmlError(`Invalid value for attribute '${name}' in element '${el.local}': Zero is not permitted`);
  }
  return value;
}

/** virXMLPropUInt (base 10): a non-negative 32-bit attribute. */
export const uintAttr = (el: XmlElement, name: string, opts: IntAttrOptions = {}): number | undefined =>
  readIntAttr(el, name, opts, parseUInt32, 'non-negative integer value');

/** virXMLPropInt (base 10): a signed 32-bit attribute. */
export const intAttr = (el: XmlElement, name: string, opts: IntAttrOptions = {}): number | undefined =>
  readIntAttr(el, name, opts, parseInt32, 'integer value');

/* ---------- output ---------- */

const PRETTY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/** virFormatIntPretty: the largest binary unit that divides the byte count exactly. */
export function formatBytesPretty(bytes: bigint): { value: bigint; unit: (typeof PRETTY_UNITS)[number] } {
  let value = bytes;
  let i = 0;
  while (value !== 0n && value % 1024n === 0n && i < PRETTY_UNITS.length - 1) {
    value /= 1024n;
    i++;
  }
  return { value, unit: PRETTY_UNITS[i]! };
}
