/** Validation against libvirt 9.0's RELAX NG domain schema (domain.rng and the files it includes). */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { validateXML, type XMLFileInfo } from 'xmllint-wasm';
import { SCHEMA_DIR } from './conformance.js';

/** xmllint's messages for every document that does not validate; [] when all do. */
export async function rngErrors(documents: readonly XMLFileInfo[]): Promise<string[]> {
  const schemas = readdirSync(SCHEMA_DIR)
    .filter((f) => f.endsWith('.rng'))
    .map((f) => ({ fileName: f, contents: readFileSync(join(SCHEMA_DIR, f), 'utf8') }));
  const result = await validateXML({
    xml: documents,
    schema: schemas.find((s) => s.fileName === 'domain.rng')!,
    preload: schemas.filter((s) => s.fileName !== 'domain.rng'),
    extension: 'relaxng',
    maxMemoryPages: 16384,
  });
  return result.errors.map((e) => e.rawMessage);
}
