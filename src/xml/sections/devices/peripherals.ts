/**
 * Peripherals the LXC driver only stores: <smartcard>, <redirdev>,
 * <redirfilter>, <hub>, and <input>, which it rejects at validation.
 */
import { attr, child, elements, textOf, type XmlElement } from '../../tree.js';
import { add, type Builder } from '../../writer.js';
import { internalError, unsupported, xmlError } from '../../errors.js';
import { propEnum, propSwitch, propYesNo, type YesNo } from '../xml-access.js';
import { formatDeviceInfo, parseDeviceInfo, validateDeviceInfo, type DeviceInfo } from './deviceinfo.js';
import {
  formatCharSource,
  isCharSourceType,
  parseCharSource,
  validateCharSource,
  type CharSource,
  type CharSourceType,
} from './chardev.js';
import { parseInt32, propInt } from './props.js';
import { parseVirtioOptions } from './virtio.js';

/** A USB device cannot sit on a non-USB address. */
function checkUsbAddress(info: DeviceInfo): void {
  const type = info.address?.type;
  if (type !== undefined && type !== 'usb') throw xmlError('Invalid address for a USB device');
}

/* ---------- smartcard ---------- */

export type SmartcardDef =
  | { mode: 'host'; info: DeviceInfo }
  | { mode: 'host-certificates'; certificates: [string, string, string]; database?: string; info: DeviceInfo }
  | { mode: 'passthrough'; source: CharSource; info: DeviceInfo };

const SMARTCARD_MODES = ['host', 'host-certificates', 'passthrough'] as const;

function parseCertificates(el: XmlElement): Pick<Extract<SmartcardDef, { mode: 'host-certificates' }>, 'certificates' | 'database'> {
  const certs = elements(el, 'certificate');
  if (certs.length !== 3) throw xmlError('host-certificates mode needs exactly three certificates');
  const database = child(el, 'database');
  const dbPath = database && textOf(database);
  if (dbPath !== undefined && dbPath !== '' && !dbPath.startsWith('/')) {
    throw xmlError(`expecting absolute path: ${dbPath}`);
  }
  return { certificates: certs.map(textOf) as [string, string, string], database: dbPath || undefined };
}

function parsePassthroughSource(el: XmlElement): CharSource {
  const type = attr(el, 'type');
  if (type === undefined) throw xmlError('passthrough mode requires a character device type attribute');
  if (!isCharSourceType(type)) throw unsupported(`unknown type presented to host for character device: ${type}`);
  return parseCharSource(el, type);
}

export function parseSmartcard(el: XmlElement): SmartcardDef {
  const mode = propEnum(el, 'mode', SMARTCARD_MODES, true)!;
  switch (mode) {
    case 'host':
      return { mode, info: parseDeviceInfo(el) };
    case 'host-certificates': {
      const certs = parseCertificates(el);
      return { mode, ...certs, info: parseDeviceInfo(el) };
    }
    case 'passthrough': {
      const source = parsePassthroughSource(el);
      return { mode, source, info: parseDeviceInfo(el) };
    }
  }
}

export function formatSmartcard(b: Builder, s: SmartcardDef): void {
  const el = add(b, 'smartcard', { mode: s.mode, type: s.mode === 'passthrough' ? s.source.type : undefined });
  if (s.mode === 'host-certificates') {
    for (const c of s.certificates) add(el, 'certificate', {}, c);
    if (s.database !== undefined) add(el, 'database', {}, s.database);
  }
  if (s.mode === 'passthrough') formatCharSource(el, s.source);
  formatDeviceInfo(el, s.info);
}

export function validateSmartcard(s: SmartcardDef): void {
  validateDeviceInfo(s.info);
  const type = s.info.address?.type;
  if (type !== undefined && type !== 'ccid') throw unsupported("Controllers must use the 'ccid' address type");
  if (s.mode === 'passthrough') validateCharSource(s.source);
}

/* ---------- input (parsed for its errors, then refused) ---------- */

export const INPUT_TYPES = ['mouse', 'tablet', 'keyboard', 'passthrough', 'evdev'] as const;
export const INPUT_BUSES = ['ps2', 'usb', 'xen', 'parallels', 'virtio', 'none'] as const;
export const INPUT_MODELS = ['virtio', 'virtio-transitional', 'virtio-non-transitional'] as const;

/**
 * An <input> device. The LXC driver refuses every one of them ("Input
 * devices are not supported by this virtualization driver."), so a
 * definition that passed validation never has any, and none is formatted.
 */
export interface InputDef {
  type: (typeof INPUT_TYPES)[number];
  bus?: (typeof INPUT_BUSES)[number];
  model?: (typeof INPUT_MODELS)[number];
  info: DeviceInfo;
}

function knownValue<T extends string>(raw: string | undefined, values: readonly T[], error: (v: string) => Error): T | undefined {
  if (raw === undefined) return undefined;
  if (!(values as readonly string[]).includes(raw)) throw error(raw);
  return raw as T;
}

const GRAB_TOGGLES = ['ctrl-ctrl', 'alt-alt', 'shift-shift', 'meta-meta', 'scrolllock', 'ctrl-scrolllock'] as const;

/** The host event device of a passthrough or evdev input: only its errors matter here. */
function checkInputSource(el: XmlElement, type: InputDef['type']): void {
  const source = child(el, 'source');
  if (!source || (type !== 'passthrough' && type !== 'evdev')) return;
  if (attr(source, type === 'evdev' ? 'dev' : 'evdev') === undefined) {
    throw xmlError('Missing evdev path for input device');
  }
  if (type === 'evdev') {
    propEnum(source, 'grab', ['all'] as const);
    propEnum(source, 'grabToggle', GRAB_TOGGLES);
    propSwitch(source, 'repeat');
  }
}

/** virDomainInputDefParseXML; `usbDisabled` when the USB controller is model none. */
export function parseInput(el: XmlElement, usbDisabled: boolean): InputDef {
  const rawType = attr(el, 'type');
  if (rawType === undefined) throw internalError('missing input device type');
  const type = knownValue(rawType, INPUT_TYPES, (v) => unsupported(`unknown input device type '${v}'`))!;
  const model = knownValue(attr(el, 'model'), INPUT_MODELS, (v) => unsupported(`unknown input model '${v}'`));
  const bus = knownValue(attr(el, 'bus'), INPUT_BUSES, (v) => unsupported(`unknown input bus type '${v}'`));
  const info = parseDeviceInfo(el);
  if (bus === 'usb') checkUsbAddress(info);
  checkInputSource(el, type);
  parseVirtioOptions(child(el, 'driver'));
  if (bus === 'usb' && usbDisabled) throw unsupported("Can't add USB input device. USB bus is disabled");
  return { type, bus, model, info };
}

/** virDomainInputDefValidate for a domain whose OS type is exe. */
export function validateInput(_input: InputDef): void {
  throw internalError('Input devices are not supported by this virtualization driver.');
}

/* ---------- redirdev ---------- */

export interface RedirdevDef {
  bus: 'usb';
  source: CharSource;
  info: DeviceInfo;
}

export function parseRedirdev(el: XmlElement): RedirdevDef {
  const bus = attr(el, 'bus');
  if (bus !== undefined && bus !== 'usb') throw unsupported(`unknown redirdev bus '${bus}'`);
  const type = attr(el, 'type');
  if (type === undefined) throw internalError('missing type in redirdev');
  if (!isCharSourceType(type)) throw unsupported(`unknown redirdev character device type '${type}'`);
  const source = parseCharSource(el, type as CharSourceType);
  if (source.type === 'dbus') source.channel ??= 'org.qemu.usbredir';
  const info = parseDeviceInfo(el, { allowBoot: true });
  checkUsbAddress(info);
  return { bus: 'usb', source, info };
}

export function formatRedirdev(b: Builder, r: RedirdevDef): void {
  const el = add(b, 'redirdev', { bus: r.bus, type: r.source.type });
  formatCharSource(el, r.source);
  formatDeviceInfo(el, r.info);
}

/** `usbEnabled`: the domain has a USB controller whose model is not none (virDomainDefHasUSB). */
export function validateRedirdev(r: RedirdevDef, usbEnabled: boolean): void {
  validateDeviceInfo(r.info);
  if (!usbEnabled) throw unsupported('cannot add redirected USB device: USB is disabled for this domain');
  validateCharSource(r.source);
}

/* ---------- redirfilter ---------- */

/** One USB filter rule; -1 is "any", as in libvirt. */
export interface RedirFilterRule {
  usbClass: number;
  vendor: number;
  product: number;
  /** BCD, e.g. 0x0200 for 2.0. */
  version: number;
  allow: boolean;
}

/** "JJ.MN" to BCD 0xJJMN; "JJ.M" means JJ.M0. */
function parseUsbVersion(raw: string): number {
  const m = /^([^.]*)\.(.*)$/.exec(raw);
  const major = m ? parseInt32(m[1]!) : undefined;
  let minor = m ? parseInt32(m[2]!) : undefined;
  if (major === undefined || minor === undefined || major < 0 || minor < 0 || major >= 100 || minor >= 100) {
    throw xmlError(`Cannot parse USB device version ${raw}`);
  }
  if (m![2]!.length === 1) minor *= 10;
  return (Math.floor(major / 10) << 12) | ((major % 10) << 8) | (Math.floor(minor / 10) << 4) | (minor % 10);
}

function parseRedirFilterRule(el: XmlElement): RedirFilterRule {
  const usbClass = propInt(el, 'class', { base: 0 }) ?? -1;
  if (usbClass !== -1 && (usbClass & ~0xff) !== 0) {
    throw internalError(`Invalid USB Class code 0x${(usbClass >>> 0).toString(16)}`);
  }
  const vendor = propInt(el, 'vendor', { base: 0 }) ?? -1;
  const product = propInt(el, 'product', { base: 0 }) ?? -1;
  const rawVersion = attr(el, 'version');
  const version = rawVersion === undefined || rawVersion === '-1' ? -1 : parseUsbVersion(rawVersion);
  const allow = propYesNo(el, 'allow', true) === 'yes';
  return { usbClass, vendor, product, version, allow };
}

export const parseRedirFilter = (el: XmlElement): RedirFilterRule[] => elements(el, 'usbdev').map(parseRedirFilterRule);

const hexUpper = (v: number, width: number): string => `0x${v.toString(16).toUpperCase().padStart(width, '0')}`;

function formatUsbVersion(v: number): string {
  const major = ((v & 0xf000) >> 12) * 10 + ((v & 0x0f00) >> 8);
  const minor = ((v & 0x00f0) >> 4) * 10 + (v & 0x000f);
  return `${major}.${String(minor).padStart(2, '0')}`;
}

/** An empty filter is not printed. */
export function formatRedirFilter(b: Builder, rules: readonly RedirFilterRule[]): void {
  if (rules.length === 0) return;
  const el = add(b, 'redirfilter');
  for (const r of rules) {
    add(el, 'usbdev', [
      ['class', r.usbClass >= 0 ? hexUpper(r.usbClass, 2) : undefined],
      ['vendor', r.vendor >= 0 ? hexUpper(r.vendor, 4) : undefined],
      ['product', r.product >= 0 ? hexUpper(r.product, 4) : undefined],
      ['version', r.version >= 0 ? formatUsbVersion(r.version) : undefined],
      ['allow', (r.allow ? 'yes' : 'no') satisfies YesNo],
    ]);
  }
}

/* ---------- hub ---------- */

export interface HubDef {
  type: 'usb';
  info: DeviceInfo;
}

/** virDomainHubDefParseXML; `usbDisabled` when the USB controller is model none. */
export function parseHub(el: XmlElement, usbDisabled: boolean): HubDef {
  const type = attr(el, 'type');
  if (type === undefined) throw internalError('missing hub device type');
  if (type !== 'usb') throw unsupported(`unknown hub device type '${type}'`);
  const info = parseDeviceInfo(el);
  if (usbDisabled) throw unsupported("Can't add USB hub: USB is disabled for this domain");
  return { type, info };
}

export function formatHub(b: Builder, h: HubDef): void {
  formatDeviceInfo(add(b, 'hub', { type: h.type }), h.info);
}
