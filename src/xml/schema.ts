/**
 * The JSON Schema of the domain model (schemas/domain.schema.json, generated
 * from model.ts by `npm run schema`), compiled once with ajv at build time
 * (src/xml/generated/) and applied to every parsed definition. A violation
 * means the parser built a malformed model: it is reported as an internal
 * error naming the field.
 */
import validate from './generated/validate-domain.js';
import { internalError } from './errors.js';
import type { DomainDef } from './model.js';

/** JSON has no bigint: the schema types those fields as numbers, so check a numeric projection. */
const jsonProjection = (def: DomainDef): unknown =>
  JSON.parse(JSON.stringify(def, (_key, value: unknown) => (typeof value === 'bigint' ? Number(value) : value)));

export function assertModelMatchesSchema(def: DomainDef): void {
  if (validate(jsonProjection(def))) return;
  const err = validate.errors?.[0];
  const where = err?.instancePath || '/';
  throw internalError(`domain model does not match its schema at ${where}: ${err?.message ?? 'invalid'}`);
}
