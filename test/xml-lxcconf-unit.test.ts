/**
 * LXC configuration conversion, judged by the domain XML document it
 * generates (before the shared parser canonicalises it) and by its errors.
 */
import { describe, expect, it } from 'vitest';
import { VirError } from '../src/xml/errors.js';
import { planToDomainXML } from '../src/xml/lxcconf/document.js';
import { planFromLxcConfig } from '../src/xml/lxcconf/plan.js';
import { parseLxcConfig, MAX_CONFIG_CHARS, MAX_SETTINGS } from '../src/xml/lxcconf/config.js';
import { parseMac } from '../src/xml/lxcconf/network.js';

const BASE = 'lxc.uts.name = c1\nlxc.rootfs.path = /srv/c1\n';

/** The generated domain XML document for BASE plus `extra` lines. */
const doc = (extra = '', base = BASE): string => planToDomainXML(planFromLxcConfig(base + extra));

function errorOf(text: string): string {
  try {
    planFromLxcConfig(text);
  } catch (e) {
    if (e instanceof VirError) return e.message;
    throw e;
  }
  throw new Error('the configuration was accepted');
}

/** The first `<name …>…</name>` or `<name …/>` element of `xml`, as text. */
function element(xml: string, name: string): string | undefined {
  const start = xml.search(new RegExp(`<${name}[ >/]`));
  if (start < 0) return undefined;
  const openEnd = xml.indexOf('>', start) + 1;
  if (xml[openEnd - 2] === '/') return xml.slice(start, openEnd);
  const close = `</${name}>`;
  return xml.slice(start, xml.indexOf(close, start) + close.length);
}

describe('configuration syntax', () => {
  it('reads keys and values around blanks, comments and blank lines', () => {
    const config = parseLxcConfig('# comment\n\n  \tlxc.a=1\nlxc.b   =   two words  \n  # indented comment\n');
    expect(config.entries).toEqual([
      { line: 3, key: 'lxc.a', value: '1' },
      { line: 4, key: 'lxc.b', value: 'two words' },
    ]);
  });

  it('keeps a # after the value as part of it (LXC has no trailing comments)', () => {
    expect(parseLxcConfig('lxc.a = x # y').first('lxc.a')?.value).toBe('x # y');
  });

  it('strips quotes enclosing the whole value only', () => {
    const config = parseLxcConfig(`a = "x y"\nb = 'z'\nc = "open\nd = "\ne = 'm"`);
    expect(['a', 'b', 'c', 'd', 'e'].map((k) => config.first(k)?.value)).toEqual(['x y', 'z', '"open', '"', `'m"`]);
  });

  it('accepts CRLF and CR line ends and a byte order mark', () => {
    const config = parseLxcConfig('\uFEFFa = 1\r\nb = 2\rc = 3');
    expect(config.entries.map((e) => [e.line, e.key, e.value])).toEqual([
      [1, 'a', '1'],
      [2, 'b', '2'],
      [3, 'c', '3'],
    ]);
  });

  it('allows an empty value', () => {
    expect(parseLxcConfig('lxc.a =\nlxc.b=').entries.map((e) => e.value)).toEqual(['', '']);
  });

  it('refuses a line that is not an assignment', () => {
    expect(errorOf(`${BASE}lxc.tty 2\n`)).toBe("internal error: line 3: expecting 'key = value', got 'lxc.tty 2'");
  });

  it('accepts dashes in key names, as LXC has them (lxc.hook.pre-start)', () => {
    expect(parseLxcConfig('lxc.hook.pre-start = /x').first('lxc.hook.pre-start')?.value).toBe('/x');
  });

  it('refuses key names that are not LXC keys', () => {
    expect(errorOf('lxc.net.0.veth pair = x')).toBe("internal error: line 1: invalid key 'lxc.net.0.veth pair'");
    expect(errorOf('lxc.net.0.veth/pair = x')).toBe("internal error: line 1: invalid key 'lxc.net.0.veth/pair'");
    expect(errorOf('1lxc = x')).toBe("internal error: line 1: invalid key '1lxc'");
    expect(errorOf(' = x')).toBe("internal error: line 1: invalid key ''");
  });

  it('refuses NUL bytes and other non-text', () => {
    expect(errorOf('a = 1\nb = x\u0000y')).toBe('internal error: line 2: the line contains characters that are not text');
    expect(errorOf('a = \uD800')).toBe('internal error: line 1: the line contains characters that are not text');
  });

  it('refuses configurations over the size limit', () => {
    expect(errorOf('#'.repeat(MAX_CONFIG_CHARS + 1))).toBe(
      `internal error: LXC configuration is larger than ${MAX_CONFIG_CHARS} characters`,
    );
  });

  it('refuses more settings than any real configuration has', () => {
    const lines = 'lxc.cgroup.devices.allow = a\n'.repeat(MAX_SETTINGS);
    expect(parseLxcConfig(`# head\n${lines}`).entries).toHaveLength(MAX_SETTINGS);
    expect(errorOf(`# head\n${lines}lxc.pts = 1\n`)).toBe(
      `internal error: line ${MAX_SETTINGS + 2}: more than ${MAX_SETTINGS} settings in the configuration`,
    );
  });

  it('shortens long values quoted in its own messages', () => {
    const message = errorOf(`${BASE}lxc.mount.entry = ${'x'.repeat(100_000)}\n`);
    expect(message.length).toBeLessThan(400);
    expect(message).toMatch(/^internal error: line 3: lxc\.mount\.entry: expecting 'source target type options', got 'x+\.\.\.'$/);
  });
});

describe('repeated keys and key generations', () => {
  it('takes the first occurrence of a single-valued key', () => {
    expect(element(doc('', 'lxc.uts.name = a\nlxc.uts.name = b\nlxc.rootfs.path = /r\n'), 'name')).toBe(
      '<name>a</name>',
    );
    expect(doc('lxc.cap.drop = mknod\nlxc.cap.drop = sys_time\n')).not.toContain('sys_time');
  });

  it('prefers the LXC 3 key over the legacy one wherever it is', () => {
    const xml = doc('', 'lxc.utsname = old\nlxc.rootfs = /old\nlxc.uts.name = new\nlxc.rootfs.path = /new\n');
    expect(element(xml, 'name')).toBe('<name>new</name>');
    expect(xml).toContain("<source dir='/new'/>");
  });

  it('accepts legacy keys alone', () => {
    const xml = doc('', 'lxc.utsname = old\nlxc.rootfs = /old\nlxc.tty = 1\n');
    expect(element(xml, 'name')).toBe('<name>old</name>');
    expect(xml).toContain("<target type='lxc' port='0'/>");
  });

  it('ignores keys it does not convert', () => {
    const ignored = [
      'lxc.autodev = 1', 'lxc.pts = 1024', 'lxc.cgroup.devices.allow = c 1:3 rwm', 'lxc.apparmor.profile = x',
      'lxc.cap.keep = sys_admin', 'lxc.include = /usr/share/lxc/config/common.conf', 'lxc.init.cmd = /bin/sh',
      'lxc.environment = A=1', 'lxc.start.auto = 1', 'lxc.hook.pre-start = /x', 'lxc.cgroup2.memory.max = 1G',
      'lxc.network = ', 'lxc.net = ',
    ].join('\n');
    expect(doc(`${ignored}\n`)).toBe(doc());
  });
});

describe('blank values', () => {
  it('are refused where a value is required, like libvirt reading an empty string', () => {
    expect(errorOf(`${BASE}lxc.tty.max =`)).toBe("internal error: failed to parse int: ''");
    expect(errorOf(`${BASE}lxc.cgroup.memory.limit_in_bytes =`)).toBe("internal error: failed to convert size: ''");
    expect(errorOf(`${BASE}lxc.cgroup.cpu.shares =`)).toBe("internal error: failed to parse integer: ''");
    expect(errorOf(`${BASE}lxc.idmap =`)).toBe("internal error: invalid lxc.idmap: ''");
    expect(errorOf(`${BASE}lxc.mount.entry =`)).toBe(
      "internal error: line 3: lxc.mount.entry: expecting 'source target type options', got ''",
    );
    expect(errorOf(`${BASE}lxc.net.0.type = veth\nlxc.net.0.ipv4 =`)).toBe("invalid argument: Invalid CIDR address: ''");
  });

  it('mean "nothing" where nothing is a valid setting', () => {
    expect(planFromLxcConfig(`${BASE}lxc.arch =`).arch).toBeUndefined();
    expect(doc('lxc.cap.drop =\n')).toBe(doc());
    expect(doc('lxc.net.0.type = veth\nlxc.net.0.link =\nlxc.net.0.hwaddr =\nlxc.net.0.flags =\n')).toBe(
      doc('lxc.net.0.type = veth\n'),
    );
  });

  it('make a blank network type a NIC without a device', () => {
    expect(doc('lxc.net.0.type =\n')).not.toMatch(/<privnet\/>|<interface/);
  });
});

describe('generated document', () => {
  it('has libvirt conversion defaults for a minimal configuration', () => {
    expect(doc()).toBe(
      [
        "<domain type='lxc'>",
        '  <name>c1</name>',
        "  <memory unit='KiB'>65536</memory>",
        "  <currentMemory unit='KiB'>65536</currentMemory>",
        "  <vcpu placement='static'>1</vcpu>",
        '  <os>',
        '    <type>exe</type>',
        '    <init>/sbin/init</init>',
        '  </os>',
        '  <features>',
        '    <privnet/>',
        "    <capabilities policy='allow'/>",
        '  </features>',
        '  <on_poweroff>destroy</on_poweroff>',
        '  <on_reboot>restart</on_reboot>',
        '  <on_crash>destroy</on_crash>',
        '  <devices>',
        "    <filesystem type='mount' accessmode='passthrough'>",
        "      <source dir='/srv/c1'/>",
        "      <target dir='/'/>",
        '    </filesystem>',
        '  </devices>',
        '</domain>',
        '',
      ].join('\n'),
    );
  });

  it('escapes values for XML', () => {
    expect(element(doc('', `lxc.uts.name = a<&'b\nlxc.rootfs.path = /r\n`), 'name')).toBe(
      '<name>a&lt;&amp;&apos;b</name>',
    );
  });
});

describe('name and root filesystem', () => {
  it('requires a name', () => {
    expect(errorOf('lxc.rootfs.path = /r')).toBe(
      'unsupported configuration: Missing lxc.uts.name (or legacy lxc.utsname) configuration',
    );
    expect(errorOf('lxc.uts.name =\nlxc.rootfs.path = /r')).toBe(
      'internal error: line 1: lxc.uts.name: the container name must not be empty',
    );
  });

  it('requires a root filesystem', () => {
    expect(errorOf('lxc.uts.name = c')).toBe(
      'unsupported configuration: Missing lxc.rootfs.path (or legacy lxc.rootfs) configuration',
    );
    expect(errorOf('lxc.uts.name = c\nlxc.rootfs = ')).toBe(
      'internal error: line 2: lxc.rootfs: the root filesystem path must not be empty',
    );
  });

  it('checks the name before the root filesystem, and both before fstab', () => {
    expect(errorOf('lxc.mount.fstab = /f')).toMatch(/Missing lxc\.uts\.name/);
    expect(errorOf('lxc.uts.name = c\nlxc.mount = /f')).toMatch(/Missing lxc\.rootfs\.path/);
  });

  it('uses a block device root under /dev/, and the value literally otherwise', () => {
    expect(element(doc('', 'lxc.uts.name = c\nlxc.rootfs.path = /dev/vg/c\n'), 'filesystem')).toBe(
      "<filesystem type='block' accessmode='passthrough'>\n      <source dev='/dev/vg/c'/>\n      <target dir='/'/>\n    </filesystem>",
    );
    expect(doc('', 'lxc.uts.name = c\nlxc.rootfs.path = dir:/srv/c\n')).toContain("<source dir='dir:/srv/c'/>");
  });
});

describe('lxc.mount.entry', () => {
  /** The <filesystem> generated for one entry (the first one is the root). */
  const mount = (line: string): string =>
    doc(`lxc.mount.entry = ${line}\n`).match(/<filesystem [\s\S]*?<\/filesystem>/g)?.[1] ?? '';

  it('binds a directory, relative targets made absolute, ro kept', () => {
    expect(mount('/etc/resolv.conf etc/resolv.conf none bind,ro 0 0')).toBe(
      "<filesystem type='mount' accessmode='passthrough'>\n      <source dir='/etc/resolv.conf'/>\n      <target dir='/etc/resolv.conf'/>\n      <readonly/>\n    </filesystem>",
    );
    expect(mount('/a /b none bind')).toContain("<target dir='/b'/>");
    expect(mount('/a /b none bind,rw')).not.toContain('readonly');
  });

  it('splits fields on spaces and tabs', () => {
    expect(mount('/a\t\t /b  none\tbind')).toContain("<source dir='/a'/>");
  });

  it('uses a block device source under /dev/', () => {
    expect(mount('/dev/sdb1 /data ext4 defaults 0 2')).toContain("<filesystem type='block'");
    expect(mount('/dev/sdb1 /data ext4 defaults 0 2')).toContain("<source dev='/dev/sdb1'/>");
  });

  it('turns tmpfs into a RAM filesystem sized in bytes', () => {
    expect(mount('tmpfs run tmpfs size=8m,mode=0755 0 0')).toContain("<source usage='8388608' units='bytes'/>");
    expect(mount('tmpfs /t tmpfs mode=1777,size=1024')).toContain("<source usage='1024' units='bytes'/>");
    expect(mount('none /t tmpfs size=1G,ro')).toContain('<readonly/>');
    expect(mount('tmpfs /t tmpfs size=2kb')).toContain("usage='2000'");
  });

  it('refuses tmpfs without a usable size', () => {
    expect(errorOf(`${BASE}lxc.mount.entry = tmpfs /t tmpfs mode=1777 0 0`)).toBe(
      'internal error: missing tmpfs size, set the size option',
    );
    expect(errorOf(`${BASE}lxc.mount.entry = tmpfs /t tmpfs size=50%`)).toBe(
      "internal error: can't convert relative size: '50%'",
    );
    expect(errorOf(`${BASE}lxc.mount.entry = tmpfs /t tmpfs size=8q`)).toBe(
      "internal error: failed to convert size: '8q'",
    );
    expect(errorOf(`${BASE}lxc.mount.entry = tmpfs /t tmpfs size=${'9'.repeat(30)}`)).toBe(
      `internal error: failed to convert size: '${'9'.repeat(30)}'`,
    );
  });

  it('skips the mounts libvirt provides itself', () => {
    const basic = ['proc', '/proc/sys', 'proc/sys/net/ipv4', '/proc/sys/net/ipv6', 'sys', '/sys/kernel/security', 'sys/fs/selinux'];
    const lines = basic.map((dst) => `lxc.mount.entry = x ${dst} none bind 0 0`).join('\n');
    expect(doc(`${lines}\n`)).toBe(doc());
    expect(mount('x /proc/ none bind')).toContain("<target dir='/proc/'/>");
  });

  it('refuses entries with fewer than four fields, naming the line', () => {
    expect(errorOf(`${BASE}lxc.mount.entry = proc proc proc`)).toBe(
      "internal error: line 3: lxc.mount.entry: expecting 'source target type options', got 'proc proc proc'",
    );
  });

  it('keeps entries in file order', () => {
    const xml = doc('lxc.mount.entry = /a /x none bind\nlxc.mount.entry = /b /y none bind\n');
    expect(xml.indexOf("dir='/x'")).toBeLessThan(xml.indexOf("dir='/y'"));
  });

  it('refuses fstab files, legacy and LXC 3', () => {
    const msg = 'argument unsupported: lxc.mount.fstab or lxc.mount found, use lxc.mount.entry lines instead';
    expect(errorOf(`${BASE}lxc.mount.fstab = /f`)).toBe(msg);
    expect(errorOf(`${BASE}lxc.mount = /f`)).toBe(msg);
    expect(errorOf(`${BASE}lxc.mount =`)).toBe(msg);
  });
});

describe('network', () => {
  const v3 = (nic: string): string => nic.replace(/^lxc\.network\./gm, 'lxc.net.0.');
  /** Every network-related element of the document for the given legacy-syntax NIC lines (checked in both syntaxes). */
  function net(lines: string): string {
    const legacy = doc(lines);
    expect(doc(v3(lines))).toBe(legacy);
    return legacy.slice(legacy.indexOf('</filesystem>') + '</filesystem>'.length, legacy.indexOf('</devices>'));
  }

  it('bridges a veth with a link, with every setting', () => {
    const xml = net(
      [
        'lxc.network.type = veth', 'lxc.network.flags = up', 'lxc.network.link = virbr0',
        'lxc.network.hwaddr = 02:00:15:8F:05:C1', 'lxc.network.name = eth0', 'lxc.network.ipv4 = 192.168.122.2/24',
        'lxc.network.ipv4.gateway = 192.168.122.1', 'lxc.network.ipv6.address = 2003:db8::1/64',
        'lxc.network.ipv6.gateway = 2003:db8::fffe', '',
      ].join('\n'),
    );
    expect(xml).toBe(
      [
        '',
        "    <interface type='bridge'>",
        "      <mac address='02:00:15:8f:05:c1'/>",
        "      <source bridge='virbr0'/>",
        "      <ip address='192.168.122.2' family='ipv4' prefix='24'/>",
        "      <ip address='2003:db8::1' family='ipv6' prefix='64'/>",
        "      <route family='ipv4' address='0.0.0.0' gateway='192.168.122.1'/>",
        "      <route family='ipv6' address='::' gateway='2003:db8::fffe'/>",
        "      <guest dev='eth0'/>",
        "      <link state='up'/>",
        '    </interface>',
        '  ',
      ].join('\n'),
    );
    expect(doc('lxc.network.type = veth\n')).not.toContain('<privnet/>');
  });

  it('makes a veth without a link an ethernet interface, link down and zero MAC by default', () => {
    const xml = net('lxc.network.type = veth\n');
    expect(xml).toContain("<interface type='ethernet'>");
    expect(xml).toContain("<mac address='00:00:00:00:00:00'/>");
    expect(xml).toContain("<link state='down'/>");
    expect(xml).not.toContain('<source');
    expect(xml).not.toContain('<guest');
  });

  it('keeps a zero MAC for an unparsable hwaddr (no generated MAC)', () => {
    expect(net('lxc.network.type = veth\nlxc.network.hwaddr = 00:16:3e:xx:xx:xx\n')).toContain(
      "<mac address='00:00:00:00:00:00'/>",
    );
  });

  it('reads MAC addresses as virMacAddrParse does', () => {
    expect(parseMac('2:0:15:8f:5:c1')).toBe('02:00:15:8f:05:c1');
    expect(parseMac('02:00:15:8f:05:c1 trailing')).toBe('02:00:15:8f:05:c1');
    for (const bad of ['02:00:15:8f:05', '02:00:15:8f:05:c1:00', '002:00:15:8f:05:c1', '02-00-15-8f-05-c1', '', 'g2:00:15:8f:05:c1']) {
      expect(parseMac(bad)).toBeUndefined();
    }
  });

  it('makes macvlan a direct interface, private by default', () => {
    const nic = 'lxc.network.type = macvlan\nlxc.network.link = eth0\n';
    expect(net(nic)).toContain("<interface type='direct'>");
    expect(net(nic)).toContain("<source dev='eth0' mode='private'/>");
    expect(net(`${nic}lxc.network.macvlan.mode = bridge\n`)).toContain("mode='bridge'");
    expect(net(`${nic}lxc.network.macvlan.mode = vepa\n`)).toContain("mode='vepa'");
    expect(net(`${nic}lxc.network.macvlan.mode = passthru\n`)).toContain("mode='vepa'");
  });

  it('refuses macvlan, phys and vlan without a link', () => {
    for (const type of ['macvlan', 'phys', 'vlan']) {
      expect(errorOf(`${BASE}lxc.net.0.type = ${type}\n`)).toBe("unsupported configuration: Missing 'link' attribute for NIC");
    }
  });

  it('moves a phys interface into the container as a hostdev, with its addresses', () => {
    expect(net('lxc.network.type = phys\nlxc.network.link = eth1\nlxc.network.name = ignored\nlxc.network.ipv4 = 10.0.0.2/8\nlxc.network.ipv4.gateway = 10.0.0.1\n')).toBe(
      [
        '',
        "    <hostdev mode='capabilities' type='net'>",
        '      <source>',
        '        <interface>eth1</interface>',
        '      </source>',
        "      <ip address='10.0.0.2' family='ipv4' prefix='8'/>",
        "      <route family='ipv4' address='0.0.0.0' gateway='10.0.0.1'/>",
        '    </hostdev>',
        '  ',
      ].join('\n'),
    );
  });

  it('names a vlan hostdev LINK.ID', () => {
    expect(net('lxc.network.type = vlan\nlxc.network.link = eth0\nlxc.network.vlan.id = 2\n')).toContain(
      '<interface>eth0.2</interface>',
    );
    expect(net('lxc.network.type = vlan\nlxc.network.link = eth0\n')).toContain('<interface>eth0</interface>');
  });

  it('gives other types a user interface', () => {
    expect(net('lxc.network.type = foo\n')).toContain("<interface type='user'>");
  });

  it('adds no device and no privnet for none, empty and a blank type', () => {
    for (const type of ['none', 'empty', '']) {
      const xml = doc(`lxc.net.0.type = ${type}\n`);
      expect(xml).not.toContain('<privnet/>');
      expect(xml).not.toMatch(/<interface|<hostdev/);
    }
    expect(doc('lxc.net.0.link = br0\n')).not.toMatch(/<privnet\/>|<interface/);
  });

  it('adds privnet when there are no network keys at all', () => {
    expect(doc()).toContain('<privnet/>');
  });

  it('starts a legacy NIC at each lxc.network.type and groups LXC 3 keys by index', () => {
    const legacy = doc('lxc.network.type = veth\nlxc.network.link = br0\nlxc.network.type = veth\nlxc.network.link = br1\n');
    const indexed = doc('lxc.net.5.type = veth\nlxc.net.1.type = veth\nlxc.net.5.link = br0\nlxc.net.01.link = br1\n');
    expect(indexed).toBe(legacy);
    expect(legacy.indexOf('br0')).toBeLessThan(legacy.indexOf('br1'));
  });

  it('lets a repeated setting replace the earlier one, a blank one unset it, and addresses accumulate', () => {
    const xml = net('lxc.network.type = veth\nlxc.network.link = br0\nlxc.network.link = br1\nlxc.network.name = eth0\nlxc.network.name =\nlxc.network.ipv4 = 10.0.0.2/8\nlxc.network.ipv4 = 10.0.0.3/8\n');
    expect(xml).toContain("<source bridge='br1'/>");
    expect(xml).not.toContain('<guest');
    expect(xml).toContain("address='10.0.0.2'");
    expect(xml).toContain("address='10.0.0.3'");
  });

  it('refuses invalid CIDR addresses', () => {
    for (const [key, value] of [
      ['ipv4', '10.0.0.2'], ['ipv4', '10.0.0.2/33'], ['ipv4.address', '2003:db8::1/64'], ['ipv6', '2003:db8::1/129'],
      ['ipv6.address', '10.0.0.2/8'], ['ipv4', '10.0.0.2/8/1'], ['ipv4', '10.0.0.2/'], ['ipv4', '/8'], ['ipv4', ''],
      ['ipv6', 'fe80::1%eth0/64'], ['ipv4', '010.0.0.2/8'],
    ]) {
      expect(errorOf(`${BASE}lxc.net.0.type = veth\nlxc.net.0.${key} = ${value}\n`)).toBe(
        `invalid argument: Invalid CIDR address: '${value}'`,
      );
    }
  });

  it('refuses network keys libvirt does not convert, naming line and key', () => {
    expect(errorOf(`${BASE}lxc.net.0.type = veth\nlxc.net.0.mtu = 1500\n`)).toBe(
      'internal error: line 4: lxc.net.0.mtu: unsupported network key',
    );
    expect(errorOf(`${BASE}lxc.network.type = veth\nlxc.network.veth.pair = v0\n`)).toBe(
      'internal error: line 4: lxc.network.veth.pair: unsupported network key',
    );
    expect(errorOf(`${BASE}lxc.net.0.toString = x\n`)).toBe('internal error: line 3: lxc.net.0.toString: unsupported network key');
  });

  it('refuses malformed LXC 3 network keys', () => {
    for (const key of ['lxc.net.x.type', 'lxc.net.0', 'lxc.net.0.', 'lxc.net..type']) {
      expect(errorOf(`${BASE}${key} = veth\n`)).toBe(
        `internal error: line 3: ${key}: invalid network key, expecting lxc.net.<index>.<setting>`,
      );
    }
  });

  it('refuses a legacy network setting before the first lxc.network.type', () => {
    expect(errorOf(`${BASE}lxc.network.link = br0\nlxc.network.type = veth\n`)).toBe(
      'internal error: line 3: lxc.network.link: network setting before the first lxc.network.type',
    );
  });

  it('refuses gateways that are not addresses of their family, with libvirt messages', () => {
    const gateway = (key: string, value: string): string =>
      errorOf(`${BASE}lxc.net.0.type = phys\nlxc.net.0.link = eth0\nlxc.net.0.${key} = ${value}\n`);
    expect(gateway('ipv4.gateway', 'auto')).toBe(
      "XML error: Domain interface: Bad gateway address 'auto' in route definition",
    );
    expect(gateway('ipv6.gateway', 'fe80::1%eth0')).toBe(
      "XML error: Domain interface: Bad gateway address 'fe80::1%eth0' in route definition",
    );
    expect(gateway('ipv4.gateway', '2001:db8::1')).toBe(
      "XML error: Domain interface: IPv4 family specified for non-IPv4 gateway '2001:db8::1' in route definition",
    );
    expect(gateway('ipv6.gateway', '10.0.0.1')).toBe(
      "XML error: Domain interface: ipv6 specified for non-IPv6 gateway address '10.0.0.1' in route definition",
    );
  });

  it('checks the link before the gateways', () => {
    expect(errorOf(`${BASE}lxc.net.0.type = macvlan\nlxc.net.0.ipv4.gateway = auto\n`)).toBe(
      "unsupported configuration: Missing 'link' attribute for NIC",
    );
  });
});

describe('consoles', () => {
  it('adds lxc.tty.max pty consoles', () => {
    const xml = doc('lxc.tty.max = 2\n');
    expect(xml).toContain("<console type='pty'>\n      <target type='lxc' port='0'/>\n    </console>");
    expect(xml).toContain("<target type='lxc' port='1'/>");
    expect(xml).not.toContain("port='2'");
    expect(doc('lxc.tty.max = 0\n')).not.toContain('<console');
    expect(doc()).not.toContain('<console');
  });

  it('refuses counts that are not integers', () => {
    for (const bad of ['two', '', '2 ttys', '2147483648']) {
      expect(errorOf(`${BASE}lxc.tty.max = ${bad}`)).toBe(`internal error: failed to parse int: '${bad}'`);
    }
  });

  it('refuses negative or absurd counts, naming line and key', () => {
    expect(errorOf(`${BASE}lxc.tty = -1`)).toBe(
      'internal error: line 3: lxc.tty: the number of consoles must be between 0 and 4096, not -1',
    );
    expect(errorOf(`${BASE}lxc.tty.max = 2000000000`)).toMatch(/^internal error: line 3: lxc\.tty\.max: /);
  });
});

describe('id maps', () => {
  it('are checked in libvirt order and applied after parsing, not generated', () => {
    expect(doc('lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n')).not.toContain('idmap');
    expect(planFromLxcConfig(`${BASE}lxc.id_map = u 10000 0 2000\nlxc.idmap = g 10000 0 1000\nlxc.idmap = u 1 2 3\n`).idmaps).toEqual({
      uid: [
        { target: 10000, start: 0, count: 2000 },
        { target: 1, start: 2, count: 3 },
      ],
      gid: [{ target: 10000, start: 0, count: 1000 }],
    });
  });

  it('refuses malformed lines with libvirt message', () => {
    for (const bad of ['u 0 1', 'u 0 1 2 3', 'u 0 x 2', '', 'uu 0 1 2', 'u 0 1 4294967296']) {
      expect(errorOf(`${BASE}lxc.idmap = ${bad}`)).toBe(`internal error: invalid lxc.idmap: '${bad}'`);
    }
    expect(errorOf(`${BASE}lxc.id_map = u 0 1`)).toBe("internal error: invalid lxc.id_map: 'u 0 1'");
  });

  it('refuses id types other than u and g, naming line and key', () => {
    expect(errorOf(`${BASE}lxc.idmap = b 0 1 2`)).toBe(
      "internal error: line 3: lxc.idmap: the id type must be 'u' or 'g', not 'b'",
    );
  });
});

describe('architecture', () => {
  const arch = (value: string): string | undefined => planFromLxcConfig(`${BASE}lxc.arch = ${value}`).arch;

  it('keeps libvirt names, maps x86 and amd64, drops the rest', () => {
    expect(arch('x86_64')).toBe('x86_64');
    expect(arch('aarch64')).toBe('aarch64');
    expect(arch('x86')).toBe('i686');
    expect(arch('amd64')).toBe('x86_64');
    expect(arch('i386')).toBeUndefined();
    expect(arch('arm64')).toBeUndefined();
    expect(arch('')).toBeUndefined();
    expect(arch('constructor')).toBeUndefined();
    expect(planFromLxcConfig(BASE).arch).toBeUndefined();
  });

  it('is applied after parsing, not generated', () => {
    expect(doc('lxc.arch = x86\n')).toContain('<type>exe</type>');
  });
});

describe('memory', () => {
  it('uses the limit as memory, currentMemory and hard limit', () => {
    const xml = doc(
      'lxc.cgroup.memory.limit_in_bytes = 1G\nlxc.cgroup.memory.soft_limit_in_bytes = 134217728\nlxc.cgroup.memory.memsw.limit_in_bytes = 2147483649\n',
    );
    expect(xml).toContain("<memory unit='KiB'>1048576</memory>\n  <currentMemory unit='KiB'>1048576</currentMemory>");
    expect(element(xml, 'memtune')).toBe(
      "<memtune>\n    <hard_limit unit='KiB'>1048576</hard_limit>\n    <soft_limit unit='KiB'>131072</soft_limit>\n    <swap_hard_limit unit='KiB'>2097152</swap_hard_limit>\n  </memtune>",
    );
  });

  it('sets soft and swap limits without changing memory', () => {
    const xml = doc('lxc.cgroup.memory.soft_limit_in_bytes = 1m\n');
    expect(xml).toContain("<memory unit='KiB'>65536</memory>");
    expect(element(xml, 'memtune')).toBe("<memtune>\n    <soft_limit unit='KiB'>1024</soft_limit>\n  </memtune>");
  });

  it('treats -1 as no limit and keeps the default memory', () => {
    const xml = doc('lxc.cgroup.memory.limit_in_bytes = -1\nlxc.cgroup.memory.memsw.limit_in_bytes = -1\n');
    expect(xml).toContain("<memory unit='KiB'>65536</memory>");
    expect(xml).not.toContain('memtune');
  });

  it('leaves out limits at or above "unlimited"', () => {
    expect(doc('lxc.cgroup.memory.soft_limit_in_bytes = 18446744073709551615\n')).not.toContain('memtune');
  });

  it('refuses sizes it cannot convert', () => {
    expect(errorOf(`${BASE}lxc.cgroup.memory.limit_in_bytes = lots`)).toBe("internal error: failed to convert size: 'lots'");
    expect(errorOf(`${BASE}lxc.cgroup.memory.limit_in_bytes = 50%`)).toBe("internal error: can't convert relative size: '50%'");
    expect(errorOf(`${BASE}lxc.cgroup.memory.soft_limit_in_bytes = 20E`)).toBe("internal error: failed to convert size: '20E'");
  });
});

describe('cpu', () => {
  it('maps shares, quota and period', () => {
    const xml = doc('lxc.cgroup.cpu.shares = 1024\nlxc.cgroup.cpu.cfs_quota_us = -1\nlxc.cgroup.cpu.cfs_period_us = 500000\n');
    expect(element(xml, 'cputune')).toBe(
      '<cputune>\n    <shares>1024</shares>\n    <period>500000</period>\n    <quota>-1</quota>\n  </cputune>',
    );
  });

  it('refuses integers that do not parse', () => {
    for (const [key, bad] of [['shares', '-1'], ['shares', '1k'], ['cfs_quota_us', '9223372036854775808'], ['cfs_period_us', '']]) {
      expect(errorOf(`${BASE}lxc.cgroup.cpu.${key} = ${bad}`)).toBe(`internal error: failed to parse integer: '${bad}'`);
    }
  });

  it('maps cpuset cpus and mems as written', () => {
    const xml = doc('lxc.cgroup.cpuset.cpus = 1,2,5-7\nlxc.cgroup.cpuset.mems = 1-4\n');
    expect(xml).toContain("<vcpu placement='static' cpuset='1,2,5-7'>1</vcpu>");
    expect(element(xml, 'numatune')).toBe("<numatune>\n    <memory mode='strict' nodeset='1-4'/>\n  </numatune>");
  });
});

describe('blkio', () => {
  it('maps the weight and merges device settings per device', () => {
    const xml = doc(
      [
        'lxc.cgroup.blkio.weight = 500', 'lxc.cgroup.blkio.device_weight = 8:16\t1000',
        'lxc.cgroup.blkio.device_weight = 8:0    300', 'lxc.cgroup.blkio.throttle.read_bps_device = 8:16 1234',
        'lxc.cgroup.blkio.throttle.write_bps_device = 8:16 5678', 'lxc.cgroup.blkio.throttle.read_iops_device = 8:16 4321',
        'lxc.cgroup.blkio.throttle.write_iops_device = 8:16 8765', 'lxc.cgroup.blkio.leaf_weight = 10', '',
      ].join('\n'),
    );
    expect(element(xml, 'blkiotune')).toBe(
      [
        '<blkiotune>', '    <weight>500</weight>', '    <device>', '      <path>/dev/block/8:16</path>',
        '      <weight>1000</weight>', '      <read_iops_sec>4321</read_iops_sec>', '      <write_iops_sec>8765</write_iops_sec>',
        '      <read_bytes_sec>1234</read_bytes_sec>', '      <write_bytes_sec>5678</write_bytes_sec>', '    </device>',
        '    <device>', '      <path>/dev/block/8:0</path>', '      <weight>300</weight>', '    </device>', '  </blkiotune>',
      ].join('\n'),
    );
  });

  it('refuses bad values with libvirt messages', () => {
    expect(errorOf(`${BASE}lxc.cgroup.blkio.weight = heavy`)).toBe("internal error: failed to parse integer: 'heavy'");
    expect(errorOf(`${BASE}lxc.cgroup.blkio.device_weight = 8:16`)).toBe(
      "internal error: invalid lxc.cgroup.blkio.device_weight value: '8:16'",
    );
    expect(errorOf(`${BASE}lxc.cgroup.blkio.device_weight = 8:16 x`)).toBe("internal error: failed to parse device weight: 'x'");
    expect(errorOf(`${BASE}lxc.cgroup.blkio.throttle.read_iops_device = 8:16 4294967296`)).toBe(
      "internal error: failed to parse read_iops_device: '4294967296'",
    );
    expect(errorOf(`${BASE}lxc.cgroup.blkio.throttle.write_bps_device = 8:16 -5`)).toBe(
      "internal error: failed to parse write_bps_device: '-5'",
    );
  });
});

describe('capabilities', () => {
  it('turns dropped capabilities off under an allow policy, in libvirt order, ignoring unknown names', () => {
    expect(element(doc('lxc.cap.drop = sys_module mac_admin\tmknod CAP_KILL bogus sys_module\n'), 'capabilities')).toBe(
      "<capabilities policy='allow'>\n      <mac_admin state='off'/>\n      <mknod state='off'/>\n      <sys_module state='off'/>\n    </capabilities>",
    );
    expect(doc('lxc.cap.drop =\n')).toContain("<capabilities policy='allow'/>");
  });
});

describe('error order follows libvirt', () => {
  it('reports mount entries before network, network before consoles, consoles before id maps', () => {
    const mount = 'lxc.mount.entry = a\n';
    const net = 'lxc.net.0.mtu = 1\n';
    const tty = 'lxc.tty.max = x\n';
    const idmap = 'lxc.idmap = x\n';
    expect(errorOf(BASE + idmap + tty + net + mount)).toMatch(/lxc\.mount\.entry/);
    expect(errorOf(BASE + idmap + tty + net)).toMatch(/lxc\.net\.0\.mtu/);
    expect(errorOf(BASE + idmap + tty)).toMatch(/failed to parse int/);
  });
});

describe('hostile input', () => {
  it('handles a very long line quickly', () => {
    const started = Date.now();
    expect(doc(`lxc.mount.entry = /a /b none ${'x,'.repeat(1_000_000)}ro\n`)).toContain('<readonly/>');
    expect(errorOf(`${BASE}lxc.tty.max = ${'9'.repeat(5_000_000)}`)).toMatch(/^internal error: failed to parse int: '9+'$/);
    expect(errorOf(`${BASE}${' '.repeat(1_000_000)}x`)).toMatch(/^internal error: line 3: expecting 'key = value'/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('gives a clear error for binary junk', () => {
    const junk = Array.from({ length: 4096 }, (_, i) => String.fromCharCode((i * 7919) % 256)).join('');
    expect(errorOf(junk)).toMatch(/^internal error: line \d+: /);
  });
});
