/**
 * Devices the LXC driver only stores (smartcard, tpm, graphics, sound,
 * audio, video, redirdev, redirfilter, hub, watchdog, memballoon, rng,
 * nvram, panic, shmem, iommu, vsock) or refuses (input, memory), and the
 * post-parse and validation steps of these and the character devices, in
 * libvirt's order.
 */
import type { ParseContext } from '../../context.js';
import type { DomainDef, SectionHooks } from '../../model.js';
import type { XmlElement } from '../../tree.js';
import { attr } from '../../tree.js';
import { internalError, xmlError, type VirError } from '../../errors.js';
import type { Builder } from '../../writer.js';
import type { DeviceFormatOptions, DeviceFormatter, DeviceKind } from './kinds.js';
import { postParseCharDevices, validateCharDevices } from './chardev.js';
import { ensureController, type StorageDevices } from './storage.js';
import {
  formatGraphics,
  formatVideo,
  parseGraphics,
  parseVideos,
  postParseVideos,
  validateGraphics,
  validateVideo,
  validateVideos,
  type GraphicsDef,
  type VideoDef,
} from './graphics.js';
import {
  formatHub,
  formatRedirdev,
  formatRedirFilter,
  formatSmartcard,
  parseHub,
  parseInput,
  parseRedirdev,
  parseRedirFilter,
  parseSmartcard,
  validateInput,
  validateRedirdev,
  validateSmartcard,
  type HubDef,
  type InputDef,
  type RedirdevDef,
  type RedirFilterRule,
  type SmartcardDef,
} from './peripherals.js';
import { formatAudio, formatSound, parseAudio, parseSound, validateAudio, validateSound, type AudioDef, type SoundDef } from './sound.js';
import {
  checkMemoryDevice,
  formatIommu,
  formatMemballoon,
  formatNvram,
  formatPanic,
  formatRng,
  formatShmem,
  formatTpm,
  formatVsock,
  formatWatchdog,
  memoryDevicesUnsupported,
  parseIommu,
  parseMemballoon,
  parseNvram,
  parsePanic,
  parseRng,
  parseShmem,
  parseTpm,
  parseVsock,
  parseWatchdog,
  validateIommu,
  validateRng,
  validateShmem,
  validateVsock,
  type IommuDef,
  type MemballoonDef,
  type NvramDef,
  type PanicDef,
  type RngDef,
  type ShmemDef,
  type TpmDef,
  type VsockDef,
  type WatchdogDef,
} from './platform.js';
import { validateDeviceInfo, type DeviceInfo } from './deviceinfo.js';

export * from './graphics.js';
export * from './peripherals.js';
export * from './platform.js';
export * from './sound.js';
export type { DeviceInfo, DeviceAddress } from './deviceinfo.js';
export type { VirtioOptions } from './virtio.js';

export interface OtherDevices {
  smartcards: SmartcardDef[];
  /** Always empty in a validated definition: the LXC driver refuses input devices. */
  inputs: InputDef[];
  tpms: TpmDef[];
  graphics: GraphicsDef[];
  sounds: SoundDef[];
  audios: AudioDef[];
  /** The primary video first. */
  videos: VideoDef[];
  redirdevs: RedirdevDef[];
  /** USB redirection rules; undefined when there is no <redirfilter>. */
  redirFilter?: RedirFilterRule[];
  hubs: HubDef[];
  watchdog?: WatchdogDef;
  memballoon?: MemballoonDef;
  rngs: RngDef[];
  nvram?: NvramDef;
  panics: PanicDef[];
  shmems: ShmemDef[];
  iommu?: IommuDef;
  vsock?: VsockDef;
}

/** libvirt's ./devices/NAME: elements of that name in no namespace. */
const named = (els: readonly XmlElement[], name: string): XmlElement[] =>
  els.filter((e) => e.name === name && e.ns === '');

/** A device libvirt allows once: more is the `tooMany` error, checked before parsing. */
function single<T>(els: readonly XmlElement[], name: string, tooMany: () => VirError, parse: (el: XmlElement) => T): T | undefined {
  const found = named(els, name);
  if (found.length > 1) throw tooMany();
  return found[0] && parse(found[0]);
}

/** A USB controller of model none disables USB devices (libvirt's usb_none). */
const usbDisabledIn = (els: readonly XmlElement[]): boolean =>
  named(els, 'controller').some((c) => attr(c, 'type') === 'usb' && attr(c, 'model') === 'none');

function parseTpms(els: readonly XmlElement[]): TpmDef[] {
  const tpms = named(els, 'tpm');
  if (tpms.length > 2) throw xmlError('a maximum of two TPM devices is supported, one of them being a TPM Proxy device');
  return tpms.map(parseTpm);
}

/** Parse, in libvirt's order, every device this module owns. */
export function parseOtherDevices(els: readonly XmlElement[], _ctx: ParseContext): OtherDevices {
  const usbDisabled = usbDisabledIn(els);
  const smartcards = named(els, 'smartcard').map(parseSmartcard);
  const inputs = named(els, 'input').map((e) => parseInput(e, usbDisabled));
  const graphics = named(els, 'graphics').map(parseGraphics);
  const sounds = named(els, 'sound').map(parseSound);
  const audios = named(els, 'audio').map(parseAudio);
  const videos = parseVideos(named(els, 'video'));
  const watchdog = single(els, 'watchdog', () => internalError('only a single watchdog device is supported'), parseWatchdog);
  const memballoon = single(
    els,
    'memballoon',
    () => internalError('only a single memory balloon device is supported'),
    parseMemballoon,
  );
  const rngs = named(els, 'rng').map(parseRng);
  const tpms = parseTpms(els);
  const nvram = single(els, 'nvram', () => internalError('only a single nvram device is supported'), parseNvram);
  const hubs = named(els, 'hub').map((e) => parseHub(e, usbDisabled));
  const redirdevs = named(els, 'redirdev').map(parseRedirdev);
  const redirFilter = single(
    els,
    'redirfilter',
    () => internalError('only one set of redirection filter rule is supported'),
    parseRedirFilter,
  );
  const panics = named(els, 'panic').map(parsePanic);
  const shmems = named(els, 'shmem').map(parseShmem);
  const memories = named(els, 'memory');
  memories.forEach(checkMemoryDevice);
  const iommu = single(els, 'iommu', () => xmlError('only a single IOMMU device is supported'), parseIommu);
  const vsock = single(els, 'vsock', () => xmlError('only a single vsock device is supported'), parseVsock);
  // libvirt refuses memory devices in its device post-parse step, before any other check.
  if (memories.length > 0) throw memoryDevicesUnsupported();
  return {
    smartcards, inputs, tpms, graphics, sounds, audios, videos, redirdevs, redirFilter, hubs, watchdog, memballoon,
    rngs, nvram, panics, shmems, iommu, vsock,
  };
}

/* ---------- post-parse and validation ---------- */

/**
 * Each smartcard sits on a CCID controller: one without an address goes
 * to slot 0 of the highest CCID controller, which is added when missing
 * (virDomainDefMaybeAddSmartcardController).
 */
function addSmartcardControllers(devices: OtherDevices & StorageDevices): void {
  for (const card of devices.smartcards) {
    const index = card.info.address?.type === 'ccid' ? card.info.address.controller : 0;
    if (card.info.address === undefined) {
      const ccids = devices.controllers.filter((c) => c.type === 'ccid').map((c) => c.index);
      card.info.address = { type: 'ccid', controller: ccids.length > 0 ? Math.max(...ccids) : 0, slot: 0 };
    }
    // Like libvirt, controller 0 even when the card went to a higher one.
    ensureController(devices, 'ccid', index);
  }
}

/** Implicit controllers (virtio-serial, then ccid), video defaults and the implicit video. */
function postParse(def: DomainDef): void {
  postParseCharDevices(def);
  addSmartcardControllers(def.devices);
  postParseVideos(def.devices.videos, def.devices.graphics.length);
}

const usbEnabled = (devices: StorageDevices): boolean =>
  devices.controllers.some((c) => c.type === 'usb' && c.model !== 'none');

const validateInfoOf = (devices: ReadonlyArray<{ info: DeviceInfo } | undefined>): void =>
  devices.forEach((d) => d && validateDeviceInfo(d.info));

/** Device checks in libvirt's device order, then the whole-domain ones. */
function validate(def: DomainDef): void {
  const d = def.devices;
  d.sounds.forEach((s) => validateSound(s, d.audios));
  d.videos.forEach((v) => validateVideo(v, d.videos));
  d.smartcards.forEach(validateSmartcard);
  validateCharDevices(def);
  d.inputs.forEach(validateInput);
  validateInfoOf([d.watchdog, d.memballoon, ...d.hubs]);
  d.shmems.forEach(validateShmem);
  validateInfoOf([...d.tpms, ...d.panics]);
  d.redirdevs.forEach((r) => validateRedirdev(r, usbEnabled(d)));
  d.rngs.forEach(validateRng);
  validateInfoOf([d.nvram]);
  if (d.iommu) validateDeviceInfo(d.iommu.info);
  if (d.vsock) validateVsock(d.vsock);
  d.audios.forEach((a) => validateAudio(a, d.audios));
  d.graphics.forEach((g) => validateGraphics(g, d.audios));
  if (d.iommu) validateIommu(d.iommu);
  validateVideos(d.videos);
}

/** Post-parse and validation of the character devices and of the devices above. */
export const otherHooks: SectionHooks = {
  postParse: (def) => postParse(def),
  validate: (def) => validate(def),
};

/* ---------- formatting ---------- */

type ItemFormatter<T> = (b: Builder, item: T, opts: DeviceFormatOptions) => void;

const each =
  <T>(pick: (d: OtherDevices) => readonly T[], format: ItemFormatter<T>): DeviceFormatter<OtherDevices> =>
  (b, d, opts) =>
    pick(d).forEach((item) => format(b, item, opts));

const one =
  <T>(pick: (d: OtherDevices) => T | undefined, format: (b: Builder, item: T) => void): DeviceFormatter<OtherDevices> =>
  (b, d) => {
    const item = pick(d);
    if (item !== undefined) format(b, item);
  };

export const otherFormatters: Partial<Record<DeviceKind, DeviceFormatter<OtherDevices>>> = {
  smartcard: each((d) => d.smartcards, formatSmartcard),
  tpm: each((d) => d.tpms, formatTpm),
  graphics: each((d) => d.graphics, formatGraphics),
  sound: each((d) => d.sounds, formatSound),
  audio: each((d) => d.audios, formatAudio),
  video: each((d) => d.videos, formatVideo),
  redirdev: each((d) => d.redirdevs, formatRedirdev),
  redirfilter: one((d) => d.redirFilter, formatRedirFilter),
  hub: each((d) => d.hubs, formatHub),
  watchdog: one((d) => d.watchdog, formatWatchdog),
  memballoon: one((d) => d.memballoon, formatMemballoon),
  rng: each((d) => d.rngs, formatRng),
  nvram: one((d) => d.nvram, formatNvram),
  panic: each((d) => d.panics, formatPanic),
  shmem: each((d) => d.shmems, formatShmem),
  iommu: one((d) => d.iommu, formatIommu),
  vsock: one((d) => d.vsock, formatVsock),
};
