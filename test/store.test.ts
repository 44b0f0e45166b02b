/**
 * The persistent definition store: atomic writes, crash leftovers, corrupt
 * files, libvirt's define rules (including the oracle cases that need an
 * existing definition), concurrent defines from several processes, and
 * failed defines leaving stored files untouched.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, type Connection } from '../src/driver/connection.js';
import { driverPaths } from '../src/driver/paths.js';
import { DefinitionStore, checkDefineConflicts, configFileText } from '../src/driver/store.js';
import { isTempFile, writeFileAtomic } from '../src/driver/atomic.js';
import { packageRoot } from '../src/package.js';
import { defaultContext } from '../src/xml/context.js';
import { parseDomainXML } from '../src/xml/parse.js';
import { VirError } from '../src/xml/errors.js';
import { haveOracle, oracleCases, oracleFile } from './support/conformance.js';
import { normalise } from './support/compare.js';
import { domainXML, useTempRoot } from './support/tmproot.js';

const { root } = useTempRoot('nsvirt-store-');
const ctx = defaultContext({ hostArch: 'x86_64' });
const paths = () => driverPaths({ root: root() });
const open = (warnings: string[] = []): Connection =>
  connect('lxc:///', { root: root(), context: { hostArch: 'x86_64' }, onWarning: (m) => warnings.push(m) });
const store = () => new DefinitionStore(paths(), ctx);
const UUID_A = 'a1b2c3d4-0000-4000-8000-000000000001';
const UUID_B = 'a1b2c3d4-0000-4000-8000-000000000002';

async function rejection(p: Promise<unknown>): Promise<VirError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(VirError);
    return e as VirError;
  }
  throw new Error('expected a rejection');
}

describe('atomic writes', () => {
  it('replaces a file in one step, with mode 0600 and no temporary file left', () => {
    const file = join(root(), 'f.xml');
    writeFileAtomic(file, 'one');
    writeFileAtomic(file, 'two');
    expect(readFileSync(file, 'utf8')).toBe('two');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(root())).toEqual(['f.xml']);
  });

  it('a failed write leaves the target as it was and removes its temporary file', () => {
    const target = join(root(), 'dir.xml');
    mkdirSync(target);
    expect(() => writeFileAtomic(target, 'data')).toThrow();
    expect(statSync(target).isDirectory()).toBe(true);
    expect(readdirSync(root())).toEqual(['dir.xml']);
  });

  it('temporary names can never be taken for definitions', () => {
    expect(isTempFile('web.xml.tmp-123-0123456789ab')).toBe(true);
    expect(isTempFile('web.xml')).toBe(false);
    expect(isTempFile('web.xml.tmp-123-0123456789ab.xml')).toBe(false);
  });
});

describe('stored files', () => {
  it('holds one canonical file per domain, behind libvirt-style banner', async () => {
    const dom = await open().defineXML(domainXML('web', { uuid: UUID_A }));
    const file = paths().configFile('web');
    const text = readFileSync(file, 'utf8');
    expect(text).toBe(configFileText(parseDomainXML(domainXML('web', { uuid: UUID_A }), ctx)));
    expect(text).toMatch(/^<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE\./);
    expect(text).toContain('  nsvirsh edit web\n');
    expect(text).toContain(`<uuid>${dom.uuid}</uuid>`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('names the UUID in the banner when the name is not shell-safe', async () => {
    await open().defineXML(domainXML('my dom', { uuid: UUID_A }));
    expect(readFileSync(paths().configFile('my dom'), 'utf8')).toContain(`  nsvirsh edit ${UUID_A}\n`);
  });

  it('ignores what a crash mid-write leaves behind, and sweeps it on the next define', async () => {
    const conn = open();
    await conn.defineXML(domainXML('keep', { uuid: UUID_A }));
    const before = readFileSync(paths().configFile('keep'));
    const dir = paths().configDir;
    // A half-written update of 'keep' and a half-written new domain.
    writeFileSync(join(dir, 'keep.xml.tmp-4242-0123456789ab'), before.subarray(0, 40));
    writeFileSync(join(dir, 'new.xml.tmp-4243-abcdefabcdef'), "<domain type='lxc'><name>new</na");

    const warnings: string[] = [];
    const listed = await open(warnings).listAllDomains();
    expect(listed.map((d) => d.name)).toEqual(['keep']);
    expect(warnings).toEqual([]);
    expect(readFileSync(paths().configFile('keep'))).toEqual(before);

    await conn.defineXML(domainXML('other', { uuid: UUID_B }));
    expect(readdirSync(dir).sort()).toEqual(['keep.xml', 'other.xml']);
  });

  it('reports a corrupt or misnamed file and skips it without breaking the listing', async () => {
    const conn = open();
    await conn.defineXML(domainXML('good', { uuid: UUID_A }));
    writeFileSync(paths().configFile('broken'), "<domain type='lxc'><name>broken");
    writeFileSync(paths().configFile('alias'), readFileSync(paths().configFile('good')));

    const { domains, problems } = store().loadAll();
    expect(domains.map((d) => d.name)).toEqual(['good']);
    expect(problems).toEqual([
      { file: paths().configFile('alias'), reason: "file name does not match domain name 'good'" },
      { file: paths().configFile('broken'), reason: expect.stringMatching(/\S/) },
    ]);

    const warnings: string[] = [];
    expect((await open(warnings).listAllDomains()).map((d) => d.name)).toEqual(['good']);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(new RegExp(`^skipping stored definition ${paths().configFile('broken')}: `));
  });

  it('reports two files claiming one UUID and keeps the first', () => {
    mkdirSync(paths().configDir, { recursive: true });
    for (const name of ['a', 'b']) {
      writeFileSync(paths().configFile(name), configFileText(parseDomainXML(domainXML(name, { uuid: UUID_A }), ctx)));
    }
    const { domains, problems } = store().loadAll();
    expect(domains.map((d) => d.name)).toEqual(['a']);
    expect(problems).toEqual([{ file: paths().configFile('b'), reason: `uuid ${UUID_A} is already used by domain 'a'` }]);
  });

  it('lists nothing, and creates nothing, when no definition was ever stored', async () => {
    expect(await open().listAllDomains()).toEqual([]);
    expect(readdirSync(root())).toEqual([]);
  });
});

describe('define rules', () => {
  const def = (name: string, uuid: string) => parseDomainXML(domainXML(name, { uuid }), ctx);

  it('same name and UUID replaces; a new name and UUID adds', () => {
    const existing = [def('a', UUID_A)];
    expect(checkDefineConflicts(existing, def('a', UUID_A))).toBe(existing[0]);
    expect(checkDefineConflicts(existing, def('b', UUID_B))).toBeUndefined();
  });

  it('same name with another UUID, and same UUID with another name, fail as in libvirt', () => {
    const existing = [def('a', UUID_A)];
    expect(() => checkDefineConflicts(existing, def('a', UUID_B))).toThrow(
      `operation failed: domain 'a' already exists with uuid ${UUID_A}`,
    );
    expect(() => checkDefineConflicts(existing, def('b', UUID_A))).toThrow(
      `operation failed: domain 'a' is already defined with uuid ${UUID_A}`,
    );
  });

  it('an update rewrites the stored file; a failed define leaves it byte-identical', async () => {
    const conn = open();
    await conn.defineXML(domainXML('web', { uuid: UUID_A }));
    await conn.defineXML(domainXML('web', { uuid: UUID_A, memoryKiB: 131072 }));
    const file = paths().configFile('web');
    const stored = readFileSync(file);
    expect(stored.toString()).toContain("<memory unit='KiB'>131072</memory>");

    const failures = [
      domainXML('web', { uuid: UUID_B }), // same name, other uuid
      domainXML('web'), // no uuid: a random one, so again another uuid
      domainXML('other', { uuid: UUID_A }), // same uuid, other name
      domainXML('web', { uuid: UUID_A }).replace('65536', 'lots'), // does not parse
    ];
    for (const xml of failures) {
      await rejection(conn.defineXML(xml));
      expect(readFileSync(file)).toEqual(stored);
    }
    expect(readdirSync(paths().configDir)).toEqual(['web.xml']);
  });
});

describe('undefine', () => {
  it('removes the definition and its autostart link', async () => {
    const conn = open();
    const dom = await conn.defineXML(domainXML('web', { uuid: UUID_A }));
    mkdirSync(paths().autostartDir, { recursive: true });
    symlinkSync(paths().configFile('web'), paths().autostartLink('web'));
    expect(await dom.getAutostart()).toBe(true);
    await dom.undefine();
    expect(existsSync(paths().configFile('web'))).toBe(false);
    expect(existsSync(paths().autostartLink('web'))).toBe(false);
  });

  it('refuses a handle whose domain was replaced meanwhile', async () => {
    const conn = open();
    const old = await conn.defineXML(domainXML('web', { uuid: UUID_A }));
    await old.undefine();
    await conn.defineXML(domainXML('web', { uuid: UUID_B }));
    const err = await rejection(old.undefine());
    expect(err.code).toBe('VIR_ERR_NO_DOMAIN');
    expect(err.message).toBe(`Domain not found: no domain with matching uuid '${UUID_A}' (web)`);
    expect(readFileSync(paths().configFile('web'), 'utf8')).toContain(UUID_B);
  });
});

describe.skipIf(!haveOracle())('oracle cases with a fixture (.pre.xml)', () => {
  const cases = haveOracle() ? oracleCases().filter((c) => existsSync(oracleFile(c, '.pre.xml'))) : [];

  it('are the four known ones', () => {
    expect(cases.map((c) => `${c.dir}/${c.name}`).sort()).toEqual([
      'invalid/err-dup-name-other-uuid',
      'invalid/err-dup-uuid-other-name',
      'invalid/err-redefine-without-uuid',
      'valid/redefine-same-uuid',
    ]);
  });

  for (const c of cases) {
    it(`${c.dir}/${c.name}`, async () => {
      const conn = open();
      const pre = await conn.defineXML(readFileSync(oracleFile(c, '.pre.xml')));
      const preFile = paths().configFile(pre.name);
      const storedBefore = readFileSync(preFile);
      const input = readFileSync(oracleFile(c, '.xml'));

      if (c.dir === 'invalid') {
        const err = await rejection(conn.defineXML(input));
        const expected = readFileSync(oracleFile(c, '.err'), 'utf8').split('\n')[1];
        expect(`error: ${err.message}`).toBe(expected);
        expect(readFileSync(preFile)).toEqual(storedBefore);
      } else {
        const dom = await conn.defineXML(input);
        expect(dom.uuid).toBe(pre.uuid);
        const opts = { looseEmulator: !/<emulator>/.test(input.toString('utf8')) };
        const expected = readFileSync(oracleFile(c, '.out.xml'), 'utf8');
        expect(normalise(await dom.getXMLDesc({ inactive: true }), opts)).toBe(normalise(expected, opts));
        expect(normalise(await dom.getXMLDesc(), opts)).toBe(normalise(expected, opts));
      }
      expect((await conn.listAllDomains()).map((d) => d.name)).toEqual([pre.name]);
    });
  }
});

describe('concurrent defines from several processes', () => {
  const CHILDREN = 6;
  const viteNode = join(packageRoot(), 'node_modules/vite-node/vite-node.mjs');
  const src = (p: string): string => JSON.stringify(join(packageRoot(), 'src', p));

  /** A child that connects, says "ready", waits for the go file, then defines `race` with its own UUID. */
  const childScript = (): string => `
import { existsSync } from 'node:fs';
import { connect } from ${src('driver/connection.ts')};
const [root, go, uuid] = process.argv.slice(-3);
const xml = ${JSON.stringify(domainXML('race', { uuid: '@UUID@' }))}.replace('@UUID@', uuid);
const conn = connect('lxc:///', { root });
process.stdout.write('ready\\n');
while (!existsSync(go)) await new Promise((r) => setTimeout(r, 2));
const result = await conn.defineXML(xml).then(() => ({ ok: true }), (e) => ({ error: e.message }));
process.stdout.write(JSON.stringify({ uuid, ...result }) + '\\n');
`;

  interface Outcome {
    uuid: string;
    ok?: boolean;
    error?: string;
  }

  function runChild(script: string, storeRoot: string, go: string, uuid: string, ready: () => void): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [viteNode, script, storeRoot, go, uuid], { cwd: packageRoot() });
      let out = '';
      let err = '';
      let announced = false;
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (!announced && out.includes('ready\n')) {
          announced = true;
          ready();
        }
      });
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => {
        const last = out.trim().split('\n').pop() ?? '';
        if (code !== 0 || !last.startsWith('{')) reject(new Error(`child failed (${code}): ${err}${out}`));
        else resolve(JSON.parse(last) as Outcome);
      });
    });
  }

  it('exactly one UUID wins the name, and the stored file is valid', async () => {
    const work = join(root(), 'work');
    mkdirSync(work);
    const script = join(work, 'define-race.ts');
    writeFileSync(script, childScript());
    const go = join(work, 'go');
    const uuids = Array.from({ length: CHILDREN }, (_, i) => `5ace0000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    let readyCount = 0;
    let allReady!: () => void;
    const everyoneReady = new Promise<void>((r) => (allReady = r));
    const outcomes = uuids.map((uuid) =>
      runChild(script, root(), go, uuid, () => {
        if (++readyCount === CHILDREN) allReady();
      }),
    );
    await everyoneReady;
    writeFileSync(go, '');
    const results = await Promise.all(outcomes);

    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!.uuid;
    for (const loser of results.filter((r) => !r.ok)) {
      expect(loser.error).toBe(`operation failed: domain 'race' already exists with uuid ${winner}`);
    }
    const stored = parseDomainXML(readFileSync(paths().configFile('race')), ctx);
    expect(stored.uuid).toBe(winner);
    expect(readdirSync(paths().configDir)).toEqual(['race.xml']);
  });
});
