/**
 * MAC and IP addresses as libvirt reads and prints them: virMacAddrParse /
 * virMacAddrFormat, and virSocketAddrParse (glibc getaddrinfo with
 * AI_NUMERICHOST, i.e. inet_aton for IPv4 and inet_pton for IPv6) /
 * virSocketAddrFormat (inet_ntop).
 */
import type { ParseContext } from '../../context.js';

/* ---------- MAC ---------- */

/** libvirt's default prefix for generated MACs (QEMU/KVM's OUI, also used by the LXC driver). */
export const GENERATED_MAC_PREFIX = [0x52, 0x54, 0x00] as const;

/**
 * virMacAddrParse: six groups of one or two hex digits separated by ':';
 * after the sixth group the string may go on after any character <= ' '.
 * Returns the six bytes, or undefined when the text is not a MAC.
 */
export function parseMac(text: string): number[] | undefined {
  const m = /^([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})(?:$|[\x00-\x20])/.exec(
    text,
  );
  return m ? m.slice(1, 7).map((h) => parseInt(h, 16)) : undefined;
}

export const formatMac = (bytes: readonly number[]): string =>
  bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');

export const isMulticastMac = (bytes: readonly number[]): boolean => (bytes[0]! & 1) === 1;

export const isZeroMac = (bytes: readonly number[]): boolean => bytes.every((b) => b === 0);

/** virMacAddrGenerate: the fixed prefix followed by three random bytes. */
export function generateMac(ctx: ParseContext): string {
  return formatMac([...GENERATED_MAC_PREFIX, ...ctx.random(3)]);
}

/* ---------- IP ---------- */

export type IpFamily = 'ipv4' | 'ipv6';

export interface ParsedIp {
  family: IpFamily;
  /** 4 or 16 bytes, network order. */
  bytes: number[];
}

/** One inet_aton component: 0x hex, 0 octal or decimal (strtoul base 0). */
function atonPart(text: string): { value: bigint; rest: string } | undefined {
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)(.*)$/s.exec(text);
  if (!m) return undefined;
  const digits = m[1]!;
  const value = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 && digits[0] === '0' ? BigInt(`0o${digits}`) : BigInt(digits);
  return { value, rest: m[2]! };
}

/** glibc inet_aton_exact: a, a.b, a.b.c or a.b.c.d, the last part filling the remaining bytes. */
function parseIpv4Aton(text: string): number[] | undefined {
  const parts: bigint[] = [];
  let rest = text;
  for (;;) {
    const part = atonPart(rest);
    if (!part || part.value > 0xffffffffn) return undefined;
    parts.push(part.value);
    if (part.rest === '') break;
    if (!part.rest.startsWith('.') || parts.length > 3 || part.value > 0xffn) return undefined;
    rest = part.rest.slice(1);
  }
  const last = parts.pop()!;
  const lastBytes = 4 - parts.length;
  if (last >= 1n << BigInt(8 * lastBytes)) return undefined;
  const tail: number[] = [];
  for (let i = lastBytes - 1; i >= 0; i--) tail.push(Number((last >> BigInt(8 * i)) & 0xffn));
  return [...parts.map(Number), ...tail];
}

/** glibc inet_pton4: exactly four decimal octets, no leading zeros. */
function parseIpv4Strict(text: string): number[] | undefined {
  if (!/^(?:(?:0|[1-9][0-9]{0,2})\.){3}(?:0|[1-9][0-9]{0,2})$/.test(text)) return undefined;
  const octets = text.split('.').map(Number);
  return octets.every((o) => o <= 255) ? octets : undefined;
}

/** glibc inet_pton6 (without scope ids). */
function parseIpv6(text: string): number[] | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const bytes: number[][] = [];
  const all = [...head, ...tail];
  // A dotted quad may only end the whole text, not precede a "::".
  const quadAllowedAt = halves.length === 2 && tail.length === 0 ? -1 : all.length - 1;
  for (let i = 0; i < all.length; i++) {
    const g = all[i]!;
    if (i === quadAllowedAt && g.includes('.')) {
      const v4 = parseIpv4Strict(g);
      if (!v4) return undefined;
      bytes.push(v4);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
      const v = parseInt(g, 16);
      bytes.push([v >> 8, v & 0xff]);
    } else {
      return undefined;
    }
  }
  const headBytes = bytes.slice(0, head.length).flat();
  const tailBytes = bytes.slice(head.length).flat();
  const used = headBytes.length + tailBytes.length;
  if (halves.length === 1) return used === 16 ? headBytes : undefined;
  // "::" must stand for at least one zero group.
  if (used > 14) return undefined;
  return [...headBytes, ...new Array<number>(16 - used).fill(0), ...tailBytes];
}

/**
 * virSocketAddrParse with AI_NUMERICHOST: IPv4 in any inet_aton form, IPv6
 * in inet_pton form. `family` restricts the accepted family.
 */
export function parseIp(text: string, family?: IpFamily): ParsedIp | undefined {
  if (family !== 'ipv6') {
    const v4 = parseIpv4Aton(text);
    if (v4) return { family: 'ipv4', bytes: v4 };
  }
  if (family !== 'ipv4') {
    const v6 = parseIpv6(text);
    if (v6) return { family: 'ipv6', bytes: v6 };
  }
  return undefined;
}

/** glibc inet_ntop6: longest zero run (of 2+ groups, leftmost) as "::", embedded IPv4 for ::a.b.c.d and ::ffff:a.b.c.d. */
function formatIpv6(bytes: readonly number[]): string {
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && words[i] === 0) {
      cur = cur.base === -1 ? { base: i, len: 1 } : { base: cur.base, len: cur.len + 1 };
    } else if (cur.base !== -1) {
      if (best.base === -1 || cur.len > best.len) best = cur;
      cur = { base: -1, len: 0 };
    }
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best.base !== -1 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
      return out + bytes.slice(12).join('.');
    }
    out += words[i]!.toString(16);
  }
  if (best.base !== -1 && best.base + best.len === 8) out += ':';
  return out;
}

/** virSocketAddrFormat: dotted quad or canonical IPv6 text. */
export function formatIp(ip: ParsedIp): string {
  return ip.family === 'ipv4' ? ip.bytes.join('.') : formatIpv6(ip.bytes);
}

/** The address with every bit beyond `prefix` cleared (virSocketAddrMaskByPrefix). */
export function maskByPrefix(ip: ParsedIp, prefix: number): ParsedIp {
  const bytes = ip.bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  return { family: ip.family, bytes };
}

/** The address ANDed with a netmask of the same family (virSocketAddrMask). */
export function maskByNetmask(ip: ParsedIp, netmask: ParsedIp): ParsedIp {
  return { family: ip.family, bytes: ip.bytes.map((b, i) => b & netmask.bytes[i]!) };
}

export const sameIp = (a: ParsedIp, b: ParsedIp): boolean =>
  a.family === b.family && a.bytes.every((x, i) => x === b.bytes[i]);
