/**
 * Which definitions a change acts on: libvirt's VIR_DOMAIN_AFFECT_LIVE and
 * VIR_DOMAIN_AFFECT_CONFIG, resolved as virDomainObjUpdateModificationImpact
 * does.
 */
import { VirError } from '../../xml/errors.js';
import type { DomainSnapshot } from '../driver.js';
import { domainNotRunning } from '../errors.js';

/**
 * Which definition a call acts on. Neither: the running domain if it runs,
 * else the persistent definition (VIR_DOMAIN_AFFECT_CURRENT).
 */
export interface AffectOptions {
  readonly live?: boolean;
  readonly config?: boolean;
}

export interface Impact {
  readonly live: boolean;
  readonly config: boolean;
}

const transientConfig = (): VirError => new VirError('VIR_ERR_OPERATION_INVALID', 'transient domains do not have any persistent config');

/** virDomainObjUpdateModificationImpact: refuses live changes to a shut-off domain and config changes to a transient one. */
export function impactOf(snapshot: DomainSnapshot, opts: AffectOptions): Impact {
  const current = !opts.live && !opts.config;
  const live = opts.live === true || (current && snapshot.live !== undefined);
  const config = opts.config === true || (current && snapshot.live === undefined);
  if (live && !snapshot.live) throw domainNotRunning();
  if (config && !snapshot.persistent) throw transientConfig();
  return { live, config };
}
