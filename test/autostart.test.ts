/**
 * Autostart: the API (getAutostart/setAutostart), `nsvirsh autostart`
 * with virsh's lines, and nsvirt-autostart starting the marked domains at
 * boot (that part needs root: it starts real containers).
 */
import { runNsvirsh, type CliResult } from './support/cli.js';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../src/driver/connection.js';
import { driverPaths } from '../src/driver/paths.js';
import { packageRoot } from '../src/package.js';
import { domainXML, useTempRoot } from './support/tmproot.js';
import { processesMentioning, runnableDomainXML } from './support/runnable.js';

const { root } = useTempRoot('nsvirt-autostart-');
const UUID = 'c7a5fdbd-edaf-4455-926a-d65c16db1809';
const IS_ROOT = process.getuid?.() === 0;

const conn = () => connect(undefined, { root: root(), onWarning: () => {} });
const paths = () => driverPaths({ root: root() });

const nsvirsh = (args: string[]): Promise<CliResult> => runNsvirsh(args, { env: { NSVIRT_ROOT: root() }, cwd: root() });

const autostartEntries = (): string[] => (existsSync(paths().autostartDir) ? readdirSync(paths().autostartDir) : []);

describe('API', () => {
  it('marks a persistent domain with a symlink to its config file, as libvirt does', async () => {
    const dom = await conn().defineXML(domainXML('web'));
    expect(await dom.getAutostart()).toBe(false);
    await dom.setAutostart(true);
    expect(await dom.getAutostart()).toBe(true);
    const link = paths().autostartLink('web');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(paths().configFile('web'));
    await dom.setAutostart(true); // already marked: nothing changes
    expect(autostartEntries()).toEqual(['web.xml']); // and no temporary file is left
    expect((await conn().listAllDomains({ autostart: true })).map((d) => d.name)).toEqual(['web']);
    await dom.setAutostart(false);
    expect(existsSync(link)).toBe(false);
    await dom.setAutostart(false);
    expect(await dom.getAutostart()).toBe(false);
  });

  it('undefine removes the mark; a handle on an undefined domain cannot set it', async () => {
    const dom = await conn().defineXML(domainXML('web', { uuid: UUID }));
    await dom.setAutostart(true);
    await dom.undefine();
    expect(autostartEntries()).toEqual([]);
    await expect(dom.setAutostart(true)).rejects.toThrow(`Domain not found: no domain with matching uuid '${UUID}' (web)`);
    expect(autostartEntries()).toEqual([]);
  });
});

describe('nsvirsh autostart', () => {
  it("prints virsh's lines, naming the domain as given; -q prints nothing", async () => {
    await conn().defineXML(domainXML('web', { uuid: UUID }));
    expect(await nsvirsh(['autostart', 'web'])).toEqual({ code: 0, stdout: "Domain 'web' marked as autostarted\n\n", stderr: '' });
    expect((await nsvirsh(['dominfo', 'web'])).stdout).toContain('Autostart:      enable\n');
    expect((await nsvirsh(['list', '--all', '--autostart', '--name'])).stdout).toBe('web\n\n');
    expect(await nsvirsh(['autostart', '--disable', UUID])).toEqual({
      code: 0,
      stdout: `Domain '${UUID}' unmarked as autostarted\n\n`,
      stderr: '',
    });
    expect((await nsvirsh(['dominfo', 'web'])).stdout).toContain('Autostart:      disable\n');
    expect(await nsvirsh(['-q', 'autostart', 'web'])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(autostartEntries()).toEqual(['web.xml']);
  });

  it('fails as virsh does for an unknown domain and a missing argument', async () => {
    expect(await nsvirsh(['autostart', 'nope'])).toEqual({ code: 1, stdout: '\n', stderr: "error: failed to get domain 'nope'\n" });
    expect(await nsvirsh(['autostart'])).toEqual({ code: 1, stdout: '', stderr: "error: command 'autostart' requires <domain> option\n" });
  });
});

/** nsvirt-autostart, run as a program from its TypeScript source. */
function runAutostartAtBoot(): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(join(packageRoot(), 'node_modules/.bin/vite-node'), [join(packageRoot(), 'src/cli/autostart-at-boot.ts')], {
    env: { ...process.env, NSVIRT_ROOT: root() },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!IS_ROOT)('starting real domains (root)', () => {
  afterEach(async () => {
    for (const dom of await conn().listAllDomains({ active: true })) await dom.destroy();
    expect(processesMentioning(root())).toEqual([]);
  });

  it('a transient domain cannot be marked', async () => {
    const name = `h9-transient-${process.pid}`;
    writeFileSync(join(root(), 't.xml'), runnableDomainXML(name, 'exec sleep 1000'));
    expect((await nsvirsh(['create', 't.xml'])).code).toBe(0);
    expect(await nsvirsh(['autostart', name])).toEqual({
      code: 1,
      stdout: '\n',
      stderr: `error: Failed to mark domain '${name}' as autostarted\nerror: Requested operation is not valid: Cannot set autostart for transient domain\n`,
    });
    expect(autostartEntries()).toEqual([]);
  });

  it('nsvirt-autostart starts the marked domains that are not running, and reports the ones it cannot', async () => {
    const c = conn();
    const marked = await c.defineXML(runnableDomainXML(`h9-marked-${process.pid}`, 'exec sleep 1000'));
    const unmarked = await c.defineXML(runnableDomainXML(`h9-unmarked-${process.pid}`, 'exec sleep 1000'));
    const broken = await c.defineXML(runnableDomainXML(`h9-broken-${process.pid}`, 'exit 0', { init: '/nonexistent/init' }));
    await marked.setAutostart(true);
    await broken.setAutostart(true);

    const first = runAutostartAtBoot();
    expect(first.stdout).toBe(`Domain '${marked.name}' started\n`);
    expect(first.stderr).toMatch(new RegExp(`^error: Failed to autostart domain '${broken.name}'\nerror: .*cannot find init path '/nonexistent/init'`));
    expect(first.status).toBe(1);
    expect(await marked.isActive()).toBe(true);
    expect(await unmarked.isActive()).toBe(false);
    expect(await broken.isActive()).toBe(false);

    await broken.setAutostart(false);
    // Already running: nothing to do.
    expect(runAutostartAtBoot()).toEqual({ status: 0, stdout: '', stderr: '' });
  });
});
