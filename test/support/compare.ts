/** Comparison rules of the oracle README: loose emulator line, random values by format, libvirt's unescaped outputs. */
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

export interface CompareOptions {
  /** The input named no <emulator>: compare that line loosely. */
  looseEmulator: boolean;
  /** random_values column of results.tsv (uuid, mac:N, ovs-interfaceid:N). */
  random?: string;
  /** libvirt wrote these values unescaped: compare after decoding entities. */
  decodeEntities?: boolean;
}

const decode = (s: string): string =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&');

export function normalise(xml: string, opts: CompareOptions): string {
  let s = xml;
  if (opts.looseEmulator) s = s.replace(/<emulator>[^<]*<\/emulator>/g, '<emulator>EMULATOR</emulator>');
  if (opts.random?.startsWith('uuid')) s = s.replace(new RegExp(`<uuid>${UUID}</uuid>`), '<uuid>RANDOM</uuid>');
  if (opts.random?.startsWith('mac')) {
    s = s.replace(/<mac address='52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}'\/>/g, "<mac address='52:54:00:RANDOM'/>");
  }
  if (opts.random?.startsWith('ovs-interfaceid')) {
    s = s.replace(new RegExp(`interfaceid='${UUID}'`, 'g'), "interfaceid='RANDOM'");
  }
  if (opts.decodeEntities) s = decode(s);
  return s;
}
