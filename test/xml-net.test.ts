/** <interface>: MAC and IP handling, defaults, libvirt's errors, formatting. */
import { describe, expect, it } from 'vitest';
import { parseDomainXML } from '../src/xml/parse.js';
import { formatDomainXML } from '../src/xml/format.js';
import { defaultContext, type ParseContext } from '../src/xml/context.js';
import type { DomainDef } from '../src/xml/model.js';
import { VirError } from '../src/xml/errors.js';
import { formatIp, formatMac, generateMac, parseIp, parseMac } from '../src/xml/sections/devices/netaddr.js';
import { netHooks, sanitizePath, type InterfaceDef } from '../src/xml/sections/devices/net.js';

/** A fixed byte stream instead of randomness, so generated values are predictable. */
const fixedRandom = (byte: number) => (n: number) => new Uint8Array(n).fill(byte);
const ctx: ParseContext = defaultContext({ hostArch: 'x86_64', random: fixedRandom(0xab) });

const domain = (devices: string) => `<domain type='lxc'>
  <name>t</name>
  <uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid>
  <memory>65536</memory>
  <os><type>exe</type><init>/sbin/init</init></os>
  <devices>${devices}</devices>
</domain>`;

/** define: parse, then the net post-parse and validate phases (whether or not devices/index wires them yet). */
function define(devices: string): DomainDef {
  const def = parseDomainXML(domain(devices), ctx);
  netHooks.postParse!(def, ctx);
  netHooks.validate!(def, ctx);
  return def;
}

const iface = (xml: string): InterfaceDef => define(xml).devices.interfaces[0]!;

/** The formatted <interface> elements of a definition. */
function formatted(devices: string): string {
  const out = formatDomainXML(define(devices), { inactive: true });
  return out
    .split('\n')
    .filter((l) => /^ {4}<\/?interface|^ {6}/.test(l) && !/console|target type='lxc'/.test(l))
    .map((l) => l.trim())
    .join('\n');
}

function errorOf(devices: string): string {
  try {
    define(devices);
  } catch (e) {
    expect(e).toBeInstanceOf(VirError);
    return (e as VirError).message;
  }
  throw new Error('definition was accepted');
}

describe('MAC addresses', () => {
  it('reads one- or two-digit groups in any case and prints them canonically', () => {
    expect(formatMac(parseMac('0:16:3E:a:Bc:ef')!)).toBe('00:16:3e:0a:bc:ef');
  });

  it('ignores anything after a blank following the sixth group, as virMacAddrParse does', () => {
    expect(formatMac(parseMac('52:54:00:00:00:01 trailing')!)).toBe('52:54:00:00:00:01');
    expect(parseMac('52:54:00:00:00:01x')).toBeUndefined();
  });

  it('rejects wrong group counts and three-digit groups', () => {
    expect(parseMac('52:54:00:00:01')).toBeUndefined();
    expect(parseMac('52:54:00:00:00:001')).toBeUndefined();
    expect(parseMac('52-54-00-00-00-01')).toBeUndefined();
  });

  it('generates 52:54:00 followed by three random bytes', () => {
    expect(generateMac(defaultContext({ random: fixedRandom(0x7f) }))).toBe('52:54:00:7f:7f:7f');
  });

  it('generates a MAC when the definition has none or an all-zero one', () => {
    expect(iface("<interface type='bridge'><source bridge='br0'/></interface>").mac.address).toBe('52:54:00:ab:ab:ab');
    expect(iface("<interface type='user'><mac address='00:00:00:00:00:00'/></interface>").mac.address).toBe(
      '52:54:00:ab:ab:ab',
    );
  });

  it('rejects malformed and multicast addresses with libvirt messages', () => {
    expect(errorOf("<interface type='user'><mac address='52:54:00:zz:00:01'/></interface>")).toBe(
      "XML error: unable to parse mac address '52:54:00:zz:00:01'",
    );
    expect(errorOf("<interface type='user'><mac address='03:00:00:00:00:01'/></interface>")).toBe(
      "XML error: expected unicast mac address, found multicast '03:00:00:00:00:01'",
    );
  });
});

describe('IP addresses', () => {
  const text = (s: string, family?: 'ipv4' | 'ipv6') => {
    const ip = parseIp(s, family);
    return ip && formatIp(ip);
  };

  it('accepts the inet_aton forms getaddrinfo accepts for IPv4', () => {
    expect(text('10.1')).toBe('10.0.0.1');
    expect(text('0x0a.0.0.1')).toBe('10.0.0.1');
    expect(text('010.0.0.1')).toBe('8.0.0.1');
    expect(text('4294967295')).toBe('255.255.255.255');
  });

  it('rejects out-of-range and malformed IPv4', () => {
    for (const bad of ['300.1.2.3', '1.2.3.4.5', '1.2.3.', '09.1.1.1', ' 1.2.3.4', '1.2.3.4 ', '1.2.65536']) {
      expect(text(bad), bad).toBeUndefined();
    }
  });

  it('prints IPv6 the way inet_ntop does', () => {
    expect(text('2001:0DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(text('1:0:0:1:0:0:0:1')).toBe('1:0:0:1::1');
    expect(text('1:0:1:1:1:1:1:1')).toBe('1:0:1:1:1:1:1:1');
    expect(text('0:0:0:0:0:0:0:0')).toBe('::');
    expect(text('::ffff:1.2.3.4')).toBe('::ffff:1.2.3.4');
    expect(text('::1.2.3.4')).toBe('::1.2.3.4');
    expect(text('fe80::')).toBe('fe80::');
  });

  it('rejects malformed IPv6', () => {
    for (const bad of [':1::2', '1:::2', '1::2::3', '1::2:', '12345::', '1:2:3:4:5:6:7:8::', '1.2.3.4::', '::01.2.3.4']) {
      expect(text(bad), bad).toBeUndefined();
    }
  });

  it('honours an explicit family', () => {
    expect(text('10.0.0.1', 'ipv6')).toBeUndefined();
    expect(text('::1', 'ipv4')).toBeUndefined();
  });
});

describe('interface defaults', () => {
  it('takes type user when none is given', () => {
    expect(iface('<interface/>').type).toBe('user');
  });

  it('uses macvlan mode vepa for direct interfaces', () => {
    const i = iface("<interface type='direct'><source dev='eth0'/></interface>");
    expect(i).toMatchObject({ type: 'direct', source: { dev: 'eth0', mode: 'vepa' } });
  });

  it('drops generated host device names unless the device is unmanaged', () => {
    expect(iface("<interface type='ethernet'><target dev='vnet3'/></interface>").hostDevName).toBeUndefined();
    expect(iface("<interface type='ethernet'><target dev='macvtap0'/></interface>").hostDevName).toBeUndefined();
    expect(iface("<interface type='ethernet'><target dev='veth0'/></interface>").hostDevName).toBe('veth0');
    expect(iface("<interface type='ethernet'><target dev='vnet3' managed='no'/></interface>").hostDevName).toBe('vnet3');
  });

  it('derives the family of guest addresses and drops a zero prefix', () => {
    const i = iface(`<interface type='bridge'><source bridge='br0'/>
      <ip address='10.0.0.5' prefix='0'/><ip address='2001:DB8::5' prefix='64'/></interface>`);
    expect(i.guestIp.ips).toEqual([
      { address: '10.0.0.5', family: 'ipv4' },
      { address: '2001:db8::5', family: 'ipv6', prefix: 64 },
    ]);
  });

  it('keeps host-side addresses of ethernet interfaces in the source', () => {
    const i = iface(`<interface type='ethernet'><source><ip address='192.168.1.1' prefix='24'/>
      <route address='10.1.0.0' prefix='16' gateway='192.168.1.254' metric='5'/></source></interface>`);
    expect(i).toMatchObject({
      type: 'ethernet',
      source: {
        ips: [{ address: '192.168.1.1', family: 'ipv4', prefix: 24 }],
        routes: [{ address: '10.1.0.0', prefix: 16, gateway: '192.168.1.254', metric: 5 }],
      },
    });
  });

  it('generates an interfaceid for an openvswitch port', () => {
    const i = iface("<interface type='bridge'><source bridge='ovs'/><virtualport type='openvswitch'/></interface>");
    expect(i.virtualPort?.interfaceId).toMatch(/^abababab-abab-4bab-abab-abababababab$/);
  });

  it('normalises known model names and drops the "unknown" model', () => {
    expect(iface("<interface type='user'><model type='VirtIO'/></interface>").model).toBe('virtio');
    expect(iface("<interface type='user'><model type='unknown'/></interface>").model).toBeUndefined();
  });

  it('sanitizes backend paths like virFileSanitizePath', () => {
    expect(sanitizePath('/dev//net///tun/')).toBe('/dev/net/tun');
    expect(sanitizePath('//srv/x')).toBe('//srv/x');
    expect(sanitizePath('///srv')).toBe('/srv');
    expect(sanitizePath('/')).toBe('/');
  });
});

describe('interface errors', () => {
  const cases: Array<[string, string]> = [
    ["<interface type='pigeon'/>", "XML error: Invalid value for attribute 'type' in element 'interface': 'pigeon'."],
    ["<interface type='bridge'/>", "XML error: interface type='bridge' requires a 'source' element"],
    ["<interface type='bridge'><source/></interface>", "XML error: Missing required attribute 'bridge' in element 'source'"],
    [
      "<interface type='direct'><source dev='eth0' mode='sideways'/></interface>",
      "XML error: Invalid value for attribute 'mode' in element 'source': 'sideways'.",
    ],
    ["<interface type='user'><ip address='300.1.2.3'/></interface>", "XML error: Invalid address '300.1.2.3' in <ip>"],
    ["<interface type='user'><ip address='10.0.0.1' prefix='33'/></interface>", "XML error: Invalid prefix value '33' in <ip>"],
    ["<interface type='user'><ip address='10.0.0.1' peer='::1'/></interface>", "invalid argument: Invalid peer '::1' in <ip>"],
    [
      "<interface type='user'><route address='10.0.0.5' gateway='10.0.0.1'/></interface>",
      "XML error: guest interface: Address '10.0.0.5' in route definition is not a network address",
    ],
    [
      "<interface type='user'><route family='ipv4' address='10.0.0.0' prefix='8' gateway='::1'/></interface>",
      "XML error: guest interface: IPv4 family specified for non-IPv4 gateway '::1' in route definition",
    ],
    [
      "<interface type='user'><route address='10.0.0.0' metric='0' gateway='10.0.0.1'/></interface>",
      'XML error: guest interface: Invalid metric value, must be > 0 in route definition',
    ],
    [
      "<interface type='ethernet'><source><route address='10.0.0.0' gateway='10.0.0.1' family='ipx'/></source></interface>",
      "XML error: interface host IP: Unrecognized family 'ipx' in route definition",
    ],
    [
      "<interface type='user'><model type='bad model'/></interface>",
      'invalid argument: Model name contains invalid characters',
    ],
    ["<interface type='user'><model type='bogus-nic'/></interface>", "unsupported configuration: driver does not support net model 'bogus-nic'"],
    [
      "<interface type='ethernet'><virtualport type='openvswitch'/></interface>",
      "unsupported configuration: <virtualport> element unsupported for <interface type='ethernet'>",
    ],
    [
      "<interface type='bridge'><source bridge='br0'/><virtualport/></interface>",
      'XML error: missing required virtualport type',
    ],
    [
      "<interface type='bridge'><source bridge='br0'/><virtualport type='802.1Qbh'/></interface>",
      "XML error: missing profileid in <virtualport type='802.1Qbh'>",
    ],
    [
      "<interface type='bridge'><source bridge='br0'/><bandwidth><inbound average='10' floor='5'/></bandwidth></interface>",
      'unsupported configuration: floor attribute is not supported for this config',
    ],
    [
      "<interface type='network'><source network='n'/><bandwidth><outbound average='10' floor='5'/></bandwidth></interface>",
      "unsupported configuration: 'floor' attribute allowed only in <inbound> element",
    ],
    [
      "<interface type='bridge'><source bridge='br0'/><bandwidth><inbound peak='10'/></bandwidth></interface>",
      'Missing mandatory average or floor attributes',
    ],
    [
      "<interface type='bridge'><source bridge='br0'/><vlan><tag id='4096'/></vlan></interface>",
      'XML error: vlan tag id 4096 too large (maximum 4095)',
    ],
    [
      "<interface type='bridge'><source bridge='br0'/><vlan trunk='no'><tag id='1'/><tag id='2'/></vlan></interface>",
      `XML error: invalid "trunk='no'" in <vlan> - trunk='yes' is required for more than one vlan tag`,
    ],
    ["<interface type='user'><link state='sleepy'/></interface>", "unsupported configuration: unknown interface link state 'sleepy'"],
    ["<interface type='user'><mtu size='-1'/></interface>", 'XML error: malformed mtu size'],
    [
      "<interface type='bridge'><source bridge='br0'><ip address='10.0.0.1'/></source></interface>",
      "unsupported configuration: Invalid attempt to set network interface host-side IP route and/or address info on interface of type 'bridge'. This is only supported on interfaces of type 'ethernet'",
    ],
    [
      "<interface type='ethernet'><mac address='52:54:00:00:00:01'/><port isolated='yes'/></interface>",
      "unsupported configuration: interface 52:54:00:00:00:01 - <port isolated='yes'/> is not supported for network interfaces with type='ethernet'",
    ],
    [
      "<interface type='bridge'><source bridge='br0'/><target dev='tap0' managed='no'/></interface>",
      "unsupported configuration: unmanaged target dev is not supported on interfaces of type 'bridge'",
    ],
    [
      "<interface type='bridge'><source bridge='br0'/><backend type='passt'/></interface>",
      "internal error: The 'passt' backend can only be used with interface type='user'",
    ],
    [
      "<interface type='user'><teaming type='transient'/></interface>",
      "unsupported configuration: teaming persistent attribute must be set if teaming type is 'transient'",
    ],
  ];
  for (const [xml, message] of cases) {
    it(message, () => expect(errorOf(xml)).toBe(message));
  }

  it('reports a bad model only after every interface parsed (post-parse phase)', () => {
    // The second interface's parse error wins over the first one's unknown model.
    expect(
      errorOf("<interface type='user'><model type='bogus'/></interface><interface type='pigeon'/>"),
    ).toBe("XML error: Invalid value for attribute 'type' in element 'interface': 'pigeon'.");
  });
});

describe('interface formatting', () => {
  it('prints libvirt element order, family on every address, and sorted filter parameters', () => {
    const xml = `<interface type='bridge'>
      <link state='up'/><guest dev='eth9'/><model type='e1000'/>
      <filterref filter='clean-traffic'><parameter name='Z' value='1'/><parameter name='IP' value='10.0.0.1'/></filterref>
      <route address='0.0.0.0' gateway='10.0.0.1'/><ip address='10.0.0.2' prefix='24'/>
      <bandwidth><outbound average='2'/><inbound average='1'/></bandwidth>
      <source bridge='br0'/><mac address='52:54:00:00:00:01'/></interface>`;
    expect(formatted(xml)).toBe(
      [
        "<interface type='bridge'>",
        "<mac address='52:54:00:00:00:01'/>",
        "<source bridge='br0'/>",
        '<bandwidth>',
        "<inbound average='1'/>",
        "<outbound average='2'/>",
        '</bandwidth>',
        "<ip address='10.0.0.2' family='ipv4' prefix='24'/>",
        "<route address='0.0.0.0' gateway='10.0.0.1'/>",
        "<guest dev='eth9'/>",
        "<model type='e1000'/>",
        "<filterref filter='clean-traffic'>",
        "<parameter name='IP' value='10.0.0.1'/>",
        "<parameter name='Z' value='1'/>",
        '</filterref>',
        "<link state='up'/>",
        '</interface>',
      ].join('\n'),
    );
  });

  it('leaves out a <source> whose only value is empty, as virBufferEscapeString does', () => {
    expect(formatted("<interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge=''/></interface>")).toBe(
      ["<interface type='bridge'>", "<mac address='52:54:00:00:00:02'/>", '</interface>'].join('\n'),
    );
  });

  it('prints virtio driver settings only for virtio models', () => {
    const driver = "<driver name='vhost' queues='4' iommu='on'><host csum='off'/></driver>";
    expect(formatted(`<interface type='user'><mac address='52:54:00:00:00:03'/><model type='virtio'/>${driver}</interface>`)).toContain(
      "<driver name='vhost' queues='4' iommu='on'>\n<host csum='off'/>\n</driver>",
    );
    expect(errorOf(`<interface type='user'><model type='e1000'/>${driver}</interface>`)).toBe(
      'unsupported configuration: iommu driver option is only supported for virtio devices',
    );
  });
});

describe('type=hostdev interfaces', () => {
  it('keep the PCI device, its backend and managed flag', () => {
    const xml = `<interface type='hostdev' managed='yes'><mac address='52:54:00:00:00:04'/><driver name='vfio'/>
      <source><address type='pci' domain='0' bus='0x3' slot='16' function='1'/></source></interface>`;
    expect(iface(xml)).toMatchObject({
      type: 'hostdev',
      source: { address: { domain: 0, bus: 3, slot: 16, function: 1 }, managed: true, driver: 'vfio' },
    });
    expect(formatted(xml)).toBe(
      [
        "<interface type='hostdev' managed='yes'>",
        "<mac address='52:54:00:00:00:04'/>",
        "<driver name='vfio'/>",
        '<source>',
        "<address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x1'/>",
        '</source>',
        '</interface>',
      ].join('\n'),
    );
  });

  it('need a source address type', () => {
    expect(errorOf("<interface type='hostdev'><source/></interface>")).toBe(
      "unsupported configuration: unknown host device source address type '(null)'",
    );
  });
});

describe('device info of interfaces', () => {
  it('keeps the guest address and boot order, drops the alias of a definition', () => {
    const xml = `<interface type='user'><mac address='52:54:00:00:00:05'/><alias name='net0'/>
      <address type='pci' domain='0' bus='0' slot='3' function='0'/><boot order='2'/></interface>`;
    expect(formatted(xml)).toBe(
      [
        "<interface type='user'>",
        "<mac address='52:54:00:00:00:05'/>",
        "<boot order='2'/>",
        "<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>",
        '</interface>',
      ].join('\n'),
    );
  });
});

describe('network-type interfaces', () => {
  it('accept a bandwidth floor and a type-less virtualport with generated ids', () => {
    const i = iface(`<interface type='network'><source network='default' portgroup='eng'/>
      <bandwidth><inbound average='100' floor='50'/></bandwidth><virtualport/></interface>`);
    expect(i).toMatchObject({
      type: 'network',
      source: { network: 'default', portgroup: 'eng' },
      bandwidth: { inbound: { average: 100n, floor: 50n } },
      virtualPort: {
        instanceId: 'abababab-abab-4bab-abab-abababababab',
        interfaceId: 'abababab-abab-4bab-abab-abababababab',
      },
    });
    expect(i.virtualPort?.type).toBeUndefined();
  });

  it('print a native vlan tag and implicit trunk', () => {
    expect(
      formatted(`<interface type='network'><mac address='52:54:00:00:00:06'/><source network='n'/>
        <vlan><tag id='7'/><tag id='8' nativeMode='tagged'/></vlan></interface>`),
    ).toContain("<vlan trunk='yes'>\n<tag id='7'/>\n<tag id='8' nativeMode='tagged'/>\n</vlan>");
  });
});
