/**
 * What libvirt keeps for every device besides its own settings
 * (virDomainDeviceInfo): the guest address, the ACPI index, a boot order
 * for bootable devices, and the live-only alias.
 */
import { attr, child, elements, type XmlElement } from '../../tree.js';
import { add, type Builder } from '../../writer.js';
import { internalError, unsupported, xmlError } from '../../errors.js';
import { propSwitch, type Switch } from '../xml-access.js';
import { parseUIntStrict, propUInt, propULongLong } from './props.js';

export type DeviceAddress =
  | {
      type: 'pci';
      domain: number;
      bus: number;
      slot: number;
      function: number;
      multifunction?: Switch;
      zpci?: { uid?: number; fid?: number };
    }
  | { type: 'drive'; controller: number; bus: number; target: number; unit: number }
  | { type: 'virtio-serial'; controller: number; bus: number; port: number }
  | { type: 'ccid'; controller: number; slot: number }
  /** `port` is the hub path, e.g. [1, 2] for port='1.2'. */
  | { type: 'usb'; bus: number; port: number[] }
  | { type: 'spapr-vio'; reg?: bigint }
  | { type: 'ccw'; cssid: number; ssid: number; devno: number }
  | { type: 'isa'; iobase: number; irq: number }
  | { type: 'dimm'; slot: number; base: bigint }
  | { type: 'virtio-mmio' | 'virtio-s390' | 'unassigned' };

export type DeviceAddressType = DeviceAddress['type'];

export interface DeviceInfo {
  address?: DeviceAddress;
  /** `<acpi index>`, 0 = unset. */
  acpiIndex?: number;
  /** `<boot order>`, for devices libvirt lets boot. */
  bootOrder?: number;
  /** `<master startport>` of a USB companion. */
  usbMasterStartPort?: number;
  /**
   * Device alias. Only a running domain has one: libvirt drops aliases
   * from definitions (the LXC driver allows no user aliases).
   */
  alias?: string;
}

const ADDRESS_TYPES: readonly DeviceAddressType[] = [
  'pci', 'drive', 'virtio-serial', 'ccid', 'usb', 'spapr-vio', 'virtio-s390', 'ccw', 'virtio-mmio', 'isa', 'dimm',
  'unassigned',
];

const USB_MAX_PORT_DEPTH = 4;

const uint = (el: XmlElement, name: string, base: 0 | 10 | 16 = 10): number => propUInt(el, name, { base }) ?? 0;

function parsePciAddress(el: XmlElement): DeviceAddress {
  const addr = {
    type: 'pci' as const,
    domain: uint(el, 'domain', 0),
    bus: uint(el, 'bus', 0),
    slot: uint(el, 'slot', 0),
    function: uint(el, 'function', 0),
    multifunction: propSwitch(el, 'multifunction'),
  };
  const empty = addr.domain === 0 && addr.bus === 0 && addr.slot === 0 && addr.function === 0;
  if (!empty) checkPciAddress(addr);
  const zpci = elements(el, 'zpci').pop();
  if (zpci === undefined) return addr;
  return { ...addr, zpci: { uid: propUInt(zpci, 'uid', { base: 0 }), fid: propUInt(zpci, 'fid', { base: 0 }) } };
}

/** virPCIDeviceAddressIsValid with error reporting. */
function checkPciAddress(a: { domain: number; bus: number; slot: number; function: number }): void {
  const h = (v: number): string => v.toString(16);
  if (a.domain > 0xffff) throw xmlError(`Invalid PCI address domain='0x${h(a.domain)}', must be <= 0xFFFF`);
  if (a.bus > 0xff) throw xmlError(`Invalid PCI address bus='0x${h(a.bus)}', must be <= 0xFF`);
  if (a.slot > 0x1f) throw xmlError(`Invalid PCI address slot='0x${h(a.slot)}', must be <= 0x1F`);
  if (a.function > 7) throw xmlError(`Invalid PCI address function=0x${h(a.function)}, must be <= 7`);
  if (a.domain === 0 && a.bus === 0 && a.slot === 0) {
    throw xmlError('Invalid PCI address 0000:00:00, at least one of domain, bus, or slot must be > 0');
  }
}

function parseUsbPort(text: string): number[] {
  const parts = text.split('.');
  const port = parts.map((p) => parseUIntStrict(p));
  if (parts.length > USB_MAX_PORT_DEPTH || port.some((p) => p === undefined)) {
    throw internalError("Cannot parse <address> 'port' attribute");
  }
  return port as number[];
}

function parseCcwAddress(el: XmlElement): DeviceAddress {
  const cssid = propUInt(el, 'cssid', { base: 0 });
  const ssid = propUInt(el, 'ssid', { base: 0 });
  const devno = propUInt(el, 'devno', { base: 0 });
  const addr = { type: 'ccw' as const, cssid: cssid ?? 0, ssid: ssid ?? 0, devno: devno ?? 0 };
  if (addr.cssid > 0xfe || addr.ssid > 3 || addr.devno > 0xffff) {
    throw internalError(
      `Invalid specification for virtio ccw address: cssid='0x${addr.cssid.toString(16)}' ssid='0x${addr.ssid.toString(16)}' devno='0x${addr.devno.toString(16).padStart(4, '0')}'`,
    );
  }
  const given = [cssid, ssid, devno].filter((v) => v !== undefined && v !== 0).length;
  if (given > 0 && given < 3) throw internalError('Invalid partial specification for virtio ccw address');
  return addr;
}

/** virDomainDeviceAddressParseXML. */
export function parseAddress(el: XmlElement): DeviceAddress {
  const type = attr(el, 'type');
  if (type === undefined) throw internalError('No type specified for device address');
  if (!(ADDRESS_TYPES as readonly string[]).includes(type)) throw unsupported(`unknown address type '${type}'`);
  switch (type as DeviceAddressType) {
    case 'pci':
      return parsePciAddress(el);
    case 'drive':
      return { type: 'drive', controller: uint(el, 'controller'), bus: uint(el, 'bus'), target: uint(el, 'target'), unit: uint(el, 'unit') };
    case 'virtio-serial':
      return { type: 'virtio-serial', controller: uint(el, 'controller'), bus: uint(el, 'bus'), port: uint(el, 'port') };
    case 'ccid':
      return { type: 'ccid', controller: uint(el, 'controller'), slot: uint(el, 'slot') };
    case 'usb': {
      const port = attr(el, 'port');
      const path = port === undefined ? [] : parseUsbPort(port);
      return { type: 'usb', bus: uint(el, 'bus'), port: path };
    }
    case 'spapr-vio':
      return { type: 'spapr-vio', reg: propULongLong(el, 'reg', { base: 16 }) };
    case 'ccw':
      return parseCcwAddress(el);
    case 'isa':
      return { type: 'isa', iobase: uint(el, 'iobase', 16), irq: uint(el, 'irq', 16) };
    case 'dimm':
      return { type: 'dimm', slot: uint(el, 'slot'), base: propULongLong(el, 'base', { base: 16 }) ?? 0n };
    default:
      return { type: type as 'virtio-mmio' | 'virtio-s390' | 'unassigned' };
  }
}

export interface DeviceInfoOptions {
  /** The device may carry `<boot order>` (VIR_DOMAIN_DEF_PARSE_ALLOW_BOOT). */
  allowBoot?: boolean;
}

/** virDomainDeviceInfoParseXML for an inactive definition. */
export function parseDeviceInfo(el: XmlElement, opts: DeviceInfoOptions = {}): DeviceInfo {
  const info: DeviceInfo = {};
  const master = child(el, 'master');
  if (master) info.usbMasterStartPort = propUInt(master, 'startport') ?? 0;
  const boot = opts.allowBoot ? child(el, 'boot') : undefined;
  if (boot) info.bootOrder = propUInt(boot, 'order', { required: true, nonZero: true });
  const acpi = child(el, 'acpi');
  if (acpi) {
    const index = propUInt(acpi, 'index');
    if (index) info.acpiIndex = index;
  }
  const address = child(el, 'address');
  if (address) info.address = parseAddress(address);
  return info;
}

const hex = (v: number | bigint, width = 0): string => `0x${v.toString(16).padStart(width, '0')}`;

function addressAttrs(a: DeviceAddress): Array<[string, string | number | undefined]> {
  switch (a.type) {
    case 'pci': {
      const empty = a.domain === 0 && a.bus === 0 && a.slot === 0 && a.function === 0;
      const where: Array<[string, string]> = empty
        ? []
        : [['domain', hex(a.domain, 4)], ['bus', hex(a.bus, 2)], ['slot', hex(a.slot, 2)], ['function', `0x${a.function}`]];
      return [...where, ['multifunction', a.multifunction]];
    }
    case 'drive':
      return [['controller', a.controller], ['bus', a.bus], ['target', a.target], ['unit', a.unit]];
    case 'virtio-serial':
      return [['controller', a.controller], ['bus', a.bus], ['port', a.port]];
    case 'ccid':
      return [['controller', a.controller], ['slot', a.slot]];
    case 'usb':
      return [['bus', a.bus], ['port', a.port.length > 0 && a.port[0] !== 0 ? a.port.join('.') : undefined]];
    case 'spapr-vio':
      return [['reg', a.reg === undefined ? undefined : hex(a.reg, 8)]];
    case 'ccw':
      return [['cssid', hex(a.cssid)], ['ssid', hex(a.ssid)], ['devno', hex(a.devno, 4)]];
    case 'isa':
      return [['iobase', a.iobase > 0 ? hex(a.iobase) : undefined], ['irq', a.irq > 0 ? hex(a.irq) : undefined]];
    case 'dimm':
      return [['slot', a.slot], ['base', a.base ? hex(a.base) : undefined]];
    default:
      return [];
  }
}

function formatAddress(b: Builder, a: DeviceAddress): void {
  if (a.type === 'virtio-s390') return;
  const el = add(b, 'address', [['type', a.type], ...addressAttrs(a)]);
  const zpci = a.type === 'pci' ? a.zpci : undefined;
  if (zpci && (zpci.uid !== undefined || zpci.fid !== undefined)) {
    add(el, 'zpci', { uid: hex(zpci.uid ?? 0, 4), fid: hex(zpci.fid ?? 0, 8) });
  }
}

/** True when formatDeviceInfo would print nothing. */
export const deviceInfoIsEmpty = (info: DeviceInfo): boolean =>
  !info.bootOrder &&
  info.alias === undefined &&
  info.usbMasterStartPort === undefined &&
  !info.acpiIndex &&
  (info.address === undefined || info.address.type === 'virtio-s390');

/** virDomainDeviceInfoFormat: boot, alias, master, acpi, address. */
export function formatDeviceInfo(b: Builder, info: DeviceInfo): void {
  if (info.bootOrder) add(b, 'boot', { order: info.bootOrder });
  if (info.alias !== undefined) add(b, 'alias', { name: info.alias });
  if (info.usbMasterStartPort !== undefined) add(b, 'master', { startport: info.usbMasterStartPort });
  if (info.acpiIndex) add(b, 'acpi', { index: info.acpiIndex });
  if (info.address) formatAddress(b, info.address);
}

/** The 'unassigned' address type is for host devices only (virDomainDeviceInfoValidate). */
export function validateDeviceInfo(info: DeviceInfo): void {
  if (info.address?.type === 'unassigned') {
    throw unsupported("address of type 'unassigned' is supported only for hostdevs");
  }
}

export const addressTypeOf = (info: DeviceInfo): DeviceAddressType | 'none' => info.address?.type ?? 'none';

