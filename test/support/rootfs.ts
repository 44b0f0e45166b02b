/**
 * A minimal container root filesystem for tests: host binaries plus the
 * libraries `ldd` reports, /etc/passwd and /etc/group, empty mount points.
 *
 *   /bin            binaries (sbin, usr/bin, usr/sbin are symlinks to it)
 *   /lib, /lib64    libraries at the paths ldd reports (usr/lib → ../lib)
 *   /etc/passwd     root (0) and nsvirt (1000)
 *   /sbin/nsvirt-reboot  (when a C compiler exists) reboot(2) helper, see below
 *   proc sys dev dev/pts tmp mnt root home/nsvirt .oldroot   empty
 */
import { execFileSync } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  constants,
  copyFileSync,
  existsSync,
  lchownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const DEFAULT_BINARIES = [
  'sh',
  'dash',
  'ls',
  'cat',
  'sleep',
  'hostname',
  'id',
  'mkdir',
  'echo',
  'readlink',
  'ipcs',
  'ipcmk',
  'mount',
  'umount',
  'true',
  'env',
  'touch',
  'rm',
  'ln',
  'stat',
];

export interface RootfsOptions {
  /** Binary names looked up on the host (missing ones are skipped). */
  binaries?: string[];
  /** chown the whole tree (e.g. to the host uid that a user namespace maps to 0). */
  owner?: { uid: number; gid: number };
  /** Compile /sbin/nsvirt-reboot (needs `cc`); default true. */
  rebootHelper?: boolean;
  /** Parent directory of the temp dir; default os.tmpdir(). */
  parent?: string;
}

export interface Rootfs {
  path: string;
  /** Binaries actually installed (name → path inside the rootfs). */
  binaries: Map<string, string>;
  hasRebootHelper: boolean;
  remove(): void;
}

const SEARCH_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute path of a host executable (`command -v`, falling back to a PATH scan for shell builtins). */
export function findHostBinary(name: string): string | undefined {
  try {
    const p = execFileSync('/bin/sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    if (p.startsWith('/')) return p;
  } catch {
    // not found by the shell
  }
  for (const dir of SEARCH_PATH) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Libraries a dynamic executable needs, as ldd reports them (absolute paths). */
export function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return []; // static, or not an ELF executable
  }
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

function copyWithParents(src: string, root: string, dest = src): void {
  const target = join(root, dest);
  if (existsSync(target)) return;
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(realpathSync(src), target);
  chmodSync(target, 0o755);
}

/* reboot(2) from inside a container: `restart` → init dies of SIGHUP, `poweroff`/`halt` → SIGINT,
 * `crash` → SIGSEGV. Refuses to run in the pid namespace it was built in (the host's). */
const REBOOT_HELPER_C = `
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/reboot.h>
int main(int argc, char **argv) {
    char ns[64] = "";
    const char *mode = argc > 1 ? argv[1] : "restart";
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
    if (n < 0 || strcmp(ns, HOST_PIDNS) == 0) {
        fprintf(stderr, "nsvirt-reboot: refusing to run outside a container\\n");
        return 2;
    }
    if (!strcmp(mode, "crash")) { *(volatile int *)0 = 1; return 3; }
    int cmd = !strcmp(mode, "restart") ? RB_AUTOBOOT : !strcmp(mode, "halt") ? RB_HALT_SYSTEM : RB_POWER_OFF;
    sync();
    reboot(cmd);
    perror("nsvirt-reboot: reboot");
    return 1;
}
`;

function buildRebootHelper(root: string): boolean {
  const cc = findHostBinary('cc') ?? findHostBinary('gcc');
  if (!cc) return false;
  const dir = mkdtempSync(join(tmpdir(), 'nsvirt-reboot-'));
  try {
    const src = join(dir, 'reboot.c');
    const bin = join(dir, 'nsvirt-reboot');
    writeFileSync(src, REBOOT_HELPER_C);
    const hostNs = readlinkSync('/proc/self/ns/pid');
    execFileSync(cc, ['-O2', `-DHOST_PIDNS="${hostNs}"`, '-o', bin, src], { stdio: 'pipe' });
    copyWithParents(bin, root, '/bin/nsvirt-reboot');
    for (const lib of sharedLibraries(bin)) copyWithParents(lib, root);
    return true;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function mountpointsUnder(path: string): string[] {
  const real = realpathSync(path);
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === real || p.startsWith(`${real}/`));
}

function chownTree(path: string, uid: number, gid: number): void {
  lchownSync(path, uid, gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, entry.name);
    if (entry.isDirectory()) chownTree(p, uid, gid);
    else lchownSync(p, uid, gid);
  }
}

export function buildRootfs(options: RootfsOptions = {}): Rootfs {
  const path = mkdtempSync(join(options.parent ?? tmpdir(), 'nsvirt-rootfs-'));
  const binaries = new Map<string, string>();
  let hasRebootHelper = false;
  try {
    for (const d of ['bin', 'lib', 'lib64', 'usr', 'etc', 'proc', 'sys', 'dev', 'dev/pts', 'tmp', 'mnt', 'root', 'home/nsvirt', '.oldroot'])
      mkdirSync(join(path, d), { recursive: true });
    chmodSync(path, 0o755); // mkdtemp made it 0700; it becomes / of the container
    chmodSync(join(path, 'tmp'), 0o1777);
    symlinkSync('bin', join(path, 'sbin'));
    symlinkSync('../bin', join(path, 'usr/bin'));
    symlinkSync('../bin', join(path, 'usr/sbin'));
    symlinkSync('../lib', join(path, 'usr/lib'));

    const installed = new Map<string, string>(); // real host file → name in /bin
    for (const name of options.binaries ?? DEFAULT_BINARIES) {
      const host = findHostBinary(name);
      if (!host) continue;
      const real = realpathSync(host);
      const already = installed.get(real);
      if (already !== undefined && already !== name) {
        symlinkSync(already, join(path, 'bin', name));
      } else {
        copyWithParents(real, path, `/bin/${name}`);
        installed.set(real, name);
      }
      for (const lib of sharedLibraries(real)) copyWithParents(lib, path);
      binaries.set(name, `/bin/${name}`);
    }
    writeFileSync(
      join(path, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnsvirt:x:1000:1000:nsvirt test user:/home/nsvirt:/bin/sh\n',
    );
    writeFileSync(join(path, 'etc/group'), 'root:x:0:\nnsvirt:x:1000:\n');
    writeFileSync(join(path, 'etc/hostname'), 'rootfs\n');
    lchownSync(join(path, 'home/nsvirt'), 1000, 1000);
    if (options.rebootHelper !== false) hasRebootHelper = buildRebootHelper(path);
    if (options.owner) chownTree(path, options.owner.uid, options.owner.gid);
  } catch (e) {
    rmSync(path, { recursive: true, force: true });
    throw e;
  }
  return {
    path,
    binaries,
    hasRebootHelper,
    remove(): void {
      if (!existsSync(path)) return;
      // Never delete through a mount that is still there (it could be a bind mount of host data).
      const mounted = mountpointsUnder(path);
      if (mounted.length > 0) throw new Error(`rootfs ${path} still has mounts: ${mounted.join(', ')}`);
      rmSync(path, { recursive: true, force: true });
    },
  };
}
