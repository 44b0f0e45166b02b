/**
 * Character devices: <serial>, <parallel>, <console>, <channel>, and the
 * character-device source that smartcards, redirdevs and RNG backends
 * share (virDomainChrDefParseXML / virDomainChrSourceDefParseXML and their
 * formatters). Only consoles matter to the LXC driver at start: each must
 * be a pty, and console i becomes the container's tty i+1.
 */
import type { ParseContext } from '../../context.js';
import type { DomainDef } from '../../model.js';
import { attr, child, elements, type XmlElement } from '../../tree.js';
import { add, type Builder } from '../../writer.js';
import { VirError, internalError, invalidArg, unsupported, xmlError } from '../../errors.js';
import { propEnum, propSwitch, propYesNo, nonEmptyAttr, type Switch, type YesNo } from '../xml-access.js';
import type { DeviceFormatter, DeviceKind } from './kinds.js';
import { formatDeviceInfo, parseDeviceInfo, validateDeviceInfo, type DeviceInfo } from './deviceinfo.js';
import { parseUIntWrapping, propUInt } from './props.js';
import { ensureController, type StorageDevices } from './storage.js';

/* ---------- the source half: where the host end of the device goes ---------- */

export const CHAR_SOURCE_TYPES = [
  'null', 'vc', 'pty', 'dev', 'file', 'pipe', 'stdio', 'udp', 'tcp', 'unix', 'spicevmc', 'spiceport', 'nmdm',
  'qemu-vdagent', 'dbus',
] as const;
export type CharSourceType = (typeof CHAR_SOURCE_TYPES)[number];

export type SourceMode = 'connect' | 'bind';
export type TcpProtocol = 'raw' | 'telnet' | 'telnets' | 'tls';
export type MouseMode = 'server' | 'client';

export interface Reconnect {
  enabled: YesNo;
  /** Seconds; only with enabled='yes'. */
  timeout?: number;
}

/** Where libvirt copies the device's output (`<log>`). */
export interface CharLog {
  file: string;
  append?: Switch;
}

export type CharSource = { log?: CharLog } & (
  | { type: 'null' | 'vc' | 'stdio' | 'spicevmc' }
  /** The host pty; only a running domain knows its path. */
  | { type: 'pty'; path?: string }
  | { type: 'dev' | 'pipe'; path?: string }
  | { type: 'file'; path?: string; append?: Switch }
  | { type: 'unix'; mode: SourceMode; path?: string; reconnect?: Reconnect }
  | {
      type: 'tcp';
      mode: SourceMode;
      host?: string;
      service?: string;
      tls?: YesNo;
      protocol: TcpProtocol;
      reconnect?: Reconnect;
    }
  | { type: 'udp'; bindHost?: string; bindService?: string; connectHost?: string; connectService?: string }
  | { type: 'spiceport' | 'dbus'; channel?: string }
  | { type: 'nmdm'; master?: string; slave?: string }
  | { type: 'qemu-vdagent'; clipboardCopypaste?: YesNo; mouseMode?: MouseMode }
);

const SOURCE_MODES: readonly SourceMode[] = ['connect', 'bind'];
const TCP_PROTOCOLS: readonly TcpProtocol[] = ['raw', 'telnet', 'telnets', 'tls'];
const MOUSE_MODES: readonly MouseMode[] = ['server', 'client'];

export const isCharSourceType = (t: string): t is CharSourceType => (CHAR_SOURCE_TYPES as readonly string[]).includes(t);

function parseReconnect(source: XmlElement): Reconnect | undefined {
  const el = child(source, 'reconnect');
  const enabled = el && propYesNo(el, 'enabled');
  if (!el || enabled === undefined) return undefined;
  return enabled === 'yes' ? { enabled, timeout: propUInt(el, 'timeout', { required: true }) } : { enabled };
}

const sourceMode = (source: XmlElement): SourceMode => propEnum(source, 'mode', SOURCE_MODES) ?? 'connect';

/** The one or two <source> elements: only UDP may have two (bind and connect). */
function sourceElements(el: XmlElement, type: CharSourceType): XmlElement[] {
  const sources = elements(el, 'source');
  if (sources.length > 1 && type !== 'udp') throw xmlError('only one source element is allowed for character device');
  if (sources.length > 2) throw xmlError('only two source elements are allowed for character device');
  return sources;
}

function parseUdpSources(sources: XmlElement[]): CharSource {
  const udp: Extract<CharSource, { type: 'udp' }> = { type: 'udp' };
  for (const s of sources) {
    const mode = sourceMode(s);
    if (mode === 'connect' && udp.connectHost === undefined && udp.connectService === undefined) {
      udp.connectHost = attr(s, 'host');
      udp.connectService = attr(s, 'service');
    } else if (mode === 'bind' && udp.bindHost === undefined && udp.bindService === undefined) {
      udp.bindHost = attr(s, 'host');
      udp.bindService = attr(s, 'service');
    }
  }
  return udp;
}

function parseVdagentSource(s: XmlElement | undefined): CharSource {
  const clipboard = s && child(s, 'clipboard');
  const mouse = s && child(s, 'mouse');
  return {
    type: 'qemu-vdagent',
    clipboardCopypaste: clipboard && propYesNo(clipboard, 'copypaste', true),
    mouseMode: mouse && propEnum(mouse, 'mode', MOUSE_MODES, true),
  };
}

/** The type-specific part of the first <source> (all of them for UDP). */
function parseSourceData(type: CharSourceType, sources: XmlElement[]): CharSource {
  const s = sources[0];
  const path = s && attr(s, 'path');
  switch (type) {
    case 'pty':
      return { type }; // the path of a pty is live state, not configuration
    case 'dev':
    case 'pipe':
      return { type, path };
    case 'file':
      return { type, path, append: s && propSwitch(s, 'append') };
    case 'unix':
      return { type, mode: s ? sourceMode(s) : 'connect', path, reconnect: s && parseReconnect(s) };
    case 'tcp':
      return {
        type,
        mode: s ? sourceMode(s) : 'connect',
        host: s && attr(s, 'host'),
        service: s && attr(s, 'service'),
        tls: s && propYesNo(s, 'tls'),
        protocol: 'raw',
        reconnect: s && parseReconnect(s),
      };
    case 'udp':
      return parseUdpSources(sources);
    case 'spiceport':
    case 'dbus':
      return { type, channel: s && attr(s, 'channel') };
    case 'nmdm':
      return { type, master: s && attr(s, 'master'), slave: s && attr(s, 'slave') };
    case 'qemu-vdagent':
      return parseVdagentSource(s);
    default:
      return { type };
  }
}

function onlyOne(el: XmlElement, name: string): XmlElement | undefined {
  const found = elements(el, name);
  if (found.length > 1) throw xmlError(`only one ${name} element is allowed for character device`);
  return found[0];
}

/** virDomainChrSourceDefParseXML: `el` holds the <source>, <log> and <protocol> children. */
export function parseCharSource(el: XmlElement, type: CharSourceType): CharSource {
  const source = parseSourceData(type, sourceElements(el, type));
  const log = onlyOne(el, 'log');
  const file = log && attr(log, 'file');
  if (log && file !== undefined) source.log = { file, append: propSwitch(log, 'append') };
  const protocol = onlyOne(el, 'protocol');
  if (protocol && source.type === 'tcp') source.protocol = propEnum(protocol, 'type', TCP_PROTOCOLS) ?? 'raw';
  return source;
}

function formatReconnect(b: Builder, r: Reconnect | undefined): void {
  if (r) add(b, 'reconnect', { enabled: r.enabled, timeout: r.enabled === 'yes' ? r.timeout : undefined });
}

function formatSourceData(b: Builder, s: CharSource): void {
  switch (s.type) {
    case 'pty':
    case 'dev':
    case 'pipe':
    case 'file':
      // A pty without a (live) path has nothing to show.
      if (s.type !== 'pty' || s.path !== undefined) {
        add(b, 'source', { path: s.path, append: s.type === 'file' ? s.append : undefined });
      }
      return;
    case 'unix':
      if (s.path !== undefined) formatReconnect(add(b, 'source', { mode: s.mode, path: s.path }), s.reconnect);
      return;
    case 'tcp': {
      const source = add(b, 'source', { mode: s.mode, host: s.host, service: s.service, tls: s.tls });
      formatReconnect(source, s.reconnect);
      add(b, 'protocol', { type: s.protocol });
      return;
    }
    case 'udp':
      if (s.bindHost !== undefined || s.bindService !== undefined) {
        add(b, 'source', { mode: 'bind', host: s.bindHost, service: s.bindService });
      }
      if (s.connectHost !== undefined || s.connectService !== undefined) {
        add(b, 'source', { mode: 'connect', host: s.connectHost, service: s.connectService });
      }
      return;
    case 'spiceport':
    case 'dbus':
      if (s.channel !== undefined) add(b, 'source', { channel: s.channel });
      return;
    case 'nmdm':
      if (s.master !== undefined && s.slave !== undefined) add(b, 'source', { master: s.master, slave: s.slave });
      return;
    case 'qemu-vdagent':
      formatVdagentSource(b, s.clipboardCopypaste, s.mouseMode);
      return;
    default:
      return;
  }
}

function formatVdagentSource(b: Builder, copypaste: YesNo | undefined, mouse: MouseMode | undefined): void {
  if (copypaste === undefined && mouse === undefined) return;
  const source = add(b, 'source');
  if (copypaste !== undefined) add(source, 'clipboard', { copypaste });
  if (mouse !== undefined) add(source, 'mouse', { mode: mouse });
}

/** virDomainChrSourceDefFormat: the children describing the host side. */
export function formatCharSource(b: Builder, s: CharSource): void {
  formatSourceData(b, s);
  if (s.log) add(b, 'log', { file: s.log.file, append: s.log.append });
}

const CHANNEL_NAME = /^[A-Za-z0-9_.-]*$/;

function validateChannelName(name: string | undefined): void {
  if (name === undefined) throw unsupported('Missing source channel attribute for char device');
  if (!CHANNEL_NAME.test(name)) throw invalidArg('Invalid character in source channel for char device');
}

const missingSource = (what: string): VirError => internalError(`Missing source ${what} attribute for char device`);
const RECONNECT_NEEDS_CONNECT = 'chardev reconnect is possible only for connect mode';

/**
 * virDomainChrSourceDefValidate. `pathOptional` is true for virtio and xen
 * channels, whose unix socket path the hypervisor may generate.
 */
export function validateCharSource(s: CharSource, pathOptional = false): void {
  switch (s.type) {
    case 'file':
    case 'dev':
    case 'pipe':
      if (s.path === undefined) throw missingSource('path');
      return;
    case 'nmdm':
      if ((s.master === undefined) !== (s.slave === undefined)) {
        throw internalError('Should define both master and slave path attributes for nmdm device');
      }
      return;
    case 'tcp':
      if (s.host === undefined) throw missingSource('host');
      if (s.service === undefined) throw missingSource('service');
      if (s.mode === 'bind' && s.reconnect) throw internalError(RECONNECT_NEEDS_CONNECT);
      return;
    case 'udp':
      if (s.connectService === undefined) throw missingSource('service');
      return;
    case 'unix':
      if (s.path === undefined && !pathOptional) throw missingSource('path');
      if (s.mode === 'bind' && s.reconnect) throw internalError(RECONNECT_NEEDS_CONNECT);
      return;
    case 'spiceport':
    case 'dbus':
      validateChannelName(s.channel);
      return;
    default:
      return;
  }
}

/** The device's `type` attribute: pty when absent. */
export function parseCharSourceType(el: XmlElement): CharSourceType {
  const type = attr(el, 'type');
  if (type === undefined) return 'pty';
  if (!isCharSourceType(type)) throw unsupported(`unknown type presented to host for character device: ${type}`);
  return type;
}

/* ---------- the devices ---------- */

export const SERIAL_TARGET_TYPES = [
  'isa-serial', 'usb-serial', 'pci-serial', 'spapr-vio-serial', 'system-serial', 'sclp-serial', 'isa-debug',
] as const;
export type SerialTargetType = (typeof SERIAL_TARGET_TYPES)[number];

export const SERIAL_TARGET_MODELS = [
  'isa-serial', 'usb-serial', 'pci-serial', 'spapr-vty', 'pl011', 'sclpconsole', 'sclplmconsole', '16550a',
  'isa-debugcon',
] as const;
export type SerialTargetModel = (typeof SERIAL_TARGET_MODELS)[number];

export const CONSOLE_TARGET_TYPES = ['serial', 'xen', 'uml', 'virtio', 'lxc', 'openvz', 'sclp', 'sclplm'] as const;
export type ConsoleTargetType = (typeof CONSOLE_TARGET_TYPES)[number];

export type ChannelState = 'connected' | 'disconnected';

export type ChannelTarget =
  | { type: 'none' }
  | { type: 'guestfwd'; address: string; port: number }
  | { type: 'virtio'; name?: string; /** Live only. */ state?: ChannelState }
  | { type: 'xen'; name?: string };

interface CharDeviceCommon {
  source: CharSource;
  info: DeviceInfo;
}

export interface SerialDef extends CharDeviceCommon {
  port: number;
  targetType?: SerialTargetType;
  targetModel?: SerialTargetModel;
}

export interface ParallelDef extends CharDeviceCommon {
  port: number;
}

export interface ConsoleDef extends CharDeviceCommon {
  /** Always the console's index: console N is the container's tty N+1. */
  port: number;
  /** 'lxc' unless given; libvirt's LXC driver turns an unset type into 'lxc'. */
  targetType: ConsoleTargetType;
}

export interface ChannelDef extends CharDeviceCommon {
  target: ChannelTarget;
}

export interface CharDevices {
  serials: SerialDef[];
  parallels: ParallelDef[];
  consoles: ConsoleDef[];
  channels: ChannelDef[];
}

type CharDeviceKind = 'serial' | 'parallel' | 'console' | 'channel';

/** What a <target> says, before the device kind decides what to keep. */
interface ParsedTarget {
  type?: string;
  /** Unset port: -1, as libvirt (virStrToLong_ui wraps a negative port). */
  port: number;
  model?: SerialTargetModel;
  channel?: ChannelTarget;
}

const unknownTargetType = (t: string | undefined): VirError =>
  unsupported(`unknown target type '${t ?? '(null)'}' specified for character device`);

/** Target types each kind accepts ('none' is the unset value); parallel ports have none. */
const TARGET_TYPES: Record<Exclude<CharDeviceKind, 'parallel'>, readonly string[]> = {
  serial: ['none', ...SERIAL_TARGET_TYPES],
  console: ['none', ...CONSOLE_TARGET_TYPES],
  channel: ['none', 'guestfwd', 'virtio', 'xen'],
};

/** virDomainChrTargetTypeFromString: the target type, undefined when unset. */
function targetTypeFor(kind: CharDeviceKind, raw: string | undefined): string | undefined {
  if (kind === 'parallel') return undefined;
  // A channel needs a type; libvirt then reports the missing one as "(null)".
  if (raw === undefined && kind === 'channel') throw unknownTargetType(raw);
  if (raw === undefined || raw === 'none') return undefined;
  if (!TARGET_TYPES[kind].includes(raw)) throw unknownTargetType(raw);
  return raw;
}

function parseTargetModel(kind: CharDeviceKind, target: XmlElement): SerialTargetModel | undefined {
  const name = nonEmptyAttr(child(target, 'model'), 'name');
  if (name === undefined || kind !== 'serial') return undefined;
  if (name === 'none') return undefined;
  if (!(SERIAL_TARGET_MODELS as readonly string[]).includes(name)) {
    throw unsupported(`unknown target model '${name}' specified for character device`);
  }
  return name as SerialTargetModel;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function parseGuestfwdTarget(target: XmlElement): ChannelTarget {
  const address = attr(target, 'address');
  if (address === undefined) throw xmlError('guestfwd channel does not define a target address');
  if (address.includes(':')) throw unsupported('guestfwd channel only supports IPv4 addresses');
  if (!IPV4.test(address)) {
    throw new VirError('VIR_ERR_SYSTEM_ERROR', `Cannot parse socket address '${address}': Name or service not known`);
  }
  return { type: 'guestfwd', address, port: propUInt(target, 'port', { required: true })! };
}

function parseChannelTarget(type: string | undefined, target: XmlElement): ChannelTarget {
  switch (type) {
    case 'guestfwd':
      return parseGuestfwdTarget(target);
    case 'virtio':
    case 'xen':
      return { type, name: attr(target, 'name') };
    default:
      return { type: 'none' };
  }
}

function parsePort(target: XmlElement): number {
  const raw = attr(target, 'port');
  if (raw === undefined) return -1;
  const port = parseUIntWrapping(raw);
  if (port === undefined) throw xmlError(`Invalid port number: ${raw}`);
  return port | 0; // libvirt keeps the port in an int
}

/** virDomainChrDefParseTargetXML. */
function parseTarget(kind: CharDeviceKind, target: XmlElement | undefined): ParsedTarget {
  if (target === undefined) {
    if (kind === 'channel') throw xmlError('target type must be specified for channel device');
    return { port: -1 };
  }
  const type = targetTypeFor(kind, attr(target, 'type'));
  const model = parseTargetModel(kind, target);
  if (kind === 'channel') return { type, port: -1, channel: parseChannelTarget(type, target) };
  return { type, model, port: parsePort(target) };
}

interface ParsedCharDevice {
  source: CharSource;
  target: ParsedTarget;
  info: DeviceInfo;
}

/** virDomainChrDefParseXML. */
function parseCharDevice(el: XmlElement, kind: CharDeviceKind): ParsedCharDevice {
  const type = parseCharSourceType(el);
  const target = parseTarget(kind, child(el, 'target'));
  const source = parseCharSource(el, type);
  if (source.type === 'spicevmc' && target.type !== 'virtio') {
    throw unsupported('spicevmc device type only supports virtio');
  }
  const info = parseDeviceInfo(el);
  const addressType = info.address?.type;
  if (kind === 'serial' && target.type === 'usb-serial' && addressType !== undefined && addressType !== 'usb') {
    throw unsupported('usb-serial requires address of usb type');
  }
  return { source, target, info };
}

/** Serial and parallel ports left unset follow the highest port so far. */
function assignPorts<T extends { port: number }>(devices: T[]): T[] {
  devices.forEach((d, i) => {
    if (d.port === -1) d.port = Math.max(-1, ...devices.slice(0, i).map((p) => p.port)) + 1;
  });
  return devices;
}

/** libvirt's ./devices/NAME: elements of that name in no namespace. */
const byName = (els: readonly XmlElement[], name: CharDeviceKind): XmlElement[] =>
  els.filter((e) => e.name === name && e.ns === '');

function toSerial({ source, target, info }: ParsedCharDevice): SerialDef {
  return {
    source,
    info,
    port: target.port,
    targetType: target.type as SerialTargetType | undefined,
    targetModel: target.model,
  };
}

/** Parse every character device, in libvirt's order: serials, parallels, consoles, channels. */
export function parseCharDevices(els: readonly XmlElement[], _ctx: ParseContext): CharDevices {
  const serials = assignPorts(byName(els, 'serial').map((e) => toSerial(parseCharDevice(e, 'serial'))));
  const parallels = assignPorts(
    byName(els, 'parallel').map((e) => {
      const { source, target, info } = parseCharDevice(e, 'parallel');
      return { source, info, port: target.port };
    }),
  );
  const consoles = byName(els, 'console').map((e, index): ConsoleDef => {
    const { source, target, info } = parseCharDevice(e, 'console');
    return { source, info, port: index, targetType: (target.type as ConsoleTargetType | undefined) ?? 'lxc' };
  });
  const channels = byName(els, 'channel').map((e): ChannelDef => {
    const { source, target, info } = parseCharDevice(e, 'channel');
    return { source, info, target: target.channel! };
  });
  return { serials, parallels, consoles, channels };
}

/* ---------- post-parse and validation ---------- */

const virtioSerialAddress = (info: DeviceInfo): { controller: number; bus: number; port: number } | undefined =>
  info.address?.type === 'virtio-serial' ? info.address : undefined;

/** A channel on a virtio-serial bus without a port gets the next free one. */
function assignChannelPorts(channels: ChannelDef[]): void {
  for (const channel of channels) {
    const address = virtioSerialAddress(channel.info);
    if (!address || address.port !== 0) continue;
    const used = channels
      .map((c) => virtioSerialAddress(c.info))
      .filter((a) => a && a.controller === address.controller && a.bus === address.bus)
      .map((a) => a!.port);
    address.port = Math.max(0, ...used) + 1;
  }
}

/** Virtio channels and consoles need the virtio-serial controller they sit on. */
function addVirtioSerialControllers(devices: CharDevices & StorageDevices): void {
  const onVirtio = [
    ...devices.channels.filter((c) => c.target.type === 'virtio'),
    ...devices.consoles.filter((c) => c.targetType === 'virtio'),
  ];
  for (const dev of onVirtio) ensureController(devices, 'virtio-serial', virtioSerialAddress(dev.info)?.controller ?? 0);
}

export function postParseCharDevices(def: DomainDef): void {
  assignChannelPorts(def.devices.channels);
  addVirtioSerialControllers(def.devices);
}

const isGeneratedSocketChannel = (c: ChannelDef): boolean => c.target.type === 'virtio' || c.target.type === 'xen';

export function validateCharDevices(def: DomainDef): void {
  const { serials, parallels, channels, consoles } = def.devices;
  for (const d of [...serials, ...parallels]) validateCharDevice(d);
  for (const c of channels) validateCharDevice(c, isGeneratedSocketChannel(c));
  for (const c of consoles) validateCharDevice(c);
}

function validateCharDevice(d: CharDeviceCommon, pathOptional = false): void {
  validateDeviceInfo(d.info);
  validateCharSource(d.source, pathOptional);
}

/* ---------- formatting ---------- */

function formatCharDevice(
  b: Builder,
  name: CharDeviceKind,
  d: CharDeviceCommon,
  formatTarget: (el: Builder) => void,
  tty?: string,
): void {
  const el = add(b, name, { type: d.source.type, tty });
  formatCharSource(el, d.source);
  formatTarget(el);
  formatDeviceInfo(el, d.info);
}

function formatChannelTarget(el: Builder, t: ChannelTarget): void {
  switch (t.type) {
    case 'guestfwd':
      add(el, 'target', { type: t.type, address: t.address, port: t.port });
      return;
    case 'virtio':
      add(el, 'target', { type: t.type, name: t.name, state: t.state });
      return;
    case 'xen':
      add(el, 'target', { type: t.type, name: t.name });
      return;
    default:
      add(el, 'target', { type: t.type });
  }
}

/** The legacy `tty` attribute a running domain shows on its first pty console. */
const consoleTty = (c: ConsoleDef): string | undefined =>
  c.port === 0 && c.source.type === 'pty' ? c.source.path : undefined;

export const charFormatters: Partial<Record<DeviceKind, DeviceFormatter<CharDevices>>> = {
  serial: (b, d) =>
    d.serials.forEach((s) =>
      formatCharDevice(b, 'serial', s, (el) => {
        const target = add(el, 'target', { type: s.targetType, port: s.port });
        if (s.targetModel) add(target, 'model', { name: s.targetModel });
      }),
    ),
  parallel: (b, d) =>
    d.parallels.forEach((p) => formatCharDevice(b, 'parallel', p, (el) => add(el, 'target', { port: p.port }))),
  console: (b, d) =>
    d.consoles.forEach((c) =>
      formatCharDevice(b, 'console', c, (el) => add(el, 'target', { type: c.targetType, port: c.port }), consoleTty(c)),
    ),
  channel: (b, d) => d.channels.forEach((c) => formatCharDevice(b, 'channel', c, (el) => formatChannelTarget(el, c.target))),
};
