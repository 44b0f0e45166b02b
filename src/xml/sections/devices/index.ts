/** <devices>: gathers every device element (libvirt reads ./devices/* across all <devices>) and formats them in libvirt's order. */
import type { SectionHooks } from '../../model.js';
import type { ParseContext } from '../../context.js';
import { elements, childText, type XmlElement } from '../../tree.js';
import { add, type Builder } from '../../writer.js';
import { DEVICE_ORDER, type DeviceFormatOptions, type DeviceFormatter, type DeviceKind } from './kinds.js';
import { parseStorageDevices, storageFormatters, storageHooks, type StorageDevices } from './storage.js';
import { parseNetDevices, netFormatters, netHooks, type NetDevices } from './net.js';
import { parseCharDevices, charFormatters, type CharDevices } from './chardev.js';
import { parseOtherDevices, otherFormatters, otherHooks, type OtherDevices } from './other.js';

export interface DevicesDef extends StorageDevices, NetDevices, CharDevices, OtherDevices {
  /** Supervisor path as written or defaulted; nsvirt always runs its own. */
  emulator: string;
}

export function parseDevices(root: XmlElement, ctx: ParseContext): DevicesDef {
  const containers = elements(root, 'devices');
  const els = containers.flatMap((d) => elements(d));
  const emulatorText = containers.map((d) => childText(d, 'emulator')).find((t) => t !== undefined);
  return {
    emulator: emulatorText === undefined || emulatorText === '' ? ctx.defaultEmulator : emulatorText,
    ...parseStorageDevices(els, ctx),
    ...parseNetDevices(els, ctx),
    ...parseCharDevices(els, ctx),
    ...parseOtherDevices(els, ctx),
  };
}

type AnyFormatter = DeviceFormatter<DevicesDef>;
const FORMATTERS: Partial<Record<DeviceKind, AnyFormatter>> = {
  ...(storageFormatters as Partial<Record<DeviceKind, AnyFormatter>>),
  ...(netFormatters as Partial<Record<DeviceKind, AnyFormatter>>),
  ...(charFormatters as Partial<Record<DeviceKind, AnyFormatter>>),
  ...(otherFormatters as Partial<Record<DeviceKind, AnyFormatter>>),
};

export function formatDevices(b: Builder, devices: DevicesDef, opts: DeviceFormatOptions): void {
  const el = add(b, 'devices');
  add(el, 'emulator', {}, devices.emulator);
  for (const kind of DEVICE_ORDER) FORMATTERS[kind]?.(el, devices, opts);
}

/** Each device module's hooks, run in this order (storage first: its implicit controllers precede virtio-serial). */
const DEVICE_HOOKS: readonly SectionHooks[] = [storageHooks, netHooks, otherHooks];

export const hooks: SectionHooks = {
  postParse: (def, ctx) => DEVICE_HOOKS.forEach((h) => h.postParse?.(def, ctx)),
  validate: (def, ctx) => DEVICE_HOOKS.forEach((h) => h.validate?.(def, ctx)),
};
