/** What a container started under a test root may leave on the host, for tests to assert none is left. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** A file of the container's cgroup in a v1 hierarchy (default partition). */
export const containerCgroupFile = (name: string, hierarchy: string, file: string): string =>
  readFileSync(join('/sys/fs/cgroup', hierarchy, 'machine', `${name}.libvirt-lxc`, file), 'utf8').trim();

/** Cgroup directories, processes and mounts naming the test root, runtime files other than the last state. */
export function hostLeftovers(root: string, name: string): string[] {
  const found: string[] = [];
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', hierarchy, 'machine', `${name}.libvirt-lxc`);
    if (existsSync(dir)) found.push(dir);
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(root)) found.push(`process ${pid}: ${cmd.replace(/\0/g, ' ')}`);
    } catch {
      // exited
    }
  }
  if (readFileSync('/proc/mounts', 'utf8').includes(root)) found.push('mount under the test root');
  const state = join(root, 'run/nsvirt/lxc');
  if (existsSync(state)) {
    found.push(...readdirSync(state).filter((f) => f.startsWith(`${name}.`) && !f.endsWith('.laststate')).map((f) => join(state, f)));
  }
  return found;
}
