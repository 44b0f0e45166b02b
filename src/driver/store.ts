/**
 * Persistent domain definitions: one canonical XML file per domain in
 * paths.configDir, named after the domain. Writes are atomic (atomic.ts) and
 * made under the driver lock and the domain's lock (lock.ts); reads take no
 * lock. A file that cannot be loaded is reported and skipped, never fatal.
 */
import { lstatSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseDomainXML } from '../xml/parse.js';
import { formatDomainXML } from '../xml/format.js';
import type { ParseContext } from '../xml/context.js';
import type { DomainDef } from '../xml/model.js';
import { ensureDirectory, removeFileDurable, removeStaleTempFiles, writeFileAtomic } from './atomic.js';
import { withDomainLock, withDriverLock } from './lock.js';
import type { DriverPaths } from './paths.js';
import { describingFailure, domainGone, operationFailed, systemError } from './errors.js';

const CONFIG_SUFFIX = '.xml';

/** A stored file that was skipped, and why. */
export interface LoadProblem {
  readonly file: string;
  readonly reason: string;
}

export interface LoadResult {
  readonly domains: DomainDef[];
  readonly problems: LoadProblem[];
}

export interface DefineResult {
  readonly def: DomainDef;
  /** The definition this one replaced (same name and UUID); undefined for a new domain. */
  readonly replaced: DomainDef | undefined;
}

/**
 * libvirt's rules for adding a definition (virDomainObjListAddLocked):
 * the UUID is matched first, then the name. Returns the definition being
 * replaced, if any.
 */
export function checkDefineConflicts(existing: readonly DomainDef[], def: DomainDef): DomainDef | undefined {
  const sameUUID = existing.find((d) => d.uuid === def.uuid);
  if (sameUUID) {
    if (sameUUID.name !== def.name) {
      throw operationFailed(`domain '${sameUUID.name}' is already defined with uuid ${sameUUID.uuid}`);
    }
    return sameUUID;
  }
  const sameName = existing.find((d) => d.name === def.name);
  if (sameName) throw operationFailed(`domain '${sameName.name}' already exists with uuid ${sameName.uuid}`);
  return undefined;
}

/** libvirt's virXMLPickShellSafeComment: the name if a shell would take it verbatim, else the UUID. */
const shellSafe = (name: string): boolean => /^[A-Za-z0-9_.+:@=,-]+$/.test(name) && !name.includes('--');

/** The file contents: libvirt's "do not edit" banner, then the inactive XML. */
export function configFileText(def: DomainDef): string {
  const handle = shellSafe(def.name) ? def.name : def.uuid;
  return (
    '<!--\n' +
    'WARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n' +
    'OVERWRITTEN AND LOST. Changes to this xml configuration should be made using:\n' +
    `  nsvirsh edit ${handle}\n` +
    'or other application using the nsvirt API.\n' +
    '-->\n\n' +
    formatDomainXML(def, { inactive: true, secure: true })
  );
}

const isENOENT = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';

export class DefinitionStore {
  constructor(
    private readonly paths: DriverPaths,
    private readonly ctx: ParseContext,
  ) {}

  /** Every stored definition, in file-name order, and the files that were skipped. */
  loadAll(): LoadResult {
    const domains: DomainDef[] = [];
    const problems: LoadProblem[] = [];
    const byUUID = new Map<string, DomainDef>();
    for (const fileName of this.configFileNames()) {
      const file = join(this.paths.configDir, fileName);
      const loaded = this.loadFile(file, fileName.slice(0, -CONFIG_SUFFIX.length));
      if (loaded === undefined) continue;
      if ('reason' in loaded) {
        problems.push(loaded);
        continue;
      }
      const clash = byUUID.get(loaded.uuid);
      if (clash) {
        problems.push({ file, reason: `uuid ${loaded.uuid} is already used by domain '${clash.name}'` });
        continue;
      }
      byUUID.set(loaded.uuid, loaded);
      domains.push(loaded);
    }
    return { domains, problems };
  }

  /** The stored definition named `name`, if there is one and it loads. */
  loadByName(name: string): { def?: DomainDef; problem?: LoadProblem } {
    const loaded = this.loadFile(this.paths.configFile(name), name);
    if (loaded === undefined) return {};
    return 'reason' in loaded ? { problem: loaded } : { def: loaded };
  }

  isAutostart(name: string): boolean {
    try {
      lstatSync(this.paths.autostartLink(name));
      return true;
    } catch (e) {
      if (isENOENT(e)) return false;
      throw e;
    }
  }

  /**
   * Store `def` under libvirt's uniqueness rules. Nothing on disk changes
   * unless the whole definition is written.
   */
  define(def: DomainDef): Promise<DefineResult> {
    return withDriverLock(this.paths, () => {
      // Every writer holds the driver lock, so any temporary file now is a crash leftover.
      removeStaleTempFiles(this.paths.configDir);
      const replaced = checkDefineConflicts(this.loadAll().domains, def);
      return withDomainLock(this.paths, def.name, () => {
        this.write(def);
        return { def, replaced };
      });
    });
  }

  /** Remove the definition of the domain `name` if it still has `uuid`. */
  undefine(name: string, uuid: string): Promise<void> {
    return withDriverLock(this.paths, () =>
      withDomainLock(this.paths, name, () => {
        if (this.loadByName(name).def?.uuid !== uuid) throw domainGone(uuid, name);
        // The autostart link goes first: a crash in between leaves a defined, non-autostarted domain.
        const link = this.paths.autostartLink(name);
        describingFailure(`Failed to delete autostart link '${link}'`, () => removeFileDurable(link));
        const file = this.paths.configFile(name);
        describingFailure(`cannot remove config ${file}`, () => removeFileDurable(file));
      }),
    );
  }

  private write(def: DomainDef): void {
    const dir = this.paths.configDir;
    describingFailure(`cannot create config directory '${dir}'`, () => ensureDirectory(dir));
    const file = this.paths.configFile(def.name);
    describingFailure(`cannot write config file '${file}'`, () => writeFileAtomic(file, configFileText(def)));
  }

  private configFileNames(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.paths.configDir);
    } catch (e) {
      if (isENOENT(e)) return [];
      throw systemError(`cannot open directory '${this.paths.configDir}'`, e);
    }
    return names.filter((n) => n.endsWith(CONFIG_SUFFIX) && n.length > CONFIG_SUFFIX.length).sort();
  }

  /** undefined: no such file (or removed while we looked). */
  private loadFile(file: string, expectedName: string): DomainDef | LoadProblem | undefined {
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      if (isENOENT(e)) return undefined;
      return { file, reason: (systemError('cannot read file', e) as Error).message };
    }
    let def: DomainDef;
    try {
      def = parseDomainXML(bytes, this.ctx);
    } catch (e) {
      // Whatever a damaged file makes the parser do, it must not take the other domains down with it.
      return { file, reason: e instanceof Error ? e.message : String(e) };
    }
    if (def.name !== expectedName) {
      return { file, reason: `file name does not match domain name '${def.name}'` };
    }
    return def;
  }
}
