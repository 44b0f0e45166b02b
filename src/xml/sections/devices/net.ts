/** <interface>. STUB: to be completed. */
import type { ParseContext } from '../../context.js';
import type { XmlElement } from '../../tree.js';
import type { DeviceFormatter, DeviceKind } from './kinds.js';

export interface NetDevices {
  interfaces: never[];
}

export function parseNetDevices(_els: readonly XmlElement[], _ctx: ParseContext): NetDevices {
  return { interfaces: [] };
}

export const netFormatters: Partial<Record<DeviceKind, DeviceFormatter<NetDevices>>> = {};
