#!/usr/bin/env node
// Generates schemas/domain.schema.json from the TypeScript domain model
// (src/xml/model.ts), so the schema cannot drift from the types: a test
// regenerates it and compares. Run: npm run schema
import { writeFileSync } from 'node:fs';
import { createGenerator } from 'ts-json-schema-generator';

export function generateDomainSchema() {
  const schema = createGenerator({
    path: 'src/xml/model.ts',
    tsconfig: 'tsconfig.json',
    type: 'DomainDef',
    skipTypeCheck: true,
    additionalProperties: false,
    topRef: false,
  }).createSchema('DomainDef');
  schema.$id = 'https://nsvirt.invalid/schemas/domain.schema.json';
  schema.title = 'nsvirt domain model (bigint fields are validated as numbers)';
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync('schemas/domain.schema.json', generateDomainSchema());
}
