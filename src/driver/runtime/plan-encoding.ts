/**
 * Launch plan wire format, version 1 (docs/plan-format.md): records of
 * percent-encoded fields, one record per line, after the `nsvirt-plan 1`
 * header. Generic on purpose: it knows the encoding, not the keywords.
 */

export const PLAN_HEADER = 'nsvirt-plan 1';

const HEX = '0123456789ABCDEF';

/** Percent-encode one field: `%`, space and bytes outside 0x21..0x7e become `%XX`; empty is `%-`. */
export function encodeField(value: string): string {
  if (value === '') return '%-';
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    if (byte === 0x25 || byte < 0x21 || byte > 0x7e) out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}

export function decodeField(field: string): string {
  if (field === '%-') return '';
  const bytes: number[] = [];
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (c === 0x25) {
      const hex = field.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Error(`malformed percent-encoding in field '${field}'`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x21 || c > 0x7e) {
      throw new Error(`unencoded byte 0x${c.toString(16)} in field '${field}'`);
    } else {
      bytes.push(c);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Records (keyword first) → plan text. */
export function encodePlan(records: readonly (readonly string[])[]): string {
  const lines = [PLAN_HEADER];
  for (const rec of records) {
    const [kw] = rec;
    if (kw === undefined || !/^[a-z][a-z0-9-]*$/.test(kw)) throw new Error(`bad plan keyword '${String(kw)}'`);
    lines.push(rec.map(encodeField).join(' '));
  }
  return `${lines.join('\n')}\n`;
}

/** Plan text → records (keyword first). */
export function decodePlan(text: string): string[][] {
  if (!text.endsWith('\n')) throw new Error('plan must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== PLAN_HEADER) throw new Error(`expected '${PLAN_HEADER}'`);
  return lines.slice(1).map((line, i) => {
    if (line === '') throw new Error(`line ${i + 2}: empty line`);
    return line.split(' ').map(decodeField);
  });
}

/** One line of the start protocol / control protocol (`ok …`, `error STEP ERRNO MESSAGE`, …), decoded. */
export function decodeLine(line: string): string[] {
  return line.replace(/\n$/, '').split(' ').map(decodeField);
}
