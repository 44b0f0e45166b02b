/**
 * Interface hot-plug: attach-interface, detach-interface, attach-device,
 * detach-device. The XML virsh's attach-interface builds and the interface
 * detach-interface picks are checked in-process; the rest is real (root
 * only): the driver runs inside a network namespace the test creates, as in
 * network.test.ts, and every link it makes is checked gone afterwards.
 */
import { runNsvirsh, type CliResult } from './support/cli.js';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually, networkTestsCanRun, useTestNetwork } from './support/netns.js';
import { InterfaceRequestError, interfaceToDetach, interfaceXML } from '../src/driver/interfacexml.js';
import { parseDomainXML } from '../src/xml/parse.js';
import { defaultContext } from '../src/xml/context.js';
import { decodeLine, encodePlan } from './support/plan.js';

/* ------------------------------------------------------------------ the XML attach-interface builds */

const cli = (...args: string[]): Promise<CliResult> => runNsvirsh(args, { env: {}, cwd: '/' });

describe('attach-interface XML (virsh cmdAttachInterface)', () => {
  it('bridge, network and direct sources, then target, mac, model and mtu in virsh order', () => {
    expect(interfaceXML({ type: 'bridge', source: 'br0' })).toBe("<interface type='bridge'>\n  <source bridge='br0'/>\n</interface>\n");
    expect(interfaceXML({ type: 'network', source: 'default', target: 'vnet7', mac: '52:54:00:AA:00:01', model: 'virtio', mtu: 1400 })).toBe(
      "<interface type='network'>\n  <source network='default'/>\n  <target dev='vnet7'/>\n  <mac address='52:54:00:AA:00:01'/>\n" +
        "  <model type='virtio'/>\n  <mtu size='1400'/>\n</interface>\n",
    );
    expect(interfaceXML({ type: 'direct', source: 'eth0', sourceMode: 'bridge' })).toBe(
      "<interface type='direct'>\n  <source dev='eth0' mode='bridge'/>\n</interface>\n",
    );
  });

  it('escapes values and refuses what virsh refuses', () => {
    expect(interfaceXML({ type: 'bridge', source: "a'<b" })).toContain("<source bridge='a&apos;&lt;b'/>");
    expect(() => interfaceXML({ type: 'ethernet', source: 'x' })).toThrow(new InterfaceRequestError("No support for ethernet in command 'attach-interface'"));
    expect(() => interfaceXML({ type: 'bogus', source: 'x' })).toThrow("No support for bogus in command 'attach-interface'");
    expect(() => interfaceXML({ type: 'bridge', source: 'br0', sourceMode: 'vepa' })).toThrow('--source-mode can be used only with --type direct');
  });

  it('--print-xml prints it without connecting; bad options are refused first', async () => {
    expect(await cli('attach-interface', 'nosuchdomain', 'bridge', 'br0', '--mac', '52:54:00:00:00:09', '--print-xml')).toEqual({
      code: 0,
      stdout: "<interface type='bridge'>\n  <source bridge='br0'/>\n  <mac address='52:54:00:00:00:09'/>\n</interface>\n\n",
      stderr: '',
    });
    expect(await cli('attach-interface', 'x', 'user', 'x', '--print-xml')).toMatchObject({ code: 1, stderr: "error: No support for user in command 'attach-interface'\n" });
    expect(await cli('attach-interface', 'x', 'bridge', 'br0', '--mtu', 'big', '--print-xml')).toMatchObject({
      code: 1,
      stderr: "error: Numeric value 'big' for <mtu> option is malformed or out of range\n",
    });
    expect(await cli('detach-interface', 'x', 'bridge', '--current', '--live')).toMatchObject({
      code: 1,
      stderr: 'error: Options --current and --live are mutually exclusive\n',
    });
    expect(await cli('attach-device', 'x', 'f.xml', '--persistent', '--current')).toMatchObject({
      code: 1,
      stderr: 'error: Options --persistent and --current are mutually exclusive\n',
    });
  });
});

describe('detach-interface picks one interface (virshDomainDetachInterface)', () => {
  const def = parseDomainXML(
    `<domain type='lxc'><name>d</name><memory>65536</memory><os><type>exe</type><init>/bin/sh</init></os><devices>
      <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface>
      <interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br0'/></interface>
      <interface type='direct'><mac address='52:54:00:00:00:03'/><source dev='eth0'/></interface>
      <console type='pty'/></devices></domain>`,
    defaultContext(),
  );

  it('by type alone when it is the only one, else by MAC address (any case)', () => {
    // The whole interface, as virsh passes the matching node on.
    expect(interfaceToDetach(def, 'direct')).toBe(
      "<interface type='direct'>\n  <mac address='52:54:00:00:00:03'/>\n  <source dev='eth0' mode='vepa'/>\n</interface>\n",
    );
    expect(interfaceToDetach(def, 'bridge', '52:54:00:00:00:02')).toContain("address='52:54:00:00:00:02'");
    expect(interfaceToDetach(def, 'bridge', '52:54:00:00:00:02'.toUpperCase())).toContain("address='52:54:00:00:00:02'");
  });

  it("virsh's refusals", () => {
    expect(() => interfaceToDetach(def, 'bridge')).toThrow('Domain has 2 interfaces. Please specify which one to detach using --mac');
    expect(() => interfaceToDetach(def, 'network')).toThrow('No interface found whose type is network');
    expect(() => interfaceToDetach(def, 'bridge', '52:54:00:00:00:03')).toThrow(
      'No interface found whose type is bridge and MAC address is 52:54:00:00:00:03',
    );
  });
});

/* ------------------------------------------------------------------ real containers */

const ready = networkTestsCanRun();
if (!ready) console.warn('hotplug.test.ts: container tests skipped (they need root and a built dist/: npm run build)');

const net = useTestNetwork('nsvirt-hp');
const { root, ipn, hostVeths, nsvirsh, define, initPid } = net;

const bridgePorts = (): string[] => (ipn('-o', 'link', 'show', 'master', 'br0').match(/ vnet\d+@/g) ?? []).map((p) => p.slice(1, -1)).sort();

const ok = (stdout: string) => ({ code: 0, stdout, stderr: '' });

/** `ip ARGS` inside the container's network namespace. */
const inside = (name: string, ...args: string[]): string =>
  execFileSync('nsenter', ['-t', String(initPid(name)), '-n', 'ip', ...args], { encoding: 'utf8' });

const insideLinks = (name: string): string[] =>
  inside(name, '-o', 'link', 'show')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(': ')[1]!.split('@')[0]!);

/** One request on the domain's control socket, its reply decoded. */
function control(name: string, line: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(join(root(), 'run/nsvirt/lxc', `${name}.sock`));
    let reply = '';
    socket.on('data', (d) => {
      reply += d.toString();
      if (reply.includes('\n')) {
        socket.destroy();
        resolve(decodeLine(reply.slice(0, reply.indexOf('\n'))));
      }
    });
    socket.on('error', reject);
    socket.write(`${line}\n`);
  });
}

function deviceFile(name: string, xml: string): string {
  writeFileSync(join(root(), name), xml);
  return name;
}

describe.skipIf(!ready)('interface hot-plug (root, inside a test network namespace)', () => {
  it('attached interfaces are set up like boot-time ones, reachable, listed, and removed again on detach', async () => {
    define('web', "<interface type='bridge'><mac address='52:54:00:77:00:02'/><source bridge='br0'/><ip address='10.77.0.2' prefix='24'/></interface>");
    expect(nsvirsh('start', 'web').code).toBe(0);
    try {
      const lan = deviceFile(
        'lan.xml',
        "<interface type='bridge'><mac address='52:54:00:77:00:05'/><source bridge='br0'/><ip address='10.77.0.5' prefix='24'/></interface>",
      );
      expect(nsvirsh('attach-device', 'web', lan)).toEqual(ok('Device attached successfully\n\n'));
      // The next default guest name, with its MAC and address, up.
      expect(inside('web', '-o', 'addr', 'show', 'eth1')).toContain('10.77.0.5/24');
      const eth1 = inside('web', 'link', 'show', 'eth1');
      expect(eth1).toContain('52:54:00:77:00:05');
      expect(eth1).toMatch(/[<,]UP[,>]/);
      expect(bridgePorts()).toEqual(['vnet0', 'vnet1']);
      const stop = net.listen(initPid('web'), '10.77.0.5', 7101);
      try {
        await eventually(() => net.canConnect('ns', '10.77.0.5', 7101));
      } finally {
        stop();
      }

      // attach-interface: no address, so it stays down (as at start), under its own guest name.
      expect(nsvirsh('attach-interface', 'web', 'bridge', 'br0', '--mac', '52:54:00:77:00:06', '--mtu', '1400')).toEqual(
        ok('Interface attached successfully\n\n'),
      );
      const eth2 = inside('web', 'link', 'show', 'eth2');
      expect(eth2).toContain('52:54:00:77:00:06');
      expect(eth2).toContain('mtu 1400');
      expect(nsvirsh('domiflist', 'web').stdout).toMatch(
        /vnet0 +bridge +br0 +- +52:54:00:77:00:02\n vnet1 +bridge +br0 +- +52:54:00:77:00:05\n vnet2 +bridge +br0 +- +52:54:00:77:00:06\n/,
      );
      const live = nsvirsh('dumpxml', 'web').stdout;
      expect(live).toContain("<target dev='vnet2'/>");
      expect(live).toContain("<guest dev='eth2'/>");
      // Live only: the persistent definition is unchanged.
      expect(nsvirsh('dumpxml', '--inactive', 'web').stdout).not.toContain('52:54:00:77:00:05');

      expect(nsvirsh('detach-interface', 'web', 'bridge', '--mac', '52:54:00:77:00:06')).toEqual(ok('Interface detached successfully\n\n'));
      expect(nsvirsh('detach-device', 'web', lan)).toEqual(ok('Device detached successfully\n\n'));
      expect(bridgePorts()).toEqual(['vnet0']);
      expect(insideLinks('web').sort()).toEqual(['eth0', 'lo']);
      const after = nsvirsh('dumpxml', 'web').stdout;
      expect(after).not.toContain('52:54:00:77:00:05');
      expect(after).not.toContain('52:54:00:77:00:06');
      expect(nsvirsh('domiflist', 'web').stdout).toMatch(/ vnet0 +bridge +br0 +- +52:54:00:77:00:02\n\n$/);

      // The name of a detached host end can be reused right away.
      expect(nsvirsh('attach-interface', 'web', 'bridge', 'br0', '--mac', '52:54:00:77:00:07').code).toBe(0);
      expect(bridgePorts()).toEqual(['vnet0', 'vnet1']);
    } finally {
      nsvirsh('destroy', 'web');
    }
    expect(hostVeths()).toEqual([]);
  });

  it('--config and --persistent; errors as libvirt and virsh word them; failed attaches leave nothing', () => {
    define('db', '', '<privnet/>');
    expect(nsvirsh('start', 'db').code).toBe(0);
    try {
      // A container started without interfaces gets eth0.
      expect(nsvirsh('attach-interface', 'db', 'bridge', 'br0', '--mac', '52:54:00:77:01:01', '--persistent')).toEqual(
        ok('Interface attached successfully\n\n'),
      );
      expect(inside('db', 'link', 'show', 'eth0')).toContain('52:54:00:77:01:01');
      expect(nsvirsh('dumpxml', '--inactive', 'db').stdout).toContain("<mac address='52:54:00:77:01:01'/>");
      expect(nsvirsh('attach-interface', 'db', 'bridge', 'br0', '--mac', '52:54:00:77:01:02', '--config')).toEqual(
        ok('Interface attached successfully\n\n'),
      );
      expect(nsvirsh('dumpxml', '--inactive', 'db').stdout).toContain("<mac address='52:54:00:77:01:02'/>");
      expect(nsvirsh('dumpxml', 'db').stdout).not.toContain('52:54:00:77:01:02');
      expect(bridgePorts()).toEqual(['vnet0']);

      expect(nsvirsh('detach-interface', 'db', 'bridge', '--mac', '52:54:00:77:01:09')).toEqual({
        code: 1,
        stdout: '\n',
        stderr: 'error: No interface found whose type is bridge and MAC address is 52:54:00:77:01:09\nerror: Failed to detach interface\n',
      });
      expect(nsvirsh('detach-device', 'db', deviceFile('other.xml', "<interface type='bridge'><mac address='52:54:00:77:01:09'/><source bridge='br0'/></interface>"))).toEqual({
        code: 1,
        stdout: '\n',
        stderr: 'error: Failed to detach device from other.xml\nerror: device not found: no device matching MAC address 52:54:00:77:01:09 found\n',
      });
      const disk = deviceFile('disk.xml', "<disk type='block'><source dev='/dev/null'/><target dev='sdz'/></disk>");
      expect(nsvirsh('attach-device', 'db', disk).stderr).toBe(
        "error: Failed to attach device from disk.xml\nerror: unsupported configuration: device type 'disk' cannot be attached\n",
      );
      expect(nsvirsh('attach-device', 'db', disk, '--config').stderr).toBe(
        'error: Failed to attach device from disk.xml\nerror: unsupported configuration: persistent attach of device is not supported\n',
      );
      // A missing bridge, and a guest name taken inside: nothing is left behind.
      expect(nsvirsh('attach-interface', 'db', 'bridge', 'nosuchbr').stderr).toBe(
        'error: Failed to attach interface\nerror: Unable to add bridge nosuchbr port vnet1: No such device\n',
      );
      const clash = deviceFile('clash.xml', "<interface type='bridge'><source bridge='br0'/><guest dev='lo'/></interface>");
      expect(nsvirsh('attach-device', 'db', clash).stderr).toBe(
        "error: Failed to attach device from clash.xml\nerror: cannot rename 'vnet2' to 'lo': File exists\n",
      );
      expect(bridgePorts()).toEqual(['vnet0']);
      expect(insideLinks('db').sort()).toEqual(['eth0', 'lo']);

      expect(nsvirsh('detach-interface', 'db', 'bridge', '--mac', '52:54:00:77:01:01', '--persistent')).toEqual(
        ok('Interface detached successfully\n\n'),
      );
      expect(nsvirsh('dumpxml', '--inactive', 'db').stdout).not.toContain('52:54:00:77:01:01');
      expect(insideLinks('db')).toEqual(['lo']);
      expect(bridgePorts()).toEqual([]);
    } finally {
      nsvirsh('destroy', 'db');
    }
    expect(nsvirsh('attach-interface', 'db', 'bridge', 'br0', '--live')).toEqual({
      code: 1,
      stdout: '\n',
      stderr: 'error: Failed to attach interface\nerror: Requested operation is not valid: domain is not running\n',
    });
    // Without options virsh acts on the running domain.
    expect(nsvirsh('detach-interface', 'db', 'bridge').stderr).toBe(
      'error: Failed to detach interface\nerror: Requested operation is not valid: domain is not running\n',
    );
    expect(nsvirsh('detach-interface', 'db', 'bridge', '--config')).toEqual(ok('Interface detached successfully\n\n'));
    expect(nsvirsh('dumpxml', '--inactive', 'db').stdout).not.toContain('<interface');
    expect(hostVeths()).toEqual([]);
  });

  it('direct (macvlan) interfaces attach and, unlike libvirt, detach (in a user namespace); a container sharing the host namespace refuses', () => {
    const idmap = "<idmap><uid start='0' target='200000' count='65536'/><gid start='0' target='200000' count='65536'/></idmap>";
    define('mv', '', '<privnet/>', idmap);
    define('flat', '');
    expect(nsvirsh('start', 'mv').code).toBe(0);
    expect(nsvirsh('start', 'flat').code).toBe(0);
    try {
      const mac = deviceFile(
        'mv.xml',
        "<interface type='direct'><mac address='52:54:00:77:02:01'/><source dev='uplink' mode='bridge'/><guest dev='wan'/><ip address='10.88.0.2' prefix='24'/></interface>",
      );
      expect(readFileSync(`/proc/${initPid('mv')}/uid_map`, 'utf8')).toMatch(/^\s*0\s+200000\s+65536\n$/);
      expect(nsvirsh('attach-device', 'mv', mac)).toEqual(ok('Device attached successfully\n\n'));
      expect(execFileSync('nsenter', ['-t', String(initPid('mv')), '-n', 'ip', '-d', 'link', 'show', 'wan'], { encoding: 'utf8' })).toMatch(
        /macvlan mode bridge/,
      );
      expect(inside('mv', '-o', 'addr', 'show', 'wan')).toContain('10.88.0.2/24');
      expect(nsvirsh('detach-interface', 'mv', 'direct')).toEqual(ok('Interface detached successfully\n\n'));
      expect(insideLinks('mv')).toEqual(['lo']);
      expect(nsvirsh('attach-interface', 'flat', 'bridge', 'br0').stderr).toBe(
        'error: Failed to attach interface\nerror: Requested operation is not valid: interfaces can only be attached to a container with a network namespace of its own\n',
      );
    } finally {
      nsvirsh('destroy', 'mv');
      nsvirsh('destroy', 'flat');
    }
    expect(ipn('-o', 'link', 'show', 'type', 'macvlan')).toBe('');
    expect(hostVeths()).toEqual([]);
  });

  it('net-apply: network records only, errors name the failing record, links made are deleted again', async () => {
    define('raw', '', '<privnet/>');
    expect(nsvirsh('start', 'raw').code).toBe(0);
    try {
      const file = join(root(), 'change.plan');
      writeFileSync(file, encodePlan([['veth', 'hp0', 'hp1'], ['exec', '/bin/sh', 'sh']]));
      expect(await control('raw', `net-apply ${file}`)).toEqual(['error', 'plan', '22', 'line 3: exec: not a network record']);
      expect(await control('raw', `net-apply ${file}.missing`)).toEqual([
        'error', 'plan', '2', `cannot open plan '${file}.missing': No such file or directory`,
      ]);
      // A host record fails after the pair was made, then a child operation fails after the move.
      writeFileSync(file, encodePlan([['veth', 'hp0', 'hp1'], ['link-master', 'hp0', 'nosuchbr']]));
      expect(await control('raw', `net-apply ${file}`)).toEqual(['error', 'link-master', '19', "cannot attach 'hp0' to bridge 'nosuchbr': No such device"]);
      writeFileSync(file, encodePlan([['macvlan', 'hpm', 'uplink', 'bridge'], ['link-netns', 'hpm'], ['link-rename', 'hpm', 'lo']]));
      expect(await control('raw', `net-apply ${file}`)).toEqual(['error', 'link-rename', '17', "cannot rename 'hpm' to 'lo': File exists"]);
      expect(insideLinks('raw')).toEqual(['lo']);
      expect(hostVeths()).toEqual([]);
      // Deleting what is not there is fine.
      writeFileSync(file, encodePlan([['link-del', 'nosuchlink'], ['link-remove', 'nosuchlink']]));
      expect(await control('raw', `net-apply ${file}`)).toEqual(['ok']);
    } finally {
      nsvirsh('destroy', 'raw');
    }
    expect(ipn('-o', 'link', 'show', 'type', 'macvlan')).toBe('');
  });

  it('hot-plugged host ends are deleted when the container stops, and 30 attach/detach cycles leave no link', async () => {
    define('churn', '', '<privnet/>');
    expect(nsvirsh('start', 'churn').code).toBe(0);
    try {
      for (let i = 0; i < 30; i++) {
        expect(nsvirsh('attach-interface', 'churn', 'bridge', 'br0', '--mac', '52:54:00:77:03:01').code).toBe(0);
        expect(nsvirsh('detach-interface', 'churn', 'bridge').code).toBe(0);
        await new Promise((r) => setImmediate(r)); // let the test runner's messages through between blocking calls
      }
      expect(hostVeths()).toEqual([]);
      expect(nsvirsh('attach-interface', 'churn', 'bridge', 'br0').code).toBe(0);
      expect(nsvirsh('attach-interface', 'churn', 'bridge', 'br0').code).toBe(0);
      expect(hostVeths()).toHaveLength(2);
    } finally {
      nsvirsh('destroy', 'churn');
    }
    expect(hostVeths()).toEqual([]);
  }, 120_000);
});
