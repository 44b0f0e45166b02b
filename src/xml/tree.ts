/**
 * XML text to a small ordered element tree, the input side of the domain
 * parser. fast-xml-parser does the tokenising; this module adds what libvirt
 * (through libxml2) does on top: UTF-8 enforcement, libxml2-style error
 * messages with line numbers, internal DTD entities and character
 * references, namespace resolution, and limits against hostile input.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { VirError } from './errors.js';

export interface XmlElement {
  /** Qualified name as written, e.g. `lxc:sharenet`. */
  readonly name: string;
  /** Local part of the name, e.g. `sharenet`. */
  readonly local: string;
  /** Namespace URI the prefix resolves to ('' for none or unbound). */
  readonly ns: string;
  /** Attributes in document order (entities decoded). */
  readonly attrs: ReadonlyArray<readonly [string, string]>;
  readonly children: ReadonlyArray<XmlNode>;
  /** Namespace declarations made on this element: prefix ('' = default) to URI. */
  readonly nsDecls: ReadonlyArray<readonly [string, string]>;
  readonly parent: XmlElement | undefined;
}

export type XmlNode = XmlElement | XmlText;

export interface XmlText {
  readonly text: string;
}

export const isElement = (n: XmlNode): n is XmlElement => (n as XmlElement).name !== undefined;

/** Input larger than this is refused before parsing (libvirt caps XML files at 10 MiB too). */
export const MAX_XML_BYTES = 10 * 1024 * 1024;
const MAX_DEPTH = 256;
const MAX_ENTITY_EXPANSION = 1024 * 1024;

const DOC = '(domain_definition)';

/** Characters XML 1.0 does not allow anywhere in a document. */
const INVALID_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

const parseError = (line: number, msg: string): VirError =>
  new VirError('VIR_ERR_XML_DETAIL', `${DOC}:${line}: ${msg}`);

const lineOf = (text: string, offset: number): number => {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
};

/** Decode bytes as UTF-8 strictly, whatever the XML declaration says (as libvirt does). */
export function decodeXmlBytes(bytes: Uint8Array): string {
  if (bytes.length > MAX_XML_BYTES) {
    throw new VirError('VIR_ERR_XML_DETAIL', `${DOC}: document is larger than ${MAX_XML_BYTES} bytes`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    let good = 0;
    // Find the first byte offset that does not start a valid sequence.
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let lo = 0;
    let hi = bytes.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      try {
        decoder.decode(bytes.subarray(0, mid), { stream: true });
        decoder.decode();
        lo = mid;
      } catch {
        hi = mid - 1;
      }
    }
    good = lo;
    let line = 1;
    for (let i = 0; i < good; i++) if (bytes[i] === 10) line++;
    const shown = Array.from(bytes.subarray(good, good + 4))
      .map((b) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(' ');
    throw parseError(line, `Input is not proper UTF-8, indicate encoding !\nBytes: ${shown}`);
  }
}

interface EntityTable {
  readonly [name: string]: string;
}

const PREDEFINED: EntityTable = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

/** Read `<!ENTITY name "value">` declarations from an internal DTD subset. */
function readInternalEntities(text: string): Record<string, string> {
  const entities: Record<string, string> = {};
  const doctype = /<!DOCTYPE[^[>]*\[([\s\S]*?)\]\s*>/.exec(text);
  if (!doctype) return entities;
  const decl = /<!ENTITY\s+([A-Za-z_][\w.-]*)\s+(?:"([^"]*)"|'([^']*)')\s*>/g;
  for (let m = decl.exec(doctype[1]!); m; m = decl.exec(doctype[1]!)) {
    if (!(m[1]! in entities)) entities[m[1]!] = m[2] ?? m[3] ?? '';
  }
  return entities;
}

class EntityDecoder {
  private budget = MAX_ENTITY_EXPANSION;

  constructor(
    private readonly entities: EntityTable,
    private readonly source: string,
  ) {}

  decode(raw: string, depth = 0): string {
    if (!raw.includes('&')) return raw;
    return raw.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z_][\w.-]*);/g, (_all, ref: string) => {
      if (ref.startsWith('#')) {
        const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
        if (!Number.isFinite(code) || code > 0x10ffff || INVALID_XML_CHAR.test(String.fromCodePoint(code))) {
          throw parseError(1, `xmlParseCharRef: invalid xmlChar value ${code}`);
        }
        return String.fromCodePoint(code);
      }
      const predefined = PREDEFINED[ref];
      if (predefined !== undefined) return predefined;
      const value = this.entities[ref];
      if (value === undefined) {
        const at = this.source.indexOf(`&${ref};`);
        throw parseError(lineOf(this.source, at), `Entity '${ref}' not defined`);
      }
      if (depth > 16) throw parseError(1, 'Detected an entity reference loop');
      const expanded = this.decode(value, depth + 1);
      this.budget -= expanded.length;
      if (this.budget < 0) throw parseError(1, 'Maximum entity amplification factor exceeded');
      return expanded;
    });
  }
}

/** libxml2's wording for the well-formedness errors fast-xml-parser reports. */
function libxmlMessage(code: string, msg: string, text: string): string {
  if (text.trim() === '') return 'Document is empty';
  switch (code) {
    case 'InvalidAttr':
      if (/without value/.test(msg)) return `AttValue: " or ' expected`;
      if (/open quote/.test(msg)) {
        return `AttValue: ' expected`;
      }
      return msg;
    case 'InvalidChar':
      return /is not expected/.test(msg) && !text.trimStart().startsWith('<')
        ? "Start tag expected, '<' not found"
        : msg;
    case 'InvalidXml':
      if (/Start tag expected/.test(msg)) return "Start tag expected, '<' not found";
      if (/Multiple possible root nodes/.test(msg)) return 'Extra content at the end of the document';
      return msg;
    case 'InvalidTag': {
      const m = /Expected closing tag '([^']+)' \(opened in line (\d+), col \d+\) instead of closing tag '([^']+)'/.exec(msg);
      if (m) return `Opening and ending tag mismatch: ${m[1]} line ${m[2]} and ${m[3]}`;
      return msg;
    }
    default:
      return msg;
  }
}

type FxpNode = Record<string, unknown>;

const fxp = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  commentPropName: '#comment',
  cdataPropName: '#cdata',
  ignoreDeclaration: true,
  ignorePiTags: true,
});

interface MutableElement {
  name: string;
  local: string;
  ns: string;
  attrs: Array<[string, string]>;
  children: XmlNode[];
  nsDecls: Array<[string, string]>;
  parent: XmlElement | undefined;
}

function lookupNs(el: XmlElement | undefined, prefix: string): string {
  if (prefix === 'xml') return 'http://www.w3.org/XML/1998/namespace';
  for (let e = el; e; e = e.parent) {
    for (const [p, uri] of e.nsDecls) if (p === prefix) return uri;
  }
  return '';
}

/**
 * Parse XML text into an element tree. Errors are libxml2-worded
 * (`(domain_definition):LINE: message`), as virsh shows them.
 */
export function parseXmlTree(input: string | Uint8Array): XmlElement {
  let text = typeof input === 'string' ? input : decodeXmlBytes(input);
  if (text.length > MAX_XML_BYTES) {
    throw new VirError('VIR_ERR_XML_DETAIL', `${DOC}: document is larger than ${MAX_XML_BYTES} bytes`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  text = text.replace(/\r\n?/g, '\n');
  if (text.trim() === '') throw parseError(1, 'Document is empty');
  const bad = INVALID_XML_CHAR.exec(text);
  if (bad) {
    throw parseError(lineOf(text, bad.index), `PCDATA invalid Char value ${bad[0].codePointAt(0)}`);
  }

  const verdict = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (verdict !== true) {
    const { code, msg, line } = verdict.err;
    throw parseError(line, libxmlMessage(code, msg, text));
  }

  const decoder = new EntityDecoder({ ...PREDEFINED, ...readInternalEntities(text) }, text);
  let top: FxpNode[];
  try {
    top = fxp.parse(text) as FxpNode[];
  } catch (e) {
    // fast-xml-parser's own limits (e.g. nesting depth) surface as plain Errors.
    throw parseError(1, e instanceof Error ? e.message : String(e));
  }
  const rootNode = top.find((n) => !('#comment' in n) && !('#text' in n) && !Object.keys(n)[0]?.startsWith('!'));
  if (!rootNode) throw parseError(1, "Start tag expected, '<' not found");
  return convert(rootNode, undefined, decoder, 0);
}

function convert(node: FxpNode, parent: XmlElement | undefined, decoder: EntityDecoder, depth: number): XmlElement {
  if (depth > MAX_DEPTH) throw parseError(1, `Excessive depth in document: ${MAX_DEPTH} use XML_PARSE_HUGE option`);
  const name = Object.keys(node).find((k) => k !== ':@')!;
  const rawAttrs = (node[':@'] ?? {}) as Record<string, string>;
  const el: MutableElement = { name, local: '', ns: '', attrs: [], children: [], nsDecls: [], parent };
  for (const [key, value] of Object.entries(rawAttrs)) {
    const decoded = decoder.decode(String(value));
    if (key === 'xmlns') el.nsDecls.push(['', decoded]);
    else if (key.startsWith('xmlns:')) el.nsDecls.push([key.slice(6), decoded]);
    else el.attrs.push([key, decoded]);
  }
  const colon = name.indexOf(':');
  el.local = colon >= 0 ? name.slice(colon + 1) : name;
  el.ns = lookupNs(el as XmlElement, colon >= 0 ? name.slice(0, colon) : '');

  const kids = (node[name] ?? []) as FxpNode[];
  for (const kid of kids) {
    if ('#text' in kid) el.children.push({ text: decoder.decode(String(kid['#text'])) });
    else if ('#cdata' in kid) {
      const parts = kid['#cdata'] as FxpNode[];
      el.children.push({ text: parts.map((p) => String(p['#text'] ?? '')).join('') });
    } else if ('#comment' in kid) continue;
    else el.children.push(convert(kid, el as XmlElement, decoder, depth + 1));
  }
  return el as XmlElement;
}

/* ---------- accessors used by the section parsers ---------- */

export const attr = (el: XmlElement, name: string): string | undefined => {
  for (const [k, v] of el.attrs) if (k === name) return v;
  return undefined;
};

/** Element children (any namespace-less name) in order. */
export const elements = (el: XmlElement, name?: string): XmlElement[] =>
  el.children.filter((c): c is XmlElement => isElement(c) && (name === undefined || c.name === name));

/** First child element of that name, as libvirt's `./name[1]`. */
export const child = (el: XmlElement, name: string): XmlElement | undefined =>
  el.children.find((c): c is XmlElement => isElement(c) && c.name === name);

/** XPath string(): all descendant text concatenated. */
export const textOf = (el: XmlElement): string =>
  el.children.map((c) => (isElement(c) ? textOf(c) : c.text)).join('');

/** string(./name[1]), or undefined when the child is absent. */
export const childText = (el: XmlElement, name: string): string | undefined => {
  const c = child(el, name);
  return c === undefined ? undefined : textOf(c);
};

/** Namespace URI bound to a prefix in scope at el. */
export const namespaceOf = lookupNs;
