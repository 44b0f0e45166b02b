/**
 * Every domain XML nsvirt writes must validate against libvirt's own RELAX NG
 * schema (domain.rng). Cases whose libvirt output already fails the schema
 * (results.tsv column rng_output) are left out: there libvirt and the schema
 * disagree, and nsvirt follows libvirt.
 */
import { rngErrors } from './support/rng.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDomainXML } from '../src/xml/parse.js';
import { formatDomainXML } from '../src/xml/format.js';
import { defaultContext } from '../src/xml/context.js';
import { ORACLE_DIR, haveOracle } from './support/conformance.js';

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
    expect(await rngErrors(outputs)).toEqual([]);
  }, 120_000);
});
