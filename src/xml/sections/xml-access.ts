/**
 * How libvirt's parser reads the input, for the section parsers.
 *
 * The few XPath shapes it uses (`./a/b`, `./a/*`, `string(./a/b[1])`),
 * evaluated over the input tree with XPath's rules:
 * an unprefixed step only matches an element in no namespace, a step with
 * a namespace matches by URI whatever prefix the document used, and
 * repeated parents are all searched, so duplicate `<features>` or `<idmap>`
 * elements are merged the way libvirt merges them.
 */
import { attr, isElement, textOf, type XmlElement } from '../tree.js';
import { invalidAttr, xmlError } from '../errors.js';

/** A location step: an element name in no namespace, '*' for any element, or a namespaced name. */
export type Step = string | { readonly ns: string; readonly local: string };

const matches = (el: XmlElement, step: Step): boolean => {
  if (step === '*') return true;
  if (typeof step === 'string') return el.name === step && el.ns === '';
  return el.local === step.local && el.ns === step.ns;
};

const childElements = (el: XmlElement, step: Step): XmlElement[] =>
  el.children.filter((c): c is XmlElement => isElement(c) && matches(c, step));

/** `./s1/s2/…`: every element the path selects, in document order. */
export function selectAll(context: XmlElement, ...steps: Step[]): XmlElement[] {
  let current = [context];
  for (const step of steps) current = current.flatMap((el) => childElements(el, step));
  return current;
}

/** `./s1/…/sN[1]`: the first sN under each match of the parent path, in document order. */
export function selectFirstOfEach(context: XmlElement, ...steps: Step[]): XmlElement[] {
  const parents = selectAll(context, ...steps.slice(0, -1));
  const last = steps[steps.length - 1]!;
  return parents.flatMap((el) => childElements(el, last).slice(0, 1));
}

/**
 * virXPathString("string(./s1/…/sN[1])"): the text of the first element in
 * document order, undefined when there is none or its text is empty.
 */
export function xpathText(context: XmlElement, ...steps: Step[]): string | undefined {
  const first = selectFirstOfEach(context, ...steps)[0];
  const text = first === undefined ? '' : textOf(first);
  return text === '' ? undefined : text;
}

/** virXPathString("string(./…/@name)") on one element: undefined when absent or empty. */
export function nonEmptyAttr(el: XmlElement | undefined, name: string): string | undefined {
  if (el === undefined) return undefined;
  for (const [k, v] of el.attrs) if (k === name) return v === '' ? undefined : v;
  return undefined;
}

/**
 * libxml2's `node->children->content`: the content of an element's first
 * child node, as libvirt reads `<initarg>` and `<initenv>`. Undefined when
 * the element is empty or starts with a child element.
 */
export function firstChildText(el: XmlElement): string | undefined {
  const first = el.children[0];
  return first === undefined || isElement(first) ? undefined : first.text;
}

/** Whether `value` is one of `values`, narrowing its type. */
export const isOneOf = <T extends string>(values: readonly T[], value: string): value is T =>
  (values as readonly string[]).includes(value);

/**
 * virXMLPropEnum: an attribute that must name one of `values`. Absent is
 * undefined (or libvirt's "Missing required attribute" error); anything
 * else is libvirt's "Invalid value for attribute" error. Leave an enum's
 * zero value ("none", "default", "absent") out of `values` where libvirt
 * passes VIR_XML_PROP_NONZERO.
 */
export function propEnum<T extends string>(
  el: XmlElement,
  name: string,
  values: readonly T[],
  required = false,
): T | undefined {
  const raw = attr(el, name);
  if (raw === undefined) {
    if (required) throw xmlError(`Missing required attribute '${name}' in element '${el.local}'`);
    return undefined;
  }
  if (!isOneOf(values, raw)) throw invalidAttr(name, el.local, raw);
  return raw;
}

export type Switch = 'on' | 'off';
export type YesNo = 'yes' | 'no';
const SWITCH: readonly Switch[] = ['on', 'off'];
const YES_NO: readonly YesNo[] = ['yes', 'no'];

/** virXMLPropTristateSwitch. */
export const propSwitch = (el: XmlElement, name: string, required = false): Switch | undefined =>
  propEnum(el, name, SWITCH, required);

/** virXMLPropTristateBool. */
export const propYesNo = (el: XmlElement, name: string, required = false): YesNo | undefined =>
  propEnum(el, name, YES_NO, required);

/**
 * virXMLPropUInt with base 0 (decimal, 0x hex or 0 octal, no sign):
 * undefined when absent, libvirt's error when malformed.
 */
export function propUInt(el: XmlElement, name: string, required = false): number | undefined {
  const raw = attr(el, name);
  if (raw === undefined) {
    if (required) throw xmlError(`Missing required attribute '${name}' in element '${el.local}'`);
    return undefined;
  }
  const value = parseUIntBase0(raw);
  if (value === undefined) {
    throw xmlError(
      `Invalid value for attribute '${name}' in element '${el.local}': '${raw}'. Expected non-negative integer value`,
    );
  }
  return value;
}

function parseUIntBase0(text: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return undefined;
  const digits = m[1]!;
  const value = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 && digits[0] === '0' ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  return value > 0xffffffffn ? undefined : Number(value);
}
