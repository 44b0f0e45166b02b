/** The library API (`import { connect } from 'nsvirt'`): connections, domains, lookups, typed errors. */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { describe, expect, it } from 'vitest';
import { connect, Connection, Domain, VirError, type DomainInfo, type DomainStateInfo } from '../src/index.js';
import { driverPaths } from '../src/driver/paths.js';
import { domainXML, useTempRoot } from './support/tmproot.js';

const { root } = useTempRoot('nsvirt-api-');
const UUID_A = '0b5e3f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b';
const UUID_B = '0b5e3f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5c';
const open = (uri = 'lxc:///'): Connection => connect(uri, { root: root(), context: { hostArch: 'x86_64' } });

async function virError(p: Promise<unknown> | (() => unknown)): Promise<VirError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(VirError);
    return e as VirError;
  }
  throw new Error('expected a VirError');
}

describe('connect', () => {
  it('accepts the LXC URIs and reports them canonically', () => {
    expect(open('lxc:///').getURI()).toBe('lxc:///');
    expect(open('lxc:///system').getURI()).toBe('lxc:///system');
    expect(open('lxc://').getURI()).toBe('lxc:///');
    expect(connect(undefined, { root: root(), env: {} }).getURI()).toBe('lxc:///system');
    expect(connect(undefined, { root: root(), env: { LIBVIRT_DEFAULT_URI: 'lxc:///' } }).getURI()).toBe('lxc:///');
  });

  it('rejects other paths and other drivers with libvirt errors', async () => {
    const path = await virError(() => open('lxc:///session'));
    expect(path.code).toBe('VIR_ERR_INTERNAL_ERROR');
    expect(path.message).toBe("internal error: Unexpected LXC URI path '/session', try lxc:///system");
    expect((await virError(() => open('qemu:///system'))).message).toMatch(/no connection driver available for qemu:\/\/\/system$/);
    expect((await virError(() => open('lxc://remote.example/'))).message).toMatch(/no connection driver available/);
  });

  it('takes its root from NSVIRT_ROOT when no option names one', async () => {
    const conn = connect('lxc:///', { env: { NSVIRT_ROOT: root() } });
    await conn.defineXML(domainXML('web'));
    expect(readFileSync(driverPaths({ root: root() }).configFile('web'), 'utf8')).toContain('<name>web</name>');
  });

  it('reports the hypervisor and library versions as libvirt encodes them', () => {
    const conn = open();
    const [major, minor, micro] = (/^(\d+)\.(\d+)\.?(\d+)?/.exec(release()) ?? []).slice(1).map((n) => Number(n ?? 0));
    expect(conn.getVersion()).toBe(major! * 1_000_000 + minor! * 1_000 + micro!);
    expect(conn.getLibVersion()).toBe(9_000_000);
    expect(conn.getType()).toBe('LXC');
    expect(conn.getSecurityModel()).toEqual({ model: 'none', doi: '0' });
  });

  it('is unusable once closed', async () => {
    const conn = open();
    const dom = await conn.defineXML(domainXML('web'));
    expect(conn.isAlive()).toBe(true);
    conn.close();
    expect(conn.isAlive()).toBe(false);
    expect((await virError(() => conn.getURI())).code).toBe('VIR_ERR_INVALID_CONN');
    await virError(conn.lookupByName('web'));
    await virError(dom.getInfo());
  });
});

describe('domains', () => {
  it('defineXML returns a handle with the name and UUID', async () => {
    const dom = await open().defineXML(domainXML('web', { uuid: UUID_A }));
    expect(dom).toBeInstanceOf(Domain);
    expect(dom.name).toBe('web');
    expect(dom.uuid).toBe(UUID_A);
  });

  it('a never-started domain is shut off with reason unknown, no ID, persistent', async () => {
    const dom = await open().defineXML(domainXML('web', { memoryKiB: 131072 }));
    const info: DomainInfo = await dom.getInfo();
    expect(info).toEqual({ state: 'shutoff', maxMemKiB: 131072n, memoryKiB: 131072n, nrVirtCpu: 1, cpuTimeNs: 0n });
    const state: DomainStateInfo = await dom.getState();
    expect(state).toEqual({ state: 'shutoff', reason: 'unknown' });
    expect(await dom.getID()).toBeUndefined();
    expect(await dom.isActive()).toBe(false);
    expect(await dom.isPersistent()).toBe(true);
    expect(await dom.getAutostart()).toBe(false);
    expect(await dom.getOSType()).toBe('exe');
  });

  it('getXMLDesc gives the canonical definition', async () => {
    const dom = await open().defineXML(domainXML('web', { uuid: UUID_A, title: 'Web' }));
    const xml = await dom.getXMLDesc();
    expect(xml).toMatch(/^<domain type='lxc'>\n  <name>web<\/name>\n  <uuid>0b5e3f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b<\/uuid>\n/);
    expect(xml).toContain("  <currentMemory unit='KiB'>65536</currentMemory>\n");
    expect(await dom.getXMLDesc({ inactive: true })).toBe(xml);
    expect(await dom.getTitle()).toBe('Web');
  });

  it('looks domains up by name, UUID (with or without dashes) and ID', async () => {
    const conn = open();
    await conn.defineXML(domainXML('web', { uuid: UUID_A }));
    expect((await conn.lookupByName('web')).uuid).toBe(UUID_A);
    expect((await conn.lookupByUUID(UUID_A)).name).toBe('web');
    expect((await conn.lookupByUUID(UUID_A.replace(/-/g, '').toUpperCase())).name).toBe('web');

    const byName = await virError(conn.lookupByName('nope'));
    expect(byName.code).toBe('VIR_ERR_NO_DOMAIN');
    expect(byName.message).toBe("Domain not found: no domain with matching name 'nope'");
    expect((await virError(conn.lookupByUUID(UUID_B))).message).toBe(
      `Domain not found: no domain with matching uuid '${UUID_B}'`,
    );
    expect((await virError(conn.lookupByUUID('not-a-uuid'))).code).toBe('VIR_ERR_INVALID_ARG');
    expect((await virError(conn.lookupByID(1))).message).toBe('Domain not found: no domain with matching id 1');
  });

  it('define errors are typed VirErrors with libvirt codes', async () => {
    const conn = open();
    await conn.defineXML(domainXML('web', { uuid: UUID_A }));
    const dupName = await virError(conn.defineXML(domainXML('web', { uuid: UUID_B })));
    expect(dupName.code).toBe('VIR_ERR_OPERATION_FAILED');
    expect(dupName.message).toBe(`operation failed: domain 'web' already exists with uuid ${UUID_A}`);
    const dupUUID = await virError(conn.defineXML(domainXML('db', { uuid: UUID_A })));
    expect(dupUUID.message).toBe(`operation failed: domain 'web' is already defined with uuid ${UUID_A}`);
    expect((await virError(conn.defineXML('<domain'))).code).toBe('VIR_ERR_XML_DETAIL');
  });

  it('listAllDomains filters by activity, persistence, autostart and state', async () => {
    const conn = open();
    await conn.defineXML(domainXML('web'));
    await conn.defineXML(domainXML('db'));
    const names = async (filter?: Parameters<Connection['listAllDomains']>[0]) =>
      (await conn.listAllDomains(filter)).map((d) => d.name).sort();
    expect(await names()).toEqual(['db', 'web']);
    expect(await names({ inactive: true })).toEqual(['db', 'web']);
    expect(await names({ active: true })).toEqual([]);
    expect(await names({ active: true, inactive: true })).toEqual(['db', 'web']);
    expect(await names({ persistent: false })).toEqual([]);
    expect(await names({ autostart: false })).toEqual(['db', 'web']);
    expect(await names({ states: ['shutoff'] })).toEqual(['db', 'web']);
    expect(await names({ states: ['running', 'paused'] })).toEqual([]);
  });

  it('undefine removes the domain; the stale handle then fails like libvirt', async () => {
    const conn = open();
    const dom = await conn.defineXML(domainXML('web', { uuid: UUID_A }));
    await dom.undefine();
    expect(await conn.listAllDomains()).toEqual([]);
    const gone = await virError(dom.getState());
    expect(gone.code).toBe('VIR_ERR_NO_DOMAIN');
    expect(gone.message).toBe(`Domain not found: no domain with matching uuid '${UUID_A}' (web)`);
  });

  it('sees definitions made through another connection (the store is shared)', async () => {
    await open().defineXML(domainXML('web'));
    expect((await open().listAllDomains()).map((d) => d.name)).toEqual(['web']);
  });
});

describe('secrets', () => {
  const withPassword = (name: string): string =>
    `<domain type='lxc'><name>${name}</name><memory>65536</memory><os><type>exe</type><init>/bin/sh</init></os>` +
    `<devices><console type='pty'/><graphics type='vnc' passwd='s3cret'/><video><model type='vga'/></video></devices></domain>`;

  it('the stored definition keeps a graphics password; getXMLDesc shows it only with securityInfo', async () => {
    const dom = await open().defineXML(withPassword('secret-keeper'));
    const stored = readFileSync(driverPaths({ root: root() }).configFile('secret-keeper'), 'utf8');
    expect(stored).toContain("passwd='s3cret'");
    expect(await dom.getXMLDesc()).not.toContain('s3cret');
    expect(await dom.getXMLDesc({ securityInfo: true })).toContain("<graphics type='vnc' port='-1' autoport='yes' passwd='s3cret'>");
    // Reloaded from disk by a fresh connection: still there.
    const again = await open().lookupByName('secret-keeper');
    expect(await again.getXMLDesc({ securityInfo: true })).toContain("passwd='s3cret'");
  });
});

describe('domainXMLFromNative', () => {
  it('converts lxc-tools configs and rejects other formats', async () => {
    const conn = open();
    const xml = await conn.domainXMLFromNative('lxc-tools', 'lxc.uts.name = ct\nlxc.rootfs.path = /srv/ct\n');
    expect(xml).toMatch(/^<domain type='lxc'>\n  <name>ct<\/name>\n/);
    const err = await virError(conn.domainXMLFromNative('xen-xm', ''));
    expect(err.code).toBe('VIR_ERR_INVALID_ARG');
    expect(err.message).toBe('invalid argument: unsupported config type xen-xm');
  });
});
