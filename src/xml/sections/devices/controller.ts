/**
 * <controller>: parsed, stored and formatted; the LXC driver never uses
 * them. Implicit controllers (for disk drive addresses, and the
 * virtio-serial one a <channel> needs) are added with ensureController.
 */
import { attr, child, type XmlElement } from '../../tree.js';
import { add, type Builder } from '../../writer.js';
import { VirError, unsupported, xmlError } from '../../errors.js';
import { propEnum, propSwitch, type Switch } from '../xml-access.js';
import { propInt, propUInt } from './props.js';
import { formatDeviceInfo, parseDeviceInfo, validateDeviceInfo, type DeviceInfo } from './deviceinfo.js';

export const CONTROLLER_TYPES = [
  'ide', 'fdc', 'scsi', 'sata', 'virtio-serial', 'ccid', 'usb', 'pci', 'xenbus', 'isa',
] as const;
export type ControllerType = (typeof CONTROLLER_TYPES)[number];

/** Model names libvirt knows per controller type; types not listed take no model. */
const MODELS: Partial<Record<ControllerType, readonly string[]>> = {
  scsi: [
    'auto', 'buslogic', 'lsilogic', 'lsisas1068', 'vmpvscsi', 'ibmvscsi', 'virtio-scsi', 'lsisas1078',
    'virtio-transitional', 'virtio-non-transitional', 'ncr53c90', 'am53c974', 'dc390',
  ],
  usb: [
    'piix3-uhci', 'piix4-uhci', 'ehci', 'ich9-ehci1', 'ich9-uhci1', 'ich9-uhci2', 'ich9-uhci3',
    'vt82c686b-uhci', 'pci-ohci', 'nec-xhci', 'qusb1', 'qusb2', 'qemu-xhci', 'none',
  ],
  pci: [
    'pci-root', 'pcie-root', 'pci-bridge', 'dmi-to-pci-bridge', 'pcie-to-pci-bridge', 'pcie-root-port',
    'pcie-switch-upstream-port', 'pcie-switch-downstream-port', 'pci-expander-bus', 'pcie-expander-bus',
  ],
  ide: ['piix3', 'piix4', 'ich6'],
  'virtio-serial': ['virtio', 'virtio-transitional', 'virtio-non-transitional'],
  isa: ['bridge'],
};

/** USB 2 companion controllers and the first port each one serves by default. */
const USB2_COMPANION_START_PORT: Readonly<Record<string, number | undefined>> = {
  'ich9-ehci1': undefined,
  'ich9-uhci1': 0,
  'ich9-uhci2': 2,
  'ich9-uhci3': 4,
};

export interface ControllerDriverDef {
  queues?: number;
  cmdPerLun?: number;
  maxSectors?: number;
  ioeventfd?: Switch;
  iothread?: number;
}

export interface ControllerDef {
  type: ControllerType;
  /** Assigned the lowest free index of its type when the XML gives none. */
  index: number;
  model?: string;
  /** usb and virtio-serial only. */
  ports?: number;
  /** virtio-serial only. */
  vectors?: number;
  driver?: ControllerDriverDef;
  /** Guest address; a USB 1 companion's master port (ich9-uhciN default to 0, 2, 4). */
  info: DeviceInfo;
}

const UNASSIGNED = -1;

const isUsb2 = (c: ControllerDef): boolean => c.type === 'usb' && c.model !== undefined && c.model in USB2_COMPANION_START_PORT;

function parseModel(el: XmlElement, type: ControllerType): string | undefined {
  const model = attr(el, 'model');
  if (model === undefined) return undefined;
  if (!MODELS[type]?.includes(model)) throw unsupported(`Unknown model type '${model}'`);
  return model;
}

function parseDriver(el: XmlElement): ControllerDriverDef | undefined {
  const driver = child(el, 'driver');
  if (driver === undefined) return undefined;
  // 0 means "not set" for the numbers, as in libvirt.
  const positive = (name: string): number | undefined => propUInt(driver, name) || undefined;
  const def: ControllerDriverDef = {
    queues: positive('queues'),
    cmdPerLun: positive('cmd_per_lun'),
    maxSectors: positive('max_sectors'),
    ioeventfd: propSwitch(driver, 'ioeventfd'),
    iothread: positive('iothread'),
  };
  return Object.values(def).some((v) => v !== undefined) ? def : undefined;
}

/** virXMLPropInt with VIR_XML_PROP_NONNEGATIVE. */
function propNonNegativeInt(el: XmlElement, name: string): number | undefined {
  const value = propInt(el, name);
  if (value !== undefined && value < 0) {
    throw xmlError(`Invalid value for attribute '${name}' in element '${el.local}': '${attr(el, name)}'. Expected non-negative value`);
  }
  return value;
}

export function parseController(el: XmlElement): ControllerDef {
  const type = propEnum(el, 'type', CONTROLLER_TYPES) ?? 'ide';
  const model = parseModel(el, type);
  const index = propNonNegativeInt(el, 'index') ?? UNASSIGNED;
  const driver = parseDriver(el);
  // libvirt ignores the address of a disabled USB bus.
  const info = type === 'usb' && model === 'none' ? {} : parseDeviceInfo(el);
  const ports = propNonNegativeInt(el, 'ports');
  const def: ControllerDef = { type, index, model, driver, info };
  if (type === 'usb' || type === 'virtio-serial') def.ports = ports;
  if (type === 'virtio-serial') def.vectors = propNonNegativeInt(el, 'vectors');
  const defaultStartPort = model === undefined ? undefined : USB2_COMPANION_START_PORT[model];
  if (type === 'usb' && info.usbMasterStartPort === undefined && defaultStartPort !== undefined) {
    info.usbMasterStartPort = defaultStartPort;
  }
  return def;
}

/** libvirt's sanity rule: a USB controller of model 'none' excludes every other USB controller. */
function checkUsbNone(controllers: readonly ControllerDef[]): void {
  let sawUsb = false;
  let sawNone = false;
  for (const c of controllers) {
    if (c.type !== 'usb') continue;
    if (sawNone || (sawUsb && c.model === 'none')) {
      throw new VirError('VIR_ERR_XML_DETAIL', "Can't add another USB controller: USB is disabled for this domain");
    }
    sawUsb = true;
    sawNone = c.model === 'none';
  }
}

/**
 * virDomainControllerInsertPreAlloced: keep controllers of one type sorted
 * by index (a USB 2 master before its companions), other types in arrival order.
 */
function insertController(list: ControllerDef[], c: ControllerDef): void {
  let insertAt = -1;
  for (let i = list.length - 1; i >= 0; i--) {
    const current = list[i]!;
    if (current.type !== c.type) continue;
    if (c.index === UNASSIGNED) {
      insertAt = i + 1;
      break;
    }
    if (current.index > c.index) insertAt = i;
    else if (c.info.usbMasterStartPort === undefined && current.info.usbMasterStartPort !== undefined && current.index === c.index) {
      insertAt = i;
    } else if (insertAt === -1) insertAt = i + 1;
  }
  list.splice(insertAt === -1 ? list.length : insertAt, 0, c);
}

const unusedIndex = (list: readonly ControllerDef[], type: ControllerType): number => {
  let index = 0;
  while (list.some((c) => c.type === type && c.index === index)) index++;
  return index;
};

/** A USB 2 companion listed right after its master shares the master's index. */
function companionIndex(list: readonly ControllerDef[], position: number): number | undefined {
  const cont = list[position]!;
  let prev: ControllerDef | undefined;
  for (let i = position - 1; i >= 0 && prev === undefined; i--) if (list[i]!.type === 'usb') prev = list[i];
  if (prev === undefined || !isUsb2(prev)) return undefined;
  const taken = list.some((c) => c.type === 'usb' && c.index === prev.index && c.model === cont.model);
  return taken ? undefined : prev.index;
}

/** virDomainAssignControllerIndexes. */
function assignIndexes(list: ControllerDef[]): void {
  let reinsert = false;
  list.forEach((cont, position) => {
    if (cont.index !== UNASSIGNED) return;
    let index: number | undefined;
    if (position > 0 && isUsb2(cont)) {
      reinsert = true;
      index = companionIndex(list, position);
    }
    cont.index = index ?? unusedIndex(list, cont.type);
  });
  if (reinsert) for (const c of list.splice(0)) insertController(list, c);
}

export function parseControllers(els: readonly XmlElement[]): ControllerDef[] {
  const parsed = els.map(parseController);
  checkUsbNone(parsed);
  const list: ControllerDef[] = [];
  for (const c of parsed) insertController(list, c);
  assignIndexes(list);
  return list;
}

/** virDomainDefMaybeAddController: add a controller unless one of that type and index exists. */
export function addControllerIfMissing(list: ControllerDef[], type: ControllerType, index: number, model?: string): void {
  if (index >= 0 && list.some((c) => c.type === type && c.index === index)) return;
  const def: ControllerDef = { type, index: index >= 0 ? index : unusedIndex(list, type), info: {} };
  if (model !== undefined) def.model = model;
  insertController(list, def);
}

export const validateController = (c: ControllerDef): void => validateDeviceInfo(c.info);

/** virDomainDefRejectDuplicateControllers (several USB controllers may share an index). */
export function rejectDuplicateControllers(list: readonly ControllerDef[]): void {
  const seen = new Set<string>();
  for (const c of list) {
    if (c.type === 'usb') continue;
    const key = `${c.type}/${c.index}`;
    if (seen.has(key)) throw xmlError(`Multiple '${c.type}' controllers with index '${c.index}'`);
    seen.add(key);
  }
}

/** True when a USB controller of model 'none' disables USB for the domain. */
export const isUsbDisabled = (list: readonly ControllerDef[]): boolean =>
  list.some((c) => c.type === 'usb' && c.model === 'none');

function formatDriver(el: Builder, driver: ControllerDriverDef | undefined): void {
  if (driver === undefined) return;
  add(el, 'driver', [
    ['queues', driver.queues],
    ['cmd_per_lun', driver.cmdPerLun],
    ['max_sectors', driver.maxSectors],
    ['ioeventfd', driver.ioeventfd],
    ['iothread', driver.iothread],
  ]);
}

export function formatController(parent: Builder, c: ControllerDef): void {
  const el = add(parent, 'controller', [
    ['type', c.type],
    ['index', c.index],
    ['model', c.model],
    ['ports', c.ports],
    ['vectors', c.vectors],
  ]);
  formatDriver(el, c.driver);
  formatDeviceInfo(el, c.info);
}
