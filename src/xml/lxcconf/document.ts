/**
 * A converted LXC configuration as domain XML text, for the domain XML
 * parser to canonicalise. The architecture and the id maps are left out:
 * libvirt sets them on its definition without the checks an XML parse
 * applies (capabilities lookup, root mapping, sorting), so they are set
 * after parsing.
 */
import { add, newDocument, serialize, type Builder } from '../writer.js';
import type { NativeDomainPlan } from './plan.js';
import type { FilesystemPlan } from './storage.js';
import type { HostdevPlan, InterfacePlan, IpPlan, RoutePlan } from './network.js';
import type { BlkioPlan, CpuPlan, MemoryPlan } from './tuning.js';

/** libvirt's conversion boots every container with /sbin/init (lxc.init.cmd is not read). */
const INIT = '/sbin/init';
const ROUTE_ALL = { ipv4: '0.0.0.0', ipv6: '::' } as const;

function addMemtune(root: Builder, memory: MemoryPlan): void {
  const limits = [
    ['hard_limit', memory.hardLimitKiB],
    ['soft_limit', memory.softLimitKiB],
    ['swap_hard_limit', memory.swapHardLimitKiB],
  ] as const;
  if (limits.every(([, kib]) => kib === undefined)) return;
  const memtune = add(root, 'memtune');
  for (const [name, kib] of limits) if (kib !== undefined) add(memtune, name, { unit: 'KiB' }, kib);
}

function addBlkiotune(root: Builder, blkio: BlkioPlan): void {
  if (blkio.weight === undefined && blkio.devices.length === 0) return;
  const tune = add(root, 'blkiotune');
  if (blkio.weight !== undefined) add(tune, 'weight', {}, blkio.weight);
  for (const d of blkio.devices) {
    const device = add(tune, 'device');
    add(device, 'path', {}, d.path);
    const values = [
      ['weight', d.weight],
      ['read_iops_sec', d.readIopsSec],
      ['write_iops_sec', d.writeIopsSec],
      ['read_bytes_sec', d.readBytesSec],
      ['write_bytes_sec', d.writeBytesSec],
    ] as const;
    for (const [name, value] of values) if (value !== undefined) add(device, name, {}, value);
  }
}

function addCpu(root: Builder, cpu: CpuPlan): void {
  add(root, 'vcpu', { placement: 'static', cpuset: cpu.cpuset }, 1);
  const tunables = [
    ['shares', cpu.shares],
    ['period', cpu.period],
    ['quota', cpu.quota],
  ] as const;
  if (tunables.some(([, v]) => v !== undefined)) {
    const cputune = add(root, 'cputune');
    for (const [name, value] of tunables) if (value !== undefined) add(cputune, name, {}, value);
  }
  if (cpu.nodeset !== undefined) {
    add(add(root, 'numatune'), 'memory', { mode: 'strict', nodeset: cpu.nodeset });
  }
}

function addFeatures(root: Builder, plan: NativeDomainPlan): void {
  const features = add(root, 'features');
  if (plan.network.privnet) add(features, 'privnet');
  const caps = add(features, 'capabilities', { policy: 'allow' });
  for (const cap of plan.droppedCapabilities) add(caps, cap, { state: 'off' });
}

function addFilesystem(devices: Builder, fs: FilesystemPlan): void {
  const el = add(devices, 'filesystem', { type: fs.type, accessmode: 'passthrough' });
  if (fs.type === 'mount') add(el, 'source', { dir: fs.sourceDir });
  else if (fs.type === 'block') add(el, 'source', { dev: fs.sourceDev });
  else add(el, 'source', { usage: fs.usageBytes, units: 'bytes' });
  add(el, 'target', { dir: fs.target });
  if (fs.readonly) add(el, 'readonly');
}

function addAddressing(parent: Builder, ips: readonly IpPlan[], routes: readonly RoutePlan[]): void {
  for (const ip of ips) add(parent, 'ip', { address: ip.address, family: ip.family, prefix: ip.prefix });
  for (const r of routes) add(parent, 'route', { family: r.family, address: ROUTE_ALL[r.family], gateway: r.gateway });
}

function addInterface(devices: Builder, nic: InterfacePlan): void {
  const el = add(devices, 'interface', { type: nic.type });
  add(el, 'mac', { address: nic.mac });
  if (nic.source) add(el, 'source', nic.source);
  addAddressing(el, nic.ips, nic.routes);
  if (nic.guestName !== undefined) add(el, 'guest', { dev: nic.guestName });
  add(el, 'link', { state: nic.linkUp ? 'up' : 'down' });
}

function addHostdev(devices: Builder, hostdev: HostdevPlan): void {
  const el = add(devices, 'hostdev', { mode: 'capabilities', type: 'net' });
  add(add(el, 'source'), 'interface', {}, hostdev.hostInterface);
  addAddressing(el, hostdev.ips, hostdev.routes);
}

function addDevices(root: Builder, plan: NativeDomainPlan): void {
  const devices = add(root, 'devices');
  for (const fs of plan.filesystems) addFilesystem(devices, fs);
  for (const nic of plan.network.interfaces) addInterface(devices, nic);
  for (let port = 0; port < plan.consoles; port++) {
    add(add(devices, 'console', { type: 'pty' }), 'target', { type: 'lxc', port });
  }
  for (const hostdev of plan.network.hostdevs) addHostdev(devices, hostdev);
}

/** The plan as a domain XML document (not canonical; no uuid, arch or idmap). */
export function planToDomainXML(plan: NativeDomainPlan): string {
  const root = newDocument('domain', { type: 'lxc' });
  add(root, 'name', {}, plan.name);
  add(root, 'memory', { unit: 'KiB' }, plan.memory.memoryKiB);
  add(root, 'currentMemory', { unit: 'KiB' }, plan.memory.memoryKiB);
  addBlkiotune(root, plan.blkio);
  addMemtune(root, plan.memory);
  addCpu(root, plan.cpu);
  const os = add(root, 'os');
  add(os, 'type', {}, 'exe');
  add(os, 'init', {}, INIT);
  addFeatures(root, plan);
  add(root, 'on_poweroff', {}, 'destroy');
  add(root, 'on_reboot', {}, 'restart');
  add(root, 'on_crash', {}, 'destroy');
  addDevices(root, plan);
  return serialize(root);
}
