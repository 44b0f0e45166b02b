/** A throwaway NSVIRT_ROOT per test: created before, removed (and checked gone) after. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect } from 'vitest';

/** Registers hooks in the calling describe/file; `root()` is the current test's root. */
export function useTempRoot(prefix = 'nsvirt-test-'): { root: () => string } {
  let current: string | undefined;
  beforeEach(() => {
    current = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(() => {
    const dir = current!;
    current = undefined;
    rmSync(dir, { recursive: true, force: true });
    expect(existsSync(dir), `${dir} removed`).toBe(false);
  });
  return {
    root: () => {
      if (current === undefined) throw new Error('useTempRoot: no test is running');
      return current;
    },
  };
}

/** A small valid definition. */
export function domainXML(name: string, opts: { uuid?: string; memoryKiB?: number; title?: string } = {}): string {
  return (
    `<domain type='lxc'>\n  <name>${name}</name>\n` +
    (opts.uuid ? `  <uuid>${opts.uuid}</uuid>\n` : '') +
    (opts.title ? `  <title>${opts.title}</title>\n` : '') +
    `  <memory unit='KiB'>${opts.memoryKiB ?? 65536}</memory>\n` +
    "  <os>\n    <type>exe</type>\n    <init>/bin/sh</init>\n  </os>\n" +
    "  <devices>\n    <console type='pty'/>\n  </devices>\n</domain>\n"
  );
}
