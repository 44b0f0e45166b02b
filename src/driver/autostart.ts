/**
 * virDomainSetAutostart (lxcDomainSetAutostart): a persistent domain is
 * started at boot when paths.autostartLink(NAME) — a symlink to its
 * config file, as libvirt makes it — exists. Changed under the domain lock.
 */
import { VirError } from '../xml/errors.js';
import { ensureDirectory, removeFileDurable, symlinkAtomic } from './atomic.js';
import type { DomainRef } from './driver.js';
import { describingFailure } from './errors.js';
import { withDomainLock } from './lock.js';
import type { DomainSource } from './runtime/running.js';

export async function setAutostart(source: DomainSource, ref: DomainRef, autostart: boolean): Promise<void> {
  const { paths } = source;
  await withDomainLock(paths, ref.name, async () => {
    // Read again under the lock: the domain may have been undefined meanwhile.
    const snapshot = await source.snapshot(ref);
    if (!snapshot.persistent) throw new VirError('VIR_ERR_OPERATION_INVALID', 'Cannot set autostart for transient domain');
    if (snapshot.autostart === autostart) return;
    const link = paths.autostartLink(ref.name);
    if (autostart) {
      const config = paths.configFile(ref.name);
      describingFailure(`Cannot create autostart directory ${paths.autostartDir}`, () => ensureDirectory(paths.autostartDir));
      describingFailure(`Failed to create symlink '${link}' to '${config}'`, () => symlinkAtomic(config, link));
    } else {
      describingFailure(`Failed to delete symlink '${link}'`, () => removeFileDurable(link));
    }
  });
}
