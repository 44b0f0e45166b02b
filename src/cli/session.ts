/**
 * The state of one nsvirsh run (virsh's vshControl): output channels, -q,
 * the connection (opened on first need, like virsh) and the helpers every
 * command shares: error lines, domain lookup, reading input files.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { connect, type Connection, type Domain } from '../driver/connection.js';
import { VirError } from '../xml/errors.js';
import { systemError } from '../driver/errors.js';
import type { CommandOptions } from './spec.js';

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly env: NodeJS.ProcessEnv;
  /** Directory that relative file names are read from. */
  readonly cwd: string;
}

/** Which ways a `<domain>` argument may be looked up (virsh's VIRSH_BYID/BYUUID/BYNAME). */
export interface LookupWays {
  readonly id?: boolean;
  readonly uuid?: boolean;
  readonly name?: boolean;
}

export const ANY_WAY: LookupWays = { id: true, uuid: true, name: true };

const UUID_STRING_LENGTH = 36;

/** virStrToLong_i on the whole string, then the id >= 0 check of virshLookupDomainInternal. */
function parseDomainID(text: string): number | undefined {
  if (!/^\s*[+-]?\d+$/.test(text)) return undefined;
  const n = Number(text.trim());
  return Number.isSafeInteger(n) && n >= 0 && n <= 0x7fffffff ? n : undefined;
}

export class Session {
  private conn: Connection | undefined;

  constructor(
    private readonly io: CliIO,
    readonly quiet: boolean,
    /** URI given with -c or VIRSH_DEFAULT_CONNECT_URI; otherwise libvirt's default applies. */
    private readonly uri: string | undefined,
  ) {}

  /** vshPrint: always printed. */
  print(text: string): void {
    this.io.stdout(text);
  }

  /** vshPrintExtra: left out under -q. */
  printExtra(text: string): void {
    if (!this.quiet) this.io.stdout(text);
  }

  error(message: string): void {
    this.io.stderr(`error: ${message}\n`);
  }

  warn(message: string): void {
    this.io.stderr(`warning: ${message}\n`);
  }

  /** Print a caught failure (vshReportError): its message, or libvirt's words for no message. */
  report(e: unknown): void {
    this.error(e instanceof Error && e.message !== '' ? e.message : 'An error occurred, but the cause is unknown');
  }

  /** Whether a URI was named explicitly; virsh connects to it before running any command. */
  get hasExplicitURI(): boolean {
    return this.uri !== undefined;
  }

  /** Open the connection if needed; on failure print virsh's two error lines and return undefined. */
  connection(): Connection | undefined {
    if (this.conn) return this.conn;
    try {
      this.conn = connect(this.uri, { env: this.io.env, onWarning: (m) => this.warn(m) });
      return this.conn;
    } catch (e) {
      if (!(e instanceof VirError)) throw e;
      this.error('failed to connect to the hypervisor');
      this.report(e);
      return undefined;
    }
  }

  /** The open connection; commands run only once connection() succeeded. */
  get connected(): Connection {
    if (!this.conn) throw new Error('nsvirsh: command ran without a connection');
    return this.conn;
  }

  close(): void {
    this.conn?.close();
    this.conn = undefined;
  }

  /**
   * virshCommandOptDomainBy: look the `<domain>` argument up as an ID, then a
   * UUID (36 characters), then a name. A miss prints "failed to get domain".
   */
  async domain(opts: CommandOptions, ways: LookupWays = ANY_WAY): Promise<Domain | undefined> {
    const arg = opts.required('domain');
    const conn = this.connected;
    const attempts: Array<() => Promise<Domain>> = [];
    const id = parseDomainID(arg);
    if (ways.id && id !== undefined) attempts.push(() => conn.lookupByID(id));
    if (ways.uuid && arg.length === UUID_STRING_LENGTH) attempts.push(() => conn.lookupByUUID(arg));
    if (ways.name) attempts.push(() => conn.lookupByName(arg));
    for (const attempt of attempts) {
      try {
        return await attempt();
      } catch (e) {
        if (!(e instanceof VirError)) throw e;
      }
    }
    this.error(`failed to get domain '${arg}'`);
    return undefined;
  }

  /** virFileReadAll, relative to the working directory; failures read as libvirt's. */
  readFile(file: string): Buffer {
    try {
      return readFileSync(resolve(this.io.cwd, file));
    } catch (e) {
      throw systemError(`Failed to open file '${file}'`, e);
    }
  }

  /**
   * Await `work`; if it fails with a VirError, print `context` first (virsh's
   * "error: Failed to … " line) and let the error be reported after it.
   */
  async withContext<T>(context: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      if (e instanceof VirError) this.error(context);
      throw e;
    }
  }
}
