/**
 * XML benchmark: parse + validate + format throughput (domains/s) and heap
 * retained per parsed domain, over the libvirt-oracle corpus. Prints medians
 * of several rounds; these machines are noisy, so compare ratios, not
 * absolute numbers.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDomainXML } from '../src/xml/parse.js';
import { formatDomainXML } from '../src/xml/format.js';
import { defaultContext } from '../src/xml/context.js';
import type { DomainDef } from '../src/xml/model.js';
import { median, printTable } from './table.js';

const ORACLE = resolve(import.meta.dirname, '../../shared/conformance/libvirt-oracle/valid');
const ORACLE_FROM_DIST = resolve(import.meta.dirname, '../../../shared/conformance/libvirt-oracle/valid');

function corpus(): Buffer[] {
  const dir = existsSync(ORACLE) ? ORACLE : ORACLE_FROM_DIST;
  if (!existsSync(dir)) throw new Error(`oracle corpus not found at ${dir}`);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.xml') && !f.endsWith('.out.xml') && !f.endsWith('.pre.xml'))
    .map((f) => readFileSync(join(dir, f)));
}

function throughput(inputs: Buffer[], rounds: number, work: (b: Buffer) => void): number {
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (const b of inputs) work(b);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(inputs.length / seconds);
  }
  return median(rates);
}

function heapPerDomain(inputs: Buffer[], copies: number): number {
  const ctx = defaultContext();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const kept: DomainDef[] = [];
  for (let i = 0; i < copies; i++) for (const b of inputs) kept.push(parseDomainXML(b, ctx));
  gc?.();
  const after = process.memoryUsage().heapUsed;
  return (after - before) / kept.length;
}

export function runXmlBench(): void {
  const inputs = corpus();
  const ctx = defaultContext();
  // Warm up the JIT before measuring.
  throughput(inputs, 3, (b) => formatDomainXML(parseDomainXML(b, ctx)));
  const parse = throughput(inputs, 7, (b) => parseDomainXML(b, ctx));
  const defs = inputs.map((b) => parseDomainXML(b, ctx));
  let next = 0;
  const format = throughput(inputs, 7, () => formatDomainXML(defs[next++ % defs.length]!));
  const both = throughput(inputs, 7, (b) => formatDomainXML(parseDomainXML(b, ctx)));
  const heap = heapPerDomain(inputs, 20);
  printTable(`XML (${inputs.length} oracle domains, median of 7 rounds)`, [
    ['parse + validate', `${parse.toFixed(0)} domains/s`],
    ['format', `${format.toFixed(0)} domains/s`],
    ['parse + validate + format', `${both.toFixed(0)} domains/s`],
    ['heap per parsed domain', `${(heap / 1024).toFixed(1)} KiB${(globalThis as { gc?: unknown }).gc ? '' : ' (no --expose-gc: approximate)'}`],
  ]);
}

if (import.meta.url === `file://${process.argv[1]}`) runXmlBench();
