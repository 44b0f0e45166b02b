/**
 * <os> for type exe (init, initarg, initenv, initdir, inituser, initgroup,
 * cmdline) and <idmap>, as libvirt's virDomainDefParseCaps,
 * virDomainDefParseBootInitOptions and virDomainIdmapDefParseXML read them.
 */
import type { SectionHooks } from '../model.js';
import { ALT_32BIT_ARCH, type ParseContext } from '../context.js';
import { attr, type XmlElement } from '../tree.js';
import { add, type Builder } from '../writer.js';
import { invalidArg, unsupported, xmlError } from '../errors.js';
import { firstChildText, isOneOf, selectAll, selectFirstOfEach, xpathText } from './xml-access.js';
import { readBootloader } from './security.js';

/** libvirt's guest OS types. Only 'exe' passes the LXC capability check. */
export type OsType = 'hvm' | 'xen' | 'linux' | 'exe' | 'uml' | 'xenpvh';
const OS_TYPES: readonly OsType[] = ['hvm', 'xen', 'linux', 'exe', 'uml', 'xenpvh'];

/** virArch names. */
export const KNOWN_ARCHS: ReadonlySet<string> = new Set([
  'alpha', 'armv6l', 'armv7l', 'armv7b', 'aarch64', 'cris', 'i686', 'ia64', 'lm32', 'm68k',
  'microblaze', 'microblazeel', 'mips', 'mipsel', 'mips64', 'mips64el', 'openrisc', 'parisc',
  'parisc64', 'ppc', 'ppcle', 'ppc64', 'ppc64le', 'ppcemb', 'riscv32', 'riscv64', 's390', 's390x',
  'sh4', 'sh4eb', 'sparc', 'sparc64', 'unicore32', 'x86_64', 'xtensa', 'xtensaeb',
]);

export interface InitEnv {
  name: string;
  value: string;
}

export interface OsDef {
  type: OsType;
  /**
   * Guest architecture; the host's when the input names none. Absent only in
   * a definition converted from an LXC config without lxc.arch, which libvirt
   * prints without the attribute.
   */
  arch?: string;
  machine?: string;
  /** Path of the container's init; '' only until post-parse rejects a definition without one. */
  init: string;
  initArgs: string[];
  /** Extra environment for init, in input order (a repeated name is kept twice). */
  initEnv: InitEnv[];
  initDir?: string;
  initUser?: string;
  initGroup?: string;
  /** Exported to init as LIBVIRT_LXC_CMDLINE. */
  cmdline?: string;
}

/** One `<uid>`/`<gid>` range: container ids start..start+count-1 map to host ids from target. */
export interface IdmapEntry {
  start: number;
  target: number;
  count: number;
}

export interface Idmap {
  /** Sorted by start. */
  uid: IdmapEntry[];
  /** Sorted by start. */
  gid: IdmapEntry[];
}

export interface OsPart {
  os: OsDef;
  /** User namespace mapping; absent when the input has no uid or gid entries. */
  idmap?: Idmap;
}

export function parseOsPart(root: XmlElement, ctx: ParseContext): OsPart {
  const type = parseOsType(root);
  const os: OsDef = { type, arch: parseArch(root, ctx), init: '', initArgs: [], initEnv: [] };
  const machine = typeAttribute(root, 'machine');
  if (machine !== undefined) os.machine = machine;
  if (type === 'exe') Object.assign(os, parseInitOptions(root));
  const idmap = parseIdmap(root);
  return idmap === undefined ? { os } : { os, idmap };
}

/**
 * string(./os/type[1]); without one, a <bootloader> implies a Xen guest.
 * Xen domains still accept the old name 'linux' for 'xen'.
 */
function parseOsType(root: XmlElement): OsType {
  const text = xpathText(root, 'os', 'type');
  if (text === undefined) {
    if (readBootloader(root) !== undefined) return 'xen';
    throw xmlError('an os <type> must be specified');
  }
  if (!isOneOf(OS_TYPES, text)) throw unsupported(`unknown OS type '${text}'`);
  return text === 'linux' && attr(root, 'type') === 'xen' ? 'xen' : text;
}

/** string(./os/type[1]/@NAME): the first such attribute in document order, undefined if empty. */
function typeAttribute(root: XmlElement, name: string): string | undefined {
  const value = selectFirstOfEach(root, 'os', 'type')
    .map((el) => attr(el, name))
    .find((v) => v !== undefined);
  return value === '' ? undefined : value;
}

function parseArch(root: XmlElement, ctx: ParseContext): string {
  const arch = typeAttribute(root, 'arch');
  if (arch === undefined) return ctx.hostArch;
  if (!KNOWN_ARCHS.has(arch)) throw unsupported(`Unknown architecture ${arch}`);
  return arch;
}

type InitOptions = Pick<OsDef, 'init' | 'initArgs' | 'initEnv' | 'initDir' | 'initUser' | 'initGroup' | 'cmdline'>;

function parseInitOptions(root: XmlElement): InitOptions {
  const options: InitOptions = {
    init: xpathText(root, 'os', 'init') ?? '',
    initArgs: selectAll(root, 'os', 'initarg').map(parseInitArg),
    initEnv: selectAll(root, 'os', 'initenv').map(parseInitEnv),
  };
  const optional = { initDir: 'initdir', initUser: 'inituser', initGroup: 'initgroup', cmdline: 'cmdline' } as const;
  for (const [field, element] of Object.entries(optional) as Array<[keyof typeof optional, string]>) {
    const value = xpathText(root, 'os', element);
    if (value !== undefined) options[field] = value;
  }
  return options;
}

function parseInitArg(el: XmlElement): string {
  const value = firstChildText(el);
  if (value === undefined) throw xmlError('No data supplied for <initarg> element');
  return value;
}

function parseInitEnv(el: XmlElement): InitEnv {
  const name = attr(el, 'name');
  if (name === undefined) throw xmlError('No name supplied for <initenv> element');
  const value = firstChildText(el);
  if (value === undefined) throw xmlError(`No value supplied for <initenv name='${name}'> element`);
  return { name, value };
}

/* ---------- idmap ---------- */

const UINT_MAX = 0xffffffffn;

/**
 * virStrToLong_ui: blanks, an optional sign and decimal digits. As with
 * strtoul, "-N" wraps around (so "-1" is 4294967295).
 */
export function parseUInt32(text: string | undefined): number | undefined {
  const m = text === undefined ? null : /^[ \t\n\v\f\r]*([+-]?)([0-9]+)$/.exec(text);
  if (!m) return undefined;
  const magnitude = BigInt(m[2]!);
  if (magnitude > UINT_MAX) return undefined;
  return Number(m[1] === '-' ? (UINT_MAX + 1n - magnitude) % (UINT_MAX + 1n) : magnitude);
}

function parseIdmapEntry(el: XmlElement): IdmapEntry {
  const start = parseUInt32(attr(el, 'start'));
  const target = parseUInt32(attr(el, 'target'));
  const count = parseUInt32(attr(el, 'count'));
  if (start === undefined || target === undefined || count === undefined) {
    throw xmlError('invalid idmap start/target/count settings');
  }
  return { start, target, count };
}

/** ./idmap/uid or ./idmap/gid (every <idmap> element counts), stably sorted by start. */
const parseIdmapEntries = (root: XmlElement, kind: 'uid' | 'gid'): IdmapEntry[] =>
  selectAll(root, 'idmap', kind)
    .map(parseIdmapEntry)
    .sort((a, b) => a.start - b.start);

function parseIdmap(root: XmlElement): Idmap | undefined {
  const uid = parseIdmapEntries(root, 'uid');
  const gid = parseIdmapEntries(root, 'gid');
  return uid.length === 0 && gid.length === 0 ? undefined : { uid, gid };
}

/** virDomainDefIdMapValidate. */
function validateIdmap(idmap: Idmap | undefined): void {
  if (idmap === undefined) return;
  if (idmap.uid.length === 0 || idmap.gid.length === 0) {
    throw unsupported('uid and gid should be mapped both');
  }
  if (idmap.uid[0]!.start !== 0 || idmap.gid[0]!.start !== 0) {
    throw unsupported('You must map the root user of container');
  }
}

/* ---------- checks run before the other post-parse steps ---------- */

/**
 * The LXC driver's capability lookup (virLXCDomainDefPostParse): only
 * `<domain type='lxc'>` with os type exe on the host arch or its 32-bit
 * companion. The message lists what was asked for, each part followed by
 * a space; libvirt leaves out os type hvm and domain type none, the zero
 * values of their enums.
 */
export function checkCapabilities(domainType: string, os: OsDef, ctx: ParseContext): void {
  const arch = os.arch ?? ctx.hostArch;
  const archs = [ctx.hostArch, ALT_32BIT_ARCH[ctx.hostArch]];
  if (domainType === 'lxc' && os.type === 'exe' && archs.includes(arch)) return;
  const wanted = [
    os.type === 'hvm' ? '' : `ostype=${os.type} `,
    `arch=${arch} `,
    domainType === 'none' ? '' : `domaintype=${domainType} `,
  ];
  throw invalidArg(`could not find capabilities for ${wanted.join('')}`);
}

/** The first step of libvirt's common post-parse: a container needs an init. */
export function checkInitPresent(os: OsDef): void {
  if (os.type === 'exe' && os.init === '') throw xmlError('init binary must be specified');
}

/* ---------- format ---------- */

/** os, idmap? */
export function formatOsAndIdmap(b: Builder, def: OsPart): void {
  formatOs(b, def.os);
  if (def.idmap !== undefined) formatIdmap(b, def.idmap);
}

function formatOs(b: Builder, os: OsDef): void {
  const el = add(b, 'os');
  add(el, 'type', { arch: os.arch, machine: os.machine }, os.type);
  if (os.init !== '') add(el, 'init', {}, os.init);
  for (const arg of os.initArgs) add(el, 'initarg', {}, arg);
  for (const env of os.initEnv) add(el, 'initenv', { name: env.name }, env.value);
  const optional: Array<[string, string | undefined]> = [
    ['initdir', os.initDir],
    ['inituser', os.initUser],
    ['initgroup', os.initGroup],
    ['cmdline', os.cmdline],
  ];
  for (const [name, value] of optional) if (value !== undefined) add(el, name, {}, value);
}

function formatIdmap(b: Builder, idmap: Idmap): void {
  const el = add(b, 'idmap');
  for (const kind of ['uid', 'gid'] as const) {
    for (const { start, target, count } of idmap[kind]) add(el, kind, { start, target, count });
  }
}

export const hooks: SectionHooks = {
  validate: (def) => validateIdmap(def.idmap),
};
