/** The driver's libvirt-style errors, worded as libvirt's LXC driver words them. */
import { VirError } from '../xml/errors.js';
import { strerror } from '../native.js';

export const noDomainWithName = (name: string): VirError =>
  new VirError('VIR_ERR_NO_DOMAIN', `no domain with matching name '${name}'`);

export const noDomainWithUUID = (uuid: string): VirError =>
  new VirError('VIR_ERR_NO_DOMAIN', `no domain with matching uuid '${uuid}'`);

export const noDomainWithID = (id: number): VirError =>
  new VirError('VIR_ERR_NO_DOMAIN', `no domain with matching id ${id}`);

/** A domain handle whose domain has gone away since it was looked up. */
export const domainGone = (uuid: string, name: string): VirError =>
  new VirError('VIR_ERR_NO_DOMAIN', `no domain with matching uuid '${uuid}' (${name})`);

/** virDomainObjCheckActive's refusal. */
export const domainNotRunning = (): VirError => new VirError('VIR_ERR_OPERATION_INVALID', 'domain is not running');

export const operationFailed = (detail: string): VirError => new VirError('VIR_ERR_OPERATION_FAILED', detail);

/**
 * A failed system call as libvirt's virReportSystemError renders it:
 * "<what failed>: <strerror text>". Errors that are not system call
 * failures pass through unchanged.
 */
export function systemError(what: string, e: unknown): unknown {
  const errno = (e as NodeJS.ErrnoException | undefined)?.errno;
  if (!(e instanceof Error) || typeof errno !== 'number') return e;
  return new VirError('VIR_ERR_SYSTEM_ERROR', `${what}: ${strerror(errno)}`);
}

/** Run `fn`, rewording a system call failure as `what: strerror`. */
export function describingFailure<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw systemError(what, e);
  }
}
