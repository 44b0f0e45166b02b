/** Hostile input gets a clear libvirt-style error: never a crash, a hang or a blown stack. */
import { describe, expect, it } from 'vitest';
import { parseDomainXML } from '../src/xml/parse.js';
import { VirError } from '../src/xml/errors.js';
import { MAX_XML_BYTES } from '../src/xml/tree.js';

const domain = (inner: string, memory = '65536'): string =>
  `<domain type='lxc'><name>h</name><memory>${memory}</memory>` +
  `<os><type>exe</type><init>/bin/sh</init></os>${inner}<devices><console type='pty'/></devices></domain>`;

function rejection(input: string | Uint8Array): VirError {
  try {
    parseDomainXML(input);
  } catch (e) {
    if (e instanceof VirError) return e;
    throw e;
  }
  throw new Error('input was accepted');
}

describe('hostile XML input', () => {
  it('refuses numbers beyond 64 bits with the value named', () => {
    const huge = '9'.repeat(400);
    expect(rejection(domain('', huge)).message).toBe(
      `XML error: Invalid value '${huge}' for element or attribute './memory[1]'`,
    );
  });

  it('refuses deep nesting without exhausting the stack', () => {
    const depth = 100_000;
    const xml = domain(`${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}`);
    expect(rejection(xml).message).toMatch(/^\(domain_definition\):\d+: /);
  });

  it('refuses exponential entity expansion (billion laughs)', () => {
    const levels = Array.from({ length: 10 }, (_, i) =>
      i === 0 ? `<!ENTITY e0 "lol">` : `<!ENTITY e${i} "${`&e${i - 1};`.repeat(10)}">`,
    ).join('\n');
    const xml = `<?xml version='1.0'?>\n<!DOCTYPE domain [\n${levels}\n]>\n${domain('<title>&e9;</title>')}`;
    expect(rejection(xml).message).toMatch(/entity/i);
  });

  it('refuses documents above the size limit before parsing them', () => {
    const padding = `<description>${'x'.repeat(MAX_XML_BYTES)}</description>`;
    expect(rejection(domain(padding)).message).toMatch(/larger than/);
  });

  it('parses a large but legal document (9 MB description)', () => {
    const padding = `<description>${'x'.repeat(9 * 1024 * 1024)}</description>`;
    expect(parseDomainXML(domain(padding)).description?.length).toBe(9 * 1024 * 1024);
  });

  it('refuses bytes that are not UTF-8, naming the line and bytes', () => {
    const text = Buffer.from(domain('<title>caf\xe9</title>'), 'latin1');
    expect(rejection(text).message).toMatch(/^\(domain_definition\):1: Input is not proper UTF-8, indicate encoding !\nBytes: 0xE9 /);
  });

  it('refuses a NUL byte and control characters as malformed XML', () => {
    expect(rejection(domain('<title>a\u0000b</title>'))).toBeInstanceOf(VirError);
  });
});
