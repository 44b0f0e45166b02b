/**
 * Launch plans are pure data: built without root from a fixed description of
 * the host, and compared with golden files (test/golden/*.plan). Set
 * UPDATE_GOLDEN=1 to rewrite them after an intended change, then review the diff.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDomainXML } from '../src/xml/parse.js';
import { defaultContext } from '../src/xml/context.js';
import { VirError } from '../src/xml/errors.js';
import { buildLaunchPlan, type PlanInputs } from '../src/driver/runtime/planner.js';
import { encodeLaunchPlan } from '../src/driver/runtime/plan.js';
import { runtimeFiles } from '../src/driver/runtime/files.js';
import { driverPaths } from '../src/driver/paths.js';
import type { HostFacts } from '../src/driver/runtime/hostfacts.js';
import type { NetworkFacts } from '../src/driver/runtime/network.js';
import { capabilitiesToDrop } from '../src/driver/runtime/capabilities.js';
import { containerHostname, initEnvironment, resolveInitIdentity } from '../src/driver/runtime/init.js';
import { partitionPath } from '../src/driver/runtime/cgroups.js';
import { packageRoot } from '../src/package.js';

const GOLDEN = join(packageRoot(), 'test', 'golden');
const paths = driverPaths({ root: '/' });

/** A hybrid host like the CI machines: v1 controllers plus a controller-less cgroup2. */
const HYBRID_HOST: HostFacts = {
  cgroupMounts: [
    { mountPoint: '/sys/fs/cgroup/cpu', version: 1, options: 'cpu' },
    { mountPoint: '/sys/fs/cgroup/cpuset', version: 1, options: 'cpuset' },
    { mountPoint: '/sys/fs/cgroup/memory', version: 1, options: 'memory' },
    { mountPoint: '/sys/fs/cgroup/devices', version: 1, options: 'devices' },
    { mountPoint: '/sys/fs/cgroup/blkio', version: 1, options: 'blkio' },
    { mountPoint: '/sys/fs/cgroup/systemd', version: 1, options: 'name=systemd' },
    { mountPoint: '/sys/fs/cgroup/unified', version: 2, options: '' },
  ],
  mountPoints: ['/proc', '/sys', '/dev', '/dev/pts', '/', '/home', '/run', '/sys/fs/cgroup/cpu'],
  blockFilesystems: ['ext4', 'xfs'],
  stat: (p) =>
    p === '/dev/sdb'
      ? { kind: 'block', major: 8, minor: 16 }
      : p.startsWith('/srv')
        ? { kind: 'dir', major: 0, minor: 0 }
        : ['/sys/fs/cgroup/blkio/blkio.weight', '/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'].includes(p)
          ? { kind: 'file', major: 0, minor: 0 }
          : undefined,
  readFile: (p) =>
    ({
      '/sys/fs/cgroup/cpuset/cpuset.cpus': '0-1\n',
      '/sys/fs/cgroup/cpuset/cpuset.mems': '0\n',
      '/srv/app/etc/passwd': 'root:x:0:0::/root:/bin/sh\nweb:x:33:33::/var/www:/bin/sh\n',
      '/srv/app/etc/group': 'root:x:0:\nwww-data:x:33:\nlog:x:4:web,other\n',
    })[p],
};

/** A pure cgroup v2 host with the usual controllers enabled. */
const V2_HOST: HostFacts = {
  ...HYBRID_HOST,
  cgroupMounts: [{ mountPoint: '/sys/fs/cgroup', version: 2, options: '' }],
  readFile: (p) => (p === '/sys/fs/cgroup/cgroup.controllers' ? 'cpuset cpu io memory hugetlb pids rdma misc\n' : HYBRID_HOST.readFile(p)),
  stat: (p) => (p === '/sys/fs/cgroup/io.weight' ? { kind: 'file', major: 0, minor: 0 } : HYBRID_HOST.stat(p)),
};

const TUNED = readFileSync(join(packageRoot(), '..', 'shared', 'conformance', 'libvirt-oracle', 'valid', 'combo-tuned.xml'), 'utf8')
  .replace(/<source dev='[^']*'/g, "<source dev='/dev/sdb'")
  .replace(/<path>[^<]*<\/path>/g, '<path>/dev/sdb</path>');

/** The driver's network namespace: a bridge br0, an uplink eth0, a host NIC eth5, vnet0 taken; network 'default' on virbr0. */
const TEST_NETWORK: NetworkFacts = {
  links: ['lo', 'eth0', 'eth5', 'br0', 'virbr0', 'vnet0'],
  bridgeOfNetwork: (n) => (n === 'default' ? 'virbr0' : undefined),
};

const inputs = (xml: string, facts: HostFacts = HYBRID_HOST): PlanInputs => {
  // Fixed randomness: generated UUIDs and MACs are the same on every run.
  const def = parseDomainXML(xml, defaultContext({ hostArch: 'x86_64', random: (n) => new Uint8Array(n).fill(7) }));
  return {
    def,
    files: runtimeFiles(paths, def.name),
    stateDir: paths.stateDir,
    facts,
    namespaces: { initPidOf: (name) => (name === 'peer' ? 4242 : undefined), netnsDir: '/run/netns' },
    network: TEST_NETWORK,
  };
};

const domain = (body: string, name = 'c1'): string =>
  `<domain type='lxc'><name>${name}</name><uuid>0b5e3f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b</uuid><memory>65536</memory>${body}</domain>`;
const os = (extra = ''): string => `<os><type>exe</type><init>/sbin/init</init>${extra}</os>`;
const consoleDev = "<console type='pty'/>";

describe('golden launch plans', () => {
  const cases: Record<string, string> = {
    'examples-demo': readFileSync(join(packageRoot(), 'examples', 'demo.xml'), 'utf8'),
    'examples-app-container': readFileSync(join(packageRoot(), 'examples', 'app-container.xml'), 'utf8'),
    'block-disk-sharenet-caps': domain(
      os('<inituser>web</inituser><initdir>/srv</initdir><initenv name="PATH">/usr/bin</initenv>') +
        "<features><capabilities policy='deny'><net_admin state='on'/></capabilities></features>" +
        `<devices><filesystem><source dir='/srv/app'/><target dir='/'/></filesystem>` +
        `<filesystem type='block'><source dev='/dev/sdb'/><target dir='/data'/><readonly/></filesystem>` +
        `<filesystem type='bind'><source dir='/data'/><target dir='/mirror'/></filesystem>` +
        `<disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='sdb'/></disk>${consoleDev}${consoleDev}</devices>` +
        "<lxc:namespace xmlns:lxc='http://libvirt.org/schemas/domain/lxc/1.0'><lxc:sharenet type='name' value='peer'/></lxc:namespace>",
      'web.1',
    ),
  };
  cases['interfaces'] = domain(
    os() +
      `<devices>
        <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><ip address='10.77.0.2' prefix='24'/><route address='0.0.0.0' prefix='0' gateway='10.77.0.1'/><mtu size='1400'/></interface>
        <interface type='network'><mac address='52:54:00:00:00:02'/><source network='default'/><guest dev='lan'/><link state='up'/></interface>
        <interface type='ethernet'><mac address='52:54:00:00:00:03'/><source><ip address='192.0.2.1' prefix='30'/><route family='ipv4' address='198.51.100.0' prefix='24' gateway='192.0.2.2'/></source><target dev='veth-web'/><ip address='192.0.2.2' prefix='30'/><ip address='2001:db8::2'/></interface>
        <interface type='direct'><mac address='52:54:00:00:00:04'/><source dev='eth0' mode='bridge'/></interface>
        <hostdev mode='capabilities' type='net'><source><interface>eth5</interface></source><ip address='10.1.2.3' prefix='16'/></hostdev>
        ${consoleDev}</devices>`,
    'net1',
  );
  const hosts: Record<string, HostFacts> = { 'tuned-v1-hybrid': HYBRID_HOST, 'tuned-v2': V2_HOST };
  for (const name of Object.keys(hosts)) cases[name] = TUNED;
  for (const [name, xml] of Object.entries(cases)) {
    it(name, () => {
      const text = encodeLaunchPlan(buildLaunchPlan(inputs(xml, hosts[name] ?? HYBRID_HOST)));
      const file = join(GOLDEN, `${name}.plan`);
      if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, text);
      expect(text).toBe(readFileSync(file, 'utf8'));
    });
  }

  it('has no stale golden files', () => {
    const stale = readdirSync(GOLDEN).filter((f) => !(f.replace(/\.plan$/, '') in cases));
    expect(stale).toEqual([]);
  });
});

describe('planner decisions', () => {
  const plan = (xml: string) => buildLaunchPlan(inputs(xml));

  it('creates mnt, pid, cgroup, uts and ipc namespaces always; net only when needed; user with an idmap', () => {
    expect(plan(domain(os() + `<devices>${consoleDev}</devices>`)).clone).toEqual(['mnt', 'pid', 'cgroup', 'uts', 'ipc']);
    expect(plan(domain(os() + `<features><privnet/></features><devices>${consoleDev}</devices>`)).clone).toContain('net');
    const userns = plan(
      domain(os() + "<idmap><uid start='0' target='100000' count='65536'/><gid start='0' target='100000' count='65536'/></idmap>" + `<devices>${consoleDev}</devices>`),
    );
    expect(userns.clone).toContain('user');
    expect(userns.uidmap).toEqual([{ start: 0, target: 100000, count: 65536 }]);
    expect(userns.consoles).toEqual([{ index: 0, uid: 100000, gid: 100000 }]);
  });

  it('joins shared namespaces instead of creating them', () => {
    const p = plan(
      domain(
        os() + `<devices>${consoleDev}</devices>` +
          "<lxc:namespace xmlns:lxc='http://libvirt.org/schemas/domain/lxc/1.0'><lxc:shareipc type='pid' value='77'/><lxc:sharenet type='netns' value='blue'/></lxc:namespace>",
      ),
    );
    expect(p.share).toEqual([
      { kind: 'net', path: '/run/netns/blue' },
      { kind: 'ipc', path: '/proc/77/ns/ipc' },
    ]);
    expect(p.clone).not.toContain('ipc');
  });

  it.each([
    [`<devices><interface type='bridge'><source bridge='br9'/></interface>${consoleDev}</devices>`, 'Unable to add bridge br9 port vnet1: No such device'],
    [`<devices><interface type='network'><source network='nowhere'/></interface>${consoleDev}</devices>`, "Network not found: no network with matching name 'nowhere'"],
    [`<devices><interface type='bridge'><source bridge='br0'/><script path='/x'/></interface>${consoleDev}</devices>`, 'unsupported configuration: scripts are not supported on LXC network interfaces'],
    [`<devices><interface type='user'/>${consoleDev}</devices>`, 'internal error: Unsupported network type user'],
    [`<devices><interface type='direct'><source dev='eth0'/><bandwidth><inbound average='100'/></bandwidth></interface>${consoleDev}</devices>`, 'unsupported configuration: Unable to set network bandwidth on direct interfaces'],
    [`<devices><interface type='direct'><source dev='eth9'/></interface>${consoleDev}</devices>`, "Unable to create macvlan device on 'eth9': No such device"],
    [`<devices><interface type='bridge'><mac address='52:54:00:00:00:09'/><source bridge='br0'/></interface><interface type='bridge'><mac address='52:54:00:00:00:09'/><source bridge='br0'/></interface>${consoleDev}</devices>`,
      'unsupported configuration: MAC address 52:54:00:00:00:09 is used by two interfaces'],
    [`<devices></devices>`, 'unsupported configuration: At least one PTY console is required'],
    [`<devices><console type='file'><source path='/tmp/x'/></console></devices>`, 'unsupported configuration: Only PTY console types are supported'],
    [`<devices><filesystem type='ram'><source usage='1024'/><target dir='/'/></filesystem>${consoleDev}</devices>`, 'unsupported configuration: Unsupported root filesystem type ram'],
    [`<devices><filesystem type='template'><source name='t'/><target dir='/x'/></filesystem>${consoleDev}</devices>`, 'unsupported configuration: Cannot mount filesystem type template'],
    [`<features><privnet/></features><devices>${consoleDev}</devices><lxc:namespace xmlns:lxc='http://libvirt.org/schemas/domain/lxc/1.0'><lxc:sharenet type='pid' value='1'/></lxc:namespace>`,
      'unsupported configuration: Config asks for inherit net namespace as well as private network interfaces'],
    [`<devices>${consoleDev}</devices><lxc:namespace xmlns:lxc='http://libvirt.org/schemas/domain/lxc/1.0'><lxc:shareuts type='name' value='nobody-here'/></lxc:namespace>`,
      "Domain not found: No domain with matching name 'nobody-here'"],
    [`<devices>${consoleDev}</devices><resource><partition>/machine</partition></resource>`.replace('/machine', 'machine'),
      "unsupported configuration: Resource partition 'machine' must start with '/'"],
  ])('rejects %s', (body, message) => {
    const xml = body.startsWith('<features>') || body.startsWith('<devices>') ? domain(os() + body) : domain(os() + body);
    let error: unknown;
    try {
      plan(xml);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VirError);
    expect((error as VirError).message).toBe(message);
  });

  it('drops the default capability set, honouring on/off and the allow/deny policies', () => {
    expect(capabilitiesToDrop(undefined)).toEqual([16, 25, 27, 30, 33]);
    expect(capabilitiesToDrop({ policy: 'default', capabilities: { mknod: 'on', sys_admin: 'off' } })).toEqual([16, 21, 25, 30, 33]);
    expect(capabilitiesToDrop({ policy: 'allow', capabilities: { sys_admin: 'off' } })).toEqual([21]);
    const deny = capabilitiesToDrop({ policy: 'deny', capabilities: { chown: 'on' } });
    expect(deny).not.toContain(0);
    expect(deny).toHaveLength(40);
  });

  it("gives init libvirt's environment, in libvirt's order, initenv replacing earlier names", () => {
    const def = inputs(domain(os("<initenv name='TERM'>xterm</initenv><initenv name='A'>b</initenv><cmdline>quiet</cmdline>") + `<devices>${consoleDev}${consoleDev}${consoleDev}</devices>`)).def;
    expect(initEnvironment(def)).toEqual([
      'PATH=/bin:/sbin',
      'TERM=xterm',
      'container=lxc-libvirt',
      'HOME=/',
      `container_uuid=${def.uuid}`,
      'container_ttys=tty2 tty3',
      `LIBVIRT_LXC_UUID=${def.uuid}`,
      'LIBVIRT_LXC_NAME=c1',
      'LIBVIRT_LXC_CMDLINE=quiet',
      'A=b',
    ]);
  });

  it('filters the hostname as libvirt does', () => {
    expect(containerHostname('web.1_prod')).toBe('web1prod');
    expect(containerHostname('-lead')).toBe('lead');
    expect(containerHostname('--x')).toBe('-x');
  });

  it('resolves inituser and initgroup in the container, with supplementary groups', () => {
    const files = HYBRID_HOST.readFile;
    const read = (p: string): string | undefined => files(join('/srv/app', p));
    const def = (u: string, g = ''): ReturnType<typeof inputs>['def'] =>
      inputs(domain(os(`<inituser>${u}</inituser>${g}`) + `<devices>${consoleDev}</devices>`)).def;
    expect(resolveInitIdentity(def('web'), read)).toEqual({ uid: 33, gid: 33, groups: [33, 4] });
    expect(resolveInitIdentity(def('+1234', '<initgroup>+99</initgroup>'), read)).toEqual({ uid: 1234, gid: 99, groups: [] });
    expect(() => resolveInitIdentity(def('ghost'), read)).toThrow("internal error: User ghost doesn't exist");
    expect(() => resolveInitIdentity(def('web', '<initgroup>ghosts</initgroup>'), read)).toThrow("internal error: Group ghosts doesn't exist");
  });

  it("names cgroup partitions as libvirt does", () => {
    expect(partitionPath('/machine')).toBe('machine');
    expect(partitionPath('/machine/tenant')).toBe('machine/tenant.partition');
    expect(partitionPath('/web/_front')).toBe('web.partition/__front.partition');
  });
});

describe('resource control conversions', () => {
  it('converts cpu shares to cgroup v2 weights keeping the defaults (1024 ↔ 100)', async () => {
    const { sharesToWeight, weightToShares } = await import('../src/driver/runtime/tunables.js');
    expect(sharesToWeight(1024n)).toBe(100n);
    expect(sharesToWeight(2n)).toBe(1n);
    expect(sharesToWeight(262144n)).toBe(10000n);
    expect(sharesToWeight(512n)).toBe(50n);
    expect(weightToShares(100n)).toBe(1024n);
  });

  it('allows mknod everywhere only with <mknod state="on">, and the disks and hostdevs configured', async () => {
    const { deviceRules, formatV1Rule } = await import('../src/driver/runtime/deviceacl.js');
    const def = (caps: string, devices = ''): ReturnType<typeof inputs>['def'] =>
      inputs(domain(os() + `<features><capabilities policy='default'>${caps}</capabilities></features><devices>${devices}${consoleDev}</devices>`)).def;
    const plain = deviceRules(def(''), HYBRID_HOST).map(formatV1Rule);
    expect(plain).not.toContain('b *:* m');
    expect(plain).toEqual(['c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 10:229 rwm', 'c 136:* rwm']);
    const withDisk = deviceRules(
      def("<mknod state='on'/>", "<disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='sdb'/><readonly/></disk>"),
      HYBRID_HOST,
    ).map(formatV1Rule);
    expect(withDisk.slice(0, 2)).toEqual(['b *:* m', 'c *:* m']);
    expect(withDisk).toContain('b 8:16 rm');
  });

  it('puts device rules into v1 devices.allow and, wherever cgroup2 is mounted, a BPF program', () => {
    const xml = domain(os() + `<devices>${consoleDev}</devices>`);
    const v1Only: HostFacts = { ...HYBRID_HOST, cgroupMounts: HYBRID_HOST.cgroupMounts.filter((m) => m.version === 1) };
    expect(buildLaunchPlan(inputs(xml, v1Only)).deviceFilter).toBeUndefined();
    const hybrid = buildLaunchPlan(inputs(xml, HYBRID_HOST));
    expect(hybrid.deviceFilter?.cgroupDir).toBe('/sys/fs/cgroup/unified/machine/c1.libvirt-lxc');
    expect(hybrid.cgroupWrites.filter((w) => w.path.endsWith('devices.deny'))).toEqual([{ path: '/sys/fs/cgroup/devices/machine/c1.libvirt-lxc/devices.deny', value: 'a' }]);
    const v2 = buildLaunchPlan(inputs(xml, V2_HOST));
    expect(v2.deviceFilter?.cgroupDir).toBe('/sys/fs/cgroup/machine/c1.libvirt-lxc');
    expect(v2.deviceFilter?.rules).toHaveLength(9);
    expect(v2.cgroupWrites.some((w) => w.path.includes('devices.'))).toBe(false);
  });

  it('names the missing controller', () => {
    const noMemory: HostFacts = { ...HYBRID_HOST, cgroupMounts: HYBRID_HOST.cgroupMounts.filter((m) => m.options !== 'memory') };
    expect(() => buildLaunchPlan(inputs(domain(os() + `<devices>${consoleDev}</devices>`), noMemory))).toThrow(
      "internal error: Unable to find 'memory' cgroups controller mount",
    );
  });
});
