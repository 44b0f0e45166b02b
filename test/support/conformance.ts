/** Locating and reading the shared libvirt conformance data (../shared/conformance). */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const CONFORMANCE_DIR = resolve(import.meta.dirname, '../../../shared/conformance');
export const LIBVIRT_TESTS = join(CONFORMANCE_DIR, 'libvirt-9.0.0/tests');
export const ORACLE_DIR = join(CONFORMANCE_DIR, 'libvirt-oracle');
export const SCHEMA_DIR = join(CONFORMANCE_DIR, 'libvirt-9.0.0/schemas');

export const haveConformance = (): boolean => existsSync(LIBVIRT_TESTS);
export const haveOracle = (): boolean => existsSync(join(ORACLE_DIR, 'cases.tsv'));

export interface OracleCase {
  dir: 'valid' | 'invalid';
  name: string;
  covers: string;
}

export function oracleCases(): OracleCase[] {
  return readFileSync(join(ORACLE_DIR, 'cases.tsv'), 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [dir, name, covers] = l.split('\t');
      return { dir: dir as 'valid' | 'invalid', name: name!, covers: covers ?? '' };
    });
}

export const oracleFile = (c: OracleCase, suffix: string): string => join(ORACLE_DIR, c.dir, `${c.name}${suffix}`);

/** Cases whose generated values (uuid, mac, interfaceid) are random in libvirt's output. */
export function randomValueCases(): Map<string, string> {
  const rows = readFileSync(join(ORACLE_DIR, 'valid', 'results.tsv'), 'utf8').split('\n');
  const header = rows[0]!.split('\t');
  const caseIdx = header.indexOf('case');
  const rvIdx = header.indexOf('random_values');
  const out = new Map<string, string>();
  for (const r of rows.slice(1)) {
    const cols = r.split('\t');
    const v = cols[rvIdx];
    if (cols[caseIdx] && v && v !== '-' && v !== '') out.set(cols[caseIdx]!, v);
  }
  return out;
}

export const listDir = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);
