/**
 * The JSON Schema of the domain model (schemas/domain.schema.json, generated
 * from model.ts by `npm run schema`), compiled once with ajv and applied to
 * every parsed definition. A violation means the parser built a malformed
 * model: it is reported as an internal error naming the field and value.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { packageRoot } from '../package.js';
import { internalError } from './errors.js';
import type { DomainDef } from './model.js';

let validator: ValidateFunction | undefined;

function compiled(): ValidateFunction {
  if (validator === undefined) {
    const schema = JSON.parse(readFileSync(join(packageRoot(), 'schemas', 'domain.schema.json'), 'utf8')) as object;
    validator = new Ajv({ allErrors: false, strict: false }).compile(schema);
  }
  return validator;
}

/** JSON has no bigint: the schema types those fields as numbers, so check a numeric projection. */
const jsonProjection = (def: DomainDef): unknown =>
  JSON.parse(JSON.stringify(def, (_key, value: unknown) => (typeof value === 'bigint' ? Number(value) : value)));

export function assertModelMatchesSchema(def: DomainDef): void {
  const validate = compiled();
  const value = jsonProjection(def);
  if (validate(value)) return;
  const err = validate.errors?.[0];
  const where = err?.instancePath || '/';
  throw internalError(`domain model does not match its schema at ${where}: ${err?.message ?? 'invalid'}`);
}
