/** Device element kinds in the exact order libvirt formats them inside <devices>. */
import type { Builder } from '../../writer.js';

export const DEVICE_ORDER = [
  'disk', 'controller', 'lease', 'filesystem', 'interface', 'smartcard', 'serial', 'parallel',
  'console', 'channel', 'input', 'tpm', 'graphics', 'sound', 'audio', 'video', 'hostdev',
  'redirdev', 'redirfilter', 'hub', 'watchdog', 'memballoon', 'rng', 'nvram', 'panic', 'shmem',
  'memory', 'iommu', 'vsock',
] as const;

export type DeviceKind = (typeof DEVICE_ORDER)[number];

/** What the caller of the formatter asked for (see FormatOptions in format.ts). */
export interface DeviceFormatOptions {
  /** Include secrets such as graphics passwords (stored definitions, --security-info). */
  readonly secure: boolean;
}

/** Writes every device of one kind, in model order, as children of <devices>. */
export type DeviceFormatter<D> = (devicesEl: Builder, devices: D, opts: DeviceFormatOptions) => void;
