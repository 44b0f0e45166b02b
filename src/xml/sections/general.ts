/** Identity and descriptive elements: name, uuid, genid, title, description, metadata. */
import { VirError, internalError, xmlError } from '../errors.js';
import type { ParseContext } from '../context.js';
import { attr, child, childText, elements, isElement, textOf, type XmlElement } from '../tree.js';
import { add, type Builder } from '../writer.js';

/** A foreign-namespace element kept verbatim under `<metadata>`. */
export interface RawElement {
  name: string;
  attrs: Array<[string, string]>;
  children: Array<RawElement | string>;
}

export interface GeneralPart {
  /** Live domain ID (the supervisor PID); absent when shut off. */
  id?: number;
  name: string;
  uuid: string;
  genid?: { value?: string };
  title?: string;
  description?: string;
  /** undefined: no <metadata>; []: an empty one. */
  metadata?: RawElement[];
}

const UUID_HEX = /^[0-9a-fA-F]{32}$/;

/** virUUIDParse: 32 hex digits, dashes anywhere between byte pairs, surrounding blanks allowed. */
export function parseUUID(raw: string): string | undefined {
  const trimmed = raw.trim();
  const hex: string[] = [];
  let i = 0;
  while (i < trimmed.length) {
    if (trimmed[i] === '-') {
      i++;
      continue;
    }
    const pair = trimmed.slice(i, i + 2);
    if (!/^[0-9a-fA-F]{2}$/.test(pair)) return undefined;
    hex.push(pair);
    i += 2;
    if (hex.length === 16) break;
  }
  if (hex.length !== 16 || trimmed.slice(i).trim() !== '') return undefined;
  const s = hex.join('').toLowerCase();
  if (!UUID_HEX.test(s)) return undefined;
  return formatUUID(s);
}

const formatUUID = (hex32: string): string =>
  `${hex32.slice(0, 8)}-${hex32.slice(8, 12)}-${hex32.slice(12, 16)}-${hex32.slice(16, 20)}-${hex32.slice(20)}`;

/** virUUIDGenerate: random bytes with version 4 / RFC 4122 variant bits. */
export function generateUUID(ctx: ParseContext): string {
  const b = Array.from(ctx.random(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return formatUUID(b.map((x) => x.toString(16).padStart(2, '0')).join(''));
}

function toRaw(el: XmlElement, inherited: ReadonlyArray<readonly [string, string]>): RawElement {
  const declared = new Map<string, string>();
  for (const [p, uri] of el.nsDecls) declared.set(p, uri);
  const attrs: Array<[string, string]> = [];
  // Keep the namespace declaration of the element's own prefix, as libxml2 reconciles it.
  const prefix = el.name.includes(':') ? el.name.slice(0, el.name.indexOf(':')) : '';
  const uri = declared.get(prefix);
  const inScope = inherited.find(([p]) => p === prefix)?.[1];
  if (uri !== undefined && uri !== inScope) attrs.push([prefix ? `xmlns:${prefix}` : 'xmlns', uri]);
  else if (uri === undefined && el.ns && inScope === undefined) attrs.push([prefix ? `xmlns:${prefix}` : 'xmlns', el.ns]);
  for (const [p, u] of el.nsDecls) {
    if (p !== prefix) attrs.push([p ? `xmlns:${p}` : 'xmlns', u]);
  }
  attrs.push(...el.attrs.map(([k, v]) => [k, v] as [string, string]));
  const scope = [...inherited.filter(([p]) => !declared.has(p)), ...declared.entries()];
  const hasElementKids = el.children.some(isElement);
  const children: Array<RawElement | string> = [];
  for (const c of el.children) {
    if (isElement(c)) children.push(toRaw(c, scope));
    else if (!hasElementKids || c.text.trim() !== '') children.push(c.text);
  }
  return { name: el.name, attrs, children };
}

export function parseGeneral(root: XmlElement, ctx: ParseContext): GeneralPart {
  const nameEl = child(root, 'name');
  const name = nameEl === undefined ? '' : textOf(nameEl);
  if (name === '') throw new VirError('VIR_ERR_NO_NAME', '');

  const uuidText = childText(root, 'uuid');
  let uuid: string;
  if (uuidText === undefined || uuidText === '') {
    uuid = generateUUID(ctx);
  } else {
    const parsed = parseUUID(uuidText);
    if (parsed === undefined) throw internalError('malformed uuid element');
    uuid = parsed;
  }

  const part: GeneralPart = { name, uuid };
  const idAttr = attr(root, 'id');
  void idAttr; // a live id in an input definition is ignored, as libvirt does on define

  const genid = child(root, 'genid');
  if (genid) {
    const text = textOf(genid).trim();
    if (text === '') part.genid = {};
    else {
      const parsed = parseUUID(text);
      if (parsed === undefined) throw xmlError('malformed genid element');
      part.genid = { value: parsed };
    }
  }

  const title = childText(root, 'title');
  if (title !== undefined) {
    if (title.includes('\n')) throw xmlError("Domain title can't contain newlines");
    if (title !== '') part.title = title;
  }
  const description = childText(root, 'description');
  if (description !== undefined && description !== '') part.description = description;

  const metadata = child(root, 'metadata');
  if (metadata) {
    // libvirt keeps only namespaced element children of <metadata>.
    part.metadata = elements(metadata)
      .filter((e) => e.ns !== '')
      .map((e) => toRaw(e, []));
  }
  return part;
}

/** Checks libvirt applies to the name when a definition is stored. */
export function validateNameForDefine(name: string): void {
  if (name.includes('/')) throw xmlError(`name ${name} cannot contain '/'`);
  if (name.includes('\n')) throw new VirError('VIR_ERR_XML_DETAIL', 'invalid char in name: \n');
}

function addRaw(parent: Builder, raw: RawElement): void {
  const el = add(parent, raw.name, raw.attrs);
  for (const c of raw.children) {
    if (typeof c === 'string') el.txt(c);
    else addRaw(el, c);
  }
}

/** name, uuid, genid, title, description, metadata (in that order). */
export function formatGeneral(b: Builder, def: GeneralPart): void {
  add(b, 'name', {}, def.name);
  add(b, 'uuid', {}, def.uuid);
  if (def.genid) add(b, 'genid', {}, def.genid.value);
  if (def.title !== undefined) add(b, 'title', {}, def.title);
  if (def.description !== undefined) add(b, 'description', {}, def.description);
  if (def.metadata !== undefined) {
    const md = add(b, 'metadata');
    for (const raw of def.metadata) addRaw(md, raw);
  }
}
