/**
 * Definitions of domains that really start on a test host (as root): the
 * host's root read-only, a private network namespace, a shell script as
 * init, one console.
 */
import { readdirSync, readFileSync } from 'node:fs';

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function runnableDomainXML(name: string, script: string, opts: { init?: string; uuid?: string } = {}): string {
  return (
    `<domain type='lxc'>\n  <name>${name}</name>\n` +
    (opts.uuid ? `  <uuid>${opts.uuid}</uuid>\n` : '') +
    "  <memory unit='MiB'>64</memory>\n" +
    `  <os>\n    <type>exe</type>\n    <init>${opts.init ?? '/bin/sh'}</init>\n` +
    `    <initarg>-c</initarg>\n    <initarg>${escapeXml(script)}</initarg>\n  </os>\n` +
    '  <features>\n    <privnet/>\n  </features>\n' +
    "  <devices>\n    <filesystem type='mount'>\n      <source dir='/'/>\n      <target dir='/'/>\n      <readonly/>\n    </filesystem>\n" +
    "    <console type='pty'/>\n  </devices>\n</domain>\n"
  );
}

/** Live processes whose command line mentions `text` (a test root, a domain name). */
export function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return cmdline.includes(text) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${p}/stat`, 'utf8'));
      } catch {
        return false;
      }
    })
    .map(Number);
}
