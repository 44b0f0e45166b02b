/**
 * <sysinfo>, <bootloader>, <seclabel>, <keywrap>, <launchSecurity> and the
 * LXC driver's own <lxc:namespace>. The LXC driver only stores sysinfo,
 * bootloader, keywrap and launchSecurity; seclabel picks the host security
 * driver's model; lxc:namespace shares another domain's or process's
 * net/ipc/uts namespace.
 */
import type { SectionHooks } from '../model.js';
import type { ParseContext } from '../context.js';
import { attr, child, textOf, type XmlElement } from '../tree.js';
import { add, type Builder } from '../writer.js';
import { VirError, internalError, unsupported, xmlError } from '../errors.js';
import { parseUUID, readDomainUUID } from './general.js';
import { isOneOf, propEnum, propSwitch, propYesNo, selectAll, xpathText, type Switch, type YesNo } from './xml-access.js';

export const LXC_NAMESPACE_URI = 'http://libvirt.org/schemas/domain/lxc/1.0';

/* ---------- model ---------- */

const BIOS_ENTRIES = ['vendor', 'version', 'date', 'release'] as const;
const SYSTEM_ENTRIES = ['manufacturer', 'product', 'version', 'serial', 'uuid', 'sku', 'family'] as const;
const BASEBOARD_ENTRIES = ['manufacturer', 'product', 'version', 'serial', 'asset', 'location'] as const;
const CHASSIS_ENTRIES = ['manufacturer', 'version', 'serial', 'asset', 'sku'] as const;

type EntryBlock<Names extends readonly string[]> = Partial<Record<Names[number], string>>;
export type SysinfoBios = EntryBlock<typeof BIOS_ENTRIES>;
export type SysinfoSystem = EntryBlock<typeof SYSTEM_ENTRIES>;
export type SysinfoBaseBoard = EntryBlock<typeof BASEBOARD_ENTRIES>;
export type SysinfoChassis = EntryBlock<typeof CHASSIS_ENTRIES>;

/** SMBIOS strings; each block is absent when it has no entry. */
export interface SmbiosSysinfo {
  type: 'smbios';
  bios?: SysinfoBios;
  system?: SysinfoSystem;
  baseBoards: SysinfoBaseBoard[];
  chassis?: SysinfoChassis;
  oemStrings: string[];
}

/** A firmware config blob, given inline or as a host file. */
export type FwcfgEntry = { name: string; value: string } | { name: string; file: string };

export interface FwcfgSysinfo {
  type: 'fwcfg';
  entries: FwcfgEntry[];
}

export type Sysinfo = SmbiosSysinfo | FwcfgSysinfo;

export interface Bootloader {
  path: string;
  args?: string;
}

export type SeclabelType = 'none' | 'dynamic' | 'static';

export interface SecurityLabel {
  type: SeclabelType;
  /** Security driver (selinux, apparmor, none, …). */
  model?: string;
  relabel: boolean;
  /** The label itself; parsed for static labels only (dynamic ones are generated at start). */
  label?: string;
  baseLabel?: string;
}

export interface KeyWrap {
  aes?: Switch;
  dea?: Switch;
}

export type LaunchSecurity =
  | {
      type: 'sev';
      kernelHashes?: YesNo;
      cbitpos?: number;
      reducedPhysBits?: number;
      policy: number;
      dhCert?: string;
      session?: string;
    }
  | { type: 's390-pv' };

/** Where a shared namespace comes from: another domain by name, a process, or a named netns. */
export type NamespaceSourceType = 'none' | 'name' | 'pid' | 'netns';

export interface NamespaceSource {
  /** 'none' is accepted and stored but neither printed nor acted on. */
  type: NamespaceSourceType;
  value: string;
}

export const SHARED_NAMESPACES = ['sharenet', 'shareipc', 'shareuts'] as const;
export type SharedNamespace = (typeof SHARED_NAMESPACES)[number];

export interface SecurityPart {
  sysinfo: Sysinfo[];
  bootloader?: Bootloader;
  seclabels: SecurityLabel[];
  keyWrap?: KeyWrap;
  launchSecurity?: LaunchSecurity;
  /** Present when the input had <lxc:namespace> entries (this also puts xmlns:lxc on the root). */
  lxcNamespace?: Partial<Record<SharedNamespace, NamespaceSource>>;
}

/* ---------- parse ---------- */

export function parseSecurityPart(root: XmlElement, ctx: ParseContext): SecurityPart {
  const part: SecurityPart = {
    seclabels: parseSeclabels(root, ctx),
    sysinfo: selectAll(root, 'sysinfo').map((el) => parseSysinfo(el, root)),
  };
  const bootloader = readBootloader(root);
  if (bootloader !== undefined) part.bootloader = bootloader;
  const keyWrap = parseKeyWrap(root);
  if (keyWrap !== undefined) part.keyWrap = keyWrap;
  const launch = child(root, 'launchSecurity');
  if (launch !== undefined) part.launchSecurity = parseLaunchSecurity(launch);
  const namespaces = parseLxcNamespace(root);
  if (namespaces !== undefined) part.lxcNamespace = namespaces;
  return part;
}

/** string(./bootloader), string(./bootloader_args). */
export function readBootloader(root: XmlElement): Bootloader | undefined {
  const path = xpathText(root, 'bootloader');
  if (path === undefined) return undefined;
  const args = xpathText(root, 'bootloader_args');
  return args === undefined ? { path } : { path, args };
}

/* sysinfo */

function parseSysinfo(el: XmlElement, root: XmlElement): Sysinfo {
  const type = attr(el, 'type');
  if (type === undefined) throw xmlError('sysinfo must contain a type attribute');
  if (type === 'smbios') return parseSmbios(el, root);
  if (type === 'fwcfg') return { type: 'fwcfg', entries: selectAll(el, 'entry').map(parseFwcfgEntry) };
  throw xmlError(`unknown sysinfo type '${type}'`);
}

/** string(entry[@name='NAME']) for each name; undefined when none is set. */
function readEntries<Names extends readonly string[]>(
  block: XmlElement | undefined,
  names: Names,
): EntryBlock<Names> | undefined {
  if (block === undefined) return undefined;
  const entries = selectAll(block, 'entry');
  const result: Partial<Record<string, string>> = {};
  for (const name of names) {
    const entry = entries.find((e) => attr(e, 'name') === name);
    const text = entry === undefined ? '' : textOf(entry);
    if (text !== '') result[name] = text;
  }
  return Object.keys(result).length === 0 ? undefined : (result as EntryBlock<Names>);
}

function parseSmbios(el: XmlElement, root: XmlElement): SmbiosSysinfo {
  const smbios: SmbiosSysinfo = {
    type: 'smbios',
    baseBoards: selectAll(el, 'baseBoard').flatMap((b) => readEntries(b, BASEBOARD_ENTRIES) ?? []),
    oemStrings: selectAll(el, 'oemStrings').slice(0, 1).flatMap((o) => selectAll(o, 'entry').map(textOf)),
  };
  const bios = readEntries(child(el, 'bios'), BIOS_ENTRIES);
  if (bios?.date !== undefined) checkBiosDate(bios.date);
  if (bios !== undefined) smbios.bios = bios;
  const system = readEntries(child(el, 'system'), SYSTEM_ENTRIES);
  if (system?.uuid !== undefined) system.uuid = checkSystemUUID(system.uuid, root);
  if (system !== undefined) smbios.system = system;
  const chassis = readEntries(child(el, 'chassis'), CHASSIS_ENTRIES);
  if (chassis !== undefined) smbios.chassis = chassis;
  return smbios;
}

/** mm/dd/yy or mm/dd/yyyy (a four-digit year from 1900). */
function checkBiosDate(date: string): void {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)\/[ \t\n\v\f\r]*([+-]?\d+)\/[ \t\n\v\f\r]*([+-]?\d+)$/.exec(date);
  const [month, day, year] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, -1];
  if (month < 1 || month > 12 || day < 1 || day > 31 || year < 0 || (year >= 100 && year < 1900)) {
    throw new VirError('VIR_ERR_XML_DETAIL', "Invalid BIOS 'date' format");
  }
}

/**
 * The SMBIOS system uuid must equal the domain's <uuid>; with no <uuid>,
 * it becomes the domain's (done in post-parse).
 */
function checkSystemUUID(text: string, root: XmlElement): string {
  const uuid = parseUUID(text);
  if (uuid === undefined) throw new VirError('VIR_ERR_XML_DETAIL', 'malformed <sysinfo> uuid element');
  const domainUUID = readDomainUUID(root);
  if (domainUUID !== undefined && domainUUID !== uuid) {
    throw new VirError('VIR_ERR_XML_DETAIL', 'UUID mismatch between <uuid> and <sysinfo>');
  }
  return uuid;
}

function parseFwcfgEntry(el: XmlElement): FwcfgEntry {
  const name = attr(el, 'name');
  if (name === undefined) throw xmlError("Firmware entry is missing 'name' attribute");
  const value = textOf(el);
  const file = attr(el, 'file');
  if (value === '' && file === undefined) {
    throw xmlError("Firmware entry must have either value or 'file' attribute");
  }
  if (value !== '' && file !== undefined) throw xmlError("Firmware entry can't have both value and 'file' attribute");
  return file === undefined ? { name, value } : { name, file };
}

/** The sysinfo uuid stands in for a generated domain uuid (the last one given wins). */
function adoptSysinfoUUID(def: SecurityPart & { uuid: string }): void {
  for (const info of def.sysinfo) {
    if (info.type === 'smbios' && info.system?.uuid !== undefined) def.uuid = info.system.uuid;
  }
}

/* seclabel (parsed as for a definition being stored: VIR_DOMAIN_DEF_PARSE_INACTIVE) */

const SECLABEL_TYPES: readonly SeclabelType[] = ['none', 'dynamic', 'static'];
/** VIR_SECURITY_MODEL_BUFLEN - 1: longer model names are ignored. */
const MAX_MODEL_LENGTH = 256;

function parseSeclabel(el: XmlElement): SecurityLabel {
  const rawModel = attr(el, 'model');
  const model = rawModel !== undefined && rawModel.length < MAX_MODEL_LENGTH ? rawModel : undefined;
  const type = propEnum(el, 'type', SECLABEL_TYPES) ?? 'dynamic';
  const label: SecurityLabel = { type, model, relabel: parseRelabel(el, type) };
  if (label.type === 'dynamic' && !label.relabel) throw xmlError('dynamic label type must use resource relabeling');
  if (label.type === 'none' && label.relabel) {
    throw xmlError("resource relabeling is not compatible with 'none' label type");
  }
  if (model === 'none') return { type: 'none', model, relabel: false };
  if (type === 'static') {
    const text = xpathText(el, 'label');
    if (text === undefined) throw xmlError('security label is missing');
    label.label = text;
  }
  if (type === 'dynamic') {
    const base = xpathText(el, 'baselabel');
    if (base !== undefined) label.baseLabel = base;
  }
  return label;
}

function parseRelabel(el: XmlElement, type: SeclabelType): boolean {
  const relabel = attr(el, 'relabel');
  if (relabel === undefined) return type === 'dynamic';
  if (relabel !== 'yes' && relabel !== 'no') throw xmlError(`invalid security relabel value '${relabel}'`);
  return relabel === 'yes';
}

/**
 * virSecurityLabelDefsParseXML: one model per label; a lone label without
 * a model takes the host's default model (a 'none' model makes it type
 * none).
 */
function parseSeclabels(root: XmlElement, ctx: ParseContext): SecurityLabel[] {
  const labels: SecurityLabel[] = [];
  for (const el of selectAll(root, 'seclabel')) {
    const label = parseSeclabel(el);
    if (labels.some((l) => l.model === label.model)) {
      throw new VirError('VIR_ERR_XML_DETAIL', `seclabel for model ${label.model ?? '(null)'} is already provided`);
    }
    labels.push(label);
  }
  const [only] = labels;
  if (labels.length === 1 && only!.model === undefined && ctx.securityModel !== '') {
    applyHostModel(only!, ctx.securityModel);
  }
  if (labels.length > 1 && labels.some((l) => l.model === undefined)) {
    throw xmlError('missing security model when using multiple labels');
  }
  return labels;
}

function applyHostModel(label: SecurityLabel, hostModel: string): void {
  if (label.type === 'static' || (label.type === 'dynamic' && label.baseLabel !== undefined)) {
    throw xmlError('missing security model in domain seclabel');
  }
  label.model = hostModel;
  if (hostModel === 'none') {
    label.type = 'none';
    label.relabel = false;
  }
}

/* keywrap, launchSecurity */

function parseKeyWrap(root: XmlElement): KeyWrap | undefined {
  const keyWrap: KeyWrap = {};
  for (const cipher of selectAll(root, 'keywrap', 'cipher')) {
    const name = propEnum(cipher, 'name', ['aes', 'dea'] as const, true)!;
    const state = propSwitch(cipher, 'state') ?? 'on';
    if (keyWrap[name] !== undefined) {
      throw internalError(`A domain definition can have no more than one cipher node with name ${name}`);
    }
    keyWrap[name] = state;
  }
  return Object.keys(keyWrap).length === 0 ? undefined : keyWrap;
}

function parseLaunchSecurity(el: XmlElement): LaunchSecurity {
  const type = propEnum(el, 'type', ['sev', 's390-pv'] as const, true)!;
  if (type === 's390-pv') return { type };
  const policy = parseHex(xpathText(el, 'policy'));
  if (policy === undefined) throw xmlError('failed to get launch security policy');
  const sev: LaunchSecurity = { type, policy };
  const kernelHashes = propYesNo(el, 'kernelHashes');
  if (kernelHashes !== undefined) sev.kernelHashes = kernelHashes;
  const cbitpos = optionalUInt(el, 'cbitpos', 'Invalid format for launch security cbitpos');
  if (cbitpos !== undefined) sev.cbitpos = cbitpos;
  const reduced = optionalUInt(el, 'reducedPhysBits', 'Invalid format for launch security reduced-phys-bits');
  if (reduced !== undefined) sev.reducedPhysBits = reduced;
  const dhCert = xpathText(el, 'dhCert');
  if (dhCert !== undefined) sev.dhCert = dhCert;
  const session = xpathText(el, 'session');
  if (session !== undefined) sev.session = session;
  return sev;
}

/** virXPathULongHex: strtoul base 16 (an 0x prefix allowed). */
function parseHex(text: string | undefined): number | undefined {
  const m = text === undefined ? null : /^[ \t\n\v\f\r]*\+?(?:0[xX])?([0-9a-fA-F]+)$/.exec(text);
  return m ? Number.parseInt(m[1]!, 16) : undefined;
}

function optionalUInt(el: XmlElement, name: string, error: string): number | undefined {
  const text = xpathText(el, name);
  if (text === undefined) return undefined;
  const m = /^[ \t\n\v\f\r]*\+?(\d+)$/.exec(text);
  if (!m || Number(m[1]) > 0xffffffff) throw xmlError(error);
  return Number(m[1]);
}

/* lxc:namespace */

const NAMESPACE_SOURCE_TYPES: readonly NamespaceSourceType[] = ['none', 'name', 'pid', 'netns'];

/**
 * lxcDomainDefNamespaceParse: every child of every <lxc:namespace>, matched
 * by local name whatever its namespace; a later entry replaces an earlier
 * one. An <lxc:namespace> without children is no namespace data at all.
 */
function parseLxcNamespace(root: XmlElement): SecurityPart['lxcNamespace'] {
  const entries = selectAll(root, { ns: LXC_NAMESPACE_URI, local: 'namespace' }, '*');
  if (entries.length === 0) return undefined;
  const namespaces: Partial<Record<SharedNamespace, NamespaceSource>> = {};
  for (const el of entries) {
    const feature = el.local;
    if (!isOneOf(SHARED_NAMESPACES, feature)) throw unsupported(`unsupported Namespace feature: ${feature}`);
    const type = attr(el, 'type');
    if (type === undefined) throw internalError('No lxc environment type specified');
    if (!isOneOf(NAMESPACE_SOURCE_TYPES, type)) throw internalError(`Unknown LXC namespace source '${type}'`);
    const value = attr(el, 'value');
    if (value === undefined) throw internalError('No lxc environment type specified');
    namespaces[feature] = { type, value };
  }
  return namespaces;
}

/* ---------- format ---------- */

function addEntries(parent: Builder, name: string, block: Partial<Record<string, string>>, names: readonly string[]): void {
  const el = add(parent, name);
  for (const entry of names) {
    const value = block[entry];
    if (value !== undefined) add(el, 'entry', { name: entry }, value);
  }
}

function formatSmbios(el: Builder, info: SmbiosSysinfo): void {
  if (info.bios) addEntries(el, 'bios', info.bios, BIOS_ENTRIES);
  if (info.system) addEntries(el, 'system', info.system, SYSTEM_ENTRIES);
  for (const board of info.baseBoards) addEntries(el, 'baseBoard', board, BASEBOARD_ENTRIES);
  if (info.chassis) addEntries(el, 'chassis', info.chassis, CHASSIS_ENTRIES);
  if (info.oemStrings.length > 0) {
    const oem = add(el, 'oemStrings');
    for (const s of info.oemStrings) add(oem, 'entry', {}, s);
  }
}

function formatFwcfg(el: Builder, info: FwcfgSysinfo): void {
  for (const entry of info.entries) {
    if ('file' in entry) add(el, 'entry', { name: entry.name, file: entry.file });
    else add(el, 'entry', { name: entry.name }, entry.value);
  }
}

/** sysinfo*, bootloader? (printed between resource and os). */
export function formatSysinfo(b: Builder, def: SecurityPart): void {
  for (const info of def.sysinfo) {
    const el = add(b, 'sysinfo', { type: info.type });
    if (info.type === 'smbios') formatSmbios(el, info);
    else formatFwcfg(el, info);
  }
  if (def.bootloader) {
    add(b, 'bootloader', {}, def.bootloader.path);
    if (def.bootloader.args !== undefined) add(b, 'bootloader_args', {}, def.bootloader.args);
  }
}

function formatSeclabel(b: Builder, label: SecurityLabel): void {
  if (label.type === 'none') {
    add(b, 'seclabel', { type: label.type, model: label.model });
    return;
  }
  const el = add(b, 'seclabel', { type: label.type, model: label.model, relabel: label.relabel });
  if (label.label !== undefined) add(el, 'label', {}, label.label);
  if (label.type === 'dynamic' && label.baseLabel !== undefined) add(el, 'baselabel', {}, label.baseLabel);
}

function formatLaunchSecurity(b: Builder, sec: LaunchSecurity): void {
  if (sec.type === 's390-pv') {
    add(b, 'launchSecurity', { type: sec.type });
    return;
  }
  const el = add(b, 'launchSecurity', { type: sec.type, kernelHashes: sec.kernelHashes });
  if (sec.cbitpos !== undefined) add(el, 'cbitpos', {}, sec.cbitpos);
  if (sec.reducedPhysBits !== undefined) add(el, 'reducedPhysBits', {}, sec.reducedPhysBits);
  add(el, 'policy', {}, `0x${sec.policy.toString(16).padStart(4, '0')}`);
  if (sec.dhCert !== undefined) add(el, 'dhCert', {}, sec.dhCert);
  if (sec.session !== undefined) add(el, 'session', {}, sec.session);
}

/** seclabel*, keywrap?, launchSecurity? */
export function formatSecurity(b: Builder, def: SecurityPart): void {
  for (const label of def.seclabels) formatSeclabel(b, label);
  if (def.keyWrap) {
    const el = add(b, 'keywrap');
    for (const name of ['aes', 'dea'] as const) {
      const state = def.keyWrap[name];
      if (state !== undefined) add(el, 'cipher', { name, state });
    }
  }
  if (def.launchSecurity) formatLaunchSecurity(b, def.launchSecurity);
}

/** Whether the root element needs xmlns:lxc. */
export function needsLxcNamespace(def: SecurityPart): boolean {
  return def.lxcNamespace !== undefined;
}

/**
 * lxc:namespace (last child of the root). Entries of type none are not
 * printed; when nothing is left, libvirt still writes an open/close pair
 * on two lines, reproduced here with a whitespace-only text.
 */
export function formatLxcNamespace(b: Builder, def: SecurityPart): void {
  if (def.lxcNamespace === undefined) return;
  const printed = SHARED_NAMESPACES.flatMap((name) => {
    const source = def.lxcNamespace![name];
    return source === undefined || source.type === 'none' ? [] : [[name, source] as const];
  });
  if (printed.length === 0) {
    add(b, 'lxc:namespace', {}, '\n  ');
    return;
  }
  const el = add(b, 'lxc:namespace');
  for (const [name, source] of printed) add(el, `lxc:${name}`, { type: source.type, value: source.value });
}

export const hooks: SectionHooks = {
  postParse: (def) => adoptSysinfoUUID(def),
};
