/**
 * Storage-type devices: <disk>, <controller>, <lease>, <filesystem>,
 * <hostdev>. Behaviour beyond what the oracle corpus covers: libvirt's
 * ordering rules, implicit controllers, defaults and rejections.
 */
import { describe, expect, it } from 'vitest';
import { parseDomainXML } from '../src/xml/parse.js';
import { formatDomainXML } from '../src/xml/format.js';
import { defaultContext } from '../src/xml/context.js';
import { VirError } from '../src/xml/errors.js';
import { diskNameToIndex } from '../src/xml/sections/devices/disk.js';
import { ensureController, isUsbDisabled, type StorageDevices } from '../src/xml/sections/devices/storage.js';
import { parseULongLongWrapping } from '../src/xml/sections/devices/storage-props.js';

const ctx = defaultContext({ hostArch: 'x86_64' });

const domain = (devices: string): string => `<domain type='lxc'>
  <name>t</name>
  <uuid>0534524b-040b-514b-9ee7-4d7fb7500dc4</uuid>
  <memory unit='KiB'>65536</memory>
  <os><type>exe</type><init>/bin/sh</init></os>
  <devices>${devices}<console type='pty'/></devices>
</domain>`;

const parse = (devices: string) => parseDomainXML(domain(devices), ctx).devices;

/** The formatted <devices> body, without emulator and console lines. */
function formatDevices(devices: string): string {
  const xml = formatDomainXML(parseDomainXML(domain(devices), ctx), { inactive: true });
  const body = xml.slice(xml.indexOf('<devices>') + '<devices>'.length, xml.indexOf('</devices>'));
  return body
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('<emulator') && !/console|target type='lxc'/.test(l))
    .join('\n');
}

function errorOf(devices: string): string {
  try {
    parseDomainXML(domain(devices), ctx);
  } catch (e) {
    expect(e).toBeInstanceOf(VirError);
    return (e as VirError).message;
  }
  throw new Error('expected the definition to be rejected');
}

const blockDisk = (dev: string, target: string, extra = ''): string =>
  `<disk type='block'><source dev='${dev}'/><target dev='${target}'${extra}/></disk>`;

describe('disk names', () => {
  it('maps target names to drive indexes as virDiskNameToIndex does', () => {
    expect(diskNameToIndex('sda')).toBe(0);
    expect(diskNameToIndex('hdc')).toBe(2);
    expect(diskNameToIndex('sdz')).toBe(25);
    expect(diskNameToIndex('sdaa')).toBe(26);
    expect(diskNameToIndex('vdb3')).toBe(1);
    expect(diskNameToIndex('xvdb')).toBe(1);
    expect(diskNameToIndex('nvme0n1')).toBeUndefined();
    expect(diskNameToIndex('sdA')).toBeUndefined();
  });
});

describe('<disk>', () => {
  it('sorts disks by the bus as written, then by target index', () => {
    const d = parse(
      blockDisk('/dev/a', 'sdc') + blockDisk('/dev/b', 'vdb', " bus='virtio'") + blockDisk('/dev/c', 'sda') +
        blockDisk('/dev/d', 'vda', " bus='virtio'"),
    );
    expect(d.disks.map((x) => x.target)).toEqual(['sda', 'sdc', 'vda', 'vdb']);
  });

  it('defaults the bus from the target name and gives controller buses a drive address', () => {
    const d = parse(blockDisk('/dev/a', 'hdd') + blockDisk('/dev/b', 'xvda') + blockDisk('/dev/c', 'sdj'));
    // Same (unwritten) bus for all three, so the target index alone orders them.
    expect(d.disks.map((x) => [x.target, x.bus, x.info.address])).toEqual([
      ['xvda', 'xen', undefined],
      ['hdd', 'ide', { type: 'drive', controller: 0, bus: 1, target: 0, unit: 1 }],
      ['sdj', 'scsi', { type: 'drive', controller: 1, bus: 0, target: 0, unit: 2 }],
    ]);
    expect(d.controllers.map((c) => `${c.type}${c.index}`)).toEqual(['scsi0', 'scsi1', 'ide0']);
  });

  it('inserts implicit controllers in index order among explicit ones', () => {
    const out = formatDevices(`<controller type='scsi' index='1' model='virtio-scsi'/>` + blockDisk('/dev/a', 'sda'));
    expect(out).toContain(
      "<controller type='scsi' index='0'/>\n<controller type='scsi' index='1' model='virtio-scsi'/>",
    );
  });

  it('keeps a given drive address and adds the controller it names', () => {
    const d = parse(
      `<disk type='block'><source dev='/dev/a'/><target dev='sda'/><address type='drive' controller='2' bus='0' target='0' unit='3'/></disk>`,
    );
    expect(d.disks[0]!.info.address).toEqual({ type: 'drive', controller: 2, bus: 0, target: 0, unit: 3 });
    expect(d.controllers.map((c) => c.index)).toEqual([0, 1, 2]);
  });

  it('makes a cdrom read-only and hides the implied snapshot setting', () => {
    const out = formatDevices(
      `<disk type='file' device='cdrom' snapshot='no'><source file='/x.iso'/><target dev='hdc'/></disk>`,
    );
    expect(out).toContain("<disk type='file' device='cdrom'>");
    expect(out).toContain('<readonly/>');
  });

  it('treats a disk without <source> as an empty file disk (allowed for a cdrom)', () => {
    const out = formatDevices(`<disk type='block' device='cdrom'><target dev='hdc'/></disk>`);
    expect(out).toContain("<disk type='file' device='cdrom'>\n<target dev='hdc' bus='ide'/>");
  });

  it('formats the driver, source policy and identification elements in libvirt order', () => {
    const out = formatDevices(`<disk type='file' device='disk'>
        <serial>S1</serial><shareable/><readonly/>
        <driver cache='default' name='nbd' type='aio' io='native' discard='unmap'/>
        <source file='/img.raw' startupPolicy='optional'/>
        <target dev='vda' bus='virtio'/>
      </disk>`);
    expect(out).toBe(
      [
        "<disk type='file' device='disk'>",
        "<driver name='nbd' type='raw' io='native' discard='unmap'/>",
        "<source file='/img.raw' startupPolicy='optional'/>",
        "<target dev='vda' bus='virtio'/>",
        '<readonly/>',
        '<shareable/>',
        '<serial>S1</serial>',
        '</disk>',
      ].join('\n'),
    );
  });

  it('keeps a PCI address on a virtio disk but rejects it on a SCSI disk', () => {
    const pci = "<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>";
    const d = parse(`<disk type='block'><source dev='/dev/a'/><target dev='vda'/>${pci}</disk>`);
    expect(d.disks[0]!.info.address?.type).toBe('pci');
    expect(errorOf(`<disk type='block'><source dev='/dev/a'/><target dev='sda'/>${pci}</disk>`)).toBe(
      "unsupported configuration: Invalid address type 'pci' for the disk 'sda' with the bus type 'scsi'",
    );
  });

  it.each([
    [blockDisk('/dev/a', 'mydisk'), "XML error: Unknown disk name 'mydisk' and no address specified"],
    [blockDisk('/dev/a', 'fda'), 'internal error: Invalid harddisk device name: fda'],
    [`<disk type='block' device='floppy'><source dev='/dev/a'/><target dev='sda'/></disk>`,
      'internal error: Invalid floppy device name: sda'],
    [`<disk type='block'><target dev='sda'/></disk>`, 'missing source information for device sda'],
    [`<disk type='block'><source dev=''/><target dev='sda'/></disk>`, 'missing source information for device sda'],
    [`<disk type='volume'><source pool='p' volume='v'/></disk>`, "missing target information for device pool = 'p', volume = 'v'"],
    [`<disk type='volume'><source pool='p'/><target dev='sda'/></disk>`,
      "XML error: 'pool' and 'volume' must be specified together for 'pool' type source"],
    [`<disk type='network'><source protocol='rbd' name='x'/><target dev='vda'/></disk>`,
      "unsupported configuration: Can't setup disk for non-block device"],
    [`<disk type='floppy'><source dev='/dev/a'/><target dev='sda'/></disk>`,
      "XML error: Invalid value for attribute 'type' in element 'disk': 'floppy'."],
    [blockDisk('/dev/a', 'sda', " bus='fdc'"), "internal error: Invalid bus type 'fdc' for disk"],
    [blockDisk('/dev/a', 'sda', " tray='open'"), 'unsupported configuration: tray is only valid for cdrom and floppy'],
    [`<disk type='block' model='virtio'><source dev='/dev/a'/><target dev='sda'/></disk>`,
      "unsupported configuration: disk model 'virtio' not supported for bus 'scsi'"],
    [`<disk type='block'><driver rerror_policy='enospace'/><source dev='/dev/a'/><target dev='sda'/></disk>`,
      "unsupported configuration: Invalid disk read error policy: 'enospace'"],
    [`<disk type='block'><driver type='vhdx'/><source dev='/dev/a'/><target dev='sda'/></disk>`,
      "unsupported configuration: unknown driver format value 'vhdx'"],
    [`<disk type='block'><source dev='/dev/a'/><target dev='sda'/><wwn>0x123</wwn></disk>`,
      'internal error: Malformed wwn: 0x123'],
    [`<disk type='block'><source dev='/dev/a'/><target dev='sda'/><vendor>ABCDEFGHI</vendor></disk>`,
      'unsupported configuration: disk vendor is more than 8 characters'],
    [`<disk type='block'><source dev='/dev/a' startupPolicy='requisite'/><target dev='sda'/></disk>`,
      "XML error: disk startupPolicy 'requisite' is allowed only for cdrom or floppy"],
    [blockDisk('/dev/a', 'sda') + `<disk type='block'><source dev='/dev/b'/><target dev='sdb'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>`,
      "unsupported configuration: Found duplicate drive address for disk with target name 'sda' controller='0' bus='0' target='0' unit='0'"],
  ])('rejects %s', (devices, message) => {
    expect(errorOf(devices)).toBe(message);
  });
});

describe('<controller>', () => {
  it('gives unindexed controllers the lowest free index of their type', () => {
    const d = parse(`<controller type='scsi' index='0'/><controller type='scsi'/><controller type='usb'/>`);
    expect(d.controllers.map((c) => `${c.type}${c.index}`)).toEqual(['scsi0', 'scsi1', 'usb0']);
  });

  it('defaults a missing type to ide', () => {
    expect(parse(`<controller index='0'/>`).controllers[0]!.type).toBe('ide');
  });

  it('puts USB 2 companions on their master index with a default start port', () => {
    const out = formatDevices(
      `<controller type='usb' index='1' model='ich9-ehci1'/><controller type='usb' model='ich9-uhci1'/>` +
        `<controller type='usb' model='ich9-uhci2'/>`,
    );
    expect(out).toBe(
      [
        "<controller type='usb' index='1' model='ich9-ehci1'/>",
        "<controller type='usb' index='1' model='ich9-uhci1'>",
        "<master startport='0'/>",
        '</controller>',
        "<controller type='usb' index='1' model='ich9-uhci2'>",
        "<master startport='2'/>",
        '</controller>',
      ].join('\n'),
    );
  });

  it('keeps ports, vectors and driver tunables', () => {
    const out = formatDevices(
      `<controller type='virtio-serial' index='0' ports='16' vectors='4'><driver queues='0' iothread='2' ioeventfd='on'/></controller>`,
    );
    expect(out).toContain(
      "<controller type='virtio-serial' index='0' ports='16' vectors='4'>\n<driver ioeventfd='on' iothread='2'/>",
    );
  });

  it('reports whether USB is disabled', () => {
    expect(isUsbDisabled(parse(`<controller type='usb' model='none'/>`).controllers)).toBe(true);
    expect(isUsbDisabled(parse(`<controller type='usb' model='qemu-xhci'/>`).controllers)).toBe(false);
  });

  it.each([
    [`<controller type='scsi' index='0'/><controller type='scsi' index='0'/>`,
      "XML error: Multiple 'scsi' controllers with index '0'"],
    [`<controller type='usb' model='none'/><controller type='usb' index='1'/>`,
      "Can't add another USB controller: USB is disabled for this domain"],
    [`<controller type='usb' index='0'/><controller type='usb' model='none'/>`,
      "Can't add another USB controller: USB is disabled for this domain"],
    [`<controller type='sata' model='ahci'/>`, "unsupported configuration: Unknown model type 'ahci'"],
    [`<controller type='ide' index='-1'/>`,
      "XML error: Invalid value for attribute 'index' in element 'controller': '-1'. Expected non-negative value"],
    [`<controller type='floppy'/>`, "XML error: Invalid value for attribute 'type' in element 'controller': 'floppy'."],
  ])('rejects %s', (devices, message) => {
    expect(errorOf(devices)).toBe(message);
  });

  it('ensureController adds a missing controller once, in index order', () => {
    const devices = parse(`<controller type='virtio-serial' index='2'/>`) as StorageDevices;
    ensureController(devices, 'virtio-serial', 0);
    ensureController(devices, 'virtio-serial', 0);
    ensureController(devices, 'virtio-serial', -1);
    expect(devices.controllers.map((c) => c.index)).toEqual([0, 1, 2]);
  });
});

describe('<filesystem>', () => {
  it('reads ram usage in bytes and prints it truncated to KiB', () => {
    const d = parse(`<filesystem type='ram'><source usage=' +3' units='MB'/><target dir='/t'/></filesystem>`);
    expect(d.filesystems[0]!.usageBytes).toBe(3_000_000n);
    expect(formatDevices(`<filesystem type='ram'><source usage='3' units='MB'/><target dir='/t'/></filesystem>`)).toContain(
      "<source usage='2929' units='KiB'/>",
    );
  });

  it('stores octal permission bits and space limits in bytes', () => {
    const out = formatDevices(
      `<filesystem type='mount' fmode='600' dmode='0700'><source dir='/s'/><target dir='/t'/>` +
        `<space_soft_limit unit='KB'>2</space_soft_limit><space_hard_limit>0</space_hard_limit></filesystem>`,
    );
    expect(out).toContain("<filesystem type='mount' accessmode='passthrough' fmode='0600' dmode='0700'>");
    expect(out).toContain("<space_soft_limit unit='bytes'>2000</space_soft_limit>");
    expect(out).not.toContain('space_hard_limit');
  });

  it('keeps a driver format in the model although libvirt prints no <driver> without a type', () => {
    const xml = `<filesystem type='file'><driver format='qcow2' wrpolicy='immediate'/><source file='/i'/><target dir='/t'/></filesystem>`;
    expect(parse(xml).filesystems[0]!.driver).toEqual({ type: undefined, format: 'qcow2', writePolicy: 'immediate' });
    expect(formatDevices(xml)).not.toContain('<driver');
  });

  it('accepts accessmode default as passthrough and leaves a socket source without one', () => {
    expect(parse(`<filesystem accessmode='default'><source dir='/s'/><target dir='/t'/></filesystem>`).filesystems[0]!.accessMode)
      .toBe('passthrough');
    const out = formatDevices(`<filesystem type='mount'><driver type='virtiofs'/><source socket='/run/s.sock'/><target dir='/t'/></filesystem>`);
    expect(out).toContain("<filesystem type='mount'>\n<driver type='virtiofs'/>\n<source socket='/run/s.sock'/>");
  });

  it('prints no source for a volume filesystem that names none', () => {
    expect(formatDevices(`<filesystem type='volume'><target dir='/t'/></filesystem>`)).toBe(
      "<filesystem type='volume' accessmode='passthrough'>\n<target dir='/t'/>\n</filesystem>",
    );
  });

  it.each([
    [`<filesystem type='ram'><source usage='-1'/><target dir='/t'/></filesystem>`,
      'numerical overflow: value too large: 18446744073709551615'],
    [`<filesystem type='ram'><source usage='1k'/><target dir='/t'/></filesystem>`,
      "XML error: cannot parse usage '1k' for RAM filesystem"],
    [`<filesystem fmode='0800'><source dir='/s'/><target dir='/t'/></filesystem>`,
      "XML error: Invalid value for attribute 'fmode' in element 'filesystem': '0800'. Expected non-negative integer value"],
    [`<filesystem dmode='1777'><source dir='/s'/><target dir='/t'/></filesystem>`, "XML error: invalid dmode: '01777'"],
    [`<filesystem><source dir='/s'/><target dir='/t'/><space_hard_limit>-5</space_hard_limit></filesystem>`,
      "XML error: Invalid value '-5' for element or attribute './space_hard_limit[1]'"],
    [`<filesystem><driver format='none'/><source dir='/s'/><target dir='/t'/></filesystem>`,
      "unsupported configuration: unknown driver format value 'none'"],
    [`<filesystem model='default'><source dir='/s'/><target dir='/t'/></filesystem>`,
      "XML error: Invalid value for attribute 'model' in element 'filesystem': 'default'."],
    [`<filesystem type='block'><source dir='/s'/><target dir='/t'/></filesystem>`, 'missing source information for device /t'],
    [`<filesystem type='ram'><source usage='1'/></filesystem>`, 'missing target information'],
    [`<filesystem><source dir='/s'/><target dir='/t'/><boot order='1'/></filesystem>`,
      'unsupported configuration: boot order is only supported for virtiofs'],
  ])('rejects %s', (devices, message) => {
    expect(errorOf(devices)).toBe(message);
  });
});

describe('<hostdev>', () => {
  it('prints USB ids as four hex digits and the host address', () => {
    const out = formatDevices(
      `<hostdev mode='subsystem' type='usb' managed='maybe'><source><vendor id='1133'/><product id='0x0A'/><address bus='0x2' device='3'/></source></hostdev>`,
    );
    expect(out).toBe(
      [
        "<hostdev mode='subsystem' type='usb' managed='no'>",
        '<source>',
        "<vendor id='0x046d'/>",
        "<product id='0x000a'/>",
        "<address bus='2' device='3'/>",
        '</source>',
        '</hostdev>',
      ].join('\n'),
    );
  });

  it('keeps the PCI host driver and prints a zero address when none is given', () => {
    const out = formatDevices(`<hostdev type='pci'><driver name='vfio'/><source/></hostdev>`);
    expect(out).toContain(
      "<hostdev mode='subsystem' type='pci' managed='no'>\n<driver name='vfio'/>\n<source>\n<address domain='0x0000' bus='0x00' slot='0x00' function='0x0'/>",
    );
  });

  it('exposes what the runtime needs', () => {
    const d = parse(
      `<hostdev mode='capabilities' type='net'><source><interface>eth3</interface></source><ip address='10.0.0.2' prefix='24'/></hostdev>` +
        `<hostdev mode='capabilities' type='storage'><source><block>/dev/sdx</block></source></hostdev>`,
    );
    expect(d.hostdevs[0]).toMatchObject({ mode: 'capabilities', type: 'net', interfaceName: 'eth3' });
    expect(d.hostdevs[0]!.type === 'net' && d.hostdevs[0]!.ip.ips).toEqual([{ address: '10.0.0.2', family: 'ipv4', prefix: 24 }]);
    expect(d.hostdevs[1]).toMatchObject({ type: 'storage', blockDevice: '/dev/sdx' });
  });

  it.each([
    [`<hostdev mode='capabilities' type='misc'><source><char></char></source></hostdev>`,
      'XML error: Missing <char> element in hostdev character device'],
    [`<hostdev mode='capabilities' type='net'/>`, 'XML error: Missing <source> element in hostdev device'],
    [`<hostdev mode='capabilities'><source/></hostdev>`, 'XML error: missing source address type'],
    [`<hostdev mode='passthrough' type='usb'><source/></hostdev>`, "unsupported configuration: unknown hostdev mode 'passthrough'"],
    [`<hostdev type='firewire'><source/></hostdev>`, "XML error: unknown host device source address type 'firewire'"],
    [`<hostdev type='scsi'><source><adapter name='scsi_host0'/></source></hostdev>`,
      'unsupported configuration: Unsupported hostdev type scsi'],
    [`<hostdev type='pci'><source startupPolicy='optional'/></hostdev>`,
      'XML error: Setting startupPolicy is only allowed for USB devices'],
    [`<hostdev type='usb'><source><vendor id='0x1'/></source></hostdev>`, 'internal error: missing product'],
    [`<hostdev type='usb'><source><vendor/></source></hostdev>`, 'internal error: usb vendor needs id'],
    [`<hostdev type='usb'><source startupPolicy='default'/></hostdev>`, "unsupported configuration: Unknown startup policy 'default'"],
    [`<hostdev type='pci'><driver name='default'/><source/></hostdev>`,
      "unsupported configuration: Unknown PCI device <driver name='default'/> has been specified"],
    [`<hostdev type='pci'><source><address bus='0x100'/></source></hostdev>`,
      "XML error: Invalid PCI address bus='0x100', must be <= 0xFF"],
    [`<hostdev type='usb'><source><address bus='1' device='2'/></source><address type='drive'/></hostdev>`,
      "unsupported configuration: USB host device must use 'usb' address type"],
  ])('rejects %s', (devices, message) => {
    expect(errorOf(devices)).toBe(message);
  });
});

describe('<lease>', () => {
  it('round-trips a lease and drops a zero offset', () => {
    const out = formatDevices(
      `<lease><key>k1</key><lockspace>ls</lockspace><target path='/l' offset='0'/></lease>` +
        `<lease><key>k2</key><target path='/l' offset='1024'/></lease>`,
    );
    expect(out).toBe(
      [
        '<lease>', '<lockspace>ls</lockspace>', '<key>k1</key>', "<target path='/l'/>", '</lease>',
        '<lease>', '<key>k2</key>', "<target path='/l' offset='1024'/>", '</lease>',
      ].join('\n'),
    );
  });

  it.each([
    [`<lease><target path='/l'/></lease>`, "XML error: Missing 'key' element for lease"],
    [`<lease><key>k</key><target/></lease>`, "XML error: Missing 'target' element for lease"],
    [`<lease><key>k</key><target path='/l' offset='x'/></lease>`, 'XML error: Malformed lease target offset x'],
  ])('rejects %s', (devices, message) => {
    expect(errorOf(devices)).toBe(message);
  });
});

describe('strtoull wrapping', () => {
  it('wraps a negative value modulo 2^64 as virStrToLong_ull does', () => {
    expect(parseULongLongWrapping('-1')).toBe((1n << 64n) - 1n);
    expect(parseULongLongWrapping(' -0')).toBe(0n);
    expect(parseULongLongWrapping('+42')).toBe(42n);
    expect(parseULongLongWrapping('18446744073709551616')).toBeUndefined();
    expect(parseULongLongWrapping('4x')).toBeUndefined();
  });
});
