/**
 * Devices the LXC driver only stores: smartcard, input (rejected), tpm,
 * graphics, sound, audio, video, redirdev, redirfilter, hub, watchdog,
 * memballoon, rng, nvram, panic, shmem, memory (rejected), iommu, vsock.
 * STUB: to be completed.
 */
import type { ParseContext } from '../../context.js';
import type { XmlElement } from '../../tree.js';
import type { DeviceFormatter, DeviceKind } from './kinds.js';

export interface OtherDevices {
  graphics: never[];
}

export function parseOtherDevices(_els: readonly XmlElement[], _ctx: ParseContext): OtherDevices {
  return { graphics: [] };
}

export const otherFormatters: Partial<Record<DeviceKind, DeviceFormatter<OtherDevices>>> = {};
