/**
 * Device access rules (src/driver/runtime/devicefilter.ts): the cgroup v1
 * devices.allow text, and the cgroup v2 BPF program they compile to — run
 * here by a small interpreter for the few opcodes the compiler emits, then
 * for real in the kernel (native/bpf.cc) on a scratch cgroup2 directory,
 * where shells inside the cgroup open, write and mknod devices.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileDeviceFilter, formatV1Rule, type DeviceRule } from '../src/driver/runtime/devicefilter.js';
import { deviceFilterAttach, deviceFilterDetach, deviceFilterQuery, isSystemCallError } from '../src/native.js';

/** `'c 1:3 rwm'` → a DeviceRule, to keep the tables readable. */
function rule(text: string): DeviceRule {
  const [type, numbers, access = ''] = text.split(' ');
  const [major, minor] = (numbers ?? '*:*').split(':').map((n) => (n === '*' ? '*' : Number(n)));
  return { type: type as DeviceRule['type'], major: major ?? '*', minor: minor ?? '*', access };
}

/** libvirt's LXC device ACL (lxc_cgroup.c): null, zero, full, random, urandom, tty, ptmx, fuse, every pty. */
const LIBVIRT_LXC_RULES = ['c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 10:229 rwm', 'c 136:* rwm'].map(rule);
const MKNOD_RULES = ['b *:* m', 'c *:* m'].map(rule);

// --- A BPF interpreter for what compileDeviceFilter emits ---

const ACCESS = { m: 1, r: 2, w: 4 } as const;
const TYPE = { b: 1, c: 2 } as const;

interface Request {
  type: 'b' | 'c';
  major: number;
  minor: number;
  /** Letters of 'rwm'; or the raw access bits, to try bits no rule letter names. */
  access: string | number;
}

const accessBits = (access: string | number): number =>
  typeof access === 'number' ? access : [...access].reduce((bits, l) => bits | ACCESS[l as keyof typeof ACCESS], 0);

/** Runs a BPF_PROG_TYPE_CGROUP_DEVICE program on one request: true when it returns 1. */
function evaluateDeviceFilter(program: Buffer, request: Request): boolean {
  const le = endianness() === 'LE';
  const ctx = [(accessBits(request.access) << 16) | TYPE[request.type], request.major, request.minor];
  const regs: Array<number | 'ctx' | undefined> = [];
  regs[1] = 'ctx';
  const count = program.length / 8;
  const reg = (r: number): number => {
    const v = regs[r];
    if (typeof v !== 'number') throw new Error(`r${r} read before it holds a number`);
    return v;
  };
  for (let pc = 0, steps = 0; ; pc++, steps++) {
    if (pc < 0 || pc >= count) throw new Error(`pc ${pc} outside the program`);
    if (steps > 10_000) throw new Error('program does not terminate');
    const at = pc * 8;
    const code = program[at]!;
    const regByte = program[at + 1]!;
    const dst = le ? regByte & 0xf : regByte >> 4;
    const src = le ? regByte >> 4 : regByte & 0xf;
    const off = le ? program.readInt16LE(at + 2) : program.readInt16BE(at + 2);
    const imm = le ? program.readInt32LE(at + 4) : program.readInt32BE(at + 4);
    switch (code) {
      case 0x61: // BPF_LDX | BPF_MEM | BPF_W
        if (regs[src] !== 'ctx' || off % 4 !== 0 || off < 0 || off >= 12) throw new Error(`bad context load at ${pc}`);
        regs[dst] = ctx[off / 4]!;
        break;
      case 0x54: // BPF_ALU | BPF_AND | BPF_K
        regs[dst] = (reg(dst) & imm) >>> 0;
        break;
      case 0x74: // BPF_ALU | BPF_RSH | BPF_K
        regs[dst] = reg(dst) >>> imm;
        break;
      case 0xb7: // BPF_ALU64 | BPF_MOV | BPF_K
        regs[dst] = imm;
        break;
      case 0x55: // BPF_JMP | BPF_JNE | BPF_K
        if (reg(dst) !== imm) pc += off;
        break;
      case 0x45: // BPF_JMP | BPF_JSET | BPF_K
        if ((reg(dst) & imm) !== 0) pc += off;
        break;
      case 0x95: // BPF_JMP | BPF_EXIT
        if (reg(0) !== 0 && reg(0) !== 1) throw new Error(`returns ${reg(0)}`);
        return reg(0) === 1;
      default:
        throw new Error(`opcode 0x${code.toString(16)} at ${pc} is not one the compiler emits`);
    }
  }
}

/** `'c 1:3 rw'` → a request. */
function request(text: string): Request {
  const r = rule(text);
  if (r.type === 'a' || r.major === '*' || r.minor === '*') throw new Error(`not a request: ${text}`);
  return { type: r.type, major: r.major, minor: r.minor, access: r.access };
}

function allowed(rules: readonly DeviceRule[], requests: readonly string[]): Record<string, boolean> {
  const program = compileDeviceFilter(rules);
  return Object.fromEntries(requests.map((r) => [r, evaluateDeviceFilter(program, request(r))]));
}

describe('cgroup v1 rule text', () => {
  it('is written as libvirt writes it, with * for wildcards and access in rwm order', () => {
    expect(formatV1Rule(rule('c 1:3 rwm'))).toBe('c 1:3 rwm');
    expect(formatV1Rule(rule('c 136:* rwm'))).toBe('c 136:* rwm');
    expect(formatV1Rule(rule('b *:* m'))).toBe('b *:* m');
    expect(formatV1Rule(rule('c *:1 r'))).toBe('c *:1 r');
    expect(formatV1Rule(rule('c 10:229 mwr'))).toBe('c 10:229 rwm');
    expect(formatV1Rule(rule('c 1:5 wr'))).toBe('c 1:5 rw');
    expect(formatV1Rule(rule('a *:* rwm'))).toBe('a *:* rwm');
    expect(LIBVIRT_LXC_RULES.map(formatV1Rule)).toEqual(['c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 10:229 rwm', 'c 136:* rwm']);
  });

  it('rejects rules v1 and v2 would read differently, or not at all', () => {
    expect(() => formatV1Rule(rule('c 1:3 rx'))).toThrow(/may only contain r, w and m/);
    expect(() => formatV1Rule(rule('c 1:3 rr'))).toThrow(/repeats 'r'/);
    expect(() => formatV1Rule(rule('c 1:3'))).toThrow(/must not be empty/);
    expect(() => formatV1Rule(rule('x 1:3 r'))).toThrow(/not a, b or c/);
    expect(() => formatV1Rule(rule('c 4096:0 r'))).toThrow(/major 4096 .* 0 to 4095/);
    expect(() => formatV1Rule(rule('c 1:1048576 r'))).toThrow(/minor 1048576/);
    expect(() => formatV1Rule({ type: 'c', major: -1, minor: 3, access: 'r' })).toThrow(/major -1/);
    expect(() => formatV1Rule({ type: 'c', major: 1.5, minor: 3, access: 'r' })).toThrow(/major 1.5/);
    expect(() => formatV1Rule(rule('a 1:3 rwm'))).toThrow(/must be 'a \*:\* rwm'/);
    expect(() => formatV1Rule(rule('a *:* m'))).toThrow(/must be 'a \*:\* rwm'/);
  });
});

describe('compiled cgroup v2 device filter', () => {
  it('is host-order struct bpf_insn: loads from the context, ends in exit', () => {
    const program = compileDeviceFilter([]);
    expect(program.length).toBe(8 * 8);
    if (endianness() === 'LE') {
      // ldxw r2, [r1+0]: code 0x61, dst 2 in the low nibble, src 1 in the high.
      expect([...program.subarray(0, 8)]).toEqual([0x61, 0x12, 0, 0, 0, 0, 0, 0]);
      // ldxw r5, [r1+8]
      expect([...program.subarray(40, 48)]).toEqual([0x61, 0x15, 8, 0, 0, 0, 0, 0]);
    }
    // r0 = 0; exit
    expect([...program.subarray(48, 56)]).toEqual([0xb7, 0, 0, 0, 0, 0, 0, 0]);
    expect([...program.subarray(56)]).toEqual([0x95, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('without rules denies everything', () => {
    expect(allowed([], ['c 1:3 r', 'b 8:0 m', 'c 0:0 rwm'])).toEqual({ 'c 1:3 r': false, 'b 8:0 m': false, 'c 0:0 rwm': false });
  });

  it("allows exactly libvirt's LXC devices", () => {
    expect(
      allowed(LIBVIRT_LXC_RULES, [
        'c 1:3 rw', 'c 1:3 m', 'c 1:3 rwm', 'c 1:5 r', 'c 1:7 w', 'c 1:8 r', 'c 1:9 r', 'c 5:0 rw', 'c 5:2 rw', 'c 10:229 rw',
        'c 136:0 rw', 'c 136:4095 rwm', // every pty: wildcard minor
        'c 1:4 r', 'c 1:1 r', 'c 2:3 r', 'c 5:1 rw', 'c 10:200 rw', 'c 137:0 rw', 'c 4:1 rw', // wrong minor, wrong major
        'b 1:3 r', 'b 136:0 r', // block, not char
        'b 8:0 m', 'c 4:1 m', // no mknod rules
      ]),
    ).toEqual({
      'c 1:3 rw': true, 'c 1:3 m': true, 'c 1:3 rwm': true, 'c 1:5 r': true, 'c 1:7 w': true, 'c 1:8 r': true, 'c 1:9 r': true,
      'c 5:0 rw': true, 'c 5:2 rw': true, 'c 10:229 rw': true, 'c 136:0 rw': true, 'c 136:4095 rwm': true,
      'c 1:4 r': false, 'c 1:1 r': false, 'c 2:3 r': false, 'c 5:1 rw': false, 'c 10:200 rw': false, 'c 137:0 rw': false, 'c 4:1 rw': false,
      'b 1:3 r': false, 'b 136:0 r': false, 'b 8:0 m': false, 'c 4:1 m': false,
    });
  });

  it('with the mknod rules, creating any node is allowed but using it is not', () => {
    expect(allowed([...LIBVIRT_LXC_RULES, ...MKNOD_RULES], ['b 8:0 m', 'c 4:1 m', 'b 8:0 r', 'b 8:0 rm', 'c 4:1 w', 'c 1:3 rwm'])).toEqual({
      'b 8:0 m': true, 'c 4:1 m': true, 'b 8:0 r': false, 'b 8:0 rm': false, 'c 4:1 w': false, 'c 1:3 rwm': true,
    });
  });

  it('requires the requested access to be within the rule', () => {
    expect(allowed([rule('c 1:5 r')], ['c 1:5 r', 'c 1:5 w', 'c 1:5 rw', 'c 1:5 m'])).toEqual({ 'c 1:5 r': true, 'c 1:5 w': false, 'c 1:5 rw': false, 'c 1:5 m': false });
    expect(allowed([rule('c 1:5 r'), rule('c 1:5 w')], ['c 1:5 r', 'c 1:5 w', 'c 1:5 rw'])).toEqual({ 'c 1:5 r': true, 'c 1:5 w': true, 'c 1:5 rw': false });
  });

  it('denies access bits no rule letter names, even under an rwm rule', () => {
    const program = compileDeviceFilter([rule('c 1:3 rwm')]);
    expect(evaluateDeviceFilter(program, { type: 'c', major: 1, minor: 3, access: 7 })).toBe(true);
    expect(evaluateDeviceFilter(program, { type: 'c', major: 1, minor: 3, access: 2 | 8 })).toBe(false);
  });

  it('matches any major or any minor for *', () => {
    expect(allowed([rule('c *:1 r')], ['c 9:1 r', 'c 4095:1 r', 'c 9:2 r', 'b 9:1 r'])).toEqual({ 'c 9:1 r': true, 'c 4095:1 r': true, 'c 9:2 r': false, 'b 9:1 r': false });
    expect(allowed([rule('b *:* rw')], ['b 8:0 rw', 'b 259:1048575 r', 'b 8:0 m', 'c 1:3 r'])).toEqual({ 'b 8:0 rw': true, 'b 259:1048575 r': true, 'b 8:0 m': false, 'c 1:3 r': false });
  });

  it("with an 'a' rule allows everything, and stops there (the verifier rejects dead code)", () => {
    const all = compileDeviceFilter([rule('c 1:3 r'), rule('a *:* rwm'), rule('c 1:5 r')]);
    expect(all.length).toBe(compileDeviceFilter([rule('c 1:3 r'), rule('a *:* rwm')]).length);
    expect(all.subarray(-8)[0]).toBe(0x95);
    for (const r of ['c 1:3 rwm', 'b 8:0 rwm', 'c 4095:1048575 m']) expect(evaluateDeviceFilter(all, request(r))).toBe(true);
    // Rules after it are still checked.
    expect(() => compileDeviceFilter([rule('a *:* rwm'), rule('c 1:3 q')])).toThrow(RangeError);
  });
});

// --- In the kernel ---

/** The cgroup2 mount: /sys/fs/cgroup/unified on a hybrid host, /sys/fs/cgroup on a unified one. */
function cgroup2Mount(): string | undefined {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .find((fields) => fields[2] === 'cgroup2')?.[1];
}

const CGROUP2 = process.getuid?.() === 0 ? cgroup2Mount() : undefined;

interface ShellResult {
  code: number | null;
  output: string;
}

/** Runs a shell script after the shell has moved itself into `cgroup` (undefined: stays in ours). */
function runInCgroup(cgroup: string | undefined, script: string): Promise<ShellResult> {
  const moveIn = cgroup === undefined ? '' : `echo $$ > "$0/cgroup.procs" || exit 99\n`;
  const child = spawn('/bin/sh', ['-c', moveIn + script, cgroup ?? 'sh'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

const EPERM_TEXT = /Operation not permitted/;
const succeeds = (r: ShellResult): void => expect(r, r.output).toEqual({ code: 0, output: '' });
const deniedEPERM = (r: ShellResult): void => {
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBe(99);
  expect(r.output).toMatch(EPERM_TEXT);
};

const openFds = (): number => readdirSync('/proc/self/fd').length;

function removeCgroup(dir: string): void {
  // The last process may still be leaving the cgroup as its shell exits.
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY' || attempt > 100) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

describe.skipIf(!CGROUP2)('device filters in the kernel (needs root and a cgroup2 mount)', () => {
  const cgroups: string[] = [];
  const scratch: string[] = [];

  function newCgroup(): string {
    const dir = join(CGROUP2!, `nsvirt-test-${randomBytes(6).toString('hex')}`);
    mkdirSync(dir);
    cgroups.push(dir);
    return dir;
  }

  afterEach(() => {
    for (const dir of cgroups.splice(0)) {
      if (!existsSync(dir)) continue;
      for (const id of deviceFilterQuery(dir)) deviceFilterDetach(dir, id);
      removeCgroup(dir);
    }
    for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const NULL_RW_ZERO_R = [rule('c 1:3 rw'), rule('c 1:5 r')];

  it('lets a process in the cgroup use only the devices its rules allow', async () => {
    const cgroup = newCgroup();
    const id = deviceFilterAttach(cgroup, compileDeviceFilter(NULL_RW_ZERO_R));
    expect(deviceFilterQuery(cgroup)).toEqual([id]);
    const nodes = mkdtempSync(join(tmpdir(), 'nsvirt-devfilter-'));
    scratch.push(nodes);

    succeeds(await runInCgroup(cgroup, ': <> /dev/null'));
    succeeds(await runInCgroup(cgroup, 'head -c1 /dev/zero > /dev/null'));
    deniedEPERM(await runInCgroup(cgroup, ': < /dev/full'));
    deniedEPERM(await runInCgroup(cgroup, ': > /dev/zero'));
    deniedEPERM(await runInCgroup(cgroup, `mknod "${nodes}/null" c 1 3`));
    expect(existsSync(join(nodes, 'null'))).toBe(false);
    // The same shell outside the cgroup is unrestricted.
    succeeds(await runInCgroup(undefined, ': < /dev/full'));
  });

  it('replaces a filter in one step, freeing the old program', async () => {
    const cgroup = newCgroup();
    const first = deviceFilterAttach(cgroup, compileDeviceFilter(NULL_RW_ZERO_R));
    deniedEPERM(await runInCgroup(cgroup, ': < /dev/full'));

    const second = deviceFilterAttach(cgroup, compileDeviceFilter([...NULL_RW_ZERO_R, rule('c 1:7 rw')]), first);
    expect(second).not.toBe(first);
    expect(deviceFilterQuery(cgroup)).toEqual([second]);
    succeeds(await runInCgroup(cgroup, ': < /dev/full; : > /dev/full'));
    deniedEPERM(await runInCgroup(cgroup, ': > /dev/zero'));
    // Nothing holds the old program any more, so its id is gone.
    expect(() => deviceFilterDetach(cgroup, first)).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'bpf(BPF_PROG_GET_FD_BY_ID)' }));
  });

  it('keeps the old filter when a replacement fails', () => {
    const cgroup = newCgroup();
    const id = deviceFilterAttach(cgroup, compileDeviceFilter(NULL_RW_ZERO_R));
    const noExit = compileDeviceFilter(NULL_RW_ZERO_R).subarray(0, -8);
    expect(() => deviceFilterAttach(cgroup, noExit, id)).toThrow(/BPF_PROG_LOAD/);
    expect(() => deviceFilterAttach(cgroup, compileDeviceFilter([]), 0x7fffffff)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(deviceFilterQuery(cgroup)).toEqual([id]);
  });

  it('detaches, leaving a cgroup that can be removed with nothing attached', () => {
    const cgroup = newCgroup();
    const id = deviceFilterAttach(cgroup, compileDeviceFilter(NULL_RW_ZERO_R));
    deviceFilterDetach(cgroup, id);
    expect(deviceFilterQuery(cgroup)).toEqual([]);
    expect(() => deviceFilterDetach(cgroup, id)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    removeCgroup(cgroup);
    expect(existsSync(cgroup)).toBe(false);
    expect(() => deviceFilterQuery(cgroup)).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'open', path: cgroup }));
  });

  it("loads libvirt's rule set with the mknod rules: any node can be made, only the listed ones opened", async () => {
    const cgroup = newCgroup();
    deviceFilterAttach(cgroup, compileDeviceFilter([...LIBVIRT_LXC_RULES, ...MKNOD_RULES]));
    const nodes = mkdtempSync(join(tmpdir(), 'nsvirt-devfilter-'));
    scratch.push(nodes);
    succeeds(await runInCgroup(cgroup, `mknod "${nodes}/loop" b 7 0 && mknod "${nodes}/kmsg" c 1 11 && : <> /dev/full && : < /dev/urandom`));
    deniedEPERM(await runInCgroup(cgroup, ': < /dev/kmsg'));
  });

  it("passes the verifier at the edges: no rules denies everything, an 'a' rule allows everything", async () => {
    const cgroup = newCgroup();
    const none = deviceFilterAttach(cgroup, compileDeviceFilter([]));
    deniedEPERM(await runInCgroup(cgroup, ': < /dev/null'));
    deviceFilterAttach(cgroup, compileDeviceFilter([rule('c 1:3 r'), rule('a *:* rwm'), rule('c 1:5 r')]), none);
    succeeds(await runInCgroup(cgroup, ': < /dev/kmsg; : <> /dev/null'));
  });

  it('reports a program the verifier rejects with its log, leaking nothing', () => {
    const cgroup = newCgroup();
    const before = openFds();
    let error: unknown;
    try {
      deviceFilterAttach(cgroup, compileDeviceFilter([rule('c 1:3 rw')]).subarray(0, -8));
    } catch (e) {
      error = e;
    }
    expect(isSystemCallError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'EINVAL', syscall: 'bpf(BPF_PROG_LOAD)' });
    expect((error as Error).message).toMatch(/^EINVAL: invalid argument, bpf\(BPF_PROG_LOAD\)\nverifier log:\n.*last insn is not an exit or jmp/s);
    expect(openFds()).toBe(before);
    expect(deviceFilterQuery(cgroup)).toEqual([]);
  });

  it('rejects malformed arguments before any system call', () => {
    const cgroup = newCgroup();
    expect(() => deviceFilterAttach(cgroup, Buffer.alloc(12))).toThrow(RangeError);
    expect(() => deviceFilterAttach(cgroup, Buffer.alloc(0))).toThrow(RangeError);
    expect(() => deviceFilterAttach(cgroup, compileDeviceFilter([]), -1)).toThrow(TypeError);
    expect(() => deviceFilterDetach(cgroup, 1.5)).toThrow(TypeError);
    expect(deviceFilterQuery(cgroup)).toEqual([]);
  });
});
