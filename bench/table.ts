/** Small helpers shared by the benchmarks. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function printTable(title: string, rows: ReadonlyArray<readonly [string, string]>): void {
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n${title}`);
  console.log('-'.repeat(Math.max(title.length, w + 20)));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
}
