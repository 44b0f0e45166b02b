/** What an LXC configuration asks for, gathered area by area in libvirt's order (lxcParseConfigString). */
import type { ProcessCapability } from '../sections/features.js';
import { parseLxcConfig } from './config.js';
import { architecture, consoleCount, domainName, droppedCapabilities, idmaps, type IdmapsPlan } from './basics.js';
import { mountEntryFilesystems, rejectFstab, rootFilesystem, type FilesystemPlan } from './storage.js';
import { networkPlan, type NetworkPlan } from './network.js';
import { blkioPlan, cpuPlan, memoryPlan, type BlkioPlan, type CpuPlan, type MemoryPlan } from './tuning.js';

export interface NativeDomainPlan {
  name: string;
  arch?: string;
  memory: MemoryPlan;
  cpu: CpuPlan;
  blkio: BlkioPlan;
  idmaps: IdmapsPlan;
  droppedCapabilities: ProcessCapability[];
  /** The root filesystem first, then lxc.mount.entry ones. */
  filesystems: FilesystemPlan[];
  network: NetworkPlan;
  consoles: number;
}

/** Read an LXC configuration; the first problem found is thrown as a VirError. */
export function planFromLxcConfig(text: string): NativeDomainPlan {
  const config = parseLxcConfig(text);
  const arch = architecture(config);
  const name = domainName(config);
  const root = rootFilesystem(config);
  rejectFstab(config);
  const filesystems = [root, ...mountEntryFilesystems(config)];
  const network = networkPlan(config);
  const consoles = consoleCount(config);
  return {
    name,
    arch,
    filesystems,
    network,
    consoles,
    idmaps: idmaps(config),
    memory: memoryPlan(config),
    cpu: cpuPlan(config),
    blkio: blkioPlan(config),
    droppedCapabilities: droppedCapabilities(config),
  };
}
