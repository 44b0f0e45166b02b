/**
 * The network-device sub-elements libvirt keeps in src/conf/netdev_*_conf.c
 * and nwfilter_params.c: <virtualport>, <bandwidth>, <vlan>, <filterref>.
 */
import { VirError, unsupported, xmlError } from '../../errors.js';
import type { ParseContext } from '../../context.js';
import { attr, elements, type XmlElement } from '../../tree.js';
import { add, type Builder } from '../../writer.js';
import { generateUUID, parseUUID } from '../general.js';
import { nonEmptyAttr } from '../xml-access.js';
import { parseULongLongStrict, parseUIntWrapping } from './props.js';
import { parseULongLongWrapping } from './storage-props.js';
import { childrenNamed } from './netxml.js';

/* ---------- <virtualport> ---------- */

export const VIRTUAL_PORT_TYPES = ['802.1Qbg', '802.1Qbh', 'openvswitch', 'midonet'] as const;
export type VirtualPortType = (typeof VIRTUAL_PORT_TYPES)[number];

export interface VirtualPortDef {
  /** Absent: a type-less profile (only allowed for type='network' interfaces). */
  type?: VirtualPortType;
  /** 802.1Qbg VSI manager id (0-255). */
  managerId?: number;
  /** 802.1Qbg VSI type id (24 bits). */
  typeId?: number;
  /** 802.1Qbg VSI type version (0-255). */
  typeIdVersion?: number;
  /** 802.1Qbg VSI instance UUID. */
  instanceId?: string;
  /** 802.1Qbh port profile, or the openvswitch port profile. */
  profileId?: string;
  /** openvswitch / midonet interface UUID. */
  interfaceId?: string;
}

/** How strict the parse is for a given interface type (VIR_VPORT_XML_* flags). */
export interface VirtualPortRules {
  generateMissing: boolean;
  requireAllAttributes: boolean;
  requireType: boolean;
}

/** profileID is a char[16] in libvirt. */
const MAX_PROFILE_ID_LENGTH = 15;

function parseVirtualPortNumber(text: string, name: string, max: number): number {
  const n = parseUIntWrapping(text, 0);
  if (n === undefined) throw xmlError(`cannot parse value of ${name} parameter`);
  if (n > max) throw xmlError(name === 'typeid' ? 'value for typeid out of range' : `value of ${name} out of range`);
  return n;
}

function parseVirtualPortUUID(text: string, name: string): string {
  const uuid = parseUUID(text);
  if (uuid === undefined) throw xmlError(`cannot parse ${name} parameter as a uuid`);
  return uuid;
}

/** Which <parameters> each type requires (in libvirt's reporting order) and which it forbids. */
const PARAMETER_RULES: Record<VirtualPortType, { required: Array<keyof VirtualPortDef>; forbidden: Array<keyof VirtualPortDef> }> = {
  '802.1Qbg': { required: ['managerId', 'typeId', 'typeIdVersion', 'instanceId'], forbidden: ['profileId', 'interfaceId'] },
  '802.1Qbh': { required: ['profileId'], forbidden: ['managerId', 'typeId', 'typeIdVersion', 'instanceId', 'interfaceId'] },
  openvswitch: { required: ['interfaceId'], forbidden: ['managerId', 'typeId', 'typeIdVersion', 'instanceId'] },
  midonet: { required: ['interfaceId'], forbidden: ['managerId', 'typeId', 'typeIdVersion', 'instanceId', 'profileId'] },
};

const PARAMETER_NAMES: Record<keyof VirtualPortDef, string> = {
  type: 'type',
  managerId: 'managerid',
  typeId: 'typeid',
  typeIdVersion: 'typeidversion',
  instanceId: 'instanceid',
  profileId: 'profileid',
  interfaceId: 'interfaceid',
};

function readVirtualPortParameters(params: XmlElement | undefined, def: VirtualPortDef): void {
  if (!params) return;
  const text = (name: string) => attr(params, name);
  const managerId = text('managerid');
  if (managerId !== undefined) def.managerId = parseVirtualPortNumber(managerId, 'managerid', 0xff);
  const typeId = text('typeid');
  if (typeId !== undefined) def.typeId = parseVirtualPortNumber(typeId, 'typeid', 0xffffff);
  const typeIdVersion = text('typeidversion');
  if (typeIdVersion !== undefined) def.typeIdVersion = parseVirtualPortNumber(typeIdVersion, 'typeidversion', 0xff);
  const instanceId = text('instanceid');
  if (instanceId !== undefined) def.instanceId = parseVirtualPortUUID(instanceId, 'instanceid');
  const profileId = text('profileid');
  if (profileId !== undefined && profileId.length > MAX_PROFILE_ID_LENGTH) throw xmlError('profileid parameter too long');
  if (profileId) def.profileId = profileId;
  const interfaceId = text('interfaceid');
  if (interfaceId !== undefined) def.interfaceId = parseVirtualPortUUID(interfaceId, 'interfaceid');
}

/** virNetDevVPortProfileParse */
export function parseVirtualPort(el: XmlElement, rules: VirtualPortRules, ctx: ParseContext): VirtualPortDef {
  const def: VirtualPortDef = {};
  const type = attr(el, 'type');
  if (type !== undefined) {
    if (!(VIRTUAL_PORT_TYPES as readonly string[]).includes(type)) throw unsupported(`unknown virtualport type ${type}`);
    def.type = type as VirtualPortType;
  }
  if (def.type === undefined && rules.requireType) throw xmlError('missing required virtualport type');
  readVirtualPortParameters(childrenNamed(el, 'parameters')[0], def);

  if (rules.generateMissing) {
    if (def.instanceId === undefined && (def.type === '802.1Qbg' || def.type === undefined)) def.instanceId = generateUUID(ctx);
    if (def.interfaceId === undefined && (def.type === 'openvswitch' || def.type === undefined)) def.interfaceId = generateUUID(ctx);
  }
  if (def.type === undefined) return def;
  const { required, forbidden } = PARAMETER_RULES[def.type];
  const absent = required.find((k) => def[k] === undefined);
  if (rules.requireAllAttributes && absent) {
    throw xmlError(`missing ${PARAMETER_NAMES[absent]} in <virtualport type='${def.type}'>`);
  }
  const extra = forbidden.find((k) => def[k] !== undefined);
  if (extra) throw xmlError(`extra ${PARAMETER_NAMES[extra]} in <virtualport type='${def.type}'>`);
  return def;
}

/** virNetDevVPortProfileFormat: only the parameters that belong to the type are printed. */
export function formatVirtualPort(parent: Builder, vp: VirtualPortDef): void {
  const shows = (...types: Array<VirtualPortType | undefined>) => types.includes(vp.type);
  const qbg = shows('802.1Qbg', undefined);
  const params: Array<[string, string | number | undefined]> = [
    ['managerid', qbg ? vp.managerId : undefined],
    ['typeid', qbg ? vp.typeId : undefined],
    ['typeidversion', qbg ? vp.typeIdVersion : undefined],
    ['instanceid', qbg ? vp.instanceId : undefined],
    ['interfaceid', shows('midonet', 'openvswitch', undefined) ? vp.interfaceId : undefined],
    ['profileid', shows('openvswitch', '802.1Qbh', undefined) ? vp.profileId : undefined],
  ];
  const hasParameters = [vp.managerId, vp.typeId, vp.typeIdVersion, vp.instanceId, vp.profileId, vp.interfaceId].some(
    (v) => v !== undefined,
  );
  if (!hasParameters && vp.type === undefined) return;
  const el = add(parent, 'virtualport', { type: vp.type });
  if (hasParameters) add(el, 'parameters', params);
}

/* ---------- <bandwidth> ---------- */

export interface BandwidthRate {
  /** Average rate, KiB/s. */
  average?: bigint;
  /** Peak rate, KiB/s. */
  peak?: bigint;
  /** Burst size, KiB. */
  burst?: bigint;
  /** Guaranteed minimum, KiB/s (inbound of type='network' only). */
  floor?: bigint;
}

export interface BandwidthDef {
  /** Traffic towards the guest. */
  inbound?: BandwidthRate;
  /** Traffic from the guest. */
  outbound?: BandwidthRate;
}

function parseRateValue(el: XmlElement, name: keyof BandwidthRate): bigint | undefined {
  const text = attr(el, name);
  if (text === undefined) return undefined;
  const v = parseULongLongStrict(text);
  if (v === undefined) throw unsupported(`could not convert bandwidth ${name} value '${text}'`);
  return v === 0n ? undefined : v;
}

/** virNetDevBandwidthParseRate; zero values mean "not set", as libvirt treats them. */
function parseRate(el: XmlElement): BandwidthRate {
  const given = (name: string) => attr(el, name) !== undefined;
  const rate: BandwidthRate = {};
  if (given('average')) rate.average = parseRateValue(el, 'average');
  else if (!given('floor')) throw new VirError('VIR_ERR_XML_DETAIL', 'Missing mandatory average or floor attributes');
  if ((given('peak') || given('burst')) && !given('average')) {
    throw unsupported("'peak' and 'burst' require 'average' attribute");
  }
  rate.peak = parseRateValue(el, 'peak');
  rate.burst = parseRateValue(el, 'burst');
  rate.floor = parseRateValue(el, 'floor');
  return Object.fromEntries(Object.entries(rate).filter(([, v]) => v !== undefined)) as BandwidthRate;
}

/** The single <inbound> or <outbound> child, if any. */
function singleChild(el: XmlElement, name: 'inbound' | 'outbound'): XmlElement | undefined {
  const found = childrenNamed(el, name);
  if (found.length > 1) throw new VirError('VIR_ERR_XML_DETAIL', `Only one child <${name}> element allowed`);
  return found[0];
}

/** A rate prints only with an average or a floor; one that would not is dropped. */
const printable = (r: BandwidthRate | undefined): BandwidthRate | undefined =>
  r && (r.average !== undefined || r.floor !== undefined) ? r : undefined;

/** virNetDevBandwidthParse; undefined when nothing would be printed. */
export function parseBandwidth(el: XmlElement, allowFloor: boolean): BandwidthDef | undefined {
  if (attr(el, 'classID') !== undefined) {
    throw new VirError('VIR_ERR_XML_DETAIL', 'classID attribute not supported on <bandwidth> in this usage context');
  }
  const inEl = singleChild(el, 'inbound');
  const outEl = singleChild(el, 'outbound');
  const def: BandwidthDef = {};
  if (inEl) {
    def.inbound = parseRate(inEl);
    if (def.inbound.floor !== undefined && !allowFloor) throw unsupported('floor attribute is not supported for this config');
  }
  if (outEl) {
    def.outbound = parseRate(outEl);
    if (def.outbound.floor !== undefined) throw unsupported("'floor' attribute allowed only in <inbound> element");
  }
  const inbound = printable(def.inbound);
  const outbound = printable(def.outbound);
  if (!inbound && !outbound) return undefined;
  return { ...(inbound && { inbound }), ...(outbound && { outbound }) };
}

export function formatBandwidth(parent: Builder, bw: BandwidthDef): void {
  const el = add(parent, 'bandwidth');
  for (const [name, rate] of [['inbound', bw.inbound], ['outbound', bw.outbound]] as const) {
    if (!rate) continue;
    add(el, name, [
      ['average', rate.average],
      ['peak', rate.peak],
      ['floor', rate.floor],
      ['burst', rate.burst],
    ]);
  }
}

/* ---------- <vlan> ---------- */

export type NativeVlanMode = 'tagged' | 'untagged';

export interface VlanTag {
  /** 0-4095 */
  id: number;
  /** Set on the one tag that is the port's native VLAN. */
  nativeMode?: NativeVlanMode;
}

export interface VlanDef {
  /** Trunk port (always true with more than one tag). */
  trunk: boolean;
  tags: VlanTag[];
}

function parseVlanTag(el: XmlElement, nativeSeen: boolean): VlanTag {
  const idText = nonEmptyAttr(el, 'id');
  const id = idText === undefined ? undefined : parseULongLongWrapping(idText);
  if (id === undefined) throw xmlError('missing or invalid vlan tag id attribute');
  if (id > 4095n) throw xmlError(`vlan tag id ${id} too large (maximum 4095)`);
  const tag: VlanTag = { id: Number(id) };
  const mode = nonEmptyAttr(el, 'nativeMode');
  if (mode !== undefined) {
    if (nativeSeen) throw xmlError('duplicate native vlan setting');
    if (mode !== 'tagged' && mode !== 'untagged') throw unsupported(`Invalid "nativeMode='${mode}'" in vlan <tag> element`);
    tag.nativeMode = mode;
  }
  return tag;
}

/** virNetDevVlanParse */
export function parseVlan(el: XmlElement): VlanDef {
  const tagEls = elements(el, 'tag');
  if (tagEls.length === 0) {
    throw xmlError("missing tag id - each <vlan> must have at least one <tag id='n'/> subelement");
  }
  const tags: VlanTag[] = [];
  for (const t of tagEls) tags.push(parseVlanTag(t, tags.some((x) => x.nativeMode)));
  const hasNative = tags.some((t) => t.nativeMode);
  const trunkText = nonEmptyAttr(el, 'trunk');
  if (trunkText === undefined || trunkText.toLowerCase() === 'yes') {
    return { trunk: trunkText !== undefined || tags.length > 1, tags };
  }
  if (tags.length > 1) {
    throw xmlError(`invalid "trunk='${trunkText}'" in <vlan> - trunk='yes' is required for more than one vlan tag`);
  }
  if (hasNative) {
    throw xmlError(`invalid configuration in <vlan> - "trunk='no'" is not allowed with a native vlan id`);
  }
  if (trunkText.toLowerCase() !== 'no') throw xmlError(`invalid "trunk='${trunkText}'" in <vlan> - must be yes or no`);
  return { trunk: false, tags };
}

export function formatVlan(parent: Builder, vlan: VlanDef): void {
  const el = add(parent, 'vlan', { trunk: vlan.trunk ? 'yes' : undefined });
  for (const t of vlan.tags) add(el, 'tag', [['id', t.id], ['nativeMode', t.nativeMode]]);
}

/* ---------- <filterref> ---------- */

export interface FilterParameter {
  name: string;
  value: string;
}

export interface FilterRefDef {
  /** nwfilter name. */
  filter: string;
  /** In document order; a name may repeat (a list value). */
  parameters: FilterParameter[];
}

const VALID_VAR_NAME = /^[A-Za-z0-9_]+$/;
const VALID_VAR_VALUE = /^[A-Za-z0-9_.:]+$/;

/** virNWFilterParseParamAttributes: parameters with a bad name or value are skipped. */
export function parseFilterRef(el: XmlElement): FilterRefDef | undefined {
  const filter = attr(el, 'filter');
  if (filter === undefined) return undefined;
  const parameters: FilterParameter[] = [];
  for (const p of childrenNamed(el, 'parameter')) {
    const name = attr(p, 'name');
    const value = attr(p, 'value');
    if (name !== undefined && value !== undefined && VALID_VAR_NAME.test(name) && VALID_VAR_VALUE.test(value)) {
      parameters.push({ name, value });
    }
  }
  return { filter, parameters };
}

/** virNWFilterFormatParamAttributes: parameters sorted by name (values of one name keep their order). */
export function formatFilterRef(parent: Builder, ref: FilterRefDef): void {
  const el = add(parent, 'filterref', { filter: ref.filter });
  const sorted = [...ref.parameters].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const p of sorted) add(el, 'parameter', [['name', p.name], ['value', p.value]]);
}
