/**
 * Which device nodes a container may use, in the rule language of cgroup v1's
 * devices.allow (`c 1:3 rwm`, `b *:* m`, `a *:* rwm`). v1 takes the rules as
 * text; cgroup v2 has no devices files, so there the rules are compiled to a
 * BPF_PROG_TYPE_CGROUP_DEVICE program that allows a request when some rule
 * matches it and denies everything else, as libvirt's
 * util/vircgroupv2devices.c and runc's devicefilter do.
 */
import { endianness } from 'node:os';

export interface DeviceRule {
  /** 'b' block, 'c' character, 'a' every device (v1 allows 'a' only as `a *:* rwm`). */
  readonly type: 'a' | 'b' | 'c';
  readonly major: number | '*';
  readonly minor: number | '*';
  /** A non-empty subset of 'rwm': read, write, mknod. */
  readonly access: string;
}

// Linux dev_t limits: 12-bit major, 20-bit minor.
const MAX_MAJOR = 0xfff;
const MAX_MINOR = 0xfffff;

// The access bits of struct bpf_cgroup_dev_ctx (BPF_DEVCG_ACC_*), by rule letter.
const ACCESS_BITS: ReadonlyArray<readonly [letter: string, bit: number]> = [
  ['r', 2],
  ['w', 4],
  ['m', 1],
];
const ALL_ACCESS_BITS = 7;

// BPF_DEVCG_DEV_*
const DEVICE_TYPE_BITS = { b: 1, c: 2 } as const;

function accessBits(access: string): number {
  let bits = 0;
  for (const letter of access) {
    const entry = ACCESS_BITS.find(([l]) => l === letter);
    if (!entry) throw new RangeError(`device access '${access}' may only contain r, w and m`);
    if (bits & entry[1]) throw new RangeError(`device access '${access}' repeats '${letter}'`);
    bits |= entry[1];
  }
  if (bits === 0) throw new RangeError('device access must not be empty');
  return bits;
}

function checkNumber(value: number | '*', max: number, what: string): void {
  if (value !== '*' && !(Number.isInteger(value) && value >= 0 && value <= max)) {
    throw new RangeError(`device ${what} ${String(value)} is not '*' or an integer from 0 to ${max}`);
  }
}

/** Throws RangeError unless the rule means the same under v1 and v2. Returns its access bits. */
function checkRule(rule: DeviceRule): number {
  if (rule.type !== 'a' && rule.type !== 'b' && rule.type !== 'c') {
    throw new RangeError(`device type '${String(rule.type)}' is not a, b or c`);
  }
  checkNumber(rule.major, MAX_MAJOR, 'major');
  checkNumber(rule.minor, MAX_MINOR, 'minor');
  const bits = accessBits(rule.access);
  // v1 reads "a" as "allow everything" whatever follows it; anything narrower
  // must be spelled as a 'b' and a 'c' rule.
  if (rule.type === 'a' && (rule.major !== '*' || rule.minor !== '*' || bits !== ALL_ACCESS_BITS)) {
    throw new RangeError("a type 'a' rule must be 'a *:* rwm'; use 'b' and 'c' rules for anything narrower");
  }
  return bits;
}

/** The line for v1's devices.allow / devices.deny, as libvirt writes it ("%c %s:%s %s"). */
export function formatV1Rule(rule: DeviceRule): string {
  const bits = checkRule(rule);
  const access = ACCESS_BITS.filter(([, bit]) => bits & bit)
    .map(([letter]) => letter)
    .join('');
  return `${rule.type} ${rule.major}:${rule.minor} ${access}`;
}

// --- eBPF encoding (linux/bpf.h, linux/bpf_common.h) ---

/** One `struct bpf_insn`: opcode, destination and source registers, 16-bit offset, 32-bit immediate. */
interface Insn {
  readonly code: number;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
  readonly imm: number;
}

const INSN_SIZE = 8;
// Instruction classes.
const BPF_LDX = 0x01;
const BPF_ALU = 0x04; // 32-bit ALU: results are zero-extended
const BPF_JMP = 0x05;
const BPF_ALU64 = 0x07;
// Load size and mode; operand source (immediate).
const BPF_W = 0x00;
const BPF_MEM = 0x60;
const BPF_K = 0x00;
// ALU operations.
const BPF_AND = 0x50;
const BPF_RSH = 0x70;
const BPF_MOV = 0xb0;
// Jump operations.
const BPF_JSET = 0x40; // taken when dst & imm != 0
const BPF_JNE = 0x50;
const BPF_EXIT = 0x90;

// Registers: R0 holds the verdict and R1 the context on entry; R2..R5 hold
// the request's fields for every rule to test.
const R0 = 0;
const R_CTX = 1;
const R_TYPE = 2;
const R_ACCESS = 3;
const R_MAJOR = 4;
const R_MINOR = 5;

// Offsets in struct bpf_cgroup_dev_ctx.
const CTX_ACCESS_TYPE = 0;
const CTX_MAJOR = 4;
const CTX_MINOR = 8;

const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });
const loadWord = (dst: number, src: number, off: number): Insn => insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
const alu32Imm = (op: number, dst: number, imm: number): Insn => insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
const mov64Imm = (dst: number, imm: number): Insn => insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
const jumpImm = (op: number, dst: number, imm: number, off: number): Insn => insn(BPF_JMP | op | BPF_K, dst, 0, off, imm);
const exit = (): Insn => insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

const PROLOGUE: readonly Insn[] = [
  // access_type = (access << 16) | type
  loadWord(R_TYPE, R_CTX, CTX_ACCESS_TYPE),
  alu32Imm(BPF_AND, R_TYPE, 0xffff),
  loadWord(R_ACCESS, R_CTX, CTX_ACCESS_TYPE),
  alu32Imm(BPF_RSH, R_ACCESS, 16),
  loadWord(R_MAJOR, R_CTX, CTX_MAJOR),
  loadWord(R_MINOR, R_CTX, CTX_MINOR),
];

const returnVerdict = (allow: boolean): Insn[] => [mov64Imm(R0, allow ? 1 : 0), exit()];

/**
 * The tests a request must pass for `rule` to allow it, each as [opcode,
 * register, immediate] of a jump taken when the test fails. Empty for 'a'.
 */
function ruleMismatchTests(rule: DeviceRule, bits: number): Array<readonly [op: number, reg: number, imm: number]> {
  if (rule.type === 'a') return [];
  const tests: Array<readonly [number, number, number]> = [
    [BPF_JNE, R_TYPE, DEVICE_TYPE_BITS[rule.type]],
    // Any requested bit outside the rule's fails, including bits newer
    // kernels might define: the filter stays deny-by-default.
    [BPF_JSET, R_ACCESS, 0xffff & ~bits],
  ];
  if (rule.major !== '*') tests.push([BPF_JNE, R_MAJOR, rule.major]);
  if (rule.minor !== '*') tests.push([BPF_JNE, R_MINOR, rule.minor]);
  return tests;
}

/** A block that returns 1 when the request matches the rule and otherwise falls through to the next block. */
function ruleBlock(rule: DeviceRule, bits: number): Insn[] {
  const tests = ruleMismatchTests(rule, bits);
  const length = tests.length + 2;
  // A jump's offset counts from the instruction after it; every failed test
  // lands on the first instruction after this block.
  return [...tests.map(([op, reg, imm], i) => jumpImm(op, reg, imm, length - i - 1)), ...returnVerdict(true)];
}

function encode(program: readonly Insn[]): Buffer {
  const buf = Buffer.alloc(program.length * INSN_SIZE);
  const littleEndian = endianness() === 'LE';
  program.forEach(({ code, dst, src, off, imm }, i) => {
    const at = i * INSN_SIZE;
    buf.writeUInt8(code, at);
    // dst_reg:4, src_reg:4 is a bitfield: its order follows the host's byte order.
    buf.writeUInt8(littleEndian ? (src << 4) | dst : (dst << 4) | src, at + 1);
    if (littleEndian) {
      buf.writeInt16LE(off, at + 2);
      buf.writeInt32LE(imm, at + 4);
    } else {
      buf.writeInt16BE(off, at + 2);
      buf.writeInt32BE(imm, at + 4);
    }
  });
  return buf;
}

/**
 * A BPF_PROG_TYPE_CGROUP_DEVICE program (host-order `struct bpf_insn`s)
 * that allows exactly the requests some rule allows: the type matches (or
 * the rule is 'a'), the requested access is within the rule's, and major
 * and minor match unless the rule has '*'.
 */
export function compileDeviceFilter(rules: readonly DeviceRule[]): Buffer {
  const checked = rules.map((rule) => [rule, checkRule(rule)] as const);
  const program: Insn[] = [...PROLOGUE];
  for (const [rule, bits] of checked) {
    program.push(...ruleBlock(rule, bits));
    // The verifier rejects unreachable code, so nothing may follow a rule
    // that allows everything.
    if (rule.type === 'a') return encode(program);
  }
  program.push(...returnVerdict(false));
  return encode(program);
}
