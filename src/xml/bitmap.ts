/**
 * CPU and NUMA node sets as libvirt reads and writes them (virBitmapParse,
 * virBitmapFormat): "0-3,^2, 8" in, "0-1,3,8" out. A set is kept as its
 * members in ascending order, the canonical form the model stores.
 */
import { invalidArg } from './errors.js';
import { parseInt32 } from './units.js';

/** VIR_DOMAIN_CPUMASK_LEN: the size of every cpuset/nodeset bitmap libvirt parses. */
export const CPUMASK_LEN = 4096;

/** Members of a CPU or node set, ascending and without duplicates. */
export type Bitmap = readonly number[];

const isSpace = (c: string | undefined): boolean => c !== undefined && ' \t\n\v\f\r'.includes(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** A cursor over the text, with the few steps the parser takes. */
class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  get current(): string | undefined {
    return this.text[this.pos];
  }

  get atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  skipSpaces(): void {
    while (isSpace(this.current)) this.pos++;
  }

  /** strtol: blanks, an optional sign and digits, within the range of an int. */
  readInt(): number | undefined {
    const m = /^[ \t\n\v\f\r]*[+-]?[0-9]+/.exec(this.text.slice(this.pos));
    if (!m) return undefined;
    this.pos += m[0].length;
    return parseInt32(m[0]);
  }
}

/**
 * virBitmapParse with a bitmap of `size` bits: comma-separated entries, each
 * "N", "N-M" (N <= M) or "^N" (remove N), with blanks allowed around them.
 * Members at or beyond `size` are an error, as is an empty string.
 */
export function parseBitmap(text: string, size = CPUMASK_LEN): number[] {
  const failure = () => invalidArg(`Failed to parse bitmap '${text}'`);
  const members = new Set<number>();
  const check = (bit: number): number => {
    if (bit < 0 || bit >= size) throw failure();
    return bit;
  };
  const s = new Scanner(text);
  s.skipSpaces();
  if (s.atEnd) throw failure();
  while (!s.atEnd) {
    const negate = s.current === '^';
    if (negate) s.pos++;
    if (!isDigit(s.current)) throw failure();
    const start = s.readInt();
    if (start === undefined) throw failure();
    s.skipSpaces();
    if (s.current === ',' || s.atEnd) {
      if (negate) members.delete(check(start));
      else members.add(check(start));
    } else if (s.current === '-') {
      if (negate) throw failure();
      s.pos++;
      s.skipSpaces();
      const last = s.readInt();
      if (last === undefined || last < start) throw failure();
      for (let bit = start; bit <= last; bit++) members.add(check(bit));
      s.skipSpaces();
    }
    if (s.current === ',') {
      s.pos++;
      s.skipSpaces();
    } else if (!s.atEnd) {
      throw failure();
    }
  }
  return [...members].sort((a, b) => a - b);
}

/** virBitmapFormat: ascending ranges, "a-b" for runs of two or more. */
export function formatBitmap(members: Bitmap): string {
  const parts: string[] = [];
  for (let i = 0; i < members.length; ) {
    let j = i;
    while (j + 1 < members.length && members[j + 1] === members[j]! + 1) j++;
    parts.push(j === i ? `${members[i]}` : `${members[i]}-${members[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export const bitmapsOverlap = (a: Bitmap, b: Bitmap): boolean => {
  const set = new Set(a);
  return b.some((bit) => set.has(bit));
};

export const bitmapsEqual = (a: Bitmap, b: Bitmap): boolean =>
  a.length === b.length && a.every((bit, i) => bit === b[i]);

/** virBitmapIsAllSet for a CPUMASK_LEN bitmap: every possible CPU is a member. */
export const isFullCpumask = (members: Bitmap): boolean => members.length === CPUMASK_LEN;

/** virBitmapLastSetBit, -1 for an empty set. */
export const lastMember = (members: Bitmap): number => (members.length ? members[members.length - 1]! : -1);
