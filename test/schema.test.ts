/** The model's JSON Schema: generated from the types, enforced after every parse. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDomainXML } from '../src/xml/parse.js';
import { assertModelMatchesSchema } from '../src/xml/schema.js';
import { packageRoot } from '../src/package.js';
import type { DomainDef } from '../src/xml/model.js';
// @ts-expect-error plain ESM script without type declarations
import { generateDomainSchema } from '../scripts/gen-schema.mjs';

const XML = `<domain type='lxc'><name>s</name><memory>65536</memory>
  <os><type>exe</type><init>/bin/sh</init></os>
  <devices><console type='pty'/><filesystem><source dir='/srv'/><target dir='/'/></filesystem></devices></domain>`;

describe('domain model JSON Schema', () => {
  it('is up to date with src/xml/model.ts (run `npm run schema` after changing the model)', () => {
    const committed = readFileSync(join(packageRoot(), 'schemas', 'domain.schema.json'), 'utf8');
    expect(committed).toBe((generateDomainSchema as () => string)());
  }, 30_000);

  it('accepts what the parser builds', () => {
    expect(() => assertModelMatchesSchema(parseDomainXML(XML))).not.toThrow();
  });

  it('names the field when a model is malformed', () => {
    const def = parseDomainXML(XML);
    (def.devices.consoles[0] as unknown as { port: string }).port = 'zero';
    expect(() => assertModelMatchesSchema(def)).toThrow(
      "internal error: domain model does not match its schema at /devices/consoles/0/port: must be number",
    );
  });

  it('rejects unknown fields', () => {
    const def = { ...parseDomainXML(XML), colour: 'blue' } as unknown as DomainDef;
    expect(() => assertModelMatchesSchema(def)).toThrow(/must NOT have additional properties/);
  });
});
