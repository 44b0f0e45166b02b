/**
 * What the driver knows about running domains. The runtime (start/stop) is
 * not written yet, so the only implementation reports none; the driver reads
 * live state only through this interface, so the runtime plugs in here.
 */
import type { DomainDef } from '../xml/model.js';
import type { DomainStateInfo } from './state.js';

export interface LiveDomain {
  /** Domain ID: the PID of the domain's supervisor process. */
  readonly id: number;
  /** PID of the container's init, in the host's PID namespace (0 while none runs). */
  readonly initPid: number;
  /** The running definition (may differ from the persistent one). */
  readonly def: DomainDef;
  readonly state: DomainStateInfo;
  readonly cpuTimeNs: bigint;
  /** Memory in use, KiB. */
  readonly memoryKiB: bigint;
}

export interface LiveState {
  /** Every domain that is running (or paused, or otherwise active). */
  list(): Promise<readonly LiveDomain[]>;
}

export const NO_LIVE_STATE: LiveState = { list: async () => [] };
