/**
 * Which capabilities the container's init loses (libvirt's
 * lxcContainerDropCapabilities): per `<features><capabilities policy>`,
 * applied to the bounding set and to effective/permitted/inheritable.
 */
import type { CapabilitiesFeature, ProcessCapability } from '../../xml/sections/features.js';

/** Kernel capability numbers (linux/capability.h). */
export const CAPABILITY_NUMBERS: Readonly<Record<ProcessCapability, number>> = {
  chown: 0, dac_override: 1, dac_read_search: 2, fowner: 3, fsetid: 4, kill: 5, setgid: 6, setuid: 7,
  setpcap: 8, linux_immutable: 9, net_bind_service: 10, net_broadcast: 11, net_admin: 12, net_raw: 13,
  ipc_lock: 14, ipc_owner: 15, sys_module: 16, sys_rawio: 17, sys_chroot: 18, sys_ptrace: 19,
  sys_pacct: 20, sys_admin: 21, sys_boot: 22, sys_nice: 23, sys_resource: 24, sys_time: 25,
  sys_tty_config: 26, mknod: 27, lease: 28, audit_write: 29, audit_control: 30, setfcap: 31,
  mac_override: 32, mac_admin: 33, syslog: 34, wake_alarm: 35, block_suspend: 36,
};

/** Highest capability number a current kernel knows (CAP_CHECKPOINT_RESTORE). */
const LAST_KERNEL_CAPABILITY = 40;

/**
 * Dropped under the default policy unless switched on. libvirt also drops
 * sys_boot on kernels without container reboot support (before 3.4); every
 * kernel nsvirt runs on has it, so sys_boot stays.
 */
const DEFAULT_DROPS: readonly ProcessCapability[] = ['sys_module', 'sys_time', 'mknod', 'audit_control', 'mac_admin'];

/** Capability numbers to drop, ascending. */
export function capabilitiesToDrop(feature: CapabilitiesFeature | undefined): number[] {
  const policy = feature?.policy ?? 'default';
  const states = feature?.capabilities ?? {};
  const stateOf = (cap: ProcessCapability): 'on' | 'off' | undefined => states[cap];
  const drop = new Set<number>();
  if (policy === 'deny') {
    const kept = new Set(
      (Object.keys(states) as ProcessCapability[]).filter((c) => stateOf(c) === 'on').map((c) => CAPABILITY_NUMBERS[c]),
    );
    for (let n = 0; n <= LAST_KERNEL_CAPABILITY; n++) if (!kept.has(n)) drop.add(n);
  } else {
    if (policy === 'default') for (const cap of DEFAULT_DROPS) if (stateOf(cap) !== 'on') drop.add(CAPABILITY_NUMBERS[cap]);
    for (const cap of Object.keys(states) as ProcessCapability[]) {
      if (stateOf(cap) === 'off') drop.add(CAPABILITY_NUMBERS[cap]);
    }
  }
  return [...drop].sort((a, b) => a - b);
}
