/**
 * nsvirt: a libvirt-compatible LXC container driver.
 *
 *   import { connect } from 'nsvirt';
 *   const conn = connect('lxc:///');
 *   const dom = await conn.defineXML(xml);
 *   console.log(await dom.getState());   // { state: 'shutoff', reason: 'unknown' }
 */
export { connect, Connection, Domain, HYPERVISOR_TYPE, LIBVIRT_COMPAT_VERSION } from './driver/connection.js';
export type { ConnectOptions, ListDomainsFilter } from './driver/connection.js';
export type { ShutdownMode } from './driver/runtime/lifecycle.js';
export type { InterfaceAddresses, InterfaceRow, InterfaceStats } from './driver/runtime/interfaces.js';
export type { ConsoleOptions } from './driver/runtime/console.js';
export type { CommandExit, EnterOptions } from './driver/runtime/enter.js';
export type { DomainInfo, XMLDescOptions } from './driver/driver.js';
export type { DomainState, DomainStateInfo, StateReasons } from './driver/state.js';
export { VirError } from './xml/errors.js';
export type { VirErrorCode } from './xml/errors.js';
export type {
  AffectOptions,
  BlkioDeviceList,
  BlkioDeviceValue,
  BlkioParameterChanges,
  BlkioParameters,
  CPUStats,
  MemoryLimit,
  MemoryParameterChanges,
  MemoryParameters,
  MemoryStats,
  SchedulerChanges,
  SchedulerParameters,
  SchedulerType,
} from './driver/runtime/tuning.js';
export type { DomainStatsOptions, DomainStatsRecord, StatsGroup, TypedParameter } from './driver/runtime/domainstats.js';
export { InterfaceRequestError, interfaceXML } from './driver/interfacexml.js';
export type { InterfaceSpec } from './driver/interfacexml.js';
