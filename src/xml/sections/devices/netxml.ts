/**
 * The attribute and child readers the <interface> code needs beyond
 * ../xml-access.ts and ./props.ts: required strings, long long values,
 * UUIDs, and libvirt's hand-written child loops.
 */
import { xmlError } from '../../errors.js';
import { attr, isElement, type XmlElement } from '../../tree.js';
import { parseSigned } from '../../units.js';
import { parseUUID } from '../general.js';

const invalidValue = (el: XmlElement, name: string, v: string, what: string): Error =>
  xmlError(`Invalid value for attribute '${name}' in element '${el.local}': '${v}'. Expected ${what}`);

/** virXMLPropStringRequired */
export function propRequired(el: XmlElement, name: string): string {
  const v = attr(el, name);
  if (v === undefined) throw xmlError(`Missing required attribute '${name}' in element '${el.local}'`);
  return v;
}

/** virXMLPropLongLong (base 10) */
export function propLongLong(el: XmlElement, name: string): bigint | undefined {
  const v = attr(el, name);
  if (v === undefined) return undefined;
  const n = parseSigned(v);
  if (n === undefined) throw invalidValue(el, name, v, 'long long integer value');
  return n;
}

/** virXMLPropUUID with VIR_XML_PROP_REQUIRED: canonical lower-case UUID text. */
export function propRequiredUUID(el: XmlElement, name: string): string {
  const v = propRequired(el, name);
  const uuid = parseUUID(v);
  if (uuid === undefined) throw invalidValue(el, name, v, 'UUID');
  return uuid;
}

/**
 * Children libvirt finds by walking node->children with virXMLNodeNameEqual,
 * which compares the local name: a bound prefix does not matter there.
 */
export const childrenNamed = (el: XmlElement, name: string): XmlElement[] =>
  el.children.filter(
    (c): c is XmlElement => isElement(c) && c.local === name && (c.ns !== '' || c.name === name),
  );
