/**
 * libvirt-oracle conformance: every valid case defined and dumped must match
 * the real libvirt 9.0 output; every invalid case must be rejected with
 * libvirt's first error line. Cases with a .pre.xml fixture need a store and
 * run in store.test.ts. Set ORACLE_ONLY=substring to run a subset.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDomainXML } from '../src/xml/parse.js';
import { formatDomainXML } from '../src/xml/format.js';
import { defaultContext } from '../src/xml/context.js';
import { VirError } from '../src/xml/errors.js';
import { haveOracle, oracleCases, oracleFile, randomValueCases } from './support/conformance.js';
import { normalise } from './support/compare.js';

const UNESCAPED_IN_LIBVIRT = new Set(['special-chars', 'special-chars-more', 'ns-value-escaping']);
const only = process.env.ORACLE_ONLY;
// libvirt prints an empty <lxc:namespace></lxc:namespace> pair for all-'none'
// entries; parsing that back drops the element (in libvirt too), so this
// output is not a fixed point.
const NOT_A_FIXED_POINT = new Set(['ns-type-none']);

describe.skipIf(!haveOracle())('libvirt oracle corpus', () => {
  if (!haveOracle()) {
    it.skip('shared/conformance/libvirt-oracle is absent', () => {});
    return;
  }
  const cases = oracleCases().filter((c) => !only || c.name.includes(only));
  const random = randomValueCases();
  const ctx = defaultContext({ hostArch: 'x86_64' });

  for (const c of cases.filter((x) => x.dir === 'valid')) {
    it(`valid/${c.name}`, () => {
      if (existsSync(oracleFile(c, '.pre.xml'))) return; // store.test.ts
      const input = readFileSync(oracleFile(c, '.xml'));
      const expected = readFileSync(oracleFile(c, '.out.xml'), 'utf8');
      const def = parseDomainXML(input, ctx);
      const actual = formatDomainXML(def, { inactive: true });
      const opts = {
        looseEmulator: !/<emulator>/.test(input.toString('utf8')),
        random: random.get(c.name),
        decodeEntities: UNESCAPED_IN_LIBVIRT.has(c.name),
      };
      expect(normalise(actual, opts)).toBe(normalise(expected, opts));
      // Formatting is a fixed point: the output parses back to the same text.
      if (!NOT_A_FIXED_POINT.has(c.name)) expect(formatDomainXML(parseDomainXML(actual, ctx), { inactive: true })).toBe(actual);
    });
  }

  for (const c of cases.filter((x) => x.dir === 'invalid')) {
    it(`invalid/${c.name}`, () => {
      if (existsSync(oracleFile(c, '.pre.xml'))) return; // store.test.ts
      const input = readFileSync(oracleFile(c, '.xml'));
      let error: unknown;
      try {
        parseDomainXML(input, ctx);
      } catch (e) {
        error = e;
      }
      expect(error, 'libvirt rejects this definition').toBeInstanceOf(VirError);
      if (existsSync(oracleFile(c, '.dangerous'))) return; // libvirt crashed; any clear rejection is right
      const expectedLine = readFileSync(oracleFile(c, '.err'), 'utf8').split('\n')[1];
      expect(`error: ${(error as VirError).message}`.split('\n')[0]).toBe(expectedLine);
    });
  }
});
