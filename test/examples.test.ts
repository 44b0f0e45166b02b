/** Every domain XML shipped in examples/ is accepted as it is, and nsvirt's output of it validates against libvirt's schema. */
import { rngErrors } from './support/rng.js';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDomainXML } from '../src/xml/parse.js';
import { formatDomainXML } from '../src/xml/format.js';
import { packageRoot } from '../src/package.js';
import { haveConformance } from './support/conformance.js';

const dir = join(packageRoot(), 'examples');
const files = readdirSync(dir).filter((f) => f.endsWith('.xml'));

describe('examples/', () => {
  it('ships examples', () => expect(files.length).toBeGreaterThan(0));

  for (const f of files) {
    it.skipIf(!haveConformance())(`${f} defines and its canonical form validates against domain.rng`, async () => {
      const xml = formatDomainXML(parseDomainXML(readFileSync(join(dir, f))));
      expect(await rngErrors([{ fileName: f, contents: xml }])).toEqual([]);
    });
  }
});
