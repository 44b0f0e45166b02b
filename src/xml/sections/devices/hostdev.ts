/**
 * <hostdev>: host devices handed to the container. Capabilities mode gives
 * it a block or character device node, or moves a host network interface
 * into its namespace; subsystem USB devices get a node under /dev/bus/usb.
 * Subsystem PCI is stored (the LXC driver refuses it at start).
 */
import { attr, child, type XmlElement } from '../../tree.js';
import { add, type Builder } from '../../writer.js';
import { internalError, unsupported, xmlError } from '../../errors.js';
import { xpathText } from '../xml-access.js';
import { parseUIntWrapping } from './props.js';
import { formatDeviceInfo, parseAddress, parseDeviceInfo, type DeviceInfo } from './deviceinfo.js';
import { formatIpConfig, parseIpConfig, type IpConfig } from './netip.js';
import { STARTUP_POLICIES, type StartupPolicy } from './disk.js';

const CAPS_TYPES = ['storage', 'misc', 'net'] as const;
const SUBSYS_TYPES = ['usb', 'pci', 'scsi', 'scsi_host', 'mdev'] as const;
const PCI_BACKENDS = ['kvm', 'vfio', 'xen'] as const;

/** A host block device; the container gets a node at the same path. */
export interface StorageHostdev {
  mode: 'capabilities';
  type: 'storage';
  blockDevice: string;
}

/** A host character device; the container gets a node at the same path. */
export interface MiscHostdev {
  mode: 'capabilities';
  type: 'misc';
  charDevice: string;
}

/** A host network interface moved into the container under its own name. */
export interface NetHostdev {
  mode: 'capabilities';
  type: 'net';
  interfaceName: string;
  /** Stored only: libvirt does not apply these addresses and routes. */
  ip: IpConfig;
}

export interface UsbHostdev {
  mode: 'subsystem';
  type: 'usb';
  managed: boolean;
  startupPolicy?: StartupPolicy;
  /** Match by vendor and product id… */
  product?: { vendorId: number; productId: number };
  /** …and/or by host bus and device number. */
  hostAddress?: { bus: number; device: number };
}

export interface PciHostAddress {
  domain: number;
  bus: number;
  slot: number;
  function: number;
}

export interface PciHostdev {
  mode: 'subsystem';
  type: 'pci';
  managed: boolean;
  /** Host-side driver (<driver name>). */
  backend?: (typeof PCI_BACKENDS)[number];
  hostAddress: PciHostAddress;
}

/** What a hostdev hands over, told apart by mode and type. */
export type HostdevSource = StorageHostdev | MiscHostdev | NetHostdev | UsbHostdev | PciHostdev;

export type HostdevDef = HostdevSource & {
  /** Guest address and boot order, stored only. */
  info: DeviceInfo;
};

function sourceOf(el: XmlElement): XmlElement {
  const source = child(el, 'source');
  if (source === undefined) throw xmlError('Missing <source> element in hostdev device');
  return source;
}

function requiredPath(el: XmlElement, name: string, what: string): string {
  const path = xpathText(el, 'source', name);
  if (path === undefined) throw xmlError(`Missing <${name}> element in hostdev ${what} device`);
  return path;
}

function parseCapabilities(el: XmlElement): HostdevSource {
  const type = attr(el, 'type');
  if (type === undefined) throw xmlError('missing source address type');
  if (!(CAPS_TYPES as readonly string[]).includes(type)) {
    throw unsupported(`unknown host device source address type '${type}'`);
  }
  sourceOf(el); // a missing <source> is reported before a missing <block>/<char>/<interface>
  switch (type as (typeof CAPS_TYPES)[number]) {
    case 'storage':
      return { mode: 'capabilities', type: 'storage', blockDevice: requiredPath(el, 'block', 'storage') };
    case 'misc':
      return { mode: 'capabilities', type: 'misc', charDevice: requiredPath(el, 'char', 'character') };
    case 'net': {
      const interfaceName = requiredPath(el, 'interface', 'net');
      return { mode: 'capabilities', type: 'net', interfaceName, ip: parseIpConfig(el, 'Domain hostdev device') };
    }
  }
}

/** virStrToLong_ui of a required id attribute, with libvirt's USB wording. */
function usbNumber(el: XmlElement | undefined, name: string, missing: string, what: string): number {
  const raw = el && attr(el, name);
  if (raw === undefined) throw internalError(missing);
  const value = parseUIntWrapping(raw, 0);
  if (value === undefined) throw internalError(`cannot parse ${what} ${raw}`);
  return value;
}

function parseUsbStartupPolicy(source: XmlElement): StartupPolicy | undefined {
  const policy = attr(source, 'startupPolicy');
  if (policy === undefined) return undefined;
  if (!(STARTUP_POLICIES as readonly string[]).includes(policy)) throw unsupported(`Unknown startup policy '${policy}'`);
  return policy as StartupPolicy;
}

function parseUsb(source: XmlElement, managed: boolean): UsbHostdev {
  const vendorEl = child(source, 'vendor');
  const productEl = child(source, 'product');
  const addressEl = child(source, 'address');
  const vendorId = vendorEl ? usbNumber(vendorEl, 'id', 'usb vendor needs id', 'vendor id') : 0;
  const productId = productEl ? usbNumber(productEl, 'id', 'usb product needs id', 'product') : 0;
  const bus = addressEl ? usbNumber(addressEl, 'bus', 'usb address needs bus id', 'bus') : 0;
  const device = addressEl ? usbNumber(addressEl, 'device', 'usb address needs device id', 'device') : 0;
  if (vendorId === 0 && productId !== 0) throw internalError('missing vendor');
  if (vendorId !== 0 && productId === 0) throw internalError('missing product');
  const def: UsbHostdev = { mode: 'subsystem', type: 'usb', managed, startupPolicy: parseUsbStartupPolicy(source) };
  if (vendorId !== 0) def.product = { vendorId, productId };
  if (bus !== 0 || device !== 0) def.hostAddress = { bus, device };
  return def;
}

/** The host address has no type attribute but is read like a guest PCI address (virPCIDeviceAddressParseXML). */
function parsePciHostAddress(address: XmlElement | undefined): PciHostAddress {
  if (address === undefined) return { domain: 0, bus: 0, slot: 0, function: 0 };
  const typed: XmlElement = { ...address, attrs: [['type', 'pci'], ...address.attrs.filter(([k]) => k !== 'type')] };
  const parsed = parseAddress(typed);
  if (parsed.type !== 'pci') throw internalError('unexpected PCI address');
  return { domain: parsed.domain, bus: parsed.bus, slot: parsed.slot, function: parsed.function };
}

function parsePciBackend(el: XmlElement): PciHostdev['backend'] {
  const driver = child(el, 'driver');
  const name = driver && attr(driver, 'name');
  if (name === undefined || name === '') return undefined;
  if (!(PCI_BACKENDS as readonly string[]).includes(name)) {
    throw unsupported(`Unknown PCI device <driver name='${name}'/> has been specified`);
  }
  return name as PciHostdev['backend'];
}

function parseSubsystem(el: XmlElement): HostdevSource {
  const managed = attr(el, 'managed') === 'yes';
  const type = attr(el, 'type');
  if (type === undefined) throw xmlError('missing source address type');
  if (!(SUBSYS_TYPES as readonly string[]).includes(type)) {
    throw xmlError(`unknown host device source address type '${type}'`);
  }
  const source = sourceOf(el);
  if (type !== 'usb' && attr(source, 'startupPolicy') !== undefined) {
    throw xmlError('Setting startupPolicy is only allowed for USB devices');
  }
  if (type === 'usb') return parseUsb(source, managed);
  if (type === 'pci') {
    return { mode: 'subsystem', type: 'pci', managed, backend: parsePciBackend(el), hostAddress: parsePciHostAddress(child(source, 'address')) };
  }
  // libvirt stores SCSI and mediated devices, then refuses them at start with this message.
  throw unsupported(`Unsupported hostdev type ${type}`);
}

export function parseHostdev(el: XmlElement): HostdevDef {
  const mode = attr(el, 'mode') ?? 'subsystem';
  let source: HostdevSource;
  if (mode === 'subsystem') source = parseSubsystem(el);
  else if (mode === 'capabilities') source = parseCapabilities(el);
  else throw unsupported(`unknown hostdev mode '${mode}'`);
  return { ...source, info: parseDeviceInfo(el, { allowBoot: true }) };
}

/** virDomainHostdevDefValidate: the guest address kind must suit the host device. */
export function validateHostdev(dev: HostdevDef): void {
  const addressType = dev.info.address?.type;
  if (addressType === undefined || dev.mode !== 'subsystem') return;
  if (dev.type === 'pci' && addressType !== 'pci' && addressType !== 'unassigned') {
    throw internalError("PCI host devices must use 'pci' or 'unassigned' address type");
  }
  if (dev.type === 'usb' && addressType !== 'usb') throw unsupported("USB host device must use 'usb' address type");
}

const hex = (value: number, width: number): string => `0x${value.toString(16).padStart(width, '0')}`;

function formatUsbSource(el: Builder, dev: UsbHostdev): void {
  if (dev.startupPolicy === undefined && dev.product === undefined && dev.hostAddress === undefined) return;
  const source = add(el, 'source', { startupPolicy: dev.startupPolicy });
  if (dev.product) {
    add(source, 'vendor', { id: hex(dev.product.vendorId, 4) });
    add(source, 'product', { id: hex(dev.product.productId, 4) });
  }
  if (dev.hostAddress) add(source, 'address', { bus: dev.hostAddress.bus, device: dev.hostAddress.device });
}

function formatPciSource(el: Builder, dev: PciHostdev): void {
  if (dev.backend) add(el, 'driver', { name: dev.backend });
  const a = dev.hostAddress;
  const source = add(el, 'source');
  add(source, 'address', [
    ['domain', hex(a.domain, 4)],
    ['bus', hex(a.bus, 2)],
    ['slot', hex(a.slot, 2)],
    ['function', `0x${a.function}`],
  ]);
}

function formatSource(el: Builder, dev: HostdevDef): void {
  switch (dev.type) {
    case 'storage':
      add(add(el, 'source'), 'block', {}, dev.blockDevice);
      return;
    case 'misc':
      add(add(el, 'source'), 'char', {}, dev.charDevice);
      return;
    case 'net':
      add(add(el, 'source'), 'interface', {}, dev.interfaceName);
      formatIpConfig(el, dev.ip);
      return;
    case 'usb':
      formatUsbSource(el, dev);
      return;
    case 'pci':
      formatPciSource(el, dev);
  }
}

export function formatHostdev(parent: Builder, dev: HostdevDef): void {
  const managed = dev.mode === 'subsystem' ? dev.managed : undefined;
  const el = add(parent, 'hostdev', [['mode', dev.mode], ['type', dev.type], ['managed', managed]]);
  formatSource(el, dev);
  formatDeviceInfo(el, dev.info);
}
