/**
 * OS/init, idmap, features, clock, lifecycle, seclabel, sysinfo,
 * lxc:namespace and the general elements: parse, defaults, errors and
 * canonical output, checked against libvirt 9.0's behaviour.
 */
import { describe, expect, it } from 'vitest';
import { parseDomainXML } from '../src/xml/parse.js';
import { formatDomainXML } from '../src/xml/format.js';
import { defaultContext, type ParseContext } from '../src/xml/context.js';
import { parseUInt32 } from '../src/xml/sections/os.js';
import { parseUUID } from '../src/xml/sections/general.js';

const ctx = defaultContext({ hostArch: 'x86_64', random: (n) => new Uint8Array(n).fill(0xab) });

interface DomainParts {
  /** Replaces the default <os>. */
  os?: string;
  /** Extra top-level elements. */
  body?: string;
  rootAttrs?: string;
}

const domain = ({ os, body = '', rootAttrs = "type='lxc'" }: DomainParts = {}): string => `<domain ${rootAttrs}>
  <name>t</name>
  <uuid>00000000-0000-4000-8000-000000000001</uuid>
  <memory>65536</memory>
  ${os ?? '<os><type>exe</type><init>/bin/sh</init></os>'}
  ${body}
</domain>`;

const parse = (parts: DomainParts = {}, c: ParseContext = ctx) => parseDomainXML(domain(parts), c);
const format = (parts: DomainParts = {}, c: ParseContext = ctx) => formatDomainXML(parse(parts, c), { inactive: true });
const errorOf = (parts: DomainParts, c: ParseContext = ctx): string => {
  try {
    parse(parts, c);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected the definition to be rejected');
};

/** The lines of the formatted domain between two markers, inclusive. */
function section(xml: string, from: string, to: string): string {
  const start = xml.indexOf(from);
  const end = xml.indexOf(to, start);
  expect(start, `${from} in output`).toBeGreaterThanOrEqual(0);
  return xml.slice(start, end + to.length);
}

describe('os', () => {
  it('fills in the host arch and prints init options in canonical order', () => {
    const os = `<os><cmdline>ro</cmdline><initgroup>g</initgroup><inituser>u</inituser><initdir>/d</initdir>
      <initenv name='A'>1</initenv><initarg>x</initarg><initarg>y</initarg><init>/sbin/init</init><type>exe</type></os>`;
    expect(section(format({ os }), '<os>', '</os>')).toBe(`<os>
    <type arch='x86_64'>exe</type>
    <init>/sbin/init</init>
    <initarg>x</initarg>
    <initarg>y</initarg>
    <initenv name='A'>1</initenv>
    <initdir>/d</initdir>
    <inituser>u</inituser>
    <initgroup>g</initgroup>
    <cmdline>ro</cmdline>
  </os>`);
  });

  it('accepts the 32-bit companion arch and keeps machine', () => {
    expect(format({ os: "<os><type arch='i686' machine='pc'>exe</type><init>/bin/sh</init></os>" })).toContain(
      "<type arch='i686' machine='pc'>exe</type>",
    );
  });

  it('rejects what the LXC capabilities do not list, naming what was asked for', () => {
    expect(errorOf({ os: "<os><type arch='aarch64'>exe</type><init>/i</init></os>" })).toBe(
      'invalid argument: could not find capabilities for ostype=exe arch=aarch64 domaintype=lxc ',
    );
    expect(errorOf({ os: '<os><type>hvm</type></os>' })).toBe(
      'invalid argument: could not find capabilities for arch=x86_64 domaintype=lxc ',
    );
    expect(errorOf({ os: '<os><type>linux</type></os>' })).toBe(
      'invalid argument: could not find capabilities for ostype=linux arch=x86_64 domaintype=lxc ',
    );
    expect(errorOf({ rootAttrs: "type='kvm'" })).toBe(
      'invalid argument: could not find capabilities for ostype=exe arch=x86_64 domaintype=kvm ',
    );
    expect(errorOf({ os: '', body: '<bootloader>/usr/bin/pygrub</bootloader>' })).toBe(
      'invalid argument: could not find capabilities for ostype=xen arch=x86_64 domaintype=lxc ',
    );
  });

  it('reports unknown os types and architectures', () => {
    expect(errorOf({ os: '<os><type>exe2</type></os>' })).toBe("unsupported configuration: unknown OS type 'exe2'");
    expect(errorOf({ os: "<os><type arch='z80'>exe</type></os>" })).toBe(
      'unsupported configuration: Unknown architecture z80',
    );
    expect(errorOf({ os: '<os><init>/bin/sh</init></os>' })).toBe('XML error: an os <type> must be specified');
  });

  it('needs an init before any other post-parse check', () => {
    const xml = "<domain type='lxc'><name>t</name><os><type>exe</type><init></init></os></domain>";
    expect(() => parseDomainXML(xml, ctx)).toThrow('XML error: init binary must be specified');
  });

  it('reads initarg and initenv values from their first child node', () => {
    const os = "<os><type>exe</type><init>/i</init><initarg> a<!--c-->b</initarg><initenv name='E'><![CDATA[<v>]]></initenv></os>";
    const def = parse({ os });
    expect(def.os.initArgs).toEqual([' a']);
    expect(def.os.initEnv).toEqual([{ name: 'E', value: '<v>' }]);
  });

  it('rejects empty initarg and initenv entries', () => {
    const os = (extra: string) => `<os><type>exe</type><init>/i</init>${extra}</os>`;
    expect(errorOf({ os: os('<initarg/>') })).toBe('XML error: No data supplied for <initarg> element');
    expect(errorOf({ os: os('<initenv>v</initenv>') })).toBe('XML error: No name supplied for <initenv> element');
    expect(errorOf({ os: os("<initenv name='X'/>") })).toBe(
      "XML error: No value supplied for <initenv name='X'> element",
    );
  });

  it('takes single values from the first <os> and collects initargs from all of them', () => {
    const os = '<os><type>exe</type><init>/a</init><initarg>1</initarg></os><os><init>/b</init><initarg>2</initarg></os>';
    const def = parse({ os });
    expect(def.os.init).toBe('/a');
    expect(def.os.initArgs).toEqual(['1', '2']);
  });

  it('escapes inituser, initgroup and initenv, unlike libvirt', () => {
    const os = "<os><type>exe</type><init>/i</init><initenv name='a&amp;b'>&lt;x&gt;</initenv><inituser>u&amp;</inituser></os>";
    const xml = format({ os });
    expect(xml).toContain("<initenv name='a&amp;b'>&lt;x&gt;</initenv>");
    expect(xml).toContain('<inituser>u&amp;</inituser>');
  });
});

describe('idmap', () => {
  const idmap = (entries: string) => ({ body: `<idmap>${entries}</idmap>` });

  it('sorts each map by start, keeping the input order of equal starts', () => {
    const def = parse(
      idmap(`<gid start='10' target='2' count='1'/><uid start='5' target='9' count='1'/>
             <uid start='0' target='1' count='5'/><uid start='5' target='7' count='1'/><gid start='0' target='3' count='10'/>`),
    );
    expect(def.idmap?.uid.map((e) => e.target)).toEqual([1, 9, 7]);
    expect(def.idmap?.gid.map((e) => e.start)).toEqual([0, 10]);
  });

  it('prints uid entries, then gid entries', () => {
    const xml = format(idmap("<gid start='0' target='5' count='1'/><uid start='0' target='4' count='1'/>"));
    expect(section(xml, '<idmap>', '</idmap>')).toBe(`<idmap>
    <uid start='0' target='4' count='1'/>
    <gid start='0' target='5' count='1'/>
  </idmap>`);
  });

  it('validates that both maps exist and map root', () => {
    expect(errorOf(idmap("<uid start='0' target='1' count='1'/>"))).toBe(
      'unsupported configuration: uid and gid should be mapped both',
    );
    expect(errorOf(idmap("<uid start='1' target='1' count='1'/><gid start='0' target='1' count='1'/>"))).toBe(
      'unsupported configuration: You must map the root user of container',
    );
    expect(errorOf(idmap("<uid start='0' target='x' count='1'/><gid start='0' target='1' count='1'/>"))).toBe(
      'XML error: invalid idmap start/target/count settings',
    );
  });

  it('reads numbers as virStrToLong_ui does', () => {
    expect(parseUInt32(' +42')).toBe(42);
    expect(parseUInt32('-1')).toBe(4294967295);
    expect(parseUInt32('4294967296')).toBeUndefined();
    expect(parseUInt32('0x10')).toBeUndefined();
    expect(parseUInt32('')).toBeUndefined();
  });
});

describe('features', () => {
  const features = (inner: string) => ({ body: `<features>${inner}</features>` });

  it('prints features in libvirt order with explicit tristate states', () => {
    const xml = format(features("<privnet/><hap/><pae/><apic eoi='on'/><acpi/><pmu state='off'/>"));
    expect(section(xml, '<features>', '</features>')).toBe(`<features>
    <acpi/>
    <apic eoi='on'/>
    <pae/>
    <hap state='on'/>
    <privnet/>
    <pmu state='off'/>
  </features>`);
  });

  it('drops <features> when nothing in it prints', () => {
    expect(format(features("<capabilities policy='default'/>"))).not.toContain('<features');
    expect(format(features('<ioapic/>'))).not.toContain('<features');
  });

  it('orders capabilities by libvirt enum, state omitted meaning on', () => {
    const xml = format(features("<capabilities><sys_time state='off'/><chown/></capabilities>"));
    expect(section(xml, '<capabilities', '</capabilities>')).toBe(`<capabilities policy='default'>
      <chown state='on'/>
      <sys_time state='off'/>
    </capabilities>`);
  });

  it('merges repeated <features> and <capabilities> elements', () => {
    const def = parse({
      body: "<features><capabilities policy='deny'><kill/></capabilities></features><features><capabilities><mknod state='off'/></capabilities></features>",
    });
    expect(def.features.capabilities).toEqual({ policy: 'default', capabilities: { kill: 'on', mknod: 'off' } });
  });

  it('rejects unknown features, capabilities and values', () => {
    expect(errorOf(features('<warp/>'))).toBe("unsupported configuration: unexpected feature 'warp'");
    expect(errorOf(features('<capabilities><fly/></capabilities>'))).toBe(
      "unsupported configuration: unexpected capability feature 'fly'",
    );
    expect(errorOf(features("<capabilities policy='some'/>"))).toBe(
      "XML error: Invalid value for attribute 'policy' in element 'capabilities': 'some'.",
    );
    expect(errorOf(features("<hap state='absent'/>"))).toBe(
      "XML error: Invalid value for attribute 'state' in element 'hap': 'absent'.",
    );
    expect(errorOf(features('<htm/>'))).toBe("XML error: Missing required attribute 'state' in element 'htm'");
  });

  it('keeps VM-only features: hyperv, kvm, smm, msrs', () => {
    const xml = format(
      features(`<smm state='on'><tseg unit='MiB'>48</tseg></smm><kvm/><msrs unknown='fault'/>
        <hyperv><spinlocks state='on' retries='0x1fff'/><relaxed state='off'/></hyperv>`),
    );
    expect(section(xml, '<features>', '</features>')).toBe(`<features>
    <hyperv mode='custom'>
      <relaxed state='off'/>
      <spinlocks state='on' retries='8191'/>
    </hyperv>
    <kvm>
    </kvm>
    <smm state='on'>
      <tseg unit='MiB'>48</tseg>
    </smm>
    <msrs unknown='fault'/>
  </features>`);
    expect(errorOf(features("<hyperv><spinlocks state='on' retries='100'/></hyperv>"))).toBe(
      'XML error: HyperV spinlock retry count must be at least 4095',
    );
  });
});

describe('clock', () => {
  it('prints utc by default and keeps timezone and reset adjustments', () => {
    expect(format()).toContain("<clock offset='utc'/>");
    expect(format({ body: "<clock offset='timezone' timezone='UTC+1'/>" })).toContain(
      "<clock offset='timezone' timezone='UTC+1'/>",
    );
    expect(format({ body: "<clock offset='localtime' adjustment='reset'/>" })).toContain(
      "<clock offset='localtime' adjustment='reset'/>",
    );
  });

  it('turns a numeric utc/localtime adjustment into a variable offset', () => {
    expect(format({ body: "<clock offset='localtime' adjustment='-30'/>" })).toContain(
      "<clock offset='variable' adjustment='-30' basis='localtime'/>",
    );
    expect(format({ body: "<clock offset='variable' adjustment='junk'/>" })).toContain(
      "<clock offset='variable' adjustment='0' basis='utc'/>",
    );
  });

  it('reports bad offsets, adjustments and timers', () => {
    expect(errorOf({ body: "<clock offset='mars'/>" })).toBe("unsupported configuration: unknown clock offset 'mars'");
    expect(errorOf({ body: "<clock offset='utc' adjustment='soon'/>" })).toBe(
      "XML error: unknown clock adjustment 'soon'",
    );
    expect(errorOf({ body: "<clock offset='timezone'/>" })).toBe(
      "internal error: missing 'timezone' attribute for clock with offset='timezone'",
    );
    expect(errorOf({ body: '<clock><timer/></clock>' })).toBe(
      "XML error: Missing required attribute 'name' in element 'timer'",
    );
    expect(errorOf({ body: "<clock><timer name='rtc' mode='native'/></clock>" })).toBe(
      "unsupported configuration: timer rtc doesn't support setting of timer mode",
    );
    expect(errorOf({ body: "<clock><timer name='kvmclock' tickpolicy='delay'/></clock>" })).toBe(
      "unsupported configuration: timer kvmclock doesn't support setting of timer tickpolicy",
    );
  });

  it('prints timer attributes in libvirt order, tsc settings only for tsc', () => {
    const body = `<clock offset='localtime'><timer tickpolicy='catchup' name='rtc' track='guest' present='yes'>
      <catchup threshold='10' slew='0'/></timer><timer mode='auto' frequency='100' name='tsc'/></clock>`;
    expect(section(format({ body }), '<clock', '</clock>')).toBe(`<clock offset='localtime'>
    <timer name='rtc' present='yes' tickpolicy='catchup' track='guest'>
      <catchup threshold='10'/>
    </timer>
    <timer name='tsc' frequency='100' mode='auto'/>
  </clock>`);
  });
});

describe('lifecycle, pm, perf', () => {
  it('defaults to destroy/restart/destroy and drops a default lock failure action', () => {
    const xml = format({ body: '<on_lockfailure>default</on_lockfailure><on_crash></on_crash>' });
    expect(xml).toContain(
      '<on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n  <devices>',
    );
  });

  it('rejects unknown actions and coredump outside crash', () => {
    expect(errorOf({ body: '<on_reboot>explode</on_reboot>' })).toBe(
      'unsupported configuration: unknown on_reboot action: explode',
    );
    expect(errorOf({ body: '<on_reboot>coredump-destroy</on_reboot>' })).toBe(
      "unsupported configuration: Lifecycle event 'reboot' doesn't support 'coredump-destroy' action",
    );
  });

  it('prints pm and perf events in libvirt order', () => {
    const body = `<pm><suspend-to-disk enabled='yes'/><suspend-to-mem enabled='no'/></pm>
      <perf><event name='instructions' enabled='no'/><event name='cmt' enabled='yes'/></perf>`;
    expect(section(format({ body }), '<pm>', '</perf>')).toBe(`<pm>
    <suspend-to-mem enabled='no'/>
    <suspend-to-disk enabled='yes'/>
  </pm>
  <perf>
    <event name='cmt' enabled='yes'/>
    <event name='instructions' enabled='no'/>
  </perf>`);
    expect(errorOf({ body: "<perf><event name='cmt' enabled='yes'/><event name='cmt' enabled='no'/></perf>" })).toBe(
      "unsupported configuration: perf event 'cmt' was already specified",
    );
  });
});

describe('seclabel', () => {
  const seclabel = (attrs: string, inner = '') => ({ body: `<seclabel ${attrs}>${inner}</seclabel>` });

  it('gives a lone label without model the host model; model none forces type none', () => {
    expect(format(seclabel("type='dynamic'"))).toContain("<seclabel type='none' model='none'/>");
    const selinuxHost = defaultContext({ ...ctx, securityModel: 'selinux' });
    expect(format(seclabel("type='dynamic'"), selinuxHost)).toContain(
      "<seclabel type='dynamic' model='selinux' relabel='yes'/>",
    );
    expect(format(seclabel("type='none'"), defaultContext({ ...ctx, securityModel: '' }))).toContain(
      "<seclabel type='none'/>",
    );
  });

  it('keeps static labels and their label text', () => {
    expect(format(seclabel("type='static' model='selinux'", '<label>system_u:r:t:s0</label>'))).toContain(
      "<seclabel type='static' model='selinux' relabel='no'>\n    <label>system_u:r:t:s0</label>\n  </seclabel>",
    );
  });

  it('reports libvirt seclabel errors', () => {
    expect(errorOf(seclabel("type='default'"))).toBe(
      "XML error: Invalid value for attribute 'type' in element 'seclabel': 'default'.",
    );
    expect(errorOf(seclabel("type='dynamic' relabel='no' model='selinux'"))).toBe(
      'XML error: dynamic label type must use resource relabeling',
    );
    expect(errorOf(seclabel("type='static' model='selinux'"))).toBe('XML error: security label is missing');
    expect(errorOf({ body: "<seclabel model='a'/><seclabel model='a'/>" })).toBe(
      'seclabel for model a is already provided',
    );
    expect(errorOf({ body: "<seclabel model='a'/><seclabel type='none'/>" })).toBe(
      'XML error: missing security model when using multiple labels',
    );
  });
});

describe('sysinfo, keywrap, launchSecurity', () => {
  it('keeps SMBIOS entries in libvirt order and drops empty blocks', () => {
    const body = `<sysinfo type='smbios'><system><entry name='family'>f</entry><entry name='manufacturer'>m</entry></system>
      <bios/><oemStrings><entry>o1</entry></oemStrings></sysinfo>`;
    expect(section(format({ body }), '<sysinfo', '</sysinfo>')).toBe(`<sysinfo type='smbios'>
    <system>
      <entry name='manufacturer'>m</entry>
      <entry name='family'>f</entry>
    </system>
    <oemStrings>
      <entry>o1</entry>
    </oemStrings>
  </sysinfo>`);
  });

  it('uses the SMBIOS uuid for a domain without one, and rejects a mismatch', () => {
    const sysinfo = "<sysinfo type='smbios'><system><entry name='uuid'>AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE</entry></system></sysinfo>";
    const xml = `<domain type='lxc'><name>t</name><memory>1024</memory><os><type>exe</type><init>/i</init></os>${sysinfo}</domain>`;
    expect(parseDomainXML(xml, ctx).uuid).toBe('aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee');
    expect(errorOf({ body: sysinfo })).toBe('UUID mismatch between <uuid> and <sysinfo>');
  });

  it('checks the BIOS date format', () => {
    expect(errorOf({ body: "<sysinfo type='smbios'><bios><entry name='date'>13/01/2020</entry></bios></sysinfo>" })).toBe(
      "Invalid BIOS 'date' format",
    );
  });

  it('keeps fw_cfg entries, keywrap ciphers and launchSecurity', () => {
    const body = `<sysinfo type='fwcfg'><entry name='opt/a' file='/f'/><entry name='opt/b'>v</entry></sysinfo>
      <keywrap><cipher name='dea' state='off'/><cipher name='aes'/></keywrap>
      <launchSecurity type='sev'><policy>0x3</policy><cbitpos>47</cbitpos></launchSecurity>`;
    const xml = format({ body });
    expect(xml).toContain("<entry name='opt/a' file='/f'/>\n    <entry name='opt/b'>v</entry>");
    expect(xml).toContain("<keywrap>\n    <cipher name='aes' state='on'/>\n    <cipher name='dea' state='off'/>\n  </keywrap>");
    expect(xml).toContain("<launchSecurity type='sev'>\n    <cbitpos>47</cbitpos>\n    <policy>0x0003</policy>\n  </launchSecurity>");
  });
});

describe('lxc:namespace', () => {
  const ns = (inner: string, prefix = 'lxc') => ({
    rootAttrs: `type='lxc' xmlns:${prefix}='http://libvirt.org/schemas/domain/lxc/1.0'`,
    body: `<${prefix}:namespace>${inner}</${prefix}:namespace>`,
  });

  it('prints entries as sharenet, shareipc, shareuts under the lxc prefix', () => {
    const xml = format(ns("<x:shareuts type='pid' value='1'/><x:sharenet type='name' value='c'/>", 'x'));
    expect(xml.startsWith("<domain type='lxc' xmlns:lxc='http://libvirt.org/schemas/domain/lxc/1.0'>")).toBe(true);
    expect(section(xml, '<lxc:namespace>', '</lxc:namespace>')).toBe(`<lxc:namespace>
    <lxc:sharenet type='name' value='c'/>
    <lxc:shareuts type='pid' value='1'/>
  </lxc:namespace>`);
  });

  it('keeps an open/close pair when every entry has type none, and drops an empty element', () => {
    expect(format(ns("<lxc:sharenet type='none' value='x'/>"))).toContain('  <lxc:namespace>\n  </lxc:namespace>\n');
    const xml = format(ns(''));
    expect(xml).not.toContain('namespace');
    expect(xml).not.toContain('xmlns:lxc');
  });

  it('reports libvirt namespace errors', () => {
    expect(errorOf(ns("<lxc:sharepid type='pid' value='1'/>"))).toBe(
      'unsupported configuration: unsupported Namespace feature: sharepid',
    );
    expect(errorOf(ns("<lxc:sharenet type='file' value='1'/>"))).toBe(
      "internal error: Unknown LXC namespace source 'file'",
    );
    expect(errorOf(ns("<lxc:sharenet type='none'/>"))).toBe('internal error: No lxc environment type specified');
  });
});

describe('general', () => {
  it('generates a genid for an empty <genid> and rejects a second one', () => {
    expect(format({ body: '<genid/>' })).toContain('<genid>abababab-abab-4bab-abab-abababababab</genid>');
    expect(errorOf({ body: '<genid/><genid/>' })).toBe("XML error: element 'genid' can only appear once");
    expect(errorOf({ body: '<genid>nope</genid>' })).toBe('internal error: malformed genid element');
  });

  it('keeps only the first metadata element per namespace', () => {
    const body = `<metadata><a:x xmlns:a='urn:a'>1</a:x><plain/><a:y xmlns:a='urn:a'/><b:z xmlns:b='urn:b'/></metadata>`;
    expect(section(format({ body }), '<metadata>', '</metadata>')).toBe(`<metadata>
    <a:x xmlns:a="urn:a">1</a:x>
    <b:z xmlns:b="urn:b"/>
  </metadata>`);
  });

  it('parses UUIDs as virUUIDParse does', () => {
    expect(parseUUID(' 12345678 1234-1234-12341234567890AB\n')).toBe('12345678-1234-1234-1234-1234567890ab');
    expect(parseUUID('12345678-1234-1234-1234-1234567890ab-')).toBeUndefined();
    expect(parseUUID('12345678-1234-1234-1234-1234567890a')).toBeUndefined();
    expect(parseUUID('1-2345678123412341234123456789012')).toBeUndefined();
  });

  it('rejects names with a slash or a newline', () => {
    const named = (name: string) =>
      `<domain type='lxc'><name>${name}</name><memory>1</memory><os><type>exe</type><init>/i</init></os></domain>`;
    expect(() => parseDomainXML(named('a/b'), ctx)).toThrow("XML error: name a/b cannot contain '/'");
    expect(() => parseDomainXML(named('a\nb'), ctx)).toThrow('invalid char in name: \n');
  });
});
