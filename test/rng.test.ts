/**
 * Every domain XML nsvirt writes must validate against libvirt's own RELAX NG
 * schema (domain.rng). Cases whose libvirt output already fails the schema
 * (results.tsv column rng_output) are left out: there libvirt and the schema
 * disagree, and nsvirt follows libvirt.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateXML } from 'xmllint-wasm';
import { parseDomainXML } from '../src/xml/parse.js';
import { formatDomainXML } from '../src/xml/format.js';
import { defaultContext } from '../src/xml/context.js';
import { ORACLE_DIR, SCHEMA_DIR, haveOracle } from './support/conformance.js';

function casesWhoseLibvirtOutputPassesRng(): string[] {
  const rows = readFileSync(join(ORACLE_DIR, 'valid', 'results.tsv'), 'utf8').trim().split('\n');
  const header = rows[0]!.split('\t');
  const [c, r, out] = ['case', 'result', 'rng_output'].map((h) => header.indexOf(h));
  return rows
    .slice(1)
    .map((row) => row.split('\t'))
    .filter((cols) => cols[r!] === 'ok' && cols[out!] === 'pass')
    .map((cols) => cols[c!]!);
}

describe.skipIf(!haveOracle())('output validates against libvirt domain.rng', () => {
  it('every oracle case nsvirt formats', async () => {
    const ctx = defaultContext({ hostArch: 'x86_64' });
    const outputs = casesWhoseLibvirtOutputPassesRng().map((name) => ({
      fileName: `${name}.xml`,
      contents: formatDomainXML(parseDomainXML(readFileSync(join(ORACLE_DIR, 'valid', `${name}.xml`)), ctx), {
        inactive: true,
      }),
    }));
    expect(outputs.length).toBeGreaterThan(200);
    const schemas = readdirSync(SCHEMA_DIR)
      .filter((f) => f.endsWith('.rng'))
      .map((f) => ({ fileName: f, contents: readFileSync(join(SCHEMA_DIR, f), 'utf8') }));
    const result = await validateXML({
      xml: outputs,
      schema: schemas.find((s) => s.fileName === 'domain.rng')!,
      preload: schemas.filter((s) => s.fileName !== 'domain.rng'),
      extension: 'relaxng',
      maxMemoryPages: 16384,
    });
    expect(result.errors.map((e) => e.rawMessage)).toEqual([]);
    expect(result.valid).toBe(true);
  }, 120_000);
});
