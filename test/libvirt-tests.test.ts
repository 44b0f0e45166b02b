/**
 * libvirt 9.0.0's own LXC test data, run the way libvirt's lxcxml2xmltest
 * runs it: parse as a live definition, format, compare byte for byte.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDomainXML } from '../src/xml/parse.js';
import { formatDomainXML } from '../src/xml/format.js';
import { defaultContext } from '../src/xml/context.js';
import { LIBVIRT_TESTS, haveConformance } from './support/conformance.js';

const XML2XML = [
  'systemd', 'hostdev', 'disk-formats', 'filesystem-ram', 'filesystem-root', 'idmap',
  'capabilities', 'sharenet', 'ethernet', 'ethernet-hostip', 'initenv', 'initdir', 'inituser',
];

describe.skipIf(!haveConformance())('libvirt lxcxml2xml', () => {
  // libvirt's test harness runs with no host security driver, so no seclabel model is filled in.
  const ctx = defaultContext({ hostArch: 'x86_64', securityModel: '' });
  for (const name of XML2XML) {
    it(`lxc-${name}`, () => {
      const input = readFileSync(join(LIBVIRT_TESTS, 'lxcxml2xmldata', `lxc-${name}.xml`), 'utf8');
      const outFile = join(LIBVIRT_TESTS, 'lxcxml2xmloutdata', `lxc-${name}.xml`);
      const expected = existsSync(outFile) ? readFileSync(outFile, 'utf8') : input;
      expect(formatDomainXML(parseDomainXML(input, ctx))).toBe(expected);
    });
  }
});
