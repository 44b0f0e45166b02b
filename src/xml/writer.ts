/**
 * Output side: formatters build an xmlbuilder2 document, and this module
 * serialises it exactly as libvirt's virBuffer-based formatter does
 * (2-space indent, single-quoted attributes, libvirt's escaping, empty
 * elements self-closed, trailing newline). The `<metadata>` subtree is
 * written the way libvirt writes it, through libxml2: double quotes and
 * libxml2's escaping and indentation.
 */
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';

export type Builder = XMLBuilder;

export type AttrValue = string | number | bigint | boolean | undefined;
export type Attrs = ReadonlyArray<readonly [string, AttrValue]> | Readonly<Record<string, AttrValue>>;

const entries = (attrs: Attrs): Array<readonly [string, AttrValue]> =>
  Array.isArray(attrs) ? (attrs as Array<readonly [string, AttrValue]>) : Object.entries(attrs);

const stringify = (v: AttrValue): string | undefined => {
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
};

/** Start a document whose root element is `name`. */
export function newDocument(name: string, attrs: Attrs = {}): Builder {
  const root = create().ele(name);
  for (const [k, v] of entries(attrs)) {
    const s = stringify(v);
    if (s !== undefined) root.att(k, s);
  }
  return root;
}

/**
 * Append a child element. Attributes whose value is undefined are left out;
 * `text`, when given, becomes the element's only content.
 */
export function add(parent: Builder, name: string, attrs: Attrs = {}, text?: AttrValue): Builder {
  const el = parent.ele(name);
  for (const [k, v] of entries(attrs)) {
    const s = stringify(v);
    if (s !== undefined) el.att(k, s);
  }
  const t = stringify(text);
  if (t !== undefined) el.txt(t);
  return el;
}

/** Append a child only when it would have content or attributes worth printing. */
export function addIf(parent: Builder, cond: boolean, name: string, attrs: Attrs = {}, text?: AttrValue): void {
  if (cond) add(parent, name, attrs, text);
}

/* ---------- serialisation ---------- */

interface DomNode {
  nodeType: number;
  nodeName: string;
  nodeValue: string | null;
  childNodes: ArrayLike<DomNode>;
  attributes?: ArrayLike<{ name: string; value: string }>;
}

const ELEMENT = 1;
const TEXT = 3;

/** virBufferEscapeString: XML-escape, and drop control characters other than \t \n \r. */
export function escapeLibvirt(s: string): string {
  let out = '';
  for (const ch of s) {
    switch (ch) {
      case '<': out += '&lt;'; break;
      case '>': out += '&gt;'; break;
      case '&': out += '&amp;'; break;
      case "'": out += '&apos;'; break;
      case '"': out += '&quot;'; break;
      default: {
        const c = ch.codePointAt(0)!;
        if (c >= 0x20 || ch === '\n' || ch === '\t' || ch === '\r') out += ch;
      }
    }
  }
  return out;
}

const escapeLibxmlText = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');

const escapeLibxmlAttr = (s: string): string =>
  escapeLibxmlText(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');

const kids = (n: DomNode): DomNode[] => Array.from(n.childNodes);
const attrsOf = (n: DomNode): Array<{ name: string; value: string }> => Array.from(n.attributes ?? []);

function writeLibvirt(n: DomNode, depth: number, out: string[]): void {
  const pad = '  '.repeat(depth);
  const open = `${pad}<${n.nodeName}${attrsOf(n).map((a) => ` ${a.name}='${escapeLibvirt(a.value)}'`).join('')}`;
  const children = kids(n);
  if (children.length === 0) {
    out.push(`${open}/>\n`);
    return;
  }
  if (n.nodeName === 'metadata' && depth === 1) {
    out.push(`${open}>\n`);
    for (const c of children) {
      if (c.nodeType === ELEMENT) {
        out.push('  '.repeat(depth + 1));
        writeLibxml(c, depth + 1, true, out);
        out.push('\n');
      }
    }
    out.push(`${pad}</${n.nodeName}>\n`);
    return;
  }
  const elementKids = children.filter((c) => c.nodeType === ELEMENT);
  if (elementKids.length === 0) {
    const text = children.map((c) => c.nodeValue ?? '').join('');
    out.push(`${open}>${escapeLibvirt(text)}</${n.nodeName}>\n`);
    return;
  }
  out.push(`${open}>\n`);
  for (const c of elementKids) writeLibvirt(c, depth + 1, out);
  out.push(`${pad}</${n.nodeName}>\n`);
}

/** libxml2's xmlNodeDump with format=1: indent only elements without text children. */
function writeLibxml(n: DomNode, depth: number, format: boolean, out: string[]): void {
  out.push(`<${n.nodeName}${attrsOf(n).map((a) => ` ${a.name}="${escapeLibxmlAttr(a.value)}"`).join('')}`);
  const children = kids(n);
  if (children.length === 0) {
    out.push('/>');
    return;
  }
  out.push('>');
  const indent = format && children.every((c) => c.nodeType === ELEMENT);
  for (const c of children) {
    if (c.nodeType === TEXT) {
      out.push(escapeLibxmlText(c.nodeValue ?? ''));
      continue;
    }
    if (indent) out.push('\n' + '  '.repeat(depth + 1));
    writeLibxml(c, depth + 1, indent, out);
  }
  if (indent) out.push('\n' + '  '.repeat(depth));
  out.push(`</${n.nodeName}>`);
}

/** Serialise a document built with newDocument/add the way libvirt prints it. */
export function serialize(root: Builder): string {
  const doc = root.doc().node as unknown as { documentElement: DomNode };
  const out: string[] = [];
  writeLibvirt(doc.documentElement, 0, out);
  return out.join('');
}

/** One element, written by `format` as the only child of an empty document (e.g. a device for attach-device), as libvirt prints it. */
export function formatStandalone(format: (parent: Builder) => void): string {
  const doc = create();
  format(doc);
  return serialize(doc);
}
