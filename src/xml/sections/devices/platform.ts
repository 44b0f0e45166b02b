/**
 * Virtual-machine platform devices the LXC driver only stores: <tpm>,
 * <watchdog>, <memballoon>, <rng>, <nvram>, <panic>, <shmem>, <iommu>,
 * <vsock>; and <memory> devices, which it refuses.
 */
import { attr, child, elements, textOf, type XmlElement } from '../../tree.js';
import { add, type Builder } from '../../writer.js';
import { internalError, invalidValue, unsupported, xmlError } from '../../errors.js';
import { propEnum, propSwitch, propYesNo, type Switch, type YesNo } from '../xml-access.js';
import { parseUUID } from '../general.js';
import { parseUnsigned, scaleInteger, ULLONG_MAX } from '../../units.js';
import { deviceInfoIsEmpty, formatDeviceInfo, parseDeviceInfo, validateDeviceInfo, type DeviceInfo } from './deviceinfo.js';
import {
  formatCharSource,
  isCharSourceType,
  parseCharSource,
  validateCharSource,
  type CharSource,
} from './chardev.js';
import { parseUIntWrapping, propInt, propUInt } from './props.js';
import { formatVirtioOptions, parseVirtioOptions, validateNoVirtioOptions, type VirtioOptions } from './virtio.js';

const VIRTIO_MODELS = ['virtio', 'virtio-transitional', 'virtio-non-transitional'] as const;
type VirtioModel = (typeof VIRTIO_MODELS)[number];

/** The `<driver>` of virtio options, printed only when it says something. */
function formatVirtioDriver(el: Builder, virtio: VirtioOptions | undefined): void {
  const attrs = formatVirtioOptions(virtio);
  if (attrs.length > 0) add(el, 'driver', attrs);
}

/* ---------- tpm ---------- */

export const TPM_MODELS = ['tpm-tis', 'tpm-crb', 'tpm-spapr', 'spapr-tpm-proxy'] as const;
export const TPM_PCR_BANKS = ['sha1', 'sha256', 'sha384', 'sha512'] as const;
export type TpmPcrBank = (typeof TPM_PCR_BANKS)[number];

export type TpmBackend =
  | { type: 'passthrough'; devicePath: string }
  | {
      type: 'emulator';
      version?: '1.2' | '2.0';
      persistentState: boolean;
      /** UUID of the secret that encrypts the emulator's state. */
      encryptionSecret?: string;
      activePcrBanks?: TpmPcrBank[];
    }
  | { type: 'external'; source: CharSource };

export interface TpmDef {
  model?: (typeof TPM_MODELS)[number];
  backend: TpmBackend;
  info: DeviceInfo;
}

function parseTpmSecret(backend: XmlElement): string | undefined {
  const encryption = child(backend, 'encryption');
  const secret = encryption && attr(encryption, 'secret');
  if (!secret) return undefined;
  const uuid = parseUUID(secret);
  if (uuid === undefined) throw internalError(`Unable to parse secret uuid '${secret}'`);
  return uuid;
}

function parseTpmPcrBanks(backend: XmlElement): TpmPcrBank[] {
  return elements(backend, 'active_pcr_banks')
    .flatMap((banks) => elements(banks))
    .map((bank) => {
      if (!(TPM_PCR_BANKS as readonly string[]).includes(bank.local)) {
        throw unsupported(`Unsupported PCR banks '${bank.local}'`);
      }
      return bank.local as TpmPcrBank;
    });
}

function parseTpmEmulator(backend: XmlElement): TpmBackend {
  const version = propEnum(backend, 'version', ['1.2', '2.0'] as const);
  const encryptionSecret = parseTpmSecret(backend);
  const persistent = attr(backend, 'persistent_state');
  if (persistent !== undefined && persistent !== 'yes' && persistent !== 'no') {
    throw internalError("Invalid persistent_state value, either 'yes' or 'no'");
  }
  const activePcrBanks = parseTpmPcrBanks(backend);
  return {
    type: 'emulator',
    version,
    persistentState: persistent === 'yes',
    encryptionSecret,
    activePcrBanks: activePcrBanks.length > 0 ? activePcrBanks : undefined,
  };
}

function parseTpmExternal(backend: XmlElement): TpmBackend {
  const source = child(backend, 'source');
  const type = source && attr(source, 'type');
  if (!type) throw xmlError('missing external TPM backend source type');
  if (!isCharSourceType(type)) throw unsupported(`unknown backend source type '${type}' for external TPM`);
  return { type: 'external', source: parseCharSource(backend, type) };
}

export function parseTpm(el: XmlElement): TpmDef {
  const model = propEnum(el, 'model', TPM_MODELS);
  const backends = elements(el, 'backend');
  if (backends.length > 1) throw xmlError('only one TPM backend is supported');
  const backendEl = backends[0];
  if (backendEl === undefined) throw xmlError('missing TPM device backend');
  const type = propEnum(backendEl, 'type', ['passthrough', 'emulator', 'external'] as const, true)!;
  let backend: TpmBackend;
  if (type === 'passthrough') {
    const device = child(backendEl, 'device');
    backend = { type, devicePath: (device && attr(device, 'path')) || '/dev/tpm0' };
  } else {
    backend = type === 'emulator' ? parseTpmEmulator(backendEl) : parseTpmExternal(backendEl);
  }
  return { model, backend, info: parseDeviceInfo(el) };
}

function formatTpmBackend(b: Builder, backend: TpmBackend): void {
  switch (backend.type) {
    case 'passthrough':
      add(add(b, 'backend', { type: backend.type }), 'device', { path: backend.devicePath });
      return;
    case 'emulator': {
      const el = add(b, 'backend', {
        type: backend.type,
        version: backend.version,
        persistent_state: backend.persistentState ? 'yes' : undefined,
      });
      if (backend.encryptionSecret) add(el, 'encryption', { secret: backend.encryptionSecret });
      if (backend.activePcrBanks) {
        const banks = add(el, 'active_pcr_banks');
        for (const bank of backend.activePcrBanks) add(banks, bank);
      }
      return;
    }
    case 'external': {
      const el = add(b, 'backend', { type: backend.type });
      const s = backend.source;
      if (s.type === 'unix') add(el, 'source', { type: 'unix', mode: 'connect', path: s.path });
    }
  }
}

export function formatTpm(b: Builder, t: TpmDef): void {
  const el = add(b, 'tpm', { model: t.model });
  formatTpmBackend(el, t.backend);
  formatDeviceInfo(el, t.info);
}

/* ---------- watchdog ---------- */

export const WATCHDOG_MODELS = ['i6300esb', 'ib700', 'diag288'] as const;
export const WATCHDOG_ACTIONS = ['reset', 'shutdown', 'poweroff', 'pause', 'dump', 'none', 'inject-nmi'] as const;

export interface WatchdogDef {
  model: (typeof WATCHDOG_MODELS)[number];
  action: (typeof WATCHDOG_ACTIONS)[number];
  info: DeviceInfo;
}

export function parseWatchdog(el: XmlElement): WatchdogDef {
  const model = propEnum(el, 'model', WATCHDOG_MODELS, true)!;
  const action = propEnum(el, 'action', WATCHDOG_ACTIONS) ?? 'reset';
  return { model, action, info: parseDeviceInfo(el) };
}

export function formatWatchdog(b: Builder, w: WatchdogDef): void {
  formatDeviceInfo(add(b, 'watchdog', { model: w.model, action: w.action }), w.info);
}

/* ---------- memballoon ---------- */

export interface MemballoonDef {
  model: VirtioModel | 'xen' | 'none';
  autodeflate?: Switch;
  freePageReporting?: Switch;
  /** Statistics period in seconds; 0 = off. */
  statsPeriod: number;
  virtio?: VirtioOptions;
  info: DeviceInfo;
}

export function parseMemballoon(el: XmlElement): MemballoonDef {
  const model = propEnum(el, 'model', [...VIRTIO_MODELS, 'xen', 'none'] as const, true)!;
  const autodeflate = propSwitch(el, 'autodeflate');
  const freePageReporting = propSwitch(el, 'freePageReporting');
  const stats = child(el, 'stats');
  const period = (stats && propInt(stats, 'period', { base: 0 })) ?? 0;
  // libvirt ignores the address of a balloon that is not there
  const info = model === 'none' ? {} : parseDeviceInfo(el);
  const virtio = parseVirtioOptions(child(el, 'driver'));
  return { model, autodeflate, freePageReporting, statsPeriod: Math.max(0, period), virtio, info };
}

export function formatMemballoon(b: Builder, m: MemballoonDef): void {
  const el = add(b, 'memballoon', {
    model: m.model,
    autodeflate: m.autodeflate,
    freePageReporting: m.freePageReporting,
  });
  if (m.statsPeriod) add(el, 'stats', { period: m.statsPeriod });
  formatDeviceInfo(el, m.info);
  formatVirtioDriver(el, m.virtio);
}

/* ---------- rng ---------- */

export type RngBackend =
  | { model: 'random'; /** Host entropy file; unset when the element is empty. */ file?: string }
  | { model: 'egd'; source: CharSource }
  | { model: 'builtin' };

export interface RngDef {
  model: VirtioModel;
  /** Bytes allowed per period; 0 = unlimited. */
  rateBytes: number;
  /** Milliseconds. */
  ratePeriod: number;
  backend: RngBackend;
  virtio?: VirtioOptions;
  info: DeviceInfo;
}

/** virXPathUInt on an attribute of the first <rate>: -1 when absent, -2 when unparsable. */
function rateValue(el: XmlElement, name: string, error: string): number {
  const rate = child(el, 'rate');
  const raw = rate && attr(rate, name);
  if (raw === undefined || raw === '') return 0;
  const value = parseUIntWrapping(raw);
  if (value === undefined) throw xmlError(error);
  return value;
}

function parseRngBackend(backend: XmlElement): RngBackend {
  const model = propEnum(backend, 'model', ['random', 'egd', 'builtin'] as const, true)!;
  if (model === 'random') return { model, file: textOf(backend) || undefined };
  if (model === 'builtin') return { model };
  const type = attr(backend, 'type');
  if (type === undefined) throw xmlError('missing EGD backend type');
  if (!isCharSourceType(type)) throw unsupported(`unknown backend type '${type}' for egd`);
  return { model, source: parseCharSource(backend, type) };
}

export function parseRng(el: XmlElement): RngDef {
  const model = propEnum(el, 'model', VIRTIO_MODELS, true)!;
  const rateBytes = rateValue(el, 'bytes', 'invalid RNG rate bytes value');
  const ratePeriod = rateBytes > 0 ? rateValue(el, 'period', 'invalid RNG rate period value') : 0;
  const backends = elements(el, 'backend');
  if (backends.length !== 1) throw xmlError('only one RNG backend is supported');
  const backend = parseRngBackend(backends[0]!);
  const info = parseDeviceInfo(el);
  return { model, rateBytes, ratePeriod, backend, virtio: parseVirtioOptions(child(el, 'driver')), info };
}

export function formatRng(b: Builder, r: RngDef): void {
  const el = add(b, 'rng', { model: r.model });
  if (r.rateBytes) add(el, 'rate', { bytes: r.rateBytes, period: r.ratePeriod || undefined });
  const backend = r.backend;
  if (backend.model === 'egd') {
    formatCharSource(add(el, 'backend', { model: 'egd', type: backend.source.type }), backend.source);
  } else {
    add(el, 'backend', { model: backend.model }, backend.model === 'random' ? backend.file : undefined);
  }
  formatVirtioDriver(el, r.virtio);
  formatDeviceInfo(el, r.info);
}

export function validateRng(r: RngDef): void {
  validateDeviceInfo(r.info);
  if (r.backend.model === 'egd') validateCharSource(r.backend.source);
}

/* ---------- nvram, panic ---------- */

export interface NvramDef {
  info: DeviceInfo;
}

export const parseNvram = (el: XmlElement): NvramDef => ({ info: parseDeviceInfo(el) });

export function formatNvram(b: Builder, n: NvramDef): void {
  formatDeviceInfo(add(b, 'nvram'), n.info);
}

export const PANIC_MODELS = ['isa', 'pseries', 'hyperv', 's390'] as const;

export interface PanicDef {
  model?: (typeof PANIC_MODELS)[number];
  info: DeviceInfo;
}

export function parsePanic(el: XmlElement): PanicDef {
  const info = parseDeviceInfo(el);
  const model = attr(el, 'model');
  if (model === undefined || model === 'default') return { info };
  if (!(PANIC_MODELS as readonly string[]).includes(model)) throw unsupported(`unknown panic model '${model}'`);
  return { model: model as PanicDef['model'], info };
}

export function formatPanic(b: Builder, p: PanicDef): void {
  formatDeviceInfo(add(b, 'panic', { model: p.model }), p.info);
}

/* ---------- shmem ---------- */

export const SHMEM_MODELS = ['ivshmem', 'ivshmem-plain', 'ivshmem-doorbell'] as const;

export interface ShmemDef {
  name: string;
  model: (typeof SHMEM_MODELS)[number];
  role?: 'master' | 'peer';
  /** Bytes; 0 = unset. */
  size: bigint;
  /** The ivshmem server; `path` unset means the default socket. */
  server?: { path?: string };
  msi?: { vectors?: number; ioeventfd?: Switch };
  info: DeviceInfo;
}

/** virFileSanitizePath: no repeated or trailing slashes (a leading "//" is kept). */
export function sanitizePath(path: string): string {
  const keepDouble = path.startsWith('//') && path[2] !== '/';
  const clean = path.replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1');
  return keepDouble ? `/${clean}` : clean;
}

/** virParseScaledValue("./size[1]", …, scale 1): bytes. */
function parseShmemSize(el: XmlElement): bigint {
  const size = child(el, 'size');
  const raw = size ? textOf(size) : '';
  if (raw === '') return 0n;
  const value = parseUnsigned(raw);
  if (value === undefined) throw invalidValue(raw, './size[1]');
  return scaleInteger(value, attr(size!, 'unit') || undefined, 1n, ULLONG_MAX);
}

export function parseShmem(el: XmlElement): ShmemDef {
  const modelEl = child(el, 'model');
  const model = (modelEl && propEnum(modelEl, 'type', SHMEM_MODELS)) ?? 'ivshmem';
  const name = attr(el, 'name');
  if (name === undefined) throw xmlError("shmem element must contain 'name' attribute");
  const role = model === 'ivshmem' ? undefined : propEnum(el, 'role', ['master', 'peer'] as const);
  const size = parseShmemSize(el);
  const serverEl = child(el, 'server');
  const serverPath = serverEl && attr(serverEl, 'path');
  const server = serverEl && { path: serverPath === undefined ? undefined : sanitizePath(serverPath) };
  const msiEl = child(el, 'msi');
  const msi = msiEl && { vectors: propUInt(msiEl, 'vectors', { base: 0 }), ioeventfd: propSwitch(msiEl, 'ioeventfd') };
  if (msi && !server) throw xmlError('msi option is only supported with a server');
  return { name, model, role, size, server, msi, info: parseDeviceInfo(el) };
}

export function formatShmem(b: Builder, s: ShmemDef): void {
  const el = add(b, 'shmem', { name: s.name, role: s.role });
  add(el, 'model', { type: s.model });
  if (s.size) add(el, 'size', { unit: 'M' }, s.size >> 20n);
  if (s.server) add(el, 'server', { path: s.server.path });
  if (s.msi) add(el, 'msi', { vectors: s.msi.vectors || undefined, ioeventfd: s.msi.ioeventfd });
  formatDeviceInfo(el, s.info);
}

export function validateShmem(s: ShmemDef): void {
  validateDeviceInfo(s.info);
  if (s.name.includes('/')) throw unsupported("shmem name cannot include '/' character");
  if (s.name === '.' || s.name === '..') throw unsupported(`shmem name cannot be equal to '${s.name}'`);
}

/* ---------- memory devices (refused) ---------- */

const MEMORY_MODELS = ['dimm', 'nvdimm', 'virtio-pmem', 'virtio-mem', 'sgx-epc'] as const;

/** The parts of virDomainMemoryDefParseXML that can fail before libvirt refuses the device. */
export function checkMemoryDevice(el: XmlElement): void {
  propEnum(el, 'model', MEMORY_MODELS, true);
  if (!child(el, 'target')) throw xmlError('missing <target> element for <memory> device');
}

export const memoryDevicesUnsupported = (): Error => unsupported('memory devices are not supported by this driver');

/* ---------- iommu ---------- */

export interface IommuDef {
  model: 'intel' | 'smmuv3' | 'virtio';
  intremap?: Switch;
  cachingMode?: Switch;
  eim?: Switch;
  iotlb?: Switch;
  /** Address width in bits; 0 = default. */
  awBits: number;
  info: DeviceInfo;
}

export function parseIommu(el: XmlElement): IommuDef {
  const model = propEnum(el, 'model', ['intel', 'smmuv3', 'virtio'] as const, true)!;
  const iommu: IommuDef = { model, awBits: 0, info: {} };
  const driver = child(el, 'driver');
  if (driver) {
    iommu.intremap = propSwitch(driver, 'intremap');
    iommu.cachingMode = propSwitch(driver, 'caching_mode');
    iommu.iotlb = propSwitch(driver, 'iotlb');
    iommu.eim = propSwitch(driver, 'eim');
    iommu.awBits = propUInt(driver, 'aw_bits') ?? 0;
  }
  iommu.info = parseDeviceInfo(el);
  return iommu;
}

export function formatIommu(b: Builder, i: IommuDef): void {
  const el = add(b, 'iommu', { model: i.model });
  const driver: Array<[string, string | number | undefined]> = [
    ['intremap', i.intremap],
    ['caching_mode', i.cachingMode],
    ['eim', i.eim],
    ['iotlb', i.iotlb],
    ['aw_bits', i.awBits || undefined],
  ];
  if (driver.some(([, v]) => v !== undefined)) add(el, 'driver', driver);
  formatDeviceInfo(el, i.info);
}

/**
 * virDomainDefIOMMUValidate. Interrupt remapping needs a split I/O APIC,
 * a feature of virtual machines that a container never has.
 */
export function validateIommu(i: IommuDef): void {
  validateDeviceInfo(i.info);
  if (i.intremap === 'on') {
    throw unsupported("IOMMU interrupt remapping requires split I/O APIC (ioapic driver='qemu')");
  }
  // …so eim, which needs interrupt remapping, cannot be on either.
  if (i.eim === 'on') throw unsupported('IOMMU eim requires interrupt remapping to be enabled');
}

/* ---------- vsock ---------- */

export interface VsockDef {
  model?: VirtioModel;
  /** Guest context id; 0 = unset. */
  cid: number;
  autoCid?: YesNo;
  virtio?: VirtioOptions;
  info: DeviceInfo;
}

export function parseVsock(el: XmlElement): VsockDef {
  const model = propEnum(el, 'model', ['default', ...VIRTIO_MODELS] as const);
  const cidEl = child(el, 'cid');
  const cid = (cidEl && propUInt(cidEl, 'address', { nonZero: true })) ?? 0;
  const autoCid = cidEl && propYesNo(cidEl, 'auto');
  const info = parseDeviceInfo(el);
  return { model: model === 'default' ? undefined : model, cid, autoCid, virtio: parseVirtioOptions(child(el, 'driver')), info };
}

/** Like libvirt, a vsock with nothing set is not printed at all. */
export function formatVsock(b: Builder, v: VsockDef): void {
  const virtio = formatVirtioOptions(v.virtio);
  const hasCid = v.autoCid !== undefined || v.cid !== 0;
  if (v.model === undefined && !hasCid && deviceInfoIsEmpty(v.info) && virtio.length === 0) return;
  const el = add(b, 'vsock', { model: v.model });
  if (hasCid) add(el, 'cid', { auto: v.autoCid, address: v.cid || undefined });
  formatDeviceInfo(el, v.info);
  if (virtio.length > 0) add(el, 'driver', virtio);
}

export function validateVsock(v: VsockDef): void {
  validateDeviceInfo(v.info);
  if (v.cid > 0 && v.cid <= 2) throw unsupported('guest CIDs must be >= 3');
  if (v.model === undefined) validateNoVirtioOptions(v.virtio);
}
