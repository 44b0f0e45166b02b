/**
 * The container init's identity: environment (libvirt's
 * lxcContainerBuildInitCmd, in its exact order), hostname
 * (lxcContainerSetHostname) and the user and groups it runs as, resolved in
 * the container's own /etc/passwd and /etc/group as libvirt does.
 */
import { VirError } from '../../xml/errors.js';
import type { DomainDef } from '../../xml/model.js';

/** `<name>` with everything outside [a-zA-Z0-9-] removed, then one leading '-' stripped. */
export function containerHostname(name: string): string {
  return name.replace(/[^a-zA-Z0-9-]/g, '').replace(/^-/, '');
}

/**
 * Environment of init, nothing inherited. `container_ttys` names the devices
 * of consoles 1..n relative to /dev (nsvirt binds them at /dev/ttyN; libvirt
 * lists pts/M of its private devpts, which nsvirt does not use for consoles).
 */
export function initEnvironment(def: DomainDef): string[] {
  const env: Array<[string, string]> = [
    ['PATH', '/bin:/sbin'],
    ['TERM', 'linux'],
    ['container', 'lxc-libvirt'],
    ['HOME', '/'],
    ['container_uuid', def.uuid],
  ];
  const consoles = def.devices.consoles.length;
  if (consoles > 1) {
    env.push(['container_ttys', Array.from({ length: consoles - 1 }, (_, i) => `tty${i + 2}`).join(' ')]);
  }
  env.push(['LIBVIRT_LXC_UUID', def.uuid], ['LIBVIRT_LXC_NAME', def.name]);
  if (def.os.cmdline !== undefined) env.push(['LIBVIRT_LXC_CMDLINE', def.os.cmdline]);
  for (const { name, value } of def.os.initEnv) {
    const existing = env.findIndex(([n]) => n === name);
    if (existing >= 0) env[existing] = [name, value];
    else env.push([name, value]);
  }
  return env.map(([n, v]) => `${n}=${v}`);
}

interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

const fields = (text: string | undefined): string[][] =>
  (text ?? '')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));

function lookupUser(passwd: string | undefined, user: string): PasswdEntry | undefined {
  for (const f of fields(passwd)) {
    if (f[0] === user && f.length >= 4) return { name: f[0], uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

function lookupGroup(group: string | undefined, name: string): number | undefined {
  const f = fields(group).find((g) => g[0] === name && g.length >= 3);
  return f ? Number(f[2]) : undefined;
}

/** getgrouplist(user, gid): the primary group plus every group listing the user. */
function groupList(group: string | undefined, user: string, gid: number): number[] {
  const ids = new Set([gid]);
  for (const f of fields(group)) {
    if (f.length >= 4 && f[3]!.split(',').includes(user)) ids.add(Number(f[2]));
  }
  return [...ids];
}

const numeric = (spec: string): number | undefined => (/^\+\d+$/.test(spec) ? Number(spec.slice(1)) : undefined);

export interface InitIdentity {
  readonly uid?: number;
  readonly gid?: number;
  readonly groups?: readonly number[];
}

/**
 * `<inituser>`/`<initgroup>`, resolved in the container's own account files
 * (`+N` is numeric). `readContainerFile` reads a file of the container's
 * root filesystem; it returns undefined when the root is not readable from
 * the host (block or image roots), where only numeric ids can be used.
 */
export function resolveInitIdentity(
  def: DomainDef,
  readContainerFile: (path: string) => string | undefined,
): InitIdentity {
  const { initUser, initGroup } = def.os;
  if (initUser === undefined && initGroup === undefined) return {};
  const passwd = readContainerFile('/etc/passwd');
  const group = readContainerFile('/etc/group');
  let uid = 0;
  let gid = 0;
  let userName: string | undefined;
  if (initUser !== undefined) {
    const n = numeric(initUser);
    const entry = n === undefined ? lookupUser(passwd, initUser) : undefined;
    if (n === undefined && entry === undefined) throw new VirError('VIR_ERR_INTERNAL_ERROR', `User ${initUser} doesn't exist`);
    uid = n ?? entry!.uid;
    gid = entry?.gid ?? gid;
    userName = entry?.name;
  }
  if (initGroup !== undefined) {
    const n = numeric(initGroup) ?? lookupGroup(group, initGroup);
    if (n === undefined) throw new VirError('VIR_ERR_INTERNAL_ERROR', `Group ${initGroup} doesn't exist`);
    gid = n;
  }
  const groups = userName === undefined ? [] : groupList(group, userName, gid);
  return { uid, gid, groups };
}
