/** Identity and descriptive elements: name, uuid, genid, title, description, metadata. */
import { VirError, internalError, xmlError } from '../errors.js';
import type { ParseContext } from '../context.js';
import { child, childText, elements, isElement, textOf, type XmlElement } from '../tree.js';
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
  /** VM generation ID (stored only). */
  genid?: string;
  title?: string;
  description?: string;
  /** undefined: no <metadata>; []: an empty one. */
  metadata?: RawElement[];
}

/** 16 hex pairs, each optionally preceded by dashes or spaces, with blanks around the whole. */
const UUID_SHAPE = /^[\t\n\v\f\r ]*(?:[- ]*[0-9a-fA-F]{2}){16}[\t\n\v\f\r ]*$/;

/** virUUIDParse: the canonical lower-case 8-4-4-4-12 form, or undefined when malformed. */
export function parseUUID(raw: string): string | undefined {
  if (!UUID_SHAPE.test(raw)) return undefined;
  return formatUUID(raw.replace(/[^0-9a-fA-F]/g, '').toLowerCase());
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

/** string(./uuid[1]) as a canonical UUID; undefined when absent or empty (libvirt then generates one). */
export function readDomainUUID(root: XmlElement): string | undefined {
  const text = childText(root, 'uuid');
  if (text === undefined || text === '') return undefined;
  const uuid = parseUUID(text);
  if (uuid === undefined) throw internalError('malformed uuid element');
  return uuid;
}

/** A single <genid>: its UUID, or a generated one when it is empty. */
function parseGenid(root: XmlElement, ctx: ParseContext): string | undefined {
  const genids = elements(root, 'genid');
  if (genids.length === 0) return undefined;
  if (genids.length > 1) throw xmlError("element 'genid' can only appear once");
  const text = textOf(genids[0]!);
  if (text === '') return generateUUID(ctx);
  const genid = parseUUID(text);
  if (genid === undefined) throw internalError('malformed genid element');
  return genid;
}

/**
 * libvirt keeps the element children of <metadata> that are in a
 * namespace, and of those only the first per namespace URI.
 */
function parseMetadata(metadata: XmlElement): RawElement[] {
  const seen = new Set<string>();
  const kept: RawElement[] = [];
  for (const el of elements(metadata)) {
    if (el.ns === '' || seen.has(el.ns)) continue;
    seen.add(el.ns);
    kept.push(toRaw(el, []));
  }
  return kept;
}

export function parseGeneral(root: XmlElement, ctx: ParseContext): GeneralPart {
  const nameEl = child(root, 'name');
  const name = nameEl === undefined ? '' : textOf(nameEl);
  if (name === '') throw new VirError('VIR_ERR_NO_NAME', '');
  // A live id in an input definition is ignored, as libvirt does on define.
  const part: GeneralPart = { name, uuid: readDomainUUID(root) ?? generateUUID(ctx) };

  const genid = parseGenid(root, ctx);
  if (genid !== undefined) part.genid = genid;

  const title = childText(root, 'title');
  if (title !== undefined) {
    if (title.includes('\n')) throw xmlError("Domain title can't contain newlines");
    if (title !== '') part.title = title;
  }
  const description = childText(root, 'description');
  if (description !== undefined && description !== '') part.description = description;

  const metadata = child(root, 'metadata');
  if (metadata) part.metadata = parseMetadata(metadata);
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
  if (def.genid !== undefined) add(b, 'genid', {}, def.genid);
  if (def.title !== undefined) add(b, 'title', {}, def.title);
  if (def.description !== undefined) add(b, 'description', {}, def.description);
  if (def.metadata !== undefined) {
    const md = add(b, 'metadata');
    for (const raw of def.metadata) addRaw(md, raw);
  }
}
