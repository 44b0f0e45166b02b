/** <disk>, <controller> (incl. implicit ones), <lease>, <filesystem>, <hostdev>. STUB: to be completed. */
import type { ParseContext } from '../../context.js';
import type { XmlElement } from '../../tree.js';
import type { DeviceFormatter, DeviceKind } from './kinds.js';

export interface ControllerDef {
  type: string;
  index: number;
  model?: string;
}

export interface StorageDevices {
  controllers: ControllerDef[];
}

export function parseStorageDevices(_els: readonly XmlElement[], _ctx: ParseContext): StorageDevices {
  return { controllers: [] };
}

/** Add a controller unless one of that type and index exists (virDomainDefMaybeAddController). */
export function ensureController(devices: StorageDevices, type: string, index: number, model?: string): void {
  if (devices.controllers.some((c) => c.type === type && c.index === index)) return;
  devices.controllers.push(model === undefined ? { type, index } : { type, index, model });
}

export const storageFormatters: Partial<Record<DeviceKind, DeviceFormatter<StorageDevices>>> = {};
