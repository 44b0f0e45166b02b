/**
 * The running domain an operation acts on (console, signals, entering):
 * its live state and runtime files, or libvirt's refusals when it has none.
 */
import { VirError } from '../../xml/errors.js';
import type { DomainRef, DomainSnapshot } from '../driver.js';
import type { LiveDomain } from '../live.js';
import type { DriverPaths } from '../paths.js';
import { domainNotRunning } from '../errors.js';
import { runtimeFiles, type RuntimeFiles } from './files.js';

/** What these operations need from the driver. */
export interface DomainSource {
  readonly paths: DriverPaths;
  snapshot(ref: DomainRef): Promise<DomainSnapshot>;
}

export interface RunningDomain {
  readonly live: LiveDomain;
  readonly files: RuntimeFiles;
}

/** The domain's live state; fails as virDomainObjCheckActive does when it is not running. */
export async function runningDomain(source: DomainSource, ref: DomainRef): Promise<RunningDomain> {
  const { live, name } = await source.snapshot(ref);
  if (!live) throw domainNotRunning();
  return { live, files: runtimeFiles(source.paths, name) };
}

/** The host pid of the domain's init; libvirt's refusal while there is none (between reboots, crashed). */
export function initPidOf(domain: RunningDomain): number {
  if (domain.live.initPid <= 0) throw new VirError('VIR_ERR_OPERATION_INVALID', 'Init pid is not yet available');
  return domain.live.initPid;
}
