/**
 * LXC configuration text to ordered `key = value` entries, as libvirt reads
 * it (virConf in LXC format): `#` comment lines, keys of `[A-Za-z0-9_.-]`
 * starting with a letter, the value is the rest of the line (no trailing
 * comments), keys may repeat.
 */
import { VirError, internalError } from '../errors.js';

export interface ConfigEntry {
  /** 1-based line number in the configuration text. */
  readonly line: number;
  readonly key: string;
  readonly value: string;
}

/** libvirt refuses configuration files above 10 MiB as well. */
export const MAX_CONFIG_CHARS = 10 * 1024 * 1024;
/**
 * Real configurations have a few hundred settings at most; the bound keeps
 * the generated domain XML (about one element per setting) small.
 */
export const MAX_SETTINGS = 10_000;

/** libvirt's name characters plus '-', which LXC keys such as lxc.hook.pre-start contain. */
const KEY = /^[A-Za-z][A-Za-z0-9_.-]*$/;
/** NUL, non-characters and unpaired surrogates cannot be carried into XML. */
const NOT_TEXT = /[\u0000\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MAX_SHOWN = 200;

/** A value as quoted in our own messages: long hostile values are shortened. */
export const shown = (value: string): string =>
  value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}...` : value;

/** `internal error: line N: KEY: detail`, for failures libvirt reports no cause for. */
export const entryError = (entry: ConfigEntry, detail: string): VirError =>
  internalError(`line ${entry.line}: ${entry.key}: ${detail}`);

const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t';

/** Trim spaces and tabs (a loop: a regex on long blank runs would be quadratic). */
function trimBlanks(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isBlank(s[start])) start++;
  while (end > start && isBlank(s[end - 1])) end--;
  return s.slice(start, end);
}

/** A value wholly enclosed in matching quotes loses them, as LXC and libvirt both do. */
function unquote(value: string): string {
  const q = value[0];
  const quoted = value.length >= 2 && (q === '"' || q === "'") && value[value.length - 1] === q;
  return quoted ? value.slice(1, -1) : value;
}

function parseLine(raw: string, line: number): ConfigEntry | undefined {
  if (NOT_TEXT.test(raw)) throw internalError(`line ${line}: the line contains characters that are not text`);
  const content = trimBlanks(raw);
  if (content === '' || content.startsWith('#')) return undefined;
  const eq = content.indexOf('=');
  if (eq < 0) throw internalError(`line ${line}: expecting 'key = value', got '${shown(content)}'`);
  const key = trimBlanks(content.slice(0, eq));
  if (!KEY.test(key)) throw internalError(`line ${line}: invalid key '${shown(key)}'`);
  return { line, key, value: unquote(trimBlanks(content.slice(eq + 1))) };
}

/** The parsed configuration: entries in file order, with first-occurrence lookups. */
export class LxcConfig {
  private readonly firstByKey = new Map<string, ConfigEntry>();

  constructor(readonly entries: readonly ConfigEntry[]) {
    for (const e of entries) if (!this.firstByKey.has(e.key)) this.firstByKey.set(e.key, e);
  }

  /**
   * The first occurrence of the first key that is present: libvirt reads
   * single-valued keys this way, the LXC 3 name before the legacy one.
   */
  first(...keys: readonly string[]): ConfigEntry | undefined {
    for (const k of keys) {
      const e = this.firstByKey.get(k);
      if (e !== undefined) return e;
    }
    return undefined;
  }

  /** Every occurrence of the given keys, in file order. */
  all(...keys: readonly string[]): ConfigEntry[] {
    return this.entries.filter((e) => keys.includes(e.key));
  }
}

export function parseLxcConfig(text: string): LxcConfig {
  if (text.length > MAX_CONFIG_CHARS) {
    throw internalError(`LXC configuration is larger than ${MAX_CONFIG_CHARS} characters`);
  }
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const entries: ConfigEntry[] = [];
  body.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const entry = parseLine(raw, i + 1);
    if (entry === undefined) return;
    if (entries.length === MAX_SETTINGS) {
      throw internalError(`line ${entry.line}: more than ${MAX_SETTINGS} settings in the configuration`);
    }
    entries.push(entry);
  });
  return new LxcConfig(entries);
}
