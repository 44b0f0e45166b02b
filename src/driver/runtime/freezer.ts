/**
 * suspend/resume with the cgroup freezer (libvirt's lxcFreezeContainer):
 * v1 freezer.state FROZEN/THAWED, v2 cgroup.freeze 1/0 (libvirt cannot
 * suspend on v2; nsvirt can). The supervisor records the state it is told.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VirError } from '../../xml/errors.js';
import type { DomainDef } from '../../xml/model.js';
import { containerCgroups, DEFAULT_PARTITION } from './cgroups.js';
import { readHostFacts } from './hostfacts.js';
import { cgroupLayout } from './tunables.js';

interface FreezerFiles {
  readonly write: (frozen: boolean) => void;
  readonly isFrozen: () => boolean;
}

/** The freezer of the container's cgroup, whichever cgroup version provides it. */
function freezerOf(def: DomainDef): FreezerFiles {
  const facts = readHostFacts();
  const m = cgroupLayout(facts).provider('freezer');
  if (!m) throw new VirError('VIR_ERR_INTERNAL_ERROR', "Unable to find 'freezer' cgroups controller mount");
  const dir = containerCgroups(def.name, def.resource?.partition ?? DEFAULT_PARTITION, facts).dirIn(m);
  if (m.version === 1) {
    return {
      write: (frozen) => writeFileSync(join(dir, 'freezer.state'), frozen ? 'FROZEN' : 'THAWED'),
      isFrozen: () => readFileSync(join(dir, 'freezer.state'), 'utf8').trim() === 'FROZEN',
    };
  }
  return {
    write: (frozen) => writeFileSync(join(dir, 'cgroup.freeze'), frozen ? '1' : '0'),
    isFrozen: () => /^frozen 1$/m.test(readFileSync(join(dir, 'cgroup.events'), 'utf8')),
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
