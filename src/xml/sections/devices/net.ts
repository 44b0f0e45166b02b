/**
 * <interface> devices: virDomainNetDefParseXML, the net parts of libvirt's
 * post-parse and validate phases, and virDomainNetDefFormat. Parsing follows
 * `virsh define` (an inactive definition).
 */
import { VirError, internalError, invalidArg, unsupported, xmlError } from '../../errors.js';
import type { ParseContext } from '../../context.js';
import type { DomainDef, SectionHooks } from '../../model.js';
import { attr, child, elements, textOf, type XmlElement } from '../../tree.js';
import { add, type AttrValue, type Builder } from '../../writer.js';
import { nonEmptyAttr, propEnum, propSwitch, propYesNo, type Switch, type YesNo } from '../xml-access.js';
import type { Reconnect } from './chardev.js';
import { formatDeviceInfo, parseAddress, parseDeviceInfo, validateDeviceInfo, type DeviceInfo } from './deviceinfo.js';
import type { DeviceFormatter, DeviceKind } from './kinds.js';
import { parseULongLongStrict, parseUIntStrict, propInt, propUInt } from './props.js';
import { formatVirtioOptions, parseVirtioOptions, validateNoVirtioOptions, type VirtioOptions } from './virtio.js';
import { formatMac, generateMac, isMulticastMac, isZeroMac, parseIp, formatIp, parseMac } from './netaddr.js';
import { emptyIpConfig, formatIpConfig, hasIpConfig, parseIpConfig, type IpConfig } from './netip.js';
import {
  formatBandwidth,
  formatFilterRef,
  formatVirtualPort,
  formatVlan,
  parseBandwidth,
  parseFilterRef,
  parseVirtualPort,
  parseVlan,
  type BandwidthDef,
  type FilterRefDef,
  type VirtualPortDef,
  type VirtualPortRules,
  type VlanDef,
} from './netdev.js';
import { propLongLong, propRequired, propRequiredUUID } from './netxml.js';

export type { IpAddressDef, IpRouteDef, IpConfig } from './netip.js';
export type { BandwidthDef, BandwidthRate, FilterRefDef, VirtualPortDef, VlanDef, VlanTag } from './netdev.js';

/* ---------- model ---------- */

export const INTERFACE_TYPES = [
  'user', 'ethernet', 'vhostuser', 'server', 'client', 'mcast', 'network', 'bridge',
  'internal', 'direct', 'hostdev', 'udp', 'vdpa', 'null', 'vds',
] as const;
export type InterfaceType = (typeof INTERFACE_TYPES)[number];

/** macvlan modes of type='direct'. */
export const MACVLAN_MODES = ['vepa', 'private', 'bridge', 'passthrough'] as const;
export type MacvlanMode = (typeof MACVLAN_MODES)[number];

/** Models libvirt knows (virDomainNetModel); matched case-insensitively, printed like this. */
export const KNOWN_NET_MODELS = [
  'netfront', 'rtl8139', 'virtio', 'e1000', 'e1000e', 'virtio-transitional', 'virtio-non-transitional',
  'usb-net', 'spapr-vlan', 'lan9118', 'scm91c111', 'vlance', 'vmxnet', 'vmxnet2', 'vmxnet3',
  'Am79C970A', 'Am79C973', '82540EM', '82545EM', '82543GC',
] as const;

const VIRTIO_MODELS: ReadonlySet<string> = new Set(['virtio', 'virtio-transitional', 'virtio-non-transitional']);

export interface MacDef {
  /** Lower-case `xx:xx:xx:xx:xx:xx`; generated (52:54:00:…) when the definition has none. */
  address: string;
  type?: 'generated' | 'static';
  check?: YesNo;
}

export interface SocketSource {
  /** Optional only for type='server'. */
  address?: string;
  port: number;
  /** type='udp' only. */
  local?: { address: string; port: number };
}

export interface VhostUserSource {
  path: string;
  mode: 'client' | 'server';
  reconnect?: Reconnect;
}

export interface VdsSource {
  switchId: string;
  portId?: bigint;
  portgroupId?: string;
  connectionId?: bigint;
}

export interface PciAddress {
  domain: number;
  bus: number;
  slot: number;
  function: number;
}

/** A host PCI device (typically an SR-IOV virtual function) given to the guest. */
export interface HostdevInterfaceSource {
  address: PciAddress;
  /** managed='yes': detach the device from its host driver before use. */
  managed: boolean;
  /** <driver name>: the PCI assignment backend. */
  driver?: 'kvm' | 'vfio' | 'xen';
}

/** The type and what its <source> says, per interface type. */
export type InterfaceSource =
  | { type: 'bridge'; source: { bridge: string } }
  | { type: 'network'; source: { network: string; portgroup?: string } }
  | { type: 'direct'; source: { dev: string; mode: MacvlanMode } }
  /** The host side of the veth: addresses and routes configured on it. */
  | { type: 'ethernet'; source: IpConfig }
  /** dev: host interface passt binds to (backend type='passt' only). */
  | { type: 'user'; source: { dev?: string } }
  | { type: 'vhostuser'; source: VhostUserSource }
  | { type: 'server' | 'client' | 'mcast' | 'udp'; source: SocketSource }
  | { type: 'internal'; source: { name: string } }
  | { type: 'vdpa'; source: { dev: string } }
  | { type: 'vds'; source: VdsSource }
  | { type: 'hostdev'; source: HostdevInterfaceSource }
  | { type: 'null' };

export interface VirtioOffloads {
  csum?: Switch;
  gso?: Switch;
  tso4?: Switch;
  tso6?: Switch;
  ecn?: Switch;
  ufo?: Switch;
  mrgRxbuf?: Switch;
}

/** <driver> of a virtio model (virtio-net settings); other models keep only `virtio`. */
export interface InterfaceDriverDef {
  name?: 'qemu' | 'vhost';
  txmode?: 'iothread' | 'timer';
  ioeventfd?: Switch;
  eventIdx?: Switch;
  queues?: number;
  rxQueueSize?: number;
  txQueueSize?: number;
  rss?: Switch;
  rssHashReport?: Switch;
  /** Virtio transport options (iommu, ats, packed, page_per_vq). */
  virtio?: VirtioOptions;
  host?: VirtioOffloads;
  guest?: VirtioOffloads;
}

export interface InterfaceBackendDef {
  type?: 'passt';
  tap?: string;
  vhost?: string;
  logFile?: string;
}

export interface PortForwardRange {
  start?: number;
  end?: number;
  to?: number;
  exclude?: YesNo;
}

export interface PortForwardDef {
  proto: 'tcp' | 'udp';
  address?: string;
  dev?: string;
  ranges: PortForwardRange[];
}

export interface TeamingDef {
  type: 'persistent' | 'transient';
  /** Alias of the persistent device of a transient team member. */
  persistent?: string;
}

export interface InterfaceCommon {
  mac: MacDef;
  trustGuestRxFilters?: YesNo;
  /** <ip>/<route> children: what the guest side is configured with. */
  guestIp: IpConfig;
  /** <target dev>: name of the host-side device (e.g. the host end of the veth pair). */
  hostDevName?: string;
  /** <target managed>: 'no' means the host device exists already and is not created. */
  hostDevManaged?: YesNo;
  /** <guest dev>: name the device gets inside the container. */
  guestDevName?: string;
  /** <guest actual>: the name the device really got inside the container (live). */
  guestDevActualName?: string;
  linkState?: 'up' | 'down';
  mtu?: number;
  /** A KNOWN_NET_MODELS entry once the definition is accepted. */
  model?: string;
  virtualPort?: VirtualPortDef;
  vlan?: VlanDef;
  bandwidth?: BandwidthDef;
  /** <port isolated>: bridge port isolation. */
  portIsolated?: YesNo;
  filterRef?: FilterRefDef;
  /** <script path>: accepted here, refused by the LXC driver at start. */
  script?: string;
  downscript?: string;
  backendDomain?: string;
  driver?: InterfaceDriverDef;
  backend?: InterfaceBackendDef;
  portForwards?: PortForwardDef[];
  /** <tune><sndbuf>: send buffer size in bytes. */
  sndbuf?: bigint;
  teaming?: TeamingDef;
  /** <coalesce><rx><frames max>. */
  coalesceRxMaxFrames?: number;
  /** Guest address, boot order, ACPI index. */
  info: DeviceInfo;
}

export type InterfaceDef = InterfaceCommon & InterfaceSource;

export interface NetDevices {
  interfaces: InterfaceDef[];
}

/* ---------- parse helpers ---------- */

/** Drop keys whose value is undefined, so models compare and print cleanly. */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const isEmptyObject = (o: object): boolean => Object.keys(o).length === 0;

const requireSource = (type: InterfaceType, source: XmlElement | undefined): XmlElement => {
  if (!source) throw xmlError(`interface type='${type}' requires a 'source' element`);
  return source;
};

const NET_MODEL_CHARS = /^[A-Za-z0-9_-]*$/;

/** virDomainNetSetModelString: a known model (canonical spelling), an unknown one, or none. */
function parseModel(el: XmlElement): string | undefined {
  const text = nonEmptyAttr(child(el, 'model'), 'type');
  if (text === undefined || text.toLowerCase() === 'unknown') return undefined;
  const known = KNOWN_NET_MODELS.find((m) => m.toLowerCase() === text.toLowerCase());
  if (known) return known;
  if (!NET_MODEL_CHARS.test(text)) throw invalidArg('Model name contains invalid characters');
  return text;
}

const isVirtioModel = (model: string | undefined): boolean => model !== undefined && VIRTIO_MODELS.has(model);

function parseSocketSource(type: InterfaceType, src: XmlElement): SocketSource {
  const address = type === 'server' ? attr(src, 'address') : propRequired(src, 'address');
  const port = propInt(src, 'port', { required: true })!;
  if (type !== 'udp') return compact({ address, port });
  const local = child(src, 'local');
  if (!local) throw xmlError("'<local>' element missing for 'udp' socket interface");
  return { address, port, local: { address: propRequired(local, 'address'), port: propInt(local, 'port', { required: true })! } };
}

function parseVhostUserSource(src: XmlElement): VhostUserSource {
  const type = propRequired(src, 'type');
  if (type !== 'unix') throw unsupported(`Type='${type}' unsupported for <interface type='vhostuser'>`);
  const path = propRequired(src, 'path');
  const mode = propEnum(src, 'mode', ['client', 'server'] as const, true)!;
  return compact({ path, mode, reconnect: parseReconnect(src) });
}

/** As chardev.ts reads <reconnect> (virDomainChrSourceReconnectDefParseXML). */
function parseReconnect(source: XmlElement): Reconnect | undefined {
  const el = child(source, 'reconnect');
  const enabled = el && propYesNo(el, 'enabled');
  if (!el || enabled === undefined) return undefined;
  return enabled === 'yes' ? { enabled, timeout: propUInt(el, 'timeout', { required: true }) } : { enabled };
}

function parseVdsSource(src: XmlElement): VdsSource {
  return compact({
    switchId: propRequiredUUID(src, 'switchid'),
    portId: propLongLong(src, 'portid'),
    portgroupId: attr(src, 'portgroupid'),
    connectionId: propLongLong(src, 'connectionid'),
  });
}

const HOSTDEV_SUBSYS_TYPES = ['usb', 'pci', 'scsi', 'scsi_host', 'mdev'];

/** The host device of type='hostdev' (virDomainHostdevDefParseXMLSubsys); only PCI devices are modelled. */
function parseHostdevSource(el: XmlElement): HostdevInterfaceSource {
  const src = child(el, 'source');
  const addressEl = src && child(src, 'address');
  const addressType = nonEmptyAttr(addressEl, 'type') ?? (src && child(src, 'vendor') ? 'usb' : undefined);
  if (addressType === undefined || !HOSTDEV_SUBSYS_TYPES.includes(addressType)) {
    throw unsupported(`unknown host device source address type '${addressType ?? '(null)'}'`);
  }
  if (addressType !== 'pci') throw unsupported(`interface type='hostdev' with a ${addressType} host device is not supported`);
  const driver = nonEmptyAttr(child(el, 'driver'), 'name');
  if (driver !== undefined && driver !== 'kvm' && driver !== 'vfio' && driver !== 'xen') {
    throw unsupported(`Unknown PCI device <driver name='${driver}'/> has been specified`);
  }
  const pci = parseAddress(addressEl!);
  if (pci.type !== 'pci') throw unsupported(`unknown host device source address type '${addressType}'`);
  return compact({
    address: { domain: pci.domain, bus: pci.bus, slot: pci.slot, function: pci.function },
    managed: attr(el, 'managed') === 'yes',
    driver,
  });
}

/** The type-specific part of <source> (type='user' gets its passt dev later, as libvirt reads it). */
function parseSource(type: InterfaceType, el: XmlElement, src: XmlElement | undefined, hostIp: IpConfig): InterfaceSource {
  switch (type) {
    case 'network': {
      const s = requireSource(type, src);
      return { type, source: compact({ network: propRequired(s, 'network'), portgroup: attr(s, 'portgroup') }) };
    }
    case 'vds':
      return { type, source: parseVdsSource(requireSource(type, src)) };
    case 'internal':
      return { type, source: { name: propRequired(requireSource(type, src), 'name') } };
    case 'bridge':
      return { type, source: { bridge: propRequired(requireSource(type, src), 'bridge') } };
    case 'direct': {
      const s = requireSource(type, src);
      const dev = propRequired(s, 'dev');
      return { type, source: { dev, mode: propEnum(s, 'mode', MACVLAN_MODES) ?? 'vepa' } };
    }
    case 'ethernet':
      return { type, source: hostIp };
    case 'vhostuser':
      return { type, source: parseVhostUserSource(requireSource(type, src)) };
    case 'vdpa':
      return { type, source: { dev: propRequired(requireSource(type, src), 'dev') } };
    case 'server':
    case 'client':
    case 'mcast':
    case 'udp':
      return { type, source: parseSocketSource(type, requireSource(type, src)) };
    case 'hostdev':
      return { type, source: parseHostdevSource(el) };
    case 'user':
      return { type, source: {} };
    case 'null':
      return { type };
  }
}

const STRICT_VIRTUAL_PORT: VirtualPortRules = { generateMissing: true, requireAllAttributes: true, requireType: true };

/** Which interface types take <virtualport> (and how strictly) and <filterref>. */
function typeRules(type: InterfaceType): { virtualPort?: VirtualPortRules; filterRef: boolean } {
  switch (type) {
    case 'network':
      return { virtualPort: { generateMissing: true, requireAllAttributes: false, requireType: false }, filterRef: true };
    case 'bridge':
      return { virtualPort: STRICT_VIRTUAL_PORT, filterRef: true };
    case 'direct':
    case 'hostdev':
      return { virtualPort: STRICT_VIRTUAL_PORT, filterRef: false };
    case 'ethernet':
      return { filterRef: true };
    default:
      return { filterRef: false };
  }
}

function parseVirtualPortElement(el: XmlElement, type: InterfaceType, ctx: ParseContext): VirtualPortDef | undefined {
  const vpEl = child(el, 'virtualport');
  if (!vpEl) return undefined;
  const rules = typeRules(type).virtualPort;
  if (!rules) throw unsupported(`<virtualport> element unsupported for <interface type='${type}'>`);
  return parseVirtualPort(vpEl, rules, ctx);
}

/** <mac>: parsed, or generated when absent or all-zero. */
function parseMacElement(el: XmlElement, ctx: ParseContext): MacDef {
  const macEl = child(el, 'mac');
  if (!macEl) return { address: generateMac(ctx) };
  const text = attr(macEl, 'address');
  let address: string | undefined;
  if (text !== undefined) {
    const bytes = parseMac(text);
    if (!bytes) throw xmlError(`unable to parse mac address '${text}'`);
    if (isMulticastMac(bytes)) throw xmlError(`expected unicast mac address, found multicast '${text}'`);
    if (!isZeroMac(bytes)) address = formatMac(bytes);
  }
  const type = propEnum(macEl, 'type', ['generated', 'static'] as const);
  const check = propYesNo(macEl, 'check');
  return compact({ address: address ?? generateMac(ctx), type, check });
}

/** virFileSanitizePath: collapse repeated slashes and drop a trailing one (a leading "//" stays). */
export function sanitizePath(path: string): string {
  const keepDouble = /^\/\/[^/]/.test(path) || path === '//';
  const body = (keepDouble ? path.slice(2) : path).replace(/\/{2,}/g, '/');
  const trimmed = body.length > 1 || keepDouble ? body.replace(/\/$/, '') : body;
  return (keepDouble ? '//' : '') + trimmed;
}

function parsePortForwardRange(el: XmlElement): PortForwardRange {
  return compact({
    start: propUInt(el, 'start', { nonZero: true }),
    end: propUInt(el, 'end', { nonZero: true }),
    to: propUInt(el, 'to', { nonZero: true }),
    exclude: propYesNo(el, 'exclude'),
  });
}

function parsePortForward(el: XmlElement): PortForwardDef {
  const proto = propEnum(el, 'proto', ['tcp', 'udp'] as const, true)!;
  const addressText = attr(el, 'address');
  let address: string | undefined;
  if (addressText !== undefined) {
    const ip = parseIp(addressText);
    if (!ip) throw xmlError(`Invalid address '${addressText}' in <portForward>`);
    address = formatIp(ip);
  }
  const ranges = elements(el, 'range').map(parsePortForwardRange);
  return compact({ proto, address, dev: attr(el, 'dev'), ranges });
}

function parsePortForwards(el: XmlElement): PortForwardDef[] | undefined {
  const list = elements(el, 'portForward').map(parsePortForward);
  return list.length > 0 ? list : undefined;
}

/** Host device names libvirt generates itself; a definition must not pin them. */
const GENERATED_DEV_PREFIXES = ['vnet', 'macvtap', 'macvlan'];

function keptHostDevName(name: string | undefined, managed: YesNo | undefined): string | undefined {
  if (name === undefined || managed === 'no') return name;
  return GENERATED_DEV_PREFIXES.some((p) => name.startsWith(p)) ? undefined : name;
}

function parseOffloads(el: XmlElement | undefined, names: ReadonlyArray<keyof VirtioOffloads>): VirtioOffloads | undefined {
  if (!el) return undefined;
  const attrName = (k: keyof VirtioOffloads) => (k === 'mrgRxbuf' ? 'mrg_rxbuf' : k);
  const o = compact(Object.fromEntries(names.map((k) => [k, propSwitch(el, attrName(k))])) as VirtioOffloads);
  return isEmptyObject(o) ? undefined : o;
}

/**
 * virDomainNetDefParseXMLDriver: virtio options always, the virtio-net
 * settings only for virtio models (a hostdev's <driver> names its PCI backend).
 */
function parseDriver(el: XmlElement, type: InterfaceType, model: string | undefined): InterfaceDriverDef | undefined {
  const d = child(el, 'driver');
  if (!d) return undefined;
  const virtio = emptyToUndefined(parseVirtioOptions(d)!);
  if (type === 'hostdev' || !isVirtioModel(model)) return virtio && { virtio };
  const queues = propUInt(d, 'queues');
  const driver: InterfaceDriverDef = {
    virtio,
    name: propEnum(d, 'name', ['qemu', 'vhost'] as const),
    txmode: propEnum(d, 'txmode', ['iothread', 'timer'] as const),
    ioeventfd: propSwitch(d, 'ioeventfd'),
    eventIdx: propSwitch(d, 'event_idx'),
    // A single queue is the default and is not recorded.
    queues: queues === 0 || queues === 1 ? undefined : queues,
    rxQueueSize: zeroToUndefined(propUInt(d, 'rx_queue_size')),
    txQueueSize: zeroToUndefined(propUInt(d, 'tx_queue_size')),
    rss: propSwitch(d, 'rss'),
    rssHashReport: propSwitch(d, 'rss_hash_report'),
    host: parseOffloads(child(d, 'host'), ['csum', 'gso', 'tso4', 'tso6', 'ecn', 'ufo', 'mrgRxbuf']),
    guest: parseOffloads(child(d, 'guest'), ['csum', 'tso4', 'tso6', 'ecn', 'ufo']),
  };
  return emptyToUndefined(compact(driver));
}

function emptyToUndefined<T extends object>(o: T): T | undefined {
  return isEmptyObject(o) ? undefined : o;
}

const zeroToUndefined = (n: number | undefined): number | undefined => (n === 0 ? undefined : n);

function parseBackend(el: XmlElement, type: InterfaceType, model: string | undefined): InterfaceBackendDef | undefined {
  const b = child(el, 'backend');
  if (!b) return undefined;
  const tap = attr(b, 'tap');
  const vhost = attr(b, 'vhost');
  const backendType = propEnum(b, 'type', ['default', 'passt'] as const);
  return emptyToUndefined(
    compact({
      type: backendType === 'passt' ? backendType : undefined,
      tap: tap === undefined ? undefined : sanitizePath(tap),
      vhost: vhost !== undefined && type !== 'hostdev' && isVirtioModel(model) ? sanitizePath(vhost) : undefined,
      logFile: attr(b, 'logFile'),
    }),
  );
}

function parseLinkState(text: string | undefined): 'up' | 'down' | undefined {
  if (text === undefined) return undefined;
  if (text !== 'up' && text !== 'down') throw unsupported(`unknown interface link state '${text}'`);
  return text;
}

function parseTeaming(el: XmlElement): TeamingDef | undefined {
  const teamingEl = child(el, 'teaming');
  const type = nonEmptyAttr(teamingEl, 'type');
  const persistent = nonEmptyAttr(teamingEl, 'persistent');
  if (type === undefined && persistent === undefined) return undefined;
  if (type === 'persistent' || type === 'transient') return compact<TeamingDef>({ type, persistent });
  throw unsupported(`unknown teaming type '${type ?? '(null)'}'`);
}

function parseSndbuf(el: XmlElement): bigint | undefined {
  const tune = child(el, 'tune');
  const sndbuf = tune && child(tune, 'sndbuf');
  const text = sndbuf && textOf(sndbuf);
  if (!text) return undefined;
  const v = parseULongLongStrict(text);
  if (v === undefined) throw xmlError('sndbuf must be a positive integer');
  return v;
}

function parseMtu(el: XmlElement): number | undefined {
  const text = nonEmptyAttr(child(el, 'mtu'), 'size');
  if (text === undefined) return undefined;
  const v = parseUIntStrict(text);
  if (v === undefined) throw xmlError('malformed mtu size');
  return zeroToUndefined(v);
}

const UINT32_MAX = 0xffffffffn;

function parseCoalesce(el: XmlElement): number | undefined {
  const coalesce = child(el, 'coalesce');
  const rx = coalesce && child(coalesce, 'rx');
  const text = nonEmptyAttr(rx && child(rx, 'frames'), 'max');
  if (text === undefined) return undefined;
  const v = parseULongLongStrict(text);
  if (v === undefined) throw new VirError('VIR_ERR_XML_DETAIL', `cannot parse value '${text}' for coalesce parameter`);
  if (v > UINT32_MAX) {
    throw new VirError('VIR_ERR_OVERFLOW', `value '${v}' is too big for coalesce parameter, maximum is '${UINT32_MAX}'`);
  }
  return zeroToUndefined(Number(v));
}

/**
 * Validation errors found while parsing but reported, as libvirt does, only
 * in the validate phase (after every device parsed and post-parse ran).
 */
const deferredValidationErrors = new WeakMap<InterfaceDef, VirError>();

/** <target>, <guest>, <script>, <downscript>, <backenddomain>. */
function parseNames(el: XmlElement): Partial<InterfaceCommon> {
  const target = child(el, 'target');
  const hostDevManaged = target && propYesNo(target, 'managed');
  const guest = child(el, 'guest');
  return {
    hostDevName: keptHostDevName(target && attr(target, 'dev'), hostDevManaged),
    hostDevManaged,
    guestDevName: nonEmptyAttr(guest, 'dev'),
    guestDevActualName: nonEmptyAttr(guest, 'actual'),
    script: nonEmptyAttr(child(el, 'script'), 'path'),
    downscript: nonEmptyAttr(child(el, 'downscript'), 'path'),
    backendDomain: nonEmptyAttr(child(el, 'backenddomain'), 'name'),
  };
}

/** <filterref>, <bandwidth>, <vlan>: what the host applies to the device. */
function parseHostPolicies(el: XmlElement, type: InterfaceType): Partial<InterfaceCommon> {
  const filterRef = typeRules(type).filterRef ? child(el, 'filterref') : undefined;
  const bandwidth = child(el, 'bandwidth');
  const vlan = child(el, 'vlan');
  return {
    filterRef: filterRef && parseFilterRef(filterRef),
    bandwidth: bandwidth && parseBandwidth(bandwidth, type === 'network'),
    vlan: vlan && parseVlan(vlan),
  };
}

/** <link>, <teaming>, <tune>, <mtu>, <coalesce>, <port>: read last, as libvirt does. */
function parseTuning(el: XmlElement): Partial<InterfaceCommon> {
  const linkState = parseLinkState(nonEmptyAttr(child(el, 'link'), 'state'));
  const teaming = parseTeaming(el);
  const sndbuf = parseSndbuf(el);
  const mtu = parseMtu(el);
  const coalesceRxMaxFrames = parseCoalesce(el);
  const port = child(el, 'port');
  return { linkState, teaming, sndbuf, mtu, coalesceRxMaxFrames, portIsolated: port && propYesNo(port, 'isolated') };
}

/** passt binds to the host interface named in <source dev> of a type='user' interface. */
function addPasstDev(source: InterfaceSource, sourceEl: XmlElement | undefined, backend: InterfaceBackendDef | undefined): void {
  const dev = sourceEl && attr(sourceEl, 'dev');
  if (source.type === 'user' && backend?.type === 'passt' && dev !== undefined) source.source.dev = dev;
}

/** virDomainNetDefParseXML, in libvirt's order of checks. */
export function parseInterface(el: XmlElement, ctx: ParseContext): InterfaceDef {
  const type = propEnum(el, 'type', INTERFACE_TYPES) ?? 'user';
  const trustGuestRxFilters = propYesNo(el, 'trustGuestRxFilters');
  const model = parseModel(el);
  const sourceEl = child(el, 'source');
  const hostIp = sourceEl ? parseIpConfig(sourceEl, 'interface host IP') : emptyIpConfig();
  const source = parseSource(type, el, sourceEl, hostIp);
  const virtualPort = parseVirtualPortElement(el, type, ctx);
  const names = parseNames(el);
  const policies = parseHostPolicies(el, type);
  const mac = parseMacElement(el, ctx);
  const info = parseDeviceInfo(el, { allowBoot: true });
  const guestIp = parseIpConfig(el, 'guest interface');
  const portForwards = parsePortForwards(el);
  const driver = parseDriver(el, type, model);
  const backend = parseBackend(el, type, model);
  addPasstDev(source, sourceEl, backend);
  const tuning = parseTuning(el);

  const iface = compact({
    ...source,
    mac,
    trustGuestRxFilters,
    guestIp,
    ...names,
    model,
    virtualPort,
    ...policies,
    driver,
    backend,
    portForwards,
    ...tuning,
    info,
  }) as InterfaceDef;
  if (type !== 'ethernet' && hasIpConfig(hostIp)) {
    deferredValidationErrors.set(
      iface,
      unsupported(
        `Invalid attempt to set network interface host-side IP route and/or address info on interface of type '${type}'. This is only supported on interfaces of type 'ethernet'`,
      ),
    );
  }
  return iface;
}

export function parseNetDevices(els: readonly XmlElement[], ctx: ParseContext): NetDevices {
  return { interfaces: els.filter((e) => e.name === 'interface').map((e) => parseInterface(e, ctx)) };
}

/* ---------- post-parse and validate ---------- */

/** The LXC driver has no VIR_DOMAIN_DEF_FEATURE_NET_MODEL_STRING: only known models pass. */
function checkModelSupported(iface: InterfaceDef): void {
  if (iface.model !== undefined && !(KNOWN_NET_MODELS as readonly string[]).includes(iface.model)) {
    throw unsupported(`driver does not support net model '${iface.model}'`);
  }
}

/** virDomainNetDefValidatePortOptions */
function validatePortOptions(iface: InterfaceDef): void {
  if (iface.portIsolated !== 'yes') return;
  const prefix = `interface ${iface.mac.address} - <port isolated='yes'/> is not supported for network interfaces with`;
  if (iface.type !== 'network' && iface.type !== 'bridge') throw unsupported(`${prefix} type='${iface.type}'`);
  if (iface.virtualPort?.type !== undefined) throw unsupported(`${prefix} virtualport type='${iface.virtualPort.type}'`);
}

function validateTeaming(teaming: TeamingDef | undefined): void {
  if (!teaming) return;
  if (teaming.type === 'transient' && teaming.persistent === undefined) {
    throw unsupported("teaming persistent attribute must be set if teaming type is 'transient'");
  }
  if (teaming.type !== 'transient' && teaming.persistent !== undefined) {
    throw unsupported(`teaming persistent attribute not allowed if teaming type is '${teaming.type}'`);
  }
}


function validatePasst(iface: InterfaceDef): void {
  const passt = iface.backend?.type === 'passt';
  if (iface.type !== 'user' && passt) {
    throw internalError("The 'passt' backend can only be used with interface type='user'");
  }
  if (!iface.portForwards) return;
  if (iface.type !== 'user' || !passt) {
    throw unsupported("The <portForward> element can only be used with <interface type='user'> and its 'passt' backend");
  }
  const ranges = iface.portForwards.flatMap((pf) => pf.ranges);
  if (ranges.some((r) => r.start === undefined && (r.end !== undefined || r.to !== undefined || r.exclude !== undefined))) {
    throw unsupported("The 'range' of a 'portForward' requires 'start' attribute if 'end', 'to', or 'exclude' is specified");
  }
}

/** virDomainNetDefValidate */
function validateInterface(iface: InterfaceDef): void {
  validateDeviceInfo(iface.info);
  const deferred = deferredValidationErrors.get(iface);
  if (deferred) throw deferred;
  if (iface.hostDevManaged === 'no' && iface.type !== 'ethernet') {
    throw unsupported(`unmanaged target dev is not supported on interfaces of type '${iface.type}'`);
  }
  validateTeaming(iface.teaming);
  validatePortOptions(iface);
  if (!isVirtioModel(iface.model)) validateNoVirtioOptions(iface.driver?.virtio);
  validatePasst(iface);
}

export const netHooks: SectionHooks = {
  postParse: (def: DomainDef) => def.devices.interfaces.forEach(checkModelSupported),
  validate: (def: DomainDef) => def.devices.interfaces.forEach(validateInterface),
};

/* ---------- format ---------- */

/** virBufferEscapeString prints nothing for an empty string. */
const nonEmpty = (s: string | undefined): string | undefined => (s === '' ? undefined : s);

type AttrList = Array<readonly [string, AttrValue]>;

/** virXMLFormatElement: the element only when it has an attribute or a child. */
function addUnlessEmpty(parent: Builder, name: string, attrs: AttrList, fill?: (el: Builder) => void, hasChildren = false): void {
  if (!hasChildren && attrs.every(([, v]) => v === undefined)) return;
  const el = add(parent, name, attrs);
  fill?.(el);
}

function sourceAttrs(iface: InterfaceDef): AttrList {
  switch (iface.type) {
    case 'network':
      return [['network', nonEmpty(iface.source.network)], ['portgroup', nonEmpty(iface.source.portgroup)]];
    case 'bridge':
      return [['bridge', nonEmpty(iface.source.bridge)]];
    case 'direct':
      return [['dev', nonEmpty(iface.source.dev)], ['mode', iface.source.mode]];
    case 'vhostuser':
      return [['type', 'unix'], ['path', nonEmpty(iface.source.path)], ['mode', iface.source.mode]];
    case 'server':
    case 'client':
    case 'mcast':
    case 'udp':
      return [['address', nonEmpty(iface.source.address)], ['port', iface.source.port]];
    case 'internal':
      return [['name', nonEmpty(iface.source.name)]];
    case 'vdpa':
      return [['dev', nonEmpty(iface.source.dev)]];
    case 'vds':
      return [
        ['switchid', iface.source.switchId],
        ['portid', iface.source.portId ?? 0n],
        ['portgroupid', nonEmpty(iface.source.portgroupId)],
        ['connectionid', iface.source.connectionId ?? 0n],
      ];
    case 'user':
      return [['dev', iface.backend?.type === 'passt' ? nonEmpty(iface.source.dev) : undefined]];
    case 'ethernet':
    case 'hostdev':
    case 'null':
      return [];
  }
}

const hex = (v: number, width: number): string => `0x${v.toString(16).padStart(width, '0')}`;

/** virDomainHostdevDefFormatSubsys for a PCI device: backend driver, then the address. */
function formatHostdevSource(parent: Builder, s: HostdevInterfaceSource): void {
  if (s.driver) add(parent, 'driver', { name: s.driver });
  const a = s.address;
  add(add(parent, 'source'), 'address', [
    ['type', 'pci'],
    ['domain', hex(a.domain, 4)],
    ['bus', hex(a.bus, 2)],
    ['slot', hex(a.slot, 2)],
    ['function', `0x${a.function}`],
  ]);
}

function formatSource(parent: Builder, iface: InterfaceDef): void {
  const attrs = sourceAttrs(iface);
  switch (iface.type) {
    case 'ethernet':
      addUnlessEmpty(parent, 'source', attrs, (el) => formatIpConfig(el, iface.source), hasIpConfig(iface.source));
      return;
    case 'udp': {
      const local = iface.source.local!;
      addUnlessEmpty(parent, 'source', attrs, (el) => add(el, 'local', [['address', local.address], ['port', local.port]]), true);
      return;
    }
    case 'hostdev':
      formatHostdevSource(parent, iface.source);
      return;
    case 'vhostuser': {
      const r = iface.source.reconnect;
      addUnlessEmpty(parent, 'source', attrs, (el) => {
        if (r) add(el, 'reconnect', { enabled: r.enabled, timeout: r.enabled === 'yes' ? r.timeout : undefined });
      });
      return;
    }
    default:
      addUnlessEmpty(parent, 'source', attrs);
  }
}

function offloadAttrs(o: VirtioOffloads | undefined, names: ReadonlyArray<keyof VirtioOffloads>): AttrList {
  return names.map((k) => [k === 'mrgRxbuf' ? 'mrg_rxbuf' : k, o?.[k]] as const);
}

function formatModelAndDriver(parent: Builder, iface: InterfaceDef): void {
  if (iface.model === undefined) return;
  add(parent, 'model', { type: iface.model });
  const d = iface.driver;
  if (!isVirtioModel(iface.model) || !d || iface.type === 'hostdev') return;
  const host = offloadAttrs(d.host, ['csum', 'gso', 'tso4', 'tso6', 'ecn', 'ufo', 'mrgRxbuf']);
  const guest = offloadAttrs(d.guest, ['csum', 'tso4', 'tso6', 'ecn', 'ufo']);
  const hasOffloads = [...host, ...guest].some(([, v]) => v !== undefined);
  const attrs: AttrList = [
    ['name', d.name],
    ['txmode', d.txmode],
    ['ioeventfd', d.ioeventfd],
    ['event_idx', d.eventIdx],
    ['queues', d.queues],
    ['rx_queue_size', d.rxQueueSize],
    ['tx_queue_size', d.txQueueSize],
    ['rss', d.rss],
    ['rss_hash_report', d.rssHashReport],
    ...formatVirtioOptions(d.virtio),
  ];
  addUnlessEmpty(parent, 'driver', attrs, (el) => {
    addUnlessEmpty(el, 'host', host);
    addUnlessEmpty(el, 'guest', guest);
  }, hasOffloads);
}

function formatPortForwards(parent: Builder, list: PortForwardDef[] | undefined): void {
  for (const pf of list ?? []) {
    const el = add(parent, 'portForward', [['proto', pf.proto], ['address', pf.address], ['dev', nonEmpty(pf.dev)]]);
    for (const r of pf.ranges) {
      const hasStart = r.start !== undefined;
      add(el, 'range', [
        ['start', r.start],
        ['end', hasStart ? r.end : undefined],
        ['to', hasStart ? r.to : undefined],
        ['exclude', r.exclude],
      ]);
    }
  }
}

/** virDomainNetDefFormat */
export function formatInterface(parent: Builder, iface: InterfaceDef): void {
  const el = add(parent, 'interface', [
    ['type', iface.type],
    ['managed', iface.type === 'hostdev' && iface.source.managed ? 'yes' : undefined],
    ['trustGuestRxFilters', iface.trustGuestRxFilters],
  ]);
  add(el, 'mac', [['address', iface.mac.address], ['type', iface.mac.type], ['check', iface.mac.check]]);
  formatSource(el, iface);
  if (iface.vlan) formatVlan(el, iface.vlan);
  if (iface.virtualPort) formatVirtualPort(el, iface.virtualPort);
  if (iface.bandwidth) formatBandwidth(el, iface.bandwidth);
  if (iface.portIsolated !== undefined) add(el, 'port', { isolated: iface.portIsolated });
  formatIpConfig(el, iface.guestIp);
  formatPortForwards(el, iface.portForwards);
  if (iface.script) add(el, 'script', { path: iface.script });
  if (iface.downscript) add(el, 'downscript', { path: iface.downscript });
  if (iface.backendDomain) add(el, 'backenddomain', { name: iface.backendDomain });
  addUnlessEmpty(el, 'target', [['dev', nonEmpty(iface.hostDevName)], ['managed', iface.hostDevManaged]]);
  addUnlessEmpty(el, 'guest', [['dev', iface.guestDevName], ['actual', iface.guestDevActualName]]);
  formatModelAndDriver(el, iface);
  if (iface.backend) {
    const b = iface.backend;
    addUnlessEmpty(el, 'backend', [['type', b.type], ['tap', nonEmpty(b.tap)], ['vhost', nonEmpty(b.vhost)], ['logFile', nonEmpty(b.logFile)]]);
  }
  if (iface.filterRef) formatFilterRef(el, iface.filterRef);
  if (iface.sndbuf !== undefined) add(add(el, 'tune'), 'sndbuf', {}, iface.sndbuf);
  if (iface.teaming) add(el, 'teaming', [['type', iface.teaming.type], ['persistent', nonEmpty(iface.teaming.persistent)]]);
  if (iface.linkState) add(el, 'link', { state: iface.linkState });
  if (iface.mtu !== undefined) add(el, 'mtu', { size: iface.mtu });
  if (iface.coalesceRxMaxFrames !== undefined) {
    add(add(add(el, 'coalesce'), 'rx'), 'frames', { max: iface.coalesceRxMaxFrames });
  }
  formatDeviceInfo(el, iface.info);
}

export const netFormatters: Partial<Record<DeviceKind, DeviceFormatter<NetDevices>>> = {
  interface: (devicesEl, devices) => devices.interfaces.forEach((iface) => formatInterface(devicesEl, iface)),
};
