/**
 * Which device nodes the container may use (libvirt's
 * virLXCCgroupSetupDeviceACL): everything denied, then the standard nodes,
 * ptys, the configured disks, block filesystems and hostdevs, the timers, and
 * `m` (mknod) everywhere only when the mknod capability is switched on.
 * One rule list serves both cgroup versions: v1 writes it to devices.allow,
 * v2 compiles it to a BPF device program.
 */
import { VirError } from '../../xml/errors.js';
import type { DomainDef } from '../../xml/model.js';
import type { HostFacts } from './hostfacts.js';
import type { DeviceRule } from './devicefilter.js';

export { formatV1Rule, type DeviceRule } from './devicefilter.js';

const STANDARD: ReadonlyArray<readonly [number, number]> = [
  [1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 2], [10, 229],
];

const UNIX98_PTY_MAJOR = 136;
const LOOP_MAJOR = 7;

function nodeRule(facts: HostFacts, path: string, access: string): DeviceRule {
  const st = facts.stat(path);
  if (!st || (st.kind !== 'block' && st.kind !== 'char')) {
    throw new VirError('VIR_ERR_CONFIG_UNSUPPORTED', `${path} is not a block or character device`);
  }
  return { type: st.kind === 'block' ? 'b' : 'c', major: st.major, minor: st.minor, access };
}

/** The allow list; everything else is denied. */
export function deviceRules(def: DomainDef, facts: HostFacts): DeviceRule[] {
  const rules: DeviceRule[] = [];
  if (def.features.capabilities?.capabilities.mknod === 'on') {
    rules.push({ type: 'b', major: '*', minor: '*', access: 'm' }, { type: 'c', major: '*', minor: '*', access: 'm' });
  }
  for (const [major, minor] of STANDARD) rules.push({ type: 'c', major, minor, access: 'rwm' });
  for (const disk of def.devices.disks) {
    if (disk.type === 'block' && disk.source) rules.push(nodeRule(facts, disk.source, disk.readonly ? 'rm' : 'rwm'));
  }
  for (const fs of def.devices.filesystems) {
    if (fs.type === 'block' && fs.source) rules.push(nodeRule(facts, fs.source, fs.readonly ? 'r' : 'rw'));
    // The loop device is only chosen at start (by the supervisor): allow the loop major.
    if (fs.type === 'file') rules.push({ type: 'b', major: LOOP_MAJOR, minor: '*', access: fs.readonly ? 'r' : 'rw' });
  }
  for (const hd of def.devices.hostdevs) {
    if (hd.mode === 'capabilities' && hd.type === 'storage') rules.push(nodeRule(facts, hd.blockDevice, 'rwm'));
    if (hd.mode === 'capabilities' && hd.type === 'misc') rules.push(nodeRule(facts, hd.charDevice, 'rwm'));
  }
  rules.push({ type: 'c', major: UNIX98_PTY_MAJOR, minor: '*', access: 'rwm' });
  for (const timer of def.clock.timers ?? []) {
    const node = timer.name === 'rtc' ? '/dev/rtc0' : timer.name === 'hpet' ? '/dev/hpet' : undefined;
    if (node && timer.present !== 'no' && facts.stat(node)) rules.push(nodeRule(facts, node, 'r'));
  }
  return rules;
}
