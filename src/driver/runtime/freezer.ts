/**
 * suspend/resume with the cgroup freezer (libvirt's lxcFreezeContainer):
 * v1 freezer.state FROZEN/THAWED, v2 cgroup.freeze 1/0 (libvirt cannot
 * suspend on v2; nsvirt can). The supervisor records the state it is told.
 */
import { VirError } from '../../xml/errors.js';
import type { DomainDef } from '../../xml/model.js';
import { domainCgroup } from './domaincgroup.js';
import { readHostFacts } from './hostfacts.js';

interface FreezerFiles {
  readonly write: (frozen: boolean) => void;
  readonly isFrozen: () => boolean;
}

/** The freezer of the container's cgroup, whichever cgroup version provides it. */
function freezerOf(def: DomainDef): FreezerFiles {
  const cg = domainCgroup(def, readHostFacts());
  const version = cg.version('freezer');
  if (version === undefined) throw new VirError('VIR_ERR_INTERNAL_ERROR', "Unable to find 'freezer' cgroups controller mount");
  if (version === 1) {
    return {
      write: (frozen) => cg.write('freezer', 'freezer.state', frozen ? 'FROZEN' : 'THAWED'),
      isFrozen: () => cg.read('freezer', 'freezer.state').trim() === 'FROZEN',
    };
  }
  return {
    write: (frozen) => cg.write('freezer', 'cgroup.freeze', frozen ? '1' : '0'),
    isFrozen: () => /^frozen 1$/m.test(cg.read('freezer', 'cgroup.events')),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Freeze every task, waiting as libvirt does (1, 10, 100, 1000 ms); thaw again on failure. */
export async function freeze(def: DomainDef): Promise<void> {
  const f = freezerOf(def);
  f.write(true);
  for (const wait of [1, 10, 100, 1000]) {
    if (f.isFrozen()) return;
    await sleep(wait);
  }
  if (f.isFrozen()) return;
  f.write(false);
  throw new VirError('VIR_ERR_OPERATION_FAILED', 'Suspend operation failed');
}

export async function thaw(def: DomainDef): Promise<void> {
  const f = freezerOf(def);
  f.write(false);
  for (const wait of [1, 10, 100, 1000]) {
    if (!f.isFrozen()) return;
    await sleep(wait);
  }
  if (f.isFrozen()) throw new VirError('VIR_ERR_OPERATION_FAILED', 'Resume operation failed');
}
