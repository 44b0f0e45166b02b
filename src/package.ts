/** Facts about the installed nsvirt package. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

interface Manifest {
  name?: unknown;
  version?: unknown;
}

const readManifest = (dir: string): Manifest | undefined => {
  const file = join(dir, 'package.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Manifest) : undefined;
};

let root: string | undefined;

/** The package root: the nearest ancestor whose package.json names nsvirt (works from src/ and dist/src/). */
export function packageRoot(): string {
  if (root !== undefined) return root;
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    if (readManifest(dir)?.name === 'nsvirt') return (root = dir);
    if (dirname(dir) === dir) throw new Error(`nsvirt: no package.json naming nsvirt above ${import.meta.dirname}`);
  }
}

export function packageVersion(): string {
  const version = readManifest(packageRoot())?.version;
  return typeof version === 'string' ? version : 'unknown';
}
