/**
 * nsvirsh against virsh's output formats (reference §5): exact layouts,
 * blank line after each command unless -q, error lines and exit codes.
 * Runs in-process through runCli; the last block runs the compiled binary.
 */
import { runNsvirsh } from './support/cli.js';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { driverPaths } from '../src/driver/paths.js';
import { packageRoot } from '../src/package.js';
import { haveOracle, oracleCases, oracleFile } from './support/conformance.js';
import { domainXML, useTempRoot } from './support/tmproot.js';

const { root } = useTempRoot('nsvirt-cli-');
const UUID_A = 'c7a5fdbd-edaf-4455-926a-d65c16db1809';
const UUID_B = 'c7a5fdbd-edaf-4455-926a-d65c16db1810';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const nsvirsh = (args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Result> =>
  runNsvirsh(args, { env: { NSVIRT_ROOT: root(), ...opts.env }, cwd: opts.cwd ?? root() });

/** Write NAME.xml into the test root and define it. */
async function define(name: string, opts: Parameters<typeof domainXML>[1] = {}): Promise<void> {
  writeFileSync(join(root(), `${name}.xml`), domainXML(name, opts));
  expect(await nsvirsh(['define', `${name}.xml`])).toEqual({
    code: 0,
    stdout: `Domain '${name}' defined from ${name}.xml\n\n`,
    stderr: '',
  });
}

const ok = (stdout: string): Result => ({ code: 0, stdout, stderr: '' });
const failed = (stderr: string, stdout = '\n'): Result => ({ code: 1, stdout, stderr });
/** A command-line syntax error: nothing runs, so no blank line either. */
const usageError = (message: string): Result => ({ code: 1, stdout: '', stderr: `error: ${message}\n` });

const DOMINFO_WEB =
  'Id:             -\n' +
  'Name:           web\n' +
  `UUID:           ${UUID_A}\n` +
  'OS Type:        exe\n' +
  'State:          shut off\n' +
  'CPU(s):         1\n' +
  'Max memory:     65536 KiB\n' +
  'Used memory:    65536 KiB\n' +
  'Persistent:     yes\n' +
  'Autostart:      disable\n' +
  'Managed save:   no\n' +
  'Security model: none\n' +
  'Security DOI:   0\n';

describe('define and undefine', () => {
  it('define prints the success line and a blank line; -q prints nothing', async () => {
    await define('web', { uuid: UUID_A });
    writeFileSync(join(root(), 'db.xml'), domainXML('db'));
    expect(await nsvirsh(['-q', 'define', '--file', 'db.xml', '--validate'])).toEqual(ok(''));
    expect(existsSync(driverPaths({ root: root() }).configFile('db'))).toBe(true);
  });

  it('a rejected definition gives virsh two error lines and exit status 1', async () => {
    writeFileSync(join(root(), 'bad.xml'), domainXML('bad').replace('65536', 'lots'));
    expect(await nsvirsh(['define', 'bad.xml'])).toEqual(
      failed(
        'error: Failed to define domain from bad.xml\n' +
          "error: XML error: Invalid value 'lots' for element or attribute './memory[1]'\n",
      ),
    );
    expect(await nsvirsh(['-q', 'define', 'bad.xml'])).toMatchObject({ code: 1, stdout: '' });
  });

  it('an unreadable file is reported as libvirt reports it', async () => {
    expect(await nsvirsh(['define', 'missing.xml'])).toEqual(
      failed("error: Failed to open file 'missing.xml': No such file or directory\n"),
    );
  });

  it('undefine echoes the domain as it was given', async () => {
    await define('web', { uuid: UUID_A });
    await define('db', { uuid: UUID_B });
    expect(await nsvirsh(['undefine', 'web'])).toEqual(ok("Domain 'web' has been undefined\n\n"));
    expect(await nsvirsh(['undefine', UUID_B])).toEqual(ok(`Domain '${UUID_B}' has been undefined\n\n`));
    expect(await nsvirsh(['undefine', 'web'])).toEqual(failed("error: failed to get domain 'web'\n"));
  });

  it.skipIf(!haveOracle())('the oracle fixture cases print what virsh printed', async () => {
    for (const c of oracleCases().filter((x) => x.dir === 'invalid' && existsSync(oracleFile(x, '.pre.xml')))) {
      const dir = join(oracleFile(c, '.xml'), '..');
      expect((await nsvirsh(['-q', 'define', `${c.name}.pre.xml`], { cwd: dir })).code).toBe(0);
      const result = await nsvirsh(['define', `${c.name}.xml`], { cwd: dir });
      expect(result).toEqual(failed(readFileSync(oracleFile(c, '.err'), 'utf8')));
      expect(Number(readFileSync(oracleFile(c, '.rc'), 'utf8'))).toBe(result.code);
      const names = (await nsvirsh(['-q', 'list', '--all', '--name'])).stdout.trim().split('\n');
      for (const name of names) expect((await nsvirsh(['-q', 'undefine', name])).code).toBe(0);
    }
  });
});

describe('list', () => {
  it('an empty table has 20 dashes and a blank line after', async () => {
    expect(await nsvirsh(['list'])).toEqual(ok(' Id   Name   State\n--------------------\n\n'));
    expect(await nsvirsh(['list', '--all'])).toEqual(ok(' Id   Name   State\n--------------------\n\n'));
    expect(await nsvirsh(['-q', 'list', '--all'])).toEqual(ok(''));
  });

  it('sorts inactive domains by name ignoring case, with columns sized to fit', async () => {
    await define('beta');
    await define('Alpha');
    await define('gamma');
    expect(await nsvirsh(['list', '--all'])).toEqual(
      ok(
        ' Id   Name    State\n' +
          '------------------------\n' +
          ' -    Alpha   shut off\n' +
          ' -    beta    shut off\n' +
          ' -    gamma   shut off\n\n',
      ),
    );
    expect(await nsvirsh(['-q', 'list', '--all'])).toEqual(
      ok(' -    Alpha   shut off\n -    beta    shut off\n -    gamma   shut off\n'),
    );
    expect(await nsvirsh(['list', '--inactive', '--name'])).toEqual(ok('Alpha\nbeta\ngamma\n\n'));
  });

  it('without --all shows running domains only (none yet)', async () => {
    await define('web');
    expect(await nsvirsh(['list'])).toEqual(ok(' Id   Name   State\n--------------------\n\n'));
    expect(await nsvirsh(['list', '--state-shutoff', '--all', '--name'])).toEqual(ok('web\n\n'));
    expect(await nsvirsh(['list', '--state-running', '--all', '--name'])).toEqual(ok('\n'));
    expect(await nsvirsh(['list', '--persistent', '--all', '--name'])).toEqual(ok('web\n\n'));
    expect(await nsvirsh(['list', '--transient', '--all', '--name'])).toEqual(ok('\n'));
  });

  it('--name, --uuid and --id print one domain per line, space-joined', async () => {
    await define('web', { uuid: UUID_A });
    await define('db', { uuid: UUID_B });
    expect(await nsvirsh(['list', '--all', '--uuid'])).toEqual(ok(`${UUID_B}\n${UUID_A}\n\n`));
    expect(await nsvirsh(['list', '--all', '--uuid', '--name'])).toEqual(ok(`${UUID_B} db\n${UUID_A} web\n\n`));
    expect(await nsvirsh(['list', '--all', '--id'])).toEqual(ok('\n'));
    expect(await nsvirsh(['list', '--all', '--id', '--name'])).toEqual(ok('- db\n- web\n\n'));
  });

  it('--title adds a Title column', async () => {
    await define('web', { title: 'Web server' });
    await define('db');
    expect(await nsvirsh(['list', '--all', '--title'])).toEqual(
      ok(
        ' Id   Name   State      Title\n' +
          '------------------------------------\n' +
          ' -    db     shut off   \n' +
          ' -    web    shut off   Web server\n\n',
      ),
    );
  });

  it('rejects options it does not have, and --table with --name', async () => {
    expect(await nsvirsh(['list', '--foo'])).toEqual(usageError("command 'list' doesn't support option --foo"));
    expect(await nsvirsh(['list', '--table', '--name'])).toEqual(
      failed('error: Options --table and --name are mutually exclusive\n'),
    );
    expect(await nsvirsh(['list', 'web'])).toEqual(usageError("unexpected data 'web'"));
  });

  it('warns about a stored file it cannot load and lists the rest', async () => {
    await define('web');
    const broken = driverPaths({ root: root() }).configFile('broken');
    writeFileSync(broken, 'not xml');
    const result = await nsvirsh(['list', '--all', '--name']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('web\n\n');
    expect(result.stderr).toMatch(new RegExp(`^warning: skipping stored definition ${broken}: .+\n$`));
  });
});

describe('domain information', () => {
  it('dominfo prints "%-15s %s" lines, by name or by UUID', async () => {
    await define('web', { uuid: UUID_A });
    expect(await nsvirsh(['dominfo', 'web'])).toEqual(ok(DOMINFO_WEB + '\n'));
    expect(await nsvirsh(['dominfo', '--domain', UUID_A])).toEqual(ok(DOMINFO_WEB + '\n'));
    expect(await nsvirsh(['-q', 'dominfo', 'web'])).toEqual(ok(DOMINFO_WEB));
  });

  it('an unknown domain is one error line; a missing one is a syntax error', async () => {
    expect(await nsvirsh(['dominfo', 'nope'])).toEqual(failed("error: failed to get domain 'nope'\n"));
    expect(await nsvirsh(['-q', 'dominfo', 'nope'])).toEqual(failed("error: failed to get domain 'nope'\n", ''));
    expect(await nsvirsh(['dominfo'])).toEqual(usageError("command 'dominfo' requires <domain> option"));
    expect(await nsvirsh(['dominfo', 'a', 'b'])).toEqual(usageError("unexpected data 'b'"));
    expect(await nsvirsh(['dominfo', '--domain'])).toEqual(usageError('expected syntax: --domain <string>'));
    expect(await nsvirsh(['dominfo', '--domain', 'a', '--domain', 'b'])).toEqual(
      usageError('option --domain already seen'),
    );
  });

  it('domstate, with and without --reason', async () => {
    await define('web');
    expect(await nsvirsh(['domstate', 'web'])).toEqual(ok('shut off\n\n'));
    expect(await nsvirsh(['domstate', 'web', '--reason'])).toEqual(ok('shut off (unknown)\n\n'));
    expect(await nsvirsh(['domstate', '--reason=yes', 'web'])).toEqual(usageError("invalid '=' after option --reason"));
  });

  it('domid, domname and domuuid look up only the ways virsh does', async () => {
    await define('web', { uuid: UUID_A });
    expect(await nsvirsh(['domid', 'web'])).toEqual(ok('-\n\n'));
    expect(await nsvirsh(['domid', UUID_A])).toEqual(ok('-\n\n'));
    expect(await nsvirsh(['domname', UUID_A])).toEqual(ok('web\n\n'));
    expect(await nsvirsh(['domname', 'web'])).toEqual(failed("error: failed to get domain 'web'\n"));
    expect(await nsvirsh(['domuuid', 'web'])).toEqual(ok(`${UUID_A}\n\n`));
    expect(await nsvirsh(['domuuid', UUID_A])).toEqual(failed(`error: failed to get domain '${UUID_A}'\n`));
    // No domain runs, so no ID resolves.
    expect(await nsvirsh(['domname', '1'])).toEqual(failed("error: failed to get domain '1'\n"));
  });

  it('dumpxml prints the definition and a blank line', async () => {
    await define('web', { uuid: UUID_A });
    const result = await nsvirsh(['dumpxml', 'web']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^<domain type='lxc'>\n  <name>web<\/name>\n/);
    expect(result.stdout).toMatch(/<\/domain>\n\n$/);
    expect((await nsvirsh(['-q', 'dumpxml', '--inactive', '--security-info', UUID_A])).stdout).toBe(
      result.stdout.slice(0, -1),
    );
  });
});

describe('domxml-from-native', () => {
  it('converts an LXC config; other formats and missing files fail as in libvirt', async () => {
    writeFileSync(join(root(), 'ct.conf'), 'lxc.uts.name = ct\nlxc.rootfs.path = /srv/ct\n');
    const result = await nsvirsh(['domxml-from-native', 'lxc-tools', 'ct.conf']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('<name>ct</name>');
    expect(result.stdout).toMatch(/<\/domain>\n\n$/);
    expect(await nsvirsh(['domxml-from-native', 'xen-xm', 'ct.conf'])).toEqual(
      failed('error: invalid argument: unsupported config type xen-xm\n'),
    );
    expect(await nsvirsh(['domxml-from-native', 'lxc-tools', 'none.conf'])).toEqual(
      failed("error: Failed to open file 'none.conf': No such file or directory\n"),
    );
    expect(await nsvirsh(['domxml-from-native', 'lxc-tools'])).toEqual(
      usageError("command 'domxml-from-native' requires <config> option"),
    );
  });
});

describe('connection and host', () => {
  it('version prints virsh lines with the kernel as hypervisor version', async () => {
    const kernel = /^(\d+)\.(\d+)\.?(\d+)?/.exec(release())!;
    const result = await nsvirsh(['version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      'Compiled against library: libvirt 9.0.0\n' +
        'Using library: libvirt 9.0.0\n' +
        'Using API: LXC 9.0.0\n' +
        `Running hypervisor: LXC ${Number(kernel[1])}.${Number(kernel[2])}.${Number(kernel[3] ?? 0)}\n` +
        `Implemented by: nsvirt ${JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version}\n\n`,
    );
  });

  it('uri prints the canonical URI of each accepted form', async () => {
    expect(await nsvirsh(['uri'])).toEqual(ok('lxc:///system\n\n'));
    expect(await nsvirsh(['-c', 'lxc:///', 'uri'])).toEqual(ok('lxc:///\n\n'));
    expect(await nsvirsh(['--connect=lxc://', 'uri'])).toEqual(ok('lxc:///\n\n'));
    expect(await nsvirsh(['-clxc:///system', 'uri'])).toEqual(ok('lxc:///system\n\n'));
    expect(await nsvirsh(['uri'], { env: { LIBVIRT_DEFAULT_URI: 'lxc:///' } })).toEqual(ok('lxc:///\n\n'));
  });

  it('a URI named up front that cannot be opened stops nsvirsh before any command', async () => {
    const expected = usageError('failed to connect to the hypervisor');
    expected.stderr += "error: internal error: Unexpected LXC URI path '/session', try lxc:///system\n";
    expect(await nsvirsh(['-c', 'lxc:///session', 'list'])).toEqual(expected);
    expect(await nsvirsh(['help'], { env: { VIRSH_DEFAULT_CONNECT_URI: 'lxc:///session' } })).toEqual(expected);
    expect((await nsvirsh(['-c', 'qemu:///system', 'list'])).stderr).toBe(
      'error: failed to connect to the hypervisor\nerror: no connection driver available for qemu:///system\n',
    );
  });

  it('a default URI is opened only when a command needs it', async () => {
    const env = { LIBVIRT_DEFAULT_URI: 'qemu:///system' };
    expect(await nsvirsh(['list'], { env })).toEqual(
      failed(
        'error: failed to connect to the hypervisor\nerror: no connection driver available for qemu:///system\n',
      ),
    );
    expect((await nsvirsh(['help', 'uri'], { env })).code).toBe(0);
  });
});

describe('command line', () => {
  it('unknown commands and global options', async () => {
    expect(await nsvirsh(['frobnicate'])).toEqual(usageError("unknown command: 'frobnicate'"));
    expect(await nsvirsh(['--frob', 'list'])).toEqual(usageError("unsupported option '--frob'. See --help."));
    expect(await nsvirsh(['-z', 'list'])).toEqual(usageError("unsupported option '-z'. See --help."));
    expect(await nsvirsh(['-c'])).toEqual(usageError("option '-c'/'--connect' requires an argument"));
    expect(await nsvirsh([])).toMatchObject({ code: 1, stdout: '' });
  });

  it('-v, -V and -h print and exit', async () => {
    expect(await nsvirsh(['-v', 'list'])).toEqual(ok('9.0.0\n'));
    expect((await nsvirsh(['--version=long'])).stdout).toMatch(/^nsvirsh command line tool of nsvirt /);
    const usage = await nsvirsh(['-h']);
    expect(usage.code).toBe(0);
    expect(usage.stdout).toContain('    -c | --connect=URI      hypervisor connection URI\n');
    expect(usage.stdout).toContain(' Domain Management (help keyword \'domain\'):\n');
  });

  it('a single argument is a command string: several commands, last status wins', async () => {
    await define('web');
    expect(await nsvirsh(['domstate web; list --all --name'])).toEqual(ok('shut off\n\nweb\n\n'));
    expect(await nsvirsh(['domstate nope; domstate "web"'])).toEqual({
      code: 0,
      stdout: '\nshut off\n\n',
      stderr: "error: failed to get domain 'nope'\n",
    });
    expect(await nsvirsh(['domstate web; domstate nope'])).toMatchObject({ code: 1 });
    expect(await nsvirsh(['domstate "web'])).toEqual(usageError('missing "'));
  });

  it('-- ends options, so an option-like name can be given', async () => {
    expect(await nsvirsh(['dominfo', '--', '--web'])).toEqual(failed("error: failed to get domain '--web'\n"));
  });
});

describe('help', () => {
  it('lists the commands by group', async () => {
    const result = await nsvirsh(['help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Grouped commands:\n\n Domain Management \(help keyword 'domain'\):\n/);
    expect(result.stdout).toContain(`    ${'define'.padEnd(30)} define (but don't start) a domain from an XML file\n`);
    expect(result.stdout).toContain(" Domain Monitoring (help keyword 'monitor'):\n");
    expect(result.stdout).toContain(`    ${'list'.padEnd(30)} list domains\n`);
    expect(result.stdout).toMatch(/\n\n\n$/);
  });

  it('describes one command in NAME/SYNOPSIS/DESCRIPTION/OPTIONS sections', async () => {
    const dominfoHelp =
      '  NAME\n    dominfo - domain information\n\n' +
      '  SYNOPSIS\n    dominfo <domain>\n\n' +
      '  DESCRIPTION\n    Returns basic information about the domain.\n\n' +
      '  OPTIONS\n    [--domain] <string>  domain name, id or uuid\n\n';
    expect(await nsvirsh(['help', 'dominfo'])).toEqual(ok(dominfoHelp + '\n'));
    expect(await nsvirsh(['dominfo', '--help'])).toEqual(ok(dominfoHelp + '\n'));
    const domstate = await nsvirsh(['help', 'domstate']);
    expect(domstate.stdout).toContain('  SYNOPSIS\n    domstate <domain> [--reason]\n');
    expect(domstate.stdout).toContain('    --reason         also print reason for the state\n');
  });

  it('lists a group by keyword; unknown names fail', async () => {
    expect((await nsvirsh(['help', 'host'])).stdout).toBe(
      " Host and Hypervisor (help keyword 'host'):\n" +
        `    ${'uri'.padEnd(30)} print the hypervisor canonical URI\n` +
        `    ${'version'.padEnd(30)} show version\n\n`,
    );
    expect(await nsvirsh(['help', 'nope'])).toEqual(failed("error: command or command group 'nope' doesn't exist\n"));
  });
});

const BINARY = join(packageRoot(), 'dist/src/cli/nsvirsh.js');

describe('compiled binary', () => {
  if (!existsSync(BINARY)) {
    it.skip(`dist/src/cli/nsvirsh.js is not built (run 'npm run build'); skipping`, () => {});
    return;
  }

  const exec = (args: string[]) =>
    spawnSync(process.execPath, [BINARY, ...args], { cwd: root(), env: { ...process.env, NSVIRT_ROOT: root() }, encoding: 'utf8' });

  it('starts with a node shebang', () => {
    expect(readFileSync(BINARY, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('runs as a program with virsh exit statuses', () => {
    writeFileSync(join(root(), 'web.xml'), domainXML('web', { uuid: UUID_A }));
    expect(exec(['define', 'web.xml'])).toMatchObject({ status: 0, stdout: "Domain 'web' defined from web.xml\n\n", stderr: '' });
    expect(exec(['dominfo', 'web'])).toMatchObject({ status: 0, stdout: DOMINFO_WEB + '\n' });
    expect(exec(['-q', 'dominfo', 'nope'])).toMatchObject({ status: 1, stdout: '', stderr: "error: failed to get domain 'nope'\n" });
    expect(exec(['undefine', 'web'])).toMatchObject({ status: 0, stdout: "Domain 'web' has been undefined\n\n" });
  });
});
