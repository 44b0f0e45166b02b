/**
 * Network changes to a running container, made by its supervisor (control
 * command `net-apply`, docs/plan-format.md): the records go to a file next
 * to the plan; the supervisor runs the host records, runs the child
 * operations inside the container's namespaces, and deletes the links it
 * made when a record fails.
 */
import { readFileSync, rmSync } from 'node:fs';
import { VirError } from '../../xml/errors.js';
import { writeFileAtomic } from '../atomic.js';
import { SupervisorError, controlStepRequest } from './control.js';
import type { RuntimeFiles } from './files.js';
import { decodePlan, encodeField } from './plan-encoding.js';
import { encodeNetworkChange, type ChildOp, type HostNetOp } from './plan.js';

const NET_APPLY_TIMEOUT_MS = 30_000;

/** Does the running container have a network namespace of its own (`clone net` in its plan)? */
export function ownsNetworkNamespace(files: RuntimeFiles): boolean {
  try {
    return decodePlan(readFileSync(files.plan, 'utf8')).some(([kw, ...flags]) => kw === 'clone' && flags.includes('net'));
  } catch {
    return false;
  }
}

/** The supervisor's refusal in libvirt's terms: a failed record reads like libvirt's system errors ("…: strerror"). */
function reworded(e: unknown): unknown {
  if (!(e instanceof SupervisorError)) return e;
  if (e.step === 'plan') return new VirError('VIR_ERR_INTERNAL_ERROR', `invalid network change: ${e.reason}`);
  return new VirError('VIR_ERR_SYSTEM_ERROR', e.reason);
}

export async function applyNetworkChange(files: RuntimeFiles, host: readonly HostNetOp[], child: readonly ChildOp[]): Promise<void> {
  const file = `${files.plan}.net`;
  writeFileAtomic(file, encodeNetworkChange(host, child), 0o600);
  try {
    await controlStepRequest(files.control, `net-apply ${encodeField(file)}`, NET_APPLY_TIMEOUT_MS);
  } catch (e) {
    throw reworded(e);
  } finally {
    rmSync(file, { force: true });
  }
}
