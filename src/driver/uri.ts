/** Connection URIs: which ones this driver opens, and their canonical form. */
import { VirError } from '../xml/errors.js';

/** What libvirt's LXC driver probes as its URI (lxcConnectURIProbe). */
export const DEFAULT_URI = 'lxc:///system';

/** Paths libvirt's LXC driver accepts after "lxc://". */
const LXC_PATHS = new Set(['', '/', '/system']);

const URI_PATTERN = /^([A-Za-z][A-Za-z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(\?[^#]*)?(#.*)?$/;

const noDriverFor = (uri: string): VirError => new VirError('VIR_ERR_NO_CONNECT', uri);

/**
 * Check that `uri` names this driver and return its canonical form
 * ("lxc://" becomes "lxc:///"), as virConnectGetURI reports it.
 */
export function resolveURI(uri: string): string {
  const m = URI_PATTERN.exec(uri);
  // A host part means a remote connection, which needs a daemon this library does not have.
  if (!m || m[1]!.toLowerCase() !== 'lxc' || (m[2] ?? '') !== '') throw noDriverFor(uri);
  const path = m[3] ?? '';
  if (!LXC_PATHS.has(path)) {
    throw new VirError('VIR_ERR_INTERNAL_ERROR', `Unexpected LXC URI path '${path}', try lxc:///system`);
  }
  return `lxc://${path || '/'}`;
}
