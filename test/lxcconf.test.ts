/**
 * libvirt 9.0.0's lxcconf2xml test data: each LXC configuration (LXC 2.x
 * keys and the -v3 LXC 3.x keys) converts to the same domain XML, with the
 * generated UUID fixed as libvirt's own test does; the fstab case is refused.
 */
import { rngErrors } from './support/rng.js';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lxcConfigToDomain, lxcConfigToDomainXML } from '../src/xml/lxcconf.js';
import { formatDomainXML } from '../src/xml/format.js';
import { defaultContext } from '../src/xml/context.js';
import { planToDomainXML } from '../src/xml/lxcconf/document.js';
import { planFromLxcConfig } from '../src/xml/lxcconf/plan.js';
import { LIBVIRT_TESTS, haveConformance } from './support/conformance.js';
import { normalise } from './support/compare.js';

const DATA = join(LIBVIRT_TESTS, 'lxcconf2xmldata');
const FIXED_UUID = 'c7a5fdbd-edaf-9455-926a-d65c16db1809';
const CASES = [
  'simple', 'nonetwork', 'nonenetwork', 'physnetwork', 'macvlannetwork', 'vlannetwork', 'miscnetwork',
  'idmap', 'memtune', 'cputune', 'cpusettune', 'blkiotune', 'ethernet',
];
const VARIANTS = ['', '-v3'];
const ctx = defaultContext({ hostArch: 'x86_64' });

const config = (name: string, variant: string): string =>
  readFileSync(join(DATA, `lxcconf2xml-${name}${variant}.config`), 'utf8');

/** What virsh domxml-from-native prints, with the UUID libvirt's test sets. */
function convert(text: string): string {
  const def = lxcConfigToDomain(text, ctx);
  def.uuid = FIXED_UUID;
  return formatDomainXML(def);
}

const loose = (xml: string): string => normalise(xml, { looseEmulator: true });

describe.skipIf(!haveConformance())('libvirt lxcconf2xml', () => {
  for (const name of CASES) {
    for (const variant of VARIANTS) {
      it(`lxcconf2xml-${name}${variant}`, () => {
        const expected = readFileSync(join(DATA, `lxcconf2xml-${name}.xml`), 'utf8');
        expect(loose(convert(config(name, variant)))).toBe(loose(expected));
      });
    }
  }

  for (const variant of VARIANTS) {
    it(`lxcconf2xml-fstab${variant} is refused`, () => {
      expect(() => lxcConfigToDomainXML(config('fstab', variant), ctx)).toThrow(
        'argument unsupported: lxc.mount.fstab or lxc.mount found, use lxc.mount.entry lines instead',
      );
    });
  }

  it('covers every configuration in the data folder', () => {
    const names = readdirSync(DATA)
      .filter((f) => f.endsWith('.config'))
      .map((f) => f.replace(/^lxcconf2xml-/, '').replace(/(-v3)?\.config$/, ''));
    expect([...new Set(names)].sort()).toEqual([...CASES, 'fstab'].sort());
    expect(CASES.every((n) => existsSync(join(DATA, `lxcconf2xml-${n}.xml`)))).toBe(true);
  });

  it('generates, and outputs, domain XML that validates against domain.rng', async () => {
    const documents = CASES.flatMap((name) =>
      VARIANTS.flatMap((variant) => {
        const text = config(name, variant);
        return [
          { fileName: `${name}${variant}-generated.xml`, contents: planToDomainXML(planFromLxcConfig(text)) },
          { fileName: `${name}${variant}-output.xml`, contents: convert(text) },
        ];
      }),
    );
    expect(await rngErrors(documents)).toEqual([]);
  }, 120_000);
});

describe('fields libvirt sets without the XML checks', () => {
  const MINIMAL = 'lxc.uts.name = c1\nlxc.rootfs.path = /srv/c1\n';

  it('sets a foreign architecture and unsorted id maps that do not map root', () => {
    const def = lxcConfigToDomain(
      `${MINIMAL}lxc.arch = armv7l\nlxc.idmap = u 0 100000 65536\nlxc.idmap = u 0 5 1\n`,
      ctx,
    );
    expect(def.os.arch).toBe('armv7l');
    expect(def.idmap).toEqual({
      uid: [
        { start: 100000, target: 0, count: 65536 },
        { start: 5, target: 0, count: 1 },
      ],
      gid: [],
    });
  });

  it('leaves the architecture unset without lxc.arch, and no id map', () => {
    const def = lxcConfigToDomain(MINIMAL, ctx);
    expect(def.os.arch).toBeUndefined();
    expect(def.idmap).toBeUndefined();
  });
});
