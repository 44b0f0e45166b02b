/**
 * Character devices and the devices the LXC driver only stores or refuses:
 * behaviour beyond what the oracle corpus covers (port rules, implicit
 * controllers, live console state, defaults, libvirt's rejections).
 */
import { describe, expect, it } from 'vitest';
import { parseDomainXML } from '../src/xml/parse.js';
import { formatDomainXML } from '../src/xml/format.js';
import { defaultContext } from '../src/xml/context.js';
import { VirError } from '../src/xml/errors.js';
import { parseInt32, parseUIntStrict, parseUIntWrapping } from '../src/xml/sections/devices/props.js';
import { sanitizePath } from '../src/xml/sections/devices/platform.js';

const ctx = defaultContext({ hostArch: 'x86_64' });

const domain = (devices: string): string => `<domain type='lxc'>
  <name>t</name>
  <uuid>0534524b-040b-514b-9ee7-4d7fb7500dc4</uuid>
  <memory unit='KiB'>65536</memory>
  <os><type>exe</type><init>/bin/sh</init></os>
  <devices>${devices}</devices>
</domain>`;

const parse = (devices: string) => parseDomainXML(domain(devices), ctx);

/** The <devices> body as trimmed lines, without the emulator line. */
function formatted(devices: string): string {
  const xml = formatDomainXML(parse(devices), { inactive: true });
  return xml
    .slice(xml.indexOf('<devices>') + '<devices>'.length, xml.indexOf('</devices>'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('<emulator'))
    .join('\n');
}

function errorOf(devices: string): string {
  try {
    parse(devices);
  } catch (e) {
    expect(e).toBeInstanceOf(VirError);
    return (e as VirError).message;
  }
  throw new Error('expected the definition to be rejected');
}

/** Formatting is a fixed point: formatted output parses back to the same text. */
function expectFixedPoint(devices: string): void {
  const once = formatDomainXML(parse(devices), { inactive: true });
  expect(formatDomainXML(parseDomainXML(once, ctx), { inactive: true })).toBe(once);
}

describe('consoles', () => {
  it('take their index as port and lxc as default target type', () => {
    const { consoles } = parse(
      "<console type='pty'><target type='serial' port='9'/></console><console/><console type='pty'><target type='none'/></console>",
    ).devices;
    expect(consoles.map((c) => [c.source.type, c.targetType, c.port])).toEqual([
      ['pty', 'serial', 0],
      ['pty', 'lxc', 1],
      ['pty', 'lxc', 2],
    ]);
  });

  it('drop live-only tty, source path and alias from a definition', () => {
    const [c] = parse(
      "<console type='pty' tty='/dev/pts/5'><source path='/dev/pts/5'/><alias name='console0'/></console>",
    ).devices.consoles;
    expect(c!.source).toEqual({ type: 'pty' });
    expect(c!.info.alias).toBeUndefined();
  });

  it('show the live pty as tty (first console only), source and alias once the runtime sets them', () => {
    const def = parse("<console type='pty'/><console type='pty'/>");
    def.devices.consoles.forEach((c, i) => {
      c.source = { type: 'pty', path: `/dev/pts/${i + 7}` };
      c.info.alias = `console${i}`;
    });
    const xml = formatDomainXML(def);
    expect(xml).toContain(
      "<console type='pty' tty='/dev/pts/7'>\n      <source path='/dev/pts/7'/>\n      <target type='lxc' port='0'/>\n      <alias name='console0'/>\n    </console>",
    );
    expect(xml).toContain("<console type='pty'>\n      <source path='/dev/pts/8'/>\n      <target type='lxc' port='1'/>");
  });

  it('keep a non-pty source (refused only at start)', () => {
    expect(formatted("<console type='file'><source path='/var/log/c.log' append='on'/></console>")).toBe(
      "<console type='file'>\n<source path='/var/log/c.log' append='on'/>\n<target type='lxc' port='0'/>\n</console>",
    );
  });

  it('reject an unknown type and report a bad port even though it is replaced', () => {
    expect(errorOf("<console type='teletype'/>")).toBe(
      'unsupported configuration: unknown type presented to host for character device: teletype',
    );
    expect(errorOf("<console type='pty'><target port='x'/></console>")).toBe('XML error: Invalid port number: x');
  });
});

describe('serial and parallel ports', () => {
  it('continue after the highest port so far when unset', () => {
    const { serials, parallels } = parse(
      "<serial type='pty'><target port='4'/></serial><serial type='pty'/><serial type='pty'><target port='1'/></serial><serial/><parallel/>",
    ).devices;
    expect(serials.map((s) => s.port)).toEqual([4, 5, 1, 6]);
    expect(parallels.map((p) => p.port)).toEqual([0]);
  });

  it('treat port -1 as unset, as libvirt reads it through an unsigned int', () => {
    expect(parseUIntWrapping('-1')).toBe(4294967295);
    expect(parse("<serial type='pty'><target port='-1'/></serial>").devices.serials[0]!.port).toBe(0);
  });

  it('print a serial target type and model, but no type="none"', () => {
    expect(
      formatted(
        "<serial type='pty'><target type='isa-serial' port='0'><model name='isa-serial'/></target></serial><serial type='pty'><target type='none'/></serial>",
      ),
    ).toBe(
      "<serial type='pty'>\n<target type='isa-serial' port='0'>\n<model name='isa-serial'/>\n</target>\n</serial>\n" +
        "<serial type='pty'>\n<target port='1'/>\n</serial>",
    );
  });

  it('reject an unknown target model and a usb-serial on a non-USB address', () => {
    expect(errorOf("<serial><target><model name='x'/></target></serial>")).toBe(
      "unsupported configuration: unknown target model 'x' specified for character device",
    );
    expect(errorOf("<serial><target type='usb-serial'/><address type='pci' slot='3'/></serial>")).toBe(
      'unsupported configuration: usb-serial requires address of usb type',
    );
  });
});

describe('character device sources', () => {
  const sources =
    "<serial type='tcp'><source mode='bind' host='0.0.0.0' service='2445' tls='no'><reconnect enabled='no'/></source><protocol type='telnet'/></serial>";

  it('print tcp, udp, unix, file and log sources in canonical form', () => {
    expect(
      formatted(
        "<serial type='tcp'><source host='h' service='1'/></serial>" +
          "<serial type='udp'><source mode='connect' host='b' service='2'/><source mode='bind' service='1'/></serial>" +
          "<serial type='unix'><source path='/s'><reconnect enabled='yes' timeout='5'/></source></serial>" +
          "<parallel type='file'><log append='on' file='/l'/><source append='off' path='/f'/></parallel>",
      ),
    ).toBe(
      [
        "<serial type='tcp'>", "<source mode='connect' host='h' service='1'/>", "<protocol type='raw'/>",
        "<target port='0'/>", '</serial>',
        "<serial type='udp'>", "<source mode='bind' service='1'/>", "<source mode='connect' host='b' service='2'/>",
        "<target port='1'/>", '</serial>',
        "<serial type='unix'>", "<source mode='connect' path='/s'>", "<reconnect enabled='yes' timeout='5'/>",
        '</source>', "<target port='2'/>", '</serial>',
        "<parallel type='file'>", "<source path='/f' append='off'/>", "<log file='/l' append='on'/>",
        "<target port='0'/>", '</parallel>',
      ].join('\n'),
    );
  });

  it('refuse reconnecting a listening socket, and sources missing what they need', () => {
    expect(errorOf(sources)).toBe('internal error: chardev reconnect is possible only for connect mode');
    expect(errorOf("<serial type='dev'/>")).toBe('internal error: Missing source path attribute for char device');
    expect(errorOf("<serial type='udp'><source mode='bind' service='1'/></serial>")).toBe(
      'internal error: Missing source service attribute for char device',
    );
    expect(errorOf("<serial type='spiceport'><source channel='a b'/></serial>")).toBe(
      'invalid argument: Invalid character in source channel for char device',
    );
    expect(errorOf("<serial type='file'><source path='/a'/><source path='/b'/></serial>")).toBe(
      'XML error: only one source element is allowed for character device',
    );
  });

  it('accept spicevmc only on a virtio target', () => {
    expect(errorOf("<serial type='spicevmc'/>")).toBe('unsupported configuration: spicevmc device type only supports virtio');
    expect(parse("<channel type='spicevmc'><target type='virtio'/></channel>").devices.channels).toHaveLength(1);
  });

  it('round-trip every source kind unchanged', () => {
    expectFixedPoint(
      "<serial type='nmdm'><source master='/dev/nmdm0A' slave='/dev/nmdm0B'/></serial>" +
        "<serial type='spiceport'><source channel='org.qemu.console.serial.0'/></serial>" +
        "<channel type='qemu-vdagent'><source><clipboard copypaste='yes'/><mouse mode='client'/></source><target type='virtio' name='com.redhat.spice.0'/></channel>" +
        "<serial type='pipe'><source path='/tmp/p'/></serial><serial type='null'/><serial type='vc'/><serial type='stdio'/>",
    );
  });
});

describe('channels', () => {
  it('need a target type', () => {
    expect(errorOf("<channel type='pty'/>")).toBe('XML error: target type must be specified for channel device');
    expect(errorOf("<channel type='pty'><target name='x'/></channel>")).toBe(
      "unsupported configuration: unknown target type '(null)' specified for character device",
    );
  });

  it('on virtio add the virtio-serial controllers they sit on and take the next free port', () => {
    const devices = parse(
      "<channel type='unix'><target type='virtio' name='a'/><address type='virtio-serial' controller='2' bus='0' port='3'/></channel>" +
        "<channel type='unix'><target type='virtio' name='b'/><address type='virtio-serial' controller='2' bus='0' port='0'/></channel>" +
        "<console type='pty'><target type='virtio'/></console>",
    ).devices;
    expect(devices.controllers.map((c) => [c.type, c.index])).toEqual([
      ['virtio-serial', 0],
      ['virtio-serial', 2],
    ]);
    expect(devices.channels.map((c) => c.info.address)).toEqual([
      { type: 'virtio-serial', controller: 2, bus: 0, port: 3 },
      { type: 'virtio-serial', controller: 2, bus: 0, port: 4 },
    ]);
  });

  it('let a virtio channel leave out its unix socket path', () => {
    expect(formatted("<channel type='unix'><target type='xen' name='x'/></channel>")).toBe(
      "<channel type='unix'>\n<target type='xen' name='x'/>\n</channel>",
    );
    expect(errorOf("<channel type='unix'><target type='guestfwd' address='10.0.2.1' port='4600'/></channel>")).toBe(
      'internal error: Missing source path attribute for char device',
    );
  });

  it('check a guestfwd address', () => {
    expect(errorOf("<channel type='pty'><target type='guestfwd' port='1'/></channel>")).toBe(
      'XML error: guestfwd channel does not define a target address',
    );
    expect(errorOf("<channel type='pty'><target type='guestfwd' address='::1' port='1'/></channel>")).toBe(
      'unsupported configuration: guestfwd channel only supports IPv4 addresses',
    );
  });
});

describe('graphics and video', () => {
  it('reject graphics without video: LXC cannot pick a default video model', () => {
    expect(errorOf("<graphics type='sdl'/>")).toBe('internal error: missing video model and cannot determine default');
  });

  it('default vnc to autoport with a listen element, and fill in the primary video', () => {
    expect(formatted("<graphics type='vnc' listen='0.0.0.0'/><video><model type='cirrus' vram='9000'/></video>")).toBe(
      [
        "<graphics type='vnc' port='-1' autoport='yes' listen='0.0.0.0'>",
        "<listen type='address' address='0.0.0.0'/>",
        '</graphics>',
        '<video>',
        "<model type='cirrus' vram='16384' heads='1' primary='yes'/>",
        '</video>',
      ].join('\n'),
    );
  });

  it('keep an explicit vnc port and mark it not automatic', () => {
    expect(formatted("<graphics type='vnc' port='5905'/><video><model type='vga'/></video>")).toContain(
      "<graphics type='vnc' port='5905' autoport='no'>",
    );
  });

  it('never print a graphics password without --security-info', () => {
    const def = parse(
      "<graphics type='vnc' passwd='secret' passwdValidTo='2010-11-28T14:29:01'/><video><model type='vga'/></video>",
    );
    expect(def.devices.graphics[0]).toMatchObject({ auth: { passwd: 'secret', passwdValidTo: '2010-11-28T14:29:01' } });
    expect(formatDomainXML(def)).not.toContain('secret');
  });

  it('put the video marked primary first', () => {
    const { videos } = parse("<video><model type='vga'/></video><video><model type='qxl' primary='yes'/></video>").devices;
    expect(videos.map((v) => [v.type, v.primary, v.vram, v.ram])).toEqual([
      ['qxl', true, 65536, 65536],
      ['vga', false, 16384, 0],
    ]);
  });

  it("clear everything of a first video of type 'none'", () => {
    expect(formatted("<video><model type='none' heads='4'/></video>")).toBe("<video>\n<model type='none'/>\n</video>");
  });

  it('refuse two primary videos and qxl-only attributes elsewhere', () => {
    expect(errorOf("<video><model type='vga' primary='yes'/></video><video><model type='vga' primary='yes'/></video>")).toBe(
      'unsupported configuration: Only one primary video device is supported',
    );
    expect(errorOf("<video><model type='vga' vgamem='1024'/></video>")).toBe(
      'unsupported configuration: vgamem attribute only supported for video type qxl',
    );
  });

  it('check listen attributes', () => {
    expect(errorOf("<graphics type='spice' listen='1.2.3.4'><listen type='address' address='5.6.7.8'/></graphics>")).toBe(
      "unsupported configuration: graphics 'listen' attribute '1.2.3.4' must match 'address' attribute of first listen element (found '5.6.7.8')",
    );
    expect(errorOf("<graphics type='vnc'><listen type='address' network='n'/></graphics>")).toBe(
      "XML error: 'network' attribute is valid only for listen type 'network'",
    );
  });
});

describe('stored devices', () => {
  it('put a smartcard on slot 0 of an implicit CCID controller', () => {
    const devices = parse("<smartcard mode='host'/>").devices;
    expect(devices.controllers.map((c) => c.type)).toEqual(['ccid']);
    expect(devices.smartcards[0]!.info.address).toEqual({ type: 'ccid', controller: 0, slot: 0 });
  });

  it('need a USB controller for a redirected USB device', () => {
    const redirdev = "<redirdev bus='usb' type='spicevmc'/>";
    expect(errorOf(redirdev)).toBe(
      'unsupported configuration: cannot add redirected USB device: USB is disabled for this domain',
    );
    expect(parse(`<controller type='usb' model='qemu-xhci'/>${redirdev}`).devices.redirdevs).toHaveLength(1);
  });

  it('default a watchdog action to reset and round-trip the other stored devices', () => {
    expect(formatted("<watchdog model='i6300esb'/>")).toBe("<watchdog model='i6300esb' action='reset'/>");
    expectFixedPoint(
      "<controller type='usb' model='qemu-xhci'/><tpm model='tpm-tis'><backend type='emulator' version='2.0'/></tpm>" +
        "<audio id='1' type='oss' tryMMap='yes'><output dev='/dev/dsp' tryPoll='no' bufferCount='3'/></audio>" +
        "<sound model='ich9'><codec type='duplex'/><audio id='1'/></sound><hub type='usb'/>" +
        "<redirfilter><usbdev class='0x08' version='1.1' allow='no'/></redirfilter>" +
        "<memballoon model='virtio'><stats period='5'/></memballoon><rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>" +
        "<panic model='isa'/><shmem name='s'><size unit='KiB'>4096</size></shmem><iommu model='smmuv3'/><vsock model='virtio'><cid auto='yes'/></vsock>",
    );
  });

  it('print shmem sizes in MiB with the default model', () => {
    expect(formatted("<shmem name='m'><size unit='G'>1</size><server path='//a//b/'/><msi/></shmem>")).toBe(
      "<shmem name='m'>\n<model type='ivshmem'/>\n<size unit='M'>1024</size>\n<server path='//a/b'/>\n<msi/>\n</shmem>",
    );
  });

  it('print USB filter versions and ids as libvirt does', () => {
    expect(formatted("<redirfilter><usbdev vendor='4660' product='0xbeef' version='2.1' allow='yes'/></redirfilter>")).toBe(
      "<redirfilter>\n<usbdev vendor='0x1234' product='0xBEEF' version='2.10' allow='yes'/>\n</redirfilter>",
    );
  });

  it('leave out a vsock that sets nothing, as libvirt does', () => {
    expect(formatted('<vsock/>')).toBe('');
  });

  it('refuse input devices, and USB ones first when USB is disabled', () => {
    expect(errorOf("<input type='keyboard' bus='virtio'/>")).toBe(
      'internal error: Input devices are not supported by this virtualization driver.',
    );
    expect(errorOf("<controller type='usb' model='none'/><input type='mouse' bus='usb'/>")).toBe(
      "unsupported configuration: Can't add USB input device. USB bus is disabled",
    );
    expect(errorOf("<input type='joystick'/>")).toBe("unsupported configuration: unknown input device type 'joystick'");
  });

  it('refuse memory devices after checking what libvirt parses first', () => {
    expect(errorOf("<memory model='dimm'><target><size>1</size></target></memory>")).toBe(
      'unsupported configuration: memory devices are not supported by this driver',
    );
    expect(errorOf("<memory model='ram'/>")).toBe("XML error: Invalid value for attribute 'model' in element 'memory': 'ram'.");
  });

  it('allow one of the single devices and check audio references', () => {
    expect(errorOf("<memballoon model='none'/><memballoon model='none'/>")).toBe(
      'internal error: only a single memory balloon device is supported',
    );
    expect(errorOf("<audio id='2' type='none'/><audio id='2' type='spice'/>")).toBe(
      'XML error: audio ID 2 is used multiple times',
    );
    expect(errorOf("<sound model='ac97'><audio id='1'/></sound>")).toBe('XML error: no audio device with ID 1');
  });
});

describe('device addresses', () => {
  it('print each address type in canonical form', () => {
    expect(
      formatted(
        "<watchdog model='ib700'><address type='isa' iobase='0x505' irq='5'/></watchdog>" +
          "<panic><address type='pci' domain='0' bus='1' slot='0x1f' function='7' multifunction='on'/></panic>" +
          "<hub type='usb'><address type='usb' bus='0' port='1.2'/></hub>",
      ),
    ).toBe(
      [
        "<hub type='usb'>", "<address type='usb' bus='0' port='1.2'/>", '</hub>',
        "<watchdog model='ib700' action='reset'>", "<address type='isa' iobase='0x505' irq='0x5'/>", '</watchdog>',
        '<panic>', "<address type='pci' domain='0x0000' bus='0x01' slot='0x1f' function='0x7' multifunction='on'/>", '</panic>',
      ].join('\n'),
    );
  });

  it('reject invalid PCI addresses and unknown types', () => {
    expect(errorOf("<panic><address type='pci' slot='32'/></panic>")).toBe(
      "XML error: Invalid PCI address slot='0x20', must be <= 0x1F",
    );
    expect(errorOf("<panic><address type='pci' function='1'/></panic>")).toBe(
      'XML error: Invalid PCI address 0000:00:00, at least one of domain, bus, or slot must be > 0',
    );
    expect(errorOf("<panic><address type='bogus'/></panic>")).toBe("unsupported configuration: unknown address type 'bogus'");
    expect(errorOf("<panic><address type='unassigned'/></panic>")).toBe(
      "unsupported configuration: address of type 'unassigned' is supported only for hostdevs",
    );
  });
});

describe('numbers and paths', () => {
  it('parse integers the way libvirt does', () => {
    expect(parseUIntStrict(' +42')).toBe(42);
    expect(parseUIntStrict('-1')).toBeUndefined();
    expect(parseUIntStrict('4294967296')).toBeUndefined();
    expect(parseUIntStrict('0x1f', 0)).toBe(31);
    expect(parseUIntStrict('017', 0)).toBe(15);
    expect(parseUIntStrict('1f', 16)).toBe(31);
    expect(parseInt32('-2147483648')).toBe(-2147483648);
    expect(parseInt32('2147483648')).toBeUndefined();
    expect(parseUIntWrapping('-5')).toBe(4294967291);
  });

  it('sanitize paths like virFileSanitizePath', () => {
    expect(sanitizePath('/foo///bar/')).toBe('/foo/bar');
    expect(sanitizePath('//foo/bar')).toBe('//foo/bar');
    expect(sanitizePath('///foo')).toBe('/foo');
  });
});
