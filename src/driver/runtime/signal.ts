/**
 * virDomainSendProcessSignal for containers (lxcDomainSendProcessSignal):
 * only the container's init (pid 1) can be signalled. The supervisor
 * delivers the signal: as init's parent it cannot hit a recycled pid.
 */
import { VirError, invalidArg } from '../../xml/errors.js';
import { strerror } from '../../native.js';
import type { DomainRef } from '../driver.js';
import { controlRequest, SupervisorError } from './control.js';
import { initPidOf, runningDomain, type DomainSource } from './running.js';

/** VIR_DOMAIN_PROCESS_SIGNAL_LAST: signals are 0 ("nop", an existence check) to 64. */
export const PROCESS_SIGNAL_LAST = 65;

const ESRCH = 3;

export async function sendProcessSignal(source: DomainSource, ref: DomainRef, pid: number, signum: number): Promise<void> {
  if (pid === 0) throw invalidArg('pid_value in virDomainSendProcessSignal must not be zero');
  if (!Number.isInteger(signum) || signum < 0 || signum >= PROCESS_SIGNAL_LAST) {
    throw invalidArg(`signum value ${signum} is out of range`);
  }
  const domain = await runningDomain(source, ref);
  if (pid !== 1) throw new VirError('VIR_ERR_ARGUMENT_UNSUPPORTED', 'Only the init process may be killed');
  const initPid = initPidOf(domain);
  try {
    // Signal 0 only asks whether init exists; the supervisor's status answers that.
    if (signum === 0) {
      const [, statusInitPid] = await controlRequest(domain.files.control, 'status');
      if (Number(statusInitPid) === 0) throw new SupervisorError('status', ESRCH, 'init is not running');
    } else {
      await controlRequest(domain.files.control, `signal ${signum}`);
    }
  } catch (e) {
    if (!(e instanceof SupervisorError)) throw e;
    throw new VirError('VIR_ERR_SYSTEM_ERROR', `Unable to send ${signum} signal to process ${initPid}: ${strerror(e.errno)}`);
  }
}
