/**
 * Memory and CPU tunables of the domain XML: libvirt's integer and unit
 * rules, bitmaps, defaults, canonical output and error texts.
 */
import { describe, expect, it } from 'vitest';
import { parseDomainXML } from '../src/xml/parse.js';
import { formatDomainXML } from '../src/xml/format.js';
import { defaultContext } from '../src/xml/context.js';
import { VirError } from '../src/xml/errors.js';
import {
  MEMORY_UNLIMITED_KIB,
  ULLONG_MAX,
  parseInt32,
  parseMemoryKiB,
  parseMemoryLimitKiB,
  parseUInt32,
  parseUInt32Wrapping,
  parseUnsignedWrapping,
} from '../src/xml/units.js';
import { formatBitmap, parseBitmap } from '../src/xml/bitmap.js';

const ctx = defaultContext({ hostArch: 'x86_64' });

/** A minimal valid container with `extra` inserted after <uuid>; <memory> is added unless `extra` has one. */
function domain(extra: string): string {
  const memory = /<memory( unit| dumpCore|>)/.test(extra) ? '' : "<memory unit='KiB'>65536</memory>";
  return `<domain type='lxc'><name>t</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>${memory}${extra}
    <os><type>exe</type><init>/bin/sh</init></os><devices><console type='pty'/></devices></domain>`;
}

const roundTrip = (extra: string): string => formatDomainXML(parseDomainXML(domain(extra), ctx), { inactive: true });

/** The message libvirt/virsh would print for this definition. */
function rejection(extra: string): string {
  try {
    parseDomainXML(domain(extra), ctx);
  } catch (e) {
    if (e instanceof VirError) return e.message;
    throw e;
  }
  throw new Error('definition was accepted');
}

/** The formatted lines from `<name` up to (not including) the first line starting with `<until`. */
function section(xml: string, name: string, until: string): string {
  const lines = xml.split('\n');
  const start = lines.findIndex((l) => l.trimStart().startsWith(`<${name}`));
  const end = lines.findIndex((l, i) => i > start && l.trimStart().startsWith(`<${until}`));
  return lines.slice(start, end).map((l) => l.trim()).join('');
}

describe('libvirt integer parsing', () => {
  it('wraps negative values the way strtoull and virStrToLong_ui do', () => {
    expect(parseUnsignedWrapping('-1')).toBe(ULLONG_MAX);
    expect(parseUnsignedWrapping(' +7')).toBe(7n);
    expect(parseUnsignedWrapping('18446744073709551616')).toBeUndefined();
    expect(parseUInt32Wrapping('-1')).toBe(4294967295);
    expect(parseUInt32Wrapping('-4294967295')).toBe(1);
    expect(parseUInt32Wrapping('-4294967296')).toBeUndefined();
    expect(parseUInt32Wrapping('4294967296')).toBeUndefined();
  });

  it('refuses signs and trailing characters where libvirt does', () => {
    expect(parseUInt32('-0')).toBeUndefined();
    expect(parseUInt32('12 ')).toBeUndefined();
    expect(parseInt32('-2147483648')).toBe(-2147483648);
    expect(parseInt32('2147483648')).toBeUndefined();
  });
});

describe('memory sizes', () => {
  it('scales by unit and rounds bytes up to whole KiB', () => {
    expect(parseMemoryKiB('1025', 'b', './memory[1]')).toBe(2n);
    expect(parseMemoryKiB('1500', 'KB', './memory[1]')).toBe(1465n);
    expect(parseMemoryKiB('1', 'EiB', './memory[1]')).toBe(1n << 50n);
    expect(parseMemoryKiB('', 'KiB', './memory[1]')).toBeUndefined();
  });

  it('reports overflow before and after the KiB conversion like libvirt', () => {
    expect(() => parseMemoryKiB('8', 'EiB', './memory[1]')).toThrow('numerical overflow: value too large: 8EiB');
    expect(() => parseMemoryKiB('9223372036854775807', 'b', './memory[1]')).toThrow(
      'numerical overflow: size value too large',
    );
    expect(() => parseMemoryKiB('0x10', undefined, './@size')).toThrow(
      "XML error: Invalid value '0x10' for element or attribute './@size'",
    );
    expect(() => parseMemoryKiB(undefined, undefined, './@memory', true)).toThrow(
      "XML error: missing element or attribute './@memory'",
    );
  });

  it('treats the memtune maximum as unlimited and refuses anything above it', () => {
    expect(parseMemoryLimitKiB(`${MEMORY_UNLIMITED_KIB}`, 'KiB', './memtune/hard_limit[1]')).toBeUndefined();
    expect(parseMemoryLimitKiB('9223372036854774783', 'bytes', './memtune/hard_limit[1]')).toBeUndefined();
    expect(parseMemoryLimitKiB('9007199254740990', undefined, './memtune/hard_limit[1]')).toBe(9007199254740990n);
    expect(() => parseMemoryLimitKiB('9007199254740992', undefined, './x')).toThrow(
      'numerical overflow: value too large: 9007199254740992',
    );
  });
});

describe('CPU/node bitmaps', () => {
  it('parses ranges, exclusions and blanks into ascending members', () => {
    expect(parseBitmap('0-3,^2')).toEqual([0, 1, 3]);
    expect(parseBitmap(' 6 , 0,3 - 4,^3 ')).toEqual([0, 4, 6]);
    expect(parseBitmap('1,')).toEqual([1]);
    expect(parseBitmap('4095')).toEqual([4095]);
  });

  it('rejects what virBitmapParse rejects', () => {
    for (const bad of ['', ' ', '4096', '3-1', '^1-2', '0-a', '1,,2', '-1', '0-']) {
      expect(() => parseBitmap(bad), bad).toThrow(`invalid argument: Failed to parse bitmap '${bad}'`);
    }
  });

  it('formats runs of two or more as ranges', () => {
    expect(formatBitmap([0, 1, 2, 4, 6, 7])).toBe('0-2,4,6-7');
    expect(formatBitmap([5])).toBe('5');
    expect(formatBitmap([])).toBe('');
  });
});

describe('memory elements', () => {
  it('takes the memory size from the guest NUMA cells when <memory> is absent', () => {
    const xml = formatDomainXML(
      parseDomainXML(
        `<domain type='lxc'><name>t</name><vcpu>4</vcpu><os><type>exe</type><init>/bin/sh</init></os>
         <cpu><numa><cell id='1' cpus='2-3' memory='1' unit='MiB'/><cell id='0' cpus='0-1' memory='512'/></numa></cpu>
         </domain>`,
        ctx,
      ),
    );
    expect(xml).toContain("<memory unit='KiB'>1536</memory>");
    expect(xml).toContain("<cell id='0' cpus='0-1' memory='512' unit='KiB'/>");
    expect(xml).toContain("<cell id='1' cpus='2-3' memory='1024' unit='KiB'/>");
  });

  it('accepts <maxMemory> syntax but rejects memory hotplug on this driver', () => {
    expect(rejection("<maxMemory unit='KiB'>1524288</maxMemory>")).toBe(
      'XML error: both maximum memory size and memory slot count must be specified',
    );
    expect(rejection("<maxMemory slots='2' unit='KiB'>1024</maxMemory>")).toBe(
      'XML error: maximum memory size must be equal or greater than the actual size',
    );
    expect(rejection("<maxMemory slots='2' unit='GiB'>1</maxMemory>")).toBe(
      'unsupported configuration: memory hotplug tunables <maxMemory> are not supported by this hypervisor driver',
    );
  });

  it('rejects an invalid dumpCore switch', () => {
    expect(rejection("<memory dumpCore='maybe'>1024</memory>")).toBe(
      "XML error: Invalid value for attribute 'dumpCore' in element 'memory': 'maybe'.",
    );
  });

  it('prints memtune limits in KiB, leaving out unlimited ones and a zero min_guarantee', () => {
    const xml = roundTrip(`<memtune><swap_hard_limit unit='G'>1</swap_hard_limit><hard_limit>0</hard_limit>
      <min_guarantee>0</min_guarantee><soft_limit>9007199254740991</soft_limit></memtune>`);
    expect(section(xml, 'memtune', 'vcpu')).toBe(
      "<memtune><hard_limit unit='KiB'>0</hard_limit><swap_hard_limit unit='KiB'>1048576</swap_hard_limit></memtune>",
    );
  });

  it('names the memtune element in value errors', () => {
    expect(rejection('<memtune><min_guarantee>-5</min_guarantee></memtune>')).toBe(
      "XML error: Invalid value '-5' for element or attribute './memtune/min_guarantee[1]'",
    );
  });

  it('drops an unreadable blkio weight but keeps the devices', () => {
    const xml = roundTrip(`<blkiotune><weight>heavy</weight>
      <device><path>/dev/a</path><write_iops_sec>-1</write_iops_sec></device>
      <device><path>/dev/b</path><weight>0</weight></device></blkiotune>`);
    expect(section(xml, 'blkiotune', 'vcpu')).toBe(
      '<blkiotune><device><path>/dev/a</path><write_iops_sec>4294967295</write_iops_sec></device></blkiotune>',
    );
  });

  it('reports unreadable blkio device values and missing paths', () => {
    expect(rejection('<blkiotune><device><path>/dev/a</path><read_bytes_sec>x</read_bytes_sec></device></blkiotune>')).toBe(
      'XML error: could not parse read bytes sec x',
    );
    expect(rejection('<blkiotune><device><weight>5</weight></device></blkiotune>')).toBe(
      'XML error: missing per-device path',
    );
  });

  it('keeps memoryBacking, including a bare <hugepages/>', () => {
    const xml = roundTrip(`<memoryBacking><discard/><hugepages/><source type='memfd'/>
      <allocation mode='immediate' threads='4'/><access mode='shared'/></memoryBacking>`);
    expect(section(xml, 'memoryBacking', 'vcpu')).toBe(
      "<memoryBacking><hugepages/><source type='memfd'/><access mode='shared'/>" +
        "<allocation mode='immediate' threads='4'/><discard/></memoryBacking>",
    );
  });

  it('allows only one hugepage size without a nodeset', () => {
    expect(rejection("<memoryBacking><hugepages><page size='2048'/><page size='1' unit='G'/></hugepages></memoryBacking>")).toBe(
      'two master hugepages detected: 1048576 and 2048',
    );
    expect(rejection("<memoryBacking><source type='none'/></memoryBacking>")).toBe(
      "unsupported configuration: unknown memoryBacking/source/type 'none'",
    );
  });
});

describe('vcpu', () => {
  it('rejects a negative count clearly instead of wrapping it like libvirt', () => {
    expect(rejection('<vcpu>-1</vcpu>')).toBe("unsupported configuration: vcpu count '-1' is out of range [1, 16384]");
    expect(rejection('<vcpu>four</vcpu>')).toBe('XML error: maximum vcpus count must be an integer');
    expect(rejection('<vcpu>0</vcpu>')).toBe('internal error: CPU IDs in <numa> exceed the <vcpu> count');
  });

  it('prints cpuset canonically and current only when lower than the count', () => {
    expect(roundTrip("<vcpu current='3' cpuset='3,1-2,^2'>3</vcpu>")).toContain(
      "<vcpu placement='static' cpuset='1,3'>3</vcpu>",
    );
    expect(roundTrip("<vcpu cpuset='0-4095' current='1'>2</vcpu>")).toContain(
      "<vcpu placement='static' current='1'>2</vcpu>",
    );
  });

  it('counts NUMA cell CPUs against the vcpu count', () => {
    expect(rejection("<vcpu>2</vcpu><cpu><numa><cell cpus='0-2' memory='1'/></numa></cpu>")).toBe(
      'internal error: Number of CPUs in <numa> exceeds the <vcpu> count',
    );
    expect(rejection("<vcpu>2</vcpu><cpu><numa><cell cpus='0' memory='1'/><cell cpus='0' memory='1'/></numa></cpu>")).toBe(
      'unsupported configuration: NUMA cells 1 and 0 have overlapping vCPU ids',
    );
  });
});

describe('cputune', () => {
  it('keeps shares of 0 and wraps negative unsigned values into range errors', () => {
    expect(section(roundTrip('<cputune><shares>0</shares><period>0</period></cputune>'), 'cputune', 'os')).toBe(
      '<cputune><shares>0</shares></cputune>',
    );
    expect(rejection('<cputune><period>-1</period></cputune>')).toBe(
      "unsupported configuration: Value of cputune 'period' must be in range [1000, 1000000]",
    );
    expect(rejection('<cputune><emulator_quota>999</emulator_quota></cputune>')).toBe(
      "unsupported configuration: Value of cputune 'emulator_quota' must be in range [1000, 17592186044415]",
    );
    expect(rejection('<cputune><global_period>x</global_period></cputune>')).toBe(
      "XML error: can't parse cputune global period value",
    );
  });

  it('keeps any negative quota exactly', () => {
    expect(roundTrip('<cputune><quota>-9223372036854775807</quota></cputune>')).toContain(
      '<quota>-9223372036854775807</quota>',
    );
  });

  it('sorts pins, ignores pins of missing vCPUs and drops pins of offline ones', () => {
    const xml = roundTrip(`<vcpu current='2'>3</vcpu><cputune><vcpupin vcpu='2' cpuset='2'/>
      <vcpupin vcpu='1' cpuset='1,0'/><vcpupin vcpu='7' cpuset='0'/><vcpupin vcpu='0' cpuset='3'/></cputune>`);
    expect(section(xml, 'cputune', 'os')).toBe(
      "<cputune><vcpupin vcpu='0' cpuset='3'/><vcpupin vcpu='1' cpuset='0-1'/></cputune>",
    );
    expect(rejection("<cputune><vcpupin vcpu='0' cpuset='1'/><vcpupin vcpu='0' cpuset='2'/></cputune>")).toBe(
      "internal error: duplicate vcpupin for vcpu '0'",
    );
  });

  it('formats schedulers one thread at a time, emulator first', () => {
    const xml = roundTrip(`<vcpu>3</vcpu><iothreads>1</iothreads><cputune>
      <vcpusched vcpus='0-1' scheduler='rr' priority='5'/><iothreadsched iothreads='1' scheduler='idle'/>
      <emulatorsched scheduler='batch'/></cputune>`);
    expect(section(xml, 'cputune', 'os')).toBe(
      "<cputune><emulatorsched scheduler='batch'/><vcpusched vcpus='0' scheduler='rr' priority='5'/>" +
        "<vcpusched vcpus='1' scheduler='rr' priority='5'/><iothreadsched iothreads='1' scheduler='idle'/></cputune>",
    );
  });

  it('reports scheduler mistakes with libvirt texts', () => {
    expect(rejection("<vcpu>2</vcpu><cputune><vcpusched vcpus='0-1' scheduler='fifo' priority='1'/><vcpusched vcpus='1' scheduler='idle'/></cputune>")).toBe(
      "'vcpusched' attributes 'vcpus' must not overlap",
    );
    expect(rejection("<cputune><vcpusched vcpus='3' scheduler='idle'/></cputune>")).toBe(
      "invalid argument: vCPU '3' is not present in domain",
    );
    expect(rejection("<cputune><vcpusched vcpus='0' scheduler='fifo'/></cputune>")).toBe(
      "XML error: Missing required attribute 'priority' in element 'vcpusched'",
    );
    expect(rejection("<cputune><iothreadpin iothread='1' cpuset='0'/></cputune>")).toBe(
      "unsupported configuration: Cannot find 'iothread' : 1",
    );
  });
});

describe('cachetune and memorytune', () => {
  it('groups allocations by vCPU set and prints cache sizes in the largest exact unit', () => {
    const xml = roundTrip(`<vcpu>4</vcpu><cputune>
      <cachetune vcpus='0-1'><cache id='1' level='3' type='code' size='1536' unit='KiB'/>
        <cache id='0' level='3' type='both' size='3145728' unit='B'/><monitor level='3' vcpus='1'/></cachetune>
      <memorytune vcpus='2'><node id='0' bandwidth='50'/></memorytune>
      <memorytune vcpus='1,0'><node id='1' bandwidth='40'/><node id='0' bandwidth='60'/></memorytune>
      <cachetune vcpus='7'><cache id='0' level='2' type='data' size='1'/></cachetune></cputune>`);
    expect(section(xml, 'cputune', 'os')).toBe(
      "<cputune><cachetune vcpus='0-1'><cache id='0' level='3' type='both' size='3' unit='MiB'/>" +
        "<cache id='1' level='3' type='code' size='1536' unit='KiB'/><monitor level='3' vcpus='1'/></cachetune>" +
        "<memorytune vcpus='0-1'><node id='0' bandwidth='60'/><node id='1' bandwidth='40'/></memorytune>" +
        "<memorytune vcpus='2'><node id='0' bandwidth='50'/></memorytune></cputune>",
    );
  });

  it('rejects overlapping groups and colliding allocations', () => {
    expect(rejection("<vcpu>4</vcpu><cputune><cachetune vcpus='0-1'><cache id='0' level='3' type='both' size='1'/></cachetune>" +
      "<memorytune vcpus='1-2'><node id='0' bandwidth='5'/></memorytune></cputune>")).toBe(
      'XML error: Overlapping vcpus in resctrls',
    );
    expect(rejection("<cputune><cachetune vcpus='0'><cache id='0' level='3' type='both' size='1'/>" +
      "<cache id='0' level='3' type='code' size='1'/></cachetune></cputune>")).toBe(
      "XML error: Colliding cache allocations for cache level '3' id '0', type 'code'",
    );
    expect(rejection("<cputune><memorytune vcpus='0'><node id='0' bandwidth='101'/></memorytune></cputune>")).toBe(
      'XML error: Memory Bandwidth value exceeding 100 is invalid.',
    );
    expect(rejection("<vcpu>2</vcpu><cputune><cachetune vcpus='0'><monitor level='3' vcpus='1'/></cachetune></cputune>")).toBe(
      'invalid argument: Monitor vcpus conflicts with allocation',
    );
  });
});

describe('iothreads', () => {
  it('fills in the lowest free ids and lists them when any id was given', () => {
    expect(roundTrip('<iothreads>2</iothreads>')).toContain('<iothreads>2</iothreads>\n  <os>');
    const xml = roundTrip("<iothreads>3</iothreads><iothreadids><iothread id='2'/></iothreadids>");
    expect(section(xml, 'iothreads', 'os')).toBe(
      "<iothreads>3</iothreads><iothreadids><iothread id='2'/><iothread id='1'/><iothread id='3'/></iothreadids>",
    );
    expect(rejection("<iothreadids><iothread id='0'/></iothreadids>")).toBe(
      "XML error: Invalid value for attribute 'id' in element 'iothread': Zero is not permitted",
    );
  });
});

describe('numatune', () => {
  const cells = "<vcpu>2</vcpu><cpu><numa><cell id='0' cpus='0' memory='1'/><cell id='1' cpus='1' memory='1'/></numa></cpu>";

  it('prints memnodes by cell with their default mode', () => {
    const xml = roundTrip(`${cells}<numatune><memnode cellid='1' nodeset='2,1'/>
      <memory mode='preferred' nodeset='0'/><memnode cellid='0' mode='interleave' nodeset='0'/></numatune>`);
    expect(section(xml, 'numatune', 'os')).toBe(
      "<numatune><memory mode='preferred' nodeset='0'/><memnode cellid='0' mode='interleave' nodeset='0'/>" +
        "<memnode cellid='1' mode='strict' nodeset='1-2'/></numatune>",
    );
  });

  it('enforces the placement and memnode rules', () => {
    expect(rejection("<numatune><memory placement='static'/></numatune>")).toBe(
      "unsupported configuration: nodeset for NUMA memory tuning must be set if 'placement' is 'static'",
    );
    expect(rejection(`${cells}<numatune><memory mode='restrictive' nodeset='0'/><memnode cellid='0' nodeset='0'/></numatune>`)).toBe(
      "XML error: 'restrictive' mode is required in memnode element when mode is 'restrictive' in memory element",
    );
    expect(rejection(`${cells}<numatune><memnode cellid='2' nodeset='0'/></numatune>`)).toBe(
      "XML error: Argument 'cellid' in memnode element must correspond to existing guest's NUMA cell",
    );
  });

  it('keeps vcpu placement static when an explicit pin exists', () => {
    const xml = roundTrip("<cputune><emulatorpin cpuset='0'/></cputune><numatune><memory placement='auto'/></numatune>");
    expect(xml).toContain("<vcpu placement='static'>1</vcpu>");
    expect(xml).toContain("<memory mode='strict' placement='auto'/>");
  });
});

describe('resource and cpu', () => {
  it('keeps the partition and a Fibre Channel app id, and checks the app id', () => {
    expect(section(roundTrip("<resource><fibrechannel appid='app1'/><partition>/p</partition></resource>"), 'resource', 'os')).toBe(
      "<resource><partition>/p</partition><fibrechannel appid='app1'/></resource>",
    );
    expect(rejection(`<resource><fibrechannel appid='${'x'.repeat(129)}'/></resource>`)).toBe(
      "invalid argument: Fibre Channel 'appid' string length must be between [1, 128]",
    );
    expect(rejection('<resource><partition>/a</partition></resource><resource/>')).toBe(
      'XML error: only one resource element is supported',
    );
  });

  it('fills in guest CPU defaults', () => {
    const xml = roundTrip(`<cpu check='partial'><topology sockets='1' cores='2' threads='1'/><model>Haswell</model>
      <feature name='vmx'/><feature policy='disable' name='svm'/></cpu>`);
    expect(section(xml, 'cpu', 'clock')).toBe(
      "<cpu mode='custom' match='exact' check='partial'><model fallback='allow'>Haswell</model>" +
        "<topology sockets='1' dies='1' cores='2' threads='1'/>" +
        "<feature policy='require' name='vmx'/><feature policy='disable' name='svm'/></cpu>",
    );
  });

  it('rejects features without a model and migratable outside passthrough', () => {
    expect(rejection("<cpu><feature name='vmx'/></cpu>")).toBe(
      'XML error: Non-empty feature list specified without CPU model',
    );
    expect(rejection("<cpu mode='host-model' migratable='on'/>")).toBe(
      "unsupported configuration: Attribute migratable is only allowed for 'host-passthrough' / 'maximum' CPU mode",
    );
  });
});
