/**
 * Numeric attribute readers with libvirt's virXMLPropInt/UInt/ULongLong
 * semantics and error texts (the enum and tristate readers are in
 * ../xml-access.ts).
 */
import { attr, type XmlElement } from '../../tree.js';
import { xmlError } from '../../errors.js';

/** The number base libvirt passes to strtol: 0 detects a 0x or 0 prefix. */
export type NumberBase = 0 | 10 | 16;

const UINT_MAX = 0xffffffffn;
const INT_MIN = -0x80000000n;
const INT_MAX = 0x7fffffffn;
const ULLONG_MAX = (1n << 64n) - 1n;

const DIGITS: Record<NumberBase, RegExp> = {
  0: /^(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))$/,
  10: /^([0-9]+)$/,
  16: /^(?:0[xX])?([0-9a-fA-F]+)$/,
};

/** strtoull's reading of the whole text: blanks, an optional sign, digits in `base`, nothing after. */
function parseMagnitude(text: string, base: NumberBase): { negative: boolean; value: bigint } | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(.*)$/s.exec(text)!;
  const digits = DIGITS[base].exec(m[2]!);
  if (!digits) return undefined;
  let value: bigint;
  if (base === 10) value = BigInt(digits[1]!);
  else if (base === 16) value = BigInt(`0x${digits[1]}`);
  else if (digits[1] !== undefined) value = BigInt(`0x${digits[1]}`);
  else if (digits[2] !== undefined) value = BigInt(`0o${digits[2] === '0' ? '0' : digits[2].slice(1)}`);
  else value = BigInt(digits[3]!);
  return value > ULLONG_MAX ? undefined : { negative: m[1] === '-', value };
}

/** virStrToLong_uip: an unsigned int, no minus sign. */
export function parseUIntStrict(text: string, base: NumberBase = 10): number | undefined {
  const r = parseMagnitude(text, base);
  if (!r || (r.negative && r.value !== 0n) || r.value > UINT_MAX) return undefined;
  return Number(r.value);
}

/** virStrToLong_ui: like strtoul, "-N" wraps to UINT_MAX + 1 - N. */
export function parseUIntWrapping(text: string, base: NumberBase = 10): number | undefined {
  const r = parseMagnitude(text, base);
  if (!r || r.value > UINT_MAX) return undefined;
  return Number(r.negative ? (UINT_MAX + 1n - r.value) & UINT_MAX : r.value);
}

/** virStrToLong_i: a signed int. */
export function parseInt32(text: string, base: NumberBase = 10): number | undefined {
  const r = parseMagnitude(text, base);
  if (!r) return undefined;
  const v = r.negative ? -r.value : r.value;
  return v < INT_MIN || v > INT_MAX ? undefined : Number(v);
}

/** virStrToLong_ullp: an unsigned long long, no minus sign. */
export function parseULongLongStrict(text: string, base: NumberBase = 10): bigint | undefined {
  const r = parseMagnitude(text, base);
  return !r || (r.negative && r.value !== 0n) ? undefined : r.value;
}

export interface NumberPropOptions {
  base?: NumberBase;
  required?: boolean;
  nonZero?: boolean;
}

const missing = (el: XmlElement, name: string): Error =>
  xmlError(`Missing required attribute '${name}' in element '${el.local}'`);

const badNumber = (el: XmlElement, name: string, raw: string, expected: string): Error =>
  xmlError(`Invalid value for attribute '${name}' in element '${el.local}': '${raw}'. Expected ${expected}`);

const zeroNotPermitted = (el: XmlElement, name: string): Error =>
  xmlError(`Invalid value for attribute '${name}' in element '${el.local}': Zero is not permitted`);

function numberProp<T extends number | bigint>(
  el: XmlElement,
  name: string,
  opts: NumberPropOptions,
  parse: (raw: string, base: NumberBase) => T | undefined,
  expected: string,
): T | undefined {
  const raw = attr(el, name);
  if (raw === undefined) {
    if (opts.required) throw missing(el, name);
    return undefined;
  }
  const value = parse(raw, opts.base ?? 10);
  if (value === undefined) throw badNumber(el, name, raw, expected);
  if (opts.nonZero && (value === 0 || value === 0n)) throw zeroNotPermitted(el, name);
  return value;
}

/** virXMLPropUInt. */
export const propUInt = (el: XmlElement, name: string, opts: NumberPropOptions = {}): number | undefined =>
  numberProp(el, name, opts, parseUIntStrict, 'non-negative integer value');

/** virXMLPropInt. */
export const propInt = (el: XmlElement, name: string, opts: NumberPropOptions = {}): number | undefined =>
  numberProp(el, name, opts, parseInt32, 'integer value');

/** virXMLPropULongLong. */
export const propULongLong = (el: XmlElement, name: string, opts: NumberPropOptions = {}): bigint | undefined =>
  numberProp(el, name, opts, parseULongLongStrict, 'non-negative integer value');
