/**
 * Resource tuning and statistics through the library API. The cgroup v2
 * paths and conversions run against a fixture hierarchy (this host's
 * cgroup2 has no controllers); everything else against real containers
 * (root), checked in the kernel's own files, with nothing left behind.
 */
import { containerCgroupFile, hostLeftovers } from './support/leftovers.js';
import { existsSync, readdirSync, statSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, type Connection, type Domain } from '../src/index.js';
import { defaultContext } from '../src/xml/context.js';
import type { DomainDef } from '../src/xml/model.js';
import { parseDomainXML } from '../src/xml/parse.js';
import type { HostFacts } from '../src/driver/runtime/hostfacts.js';
import { domainCgroup, type CgroupIO, type DomainCgroup } from '../src/driver/runtime/domaincgroup.js';
import { applySchedulerLive, liveSchedulerParameters, QUOTA_MAX } from '../src/driver/runtime/schedparams.js';
import { applyMemoryLimitsLive, liveMemoryLimits, setMemoryLive } from '../src/driver/runtime/memoryparams.js';
import { applyBlkioLive, liveBlkioParameters, parseBlkioDeviceList } from '../src/driver/runtime/blkioparams.js';
import { cpuTimeNs, memoryUsageKiB, perCpuTimeNs, swapUsageKiB, userSystemTimeNs } from '../src/driver/runtime/cgroupusage.js';
import { statsGroups } from '../src/driver/runtime/domainstats.js';
import { MEMORY_UNLIMITED_KIB } from '../src/xml/units.js';
import { buildRootfs, type Rootfs } from './support/rootfs.js';
import { domainXML, useTempRoot } from './support/tmproot.js';

/* ---------- fixture hierarchies ---------- */

/**
 * An in-memory cgroup directory that answers writes as the kernel does for
 * the files whose content is not simply what was written.
 */
class FakeCgroupFs implements CgroupIO {
  readonly files = new Map<string, string>();

  read(path: string): string {
    const text = this.files.get(path);
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT', errno: -2 });
    return text;
  }

  exists(path: string): boolean {
    return this.files.has(path);
  }

  write(path: string, value: string): void {
    const old = this.read(path);
    const file = path.slice(path.lastIndexOf('/') + 1);
    if (file === 'cpu.max') {
      const [quota, period] = value.split(' ');
      this.files.set(path, `${quota} ${period ?? old.trim().split(' ')[1]}\n`);
    } else if (file === 'io.max') {
      const [dev, setting] = value.split(' ') as [string, string];
      const lines = old.split('\n').filter(Boolean);
      const line = lines.find((l) => l.startsWith(`${dev} `)) ?? `${dev} rbps=max wbps=max riops=max wiops=max`;
      const [key, v] = setting.split('=') as [string, string];
      const updated = line.replace(new RegExp(`${key}=\\S+`), `${key}=${v}`);
      const rest = lines.filter((l) => !l.startsWith(`${dev} `));
      this.files.set(path, [...rest, ...(/=\d/.test(updated) ? [updated] : [])].map((l) => `${l}\n`).join(''));
    } else if (file === 'io.weight') {
      const lines = old.split('\n').filter(Boolean);
      const isDefault = value.startsWith('default ');
      const key = isDefault ? 'default' : value.split(' ')[0]!;
      const rest = lines.filter((l) => !l.startsWith(`${key} `));
      this.files.set(path, [...(isDefault ? [value] : []), ...rest, ...(isDefault ? [] : [value])].map((l) => `${l}\n`).join(''));
    } else {
      this.files.set(path, `${value}\n`);
    }
  }
}

const V2_ROOT = '/sys/fs/cgroup';
const V2_DIR = `${V2_ROOT}/machine/web.libvirt-lxc`;

/** A pure cgroup v2 host with cpu, memory and io enabled; /dev/sdb is block device 8:16. */
const V2_HOST: HostFacts = {
  cgroupMounts: [{ mountPoint: V2_ROOT, version: 2, options: '' }],
  mountPoints: ['/'],
  blockFilesystems: ['ext4'],
  stat: (p) => (p === '/dev/sdb' ? { kind: 'block', major: 8, minor: 16 } : p === '/dev/null' ? { kind: 'char', major: 1, minor: 3 } : undefined),
  readFile: (p) => ({ [`${V2_ROOT}/cgroup.controllers`]: 'cpuset cpu io memory pids\n', '/sys/devices/system/cpu/present': '0-3\n' })[p],
};

/** A v1 host like this one: separate hierarchies, no blkio weight files. */
const V1_HOST: HostFacts = {
  ...V2_HOST,
  cgroupMounts: ['cpu', 'cpuacct', 'memory', 'blkio'].map((c) => ({ mountPoint: `/sys/fs/cgroup/${c}`, version: 1 as const, options: c })),
  readFile: (p) => (p === '/sys/devices/system/cpu/present' ? '0,2\n' : undefined),
};

const webDef = (): DomainDef => parseDomainXML(domainXML('web'), defaultContext({ hostArch: 'x86_64' }));

function v2Fixture(extra: Record<string, string> = {}): { fs: FakeCgroupFs; cg: DomainCgroup } {
  const fs = new FakeCgroupFs();
  const initial: Record<string, string> = {
    'cpu.weight': '100\n',
    'cpu.max': 'max 100000\n',
    'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n',
    'memory.max': '67108864\n',
    'memory.high': 'max\n',
    'memory.swap.max': 'max\n',
    'memory.current': '3145728\n',
    'memory.swap.current': '1048576\n',
    'io.max': '',
    'io.weight': 'default 100\n',
    ...extra,
  };
  for (const [file, text] of Object.entries(initial)) fs.files.set(join(V2_DIR, file), text);
  return { fs, cg: domainCgroup(webDef(), V2_HOST, fs) };
}

describe('cgroup v2 (fixture hierarchy)', () => {
  const at = (fs: FakeCgroupFs, file: string): string | undefined => fs.files.get(join(V2_DIR, file));

  it('finds the container under <partition>/<name>.libvirt-lxc of the unified tree', () => {
    const { fs, cg } = v2Fixture();
    cg.write('cpu', 'cpu.weight', '50');
    expect(at(fs, 'cpu.weight')).toBe('50\n');
    expect(cg.version('blkio')).toBe(2);
    expect(() => cg.read('memory', 'memory.nope')).toThrow(`Unable to read from '${V2_DIR}/memory.nope': No such file or directory`);
  });

  it('scheduler: shares from cpu.weight, "max" quota as 17592186044415, writes keep the other half of cpu.max', () => {
    const { fs, cg } = v2Fixture();
    expect(liveSchedulerParameters(cg)).toEqual({ cpuShares: 1024n, vcpuPeriod: 100000n, vcpuQuota: QUOTA_MAX });
    const live = webDef();
    applySchedulerLive(cg, live, { cpuShares: 2048n, vcpuPeriod: 50000n, vcpuQuota: 25000n });
    expect(at(fs, 'cpu.weight')).toBe('200\n');
    expect(at(fs, 'cpu.max')).toBe('25000 50000\n');
    expect(live.cputune).toMatchObject({ shares: 2048n, period: 50000n, quota: 25000n });
    applySchedulerLive(cg, live, { vcpuQuota: -1n });
    expect(at(fs, 'cpu.max')).toBe('max 50000\n');
    expect(liveSchedulerParameters(cg)).toEqual({ cpuShares: 2048n, vcpuPeriod: 50000n, vcpuQuota: QUOTA_MAX });
    expect(() => applySchedulerLive(cg, live, { cpuShares: 1n })).toThrow("invalid argument: shares '1' must be in range [2, 262144]");
    expect(() => applySchedulerLive(cg, live, { vcpuPeriod: 10n })).toThrow("invalid argument: cfs_period '10' must be in range (1000, 1000000)");
    expect(() => applySchedulerLive(cg, live, { vcpuQuota: 10n })).toThrow(
      "invalid argument: cfs_quota '10' must be in range (1000, 17592186044415)",
    );
  });

  it('memory: "max" is unlimited, swap_hard_limit keeps its memory-plus-swap meaning', () => {
    const { fs, cg } = v2Fixture();
    expect(liveMemoryLimits(cg)).toEqual({ hardLimitKiB: 65536n, softLimitKiB: MEMORY_UNLIMITED_KIB, swapHardLimitKiB: MEMORY_UNLIMITED_KIB });
    const live = webDef();
    applyMemoryLimitsLive(cg, live, { hardLimitKiB: 32768n, swapHardLimitKiB: 49152n, softLimitKiB: 16384n });
    expect(at(fs, 'memory.max')).toBe(`${32768 * 1024}\n`);
    expect(at(fs, 'memory.swap.max')).toBe(`${16384 * 1024}\n`);
    expect(at(fs, 'memory.high')).toBe(`${16384 * 1024}\n`);
    expect(liveMemoryLimits(cg)).toEqual({ hardLimitKiB: 32768n, softLimitKiB: 16384n, swapHardLimitKiB: 49152n });
    expect(live.memtune).toEqual({ hardLimitKiB: 32768n, softLimitKiB: 16384n, swapHardLimitKiB: 49152n });
    applyMemoryLimitsLive(cg, live, { softLimitKiB: MEMORY_UNLIMITED_KIB, swapHardLimitKiB: MEMORY_UNLIMITED_KIB });
    expect([at(fs, 'memory.high'), at(fs, 'memory.swap.max')]).toEqual(['max\n', 'max\n']);
    expect(live.memtune).toEqual({ hardLimitKiB: 32768n });
    setMemoryLive(cg, live, 40000n);
    expect(at(fs, 'memory.max')).toBe(`${40000 * 1024}\n`);
    expect(live.currentMemoryKiB).toBe(40000n);
  });

  it('blkio: io.weight "default N", throttles in io.max ("max" for none), read back from the kernel', () => {
    const { fs, cg } = v2Fixture();
    const live = webDef();
    expect(liveBlkioParameters(cg, live).weight).toBe(100);
    applyBlkioLive(cg, V2_HOST, live, { weight: 300, deviceReadBytesSec: '/dev/sdb,1048576', deviceWriteIopsSec: [{ path: '/dev/sdb', value: 50n }] });
    expect(at(fs, 'io.weight')).toBe('default 300\n');
    expect(at(fs, 'io.max')).toBe('8:16 rbps=1048576 wbps=max riops=max wiops=50\n');
    expect(liveBlkioParameters(cg, live)).toMatchObject({
      weight: 300,
      deviceReadBytesSec: [{ path: '/dev/sdb', value: 1048576n }],
      deviceWriteIopsSec: [{ path: '/dev/sdb', value: 50n }],
    });
    applyBlkioLive(cg, V2_HOST, live, { deviceReadBytesSec: '/dev/sdb,0', deviceWriteIopsSec: '/dev/sdb,0', deviceWeight: '/dev/sdb,500' });
    expect(at(fs, 'io.max')).toBe('');
    expect(at(fs, 'io.weight')).toBe('default 300\n8:16 500\n');
    expect(liveBlkioParameters(cg, live)).toMatchObject({ deviceReadBytesSec: [], deviceWriteIopsSec: [], deviceWeight: [{ path: '/dev/sdb', value: 500n }] });
    expect(() => applyBlkioLive(cg, V2_HOST, live, { deviceReadIopsSec: '/dev/null,5' })).toThrow(
      "Path '/dev/null' must be a block device: Invalid argument",
    );
    expect(() => applyBlkioLive(cg, V2_HOST, live, { deviceReadIopsSec: '/dev/none,5' })).toThrow(
      "Path '/dev/none' is not accessible: No such file or directory",
    );
    const noWeight = v2Fixture();
    noWeight.fs.files.delete(join(V2_DIR, 'io.weight'));
    expect(() => applyBlkioLive(noWeight.cg, V2_HOST, webDef(), { weight: 200 })).toThrow(
      'Requested operation is not valid: blkio weight is valid only for bfq or cfq scheduler',
    );
  });

  it('usage: cpu.stat µs as ns, memory.current and memory.swap.current as KiB, no per-CPU account', () => {
    const { cg } = v2Fixture();
    expect(cpuTimeNs(cg)).toBe(1_500_000n);
    expect(userSystemTimeNs(cg)).toEqual({ userNs: 1_000_000n, systemNs: 500_000n });
    expect(memoryUsageKiB(cg)).toBe(3072n);
    expect(swapUsageKiB(cg)).toBe(1024n);
    expect(perCpuTimeNs(cg, [0, 1, 2, 3])).toBeUndefined();
  });
});

describe('cgroup v1 (fixture hierarchy)', () => {
  function v1Fixture(): { fs: FakeCgroupFs; cg: DomainCgroup } {
    const fs = new FakeCgroupFs();
    const dir = (c: string): string => `/sys/fs/cgroup/${c}/machine/web.libvirt-lxc`;
    fs.files.set('/sys/fs/cgroup/memory/memory.limit_in_bytes', '9223372036854771712\n');
    for (const [file, text] of Object.entries({
      'memory.limit_in_bytes': '9223372036854771712\n',
      'memory.soft_limit_in_bytes': '9223372036854771712\n',
      'memory.memsw.limit_in_bytes': '9223372036854771712\n',
    })) {
      fs.files.set(join(dir('memory'), file), text);
    }
    fs.files.set(join(dir('cpuacct'), 'cpuacct.usage_percpu'), '100 300 \n');
    fs.files.set(join(dir('cpuacct'), 'cpuacct.stat'), 'user 12\nsystem 3\n');
    fs.files.set(join(dir('blkio'), 'blkio.throttle.read_iops_device'), '');
    return { fs, cg: domainCgroup(webDef(), V1_HOST, fs) };
  }

  it("the hierarchy root's limit reads as unlimited", () => {
    expect(liveMemoryLimits(v1Fixture().cg)).toEqual({
      hardLimitKiB: MEMORY_UNLIMITED_KIB,
      softLimitKiB: MEMORY_UNLIMITED_KIB,
      swapHardLimitKiB: MEMORY_UNLIMITED_KIB,
    });
  });

  it('per-CPU times follow the present CPU map (absent CPUs count 0); cpuacct.stat ticks become ns', () => {
    const { cg } = v1Fixture();
    expect(perCpuTimeNs(cg, [0, 2])).toEqual([100n, 0n, 300n]);
    expect(userSystemTimeNs(cg)).toEqual({ userNs: 120_000_000n, systemNs: 30_000_000n });
  });

  it("without bfq or cfq there is no weight: libvirt's v1 words for the group and per device", () => {
    const { cg } = v1Fixture();
    expect(liveBlkioParameters(cg, webDef()).weight).toBe(0);
    expect(() => applyBlkioLive(cg, V1_HOST, webDef(), { weight: 500 })).toThrow(
      'Requested operation is not valid: blkio device weight is valid only for bfq or cfq scheduler',
    );
    expect(() => applyBlkioLive(cg, V1_HOST, webDef(), { deviceWeight: '/dev/sdb,500' })).toThrow(
      'Requested operation is not valid: blkio device weight is valid only for cfq scheduler',
    );
  });
});

describe('argument parsing', () => {
  it("blkio device lists as libvirt's virDomainDriverParseBlkioDeviceStr reads them", () => {
    expect(parseBlkioDeviceList('', 'deviceWeight')).toEqual([]);
    expect(parseBlkioDeviceList('/dev/sda,100,/dev/sdb,200', 'deviceWeight')).toEqual([
      { path: '/dev/sda', value: 100n },
      { path: '/dev/sdb', value: 200n },
    ]);
    expect(parseBlkioDeviceList('/dev/sda,18446744073709551615', 'deviceReadBytesSec')).toEqual([{ path: '/dev/sda', value: 18446744073709551615n }]);
    expect(() => parseBlkioDeviceList('/dev/sda', 'deviceWeight')).toThrow("invalid argument: unable to parse blkio device 'device_weight' '/dev/sda'");
    expect(() => parseBlkioDeviceList('/dev/sda,1,/dev/sdb', 'deviceWeight')).toThrow("unable to parse blkio device 'device_weight' '/dev/sda,1,/dev/sdb'");
    expect(() => parseBlkioDeviceList('/dev/sda,abc', 'deviceReadIopsSec')).toThrow(
      "invalid argument: invalid value 'abc' for parameter 'device_read_iops_sec' of device '/dev/sda'",
    );
    expect(() => parseBlkioDeviceList('/dev/sda,4294967296', 'deviceWriteIopsSec')).toThrow(
      "invalid value '4294967296' for parameter 'device_write_iops_sec' of device '/dev/sda'",
    );
    expect(() => parseBlkioDeviceList('/dev/sda,10x', 'deviceWeight')).toThrow("unable to parse blkio device 'device_weight' '/dev/sda,10x'");
  });

  it('stats groups: all nsvirt has by default; others skipped, or refused with enforce', () => {
    expect(statsGroups([], false)).toEqual(['state', 'cpu-total', 'balloon']);
    expect(statsGroups(['balloon', 'vcpu', 'state'], false)).toEqual(['state', 'balloon']);
    expect(() => statsGroups(['vcpu', 'state', 'block'], true)).toThrow('argument unsupported: Stats types bits 0x28 are not supported by this daemon');
  });
});

/* ---------- real containers ---------- */

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('tuning.test.ts: container tests skipped, starting containers needs root');

describe.skipIf(!isRoot)('running containers (root)', () => {
  const { root } = useTempRoot('nsvirt-tune-');
  let rootfs: Rootfs;
  beforeEach(() => chmodSync(root(), 0o755));
  beforeAll(() => {
    rootfs = buildRootfs();
  });
  afterAll(() => {
    rootfs.remove();
    expect(existsSync(rootfs.path)).toBe(false);
  });

  const open = (): Connection => connect('lxc:///', { root: root(), context: { hostArch: 'x86_64' } });

  const containerXML = (name: string, extra = ''): string => `<domain type='lxc'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>${extra}
  <os><type>exe</type><init>/bin/sh</init><initarg>-c</initarg><initarg>exec sleep 300</initarg></os>
  <devices>
    <filesystem type='mount'><source dir='${rootfs.path}'/><target dir='/'/></filesystem>
    <console type='pty'/>
  </devices>
</domain>`;

  const cgroupFile = containerCgroupFile;

  const leftovers = (name: string): string[] => hostLeftovers(root(), name);

  async function running(name: string, extra = ''): Promise<Domain> {
    const dom = await open().defineXML(containerXML(name, extra));
    await dom.create();
    return dom;
  }

  async function stop(dom: Domain): Promise<void> {
    if (await dom.isActive()) await dom.destroy();
    expect(leftovers(dom.name)).toEqual([]);
  }

  it('scheduler parameters: live values in cpu.shares and cpu.cfs_*; config stored for the next boot', async () => {
    const dom = await running('sched');
    try {
      expect(await dom.getSchedulerType()).toEqual({ type: 'posix', nparams: 3 });
      expect(await dom.getSchedulerParameters()).toEqual({ cpuShares: 1024n, vcpuPeriod: 100000n, vcpuQuota: -1n });
      await dom.setSchedulerParameters({ cpuShares: 512n, vcpuPeriod: 50000n, vcpuQuota: 25000n });
      expect(cgroupFile('sched', 'cpu', 'cpu.shares')).toBe('512');
      expect(cgroupFile('sched', 'cpu', 'cpu.cfs_period_us')).toBe('50000');
      expect(cgroupFile('sched', 'cpu', 'cpu.cfs_quota_us')).toBe('25000');
      expect(await dom.getSchedulerParameters({ live: true })).toEqual({ cpuShares: 512n, vcpuPeriod: 50000n, vcpuQuota: 25000n });
      // The running definition shows them; the persistent one does not.
      expect(await dom.getXMLDesc()).toContain('<cputune>\n    <shares>512</shares>\n    <period>50000</period>\n    <quota>25000</quota>\n  </cputune>');
      expect(await dom.getXMLDesc({ inactive: true })).not.toContain('<cputune>');
      expect(await dom.getSchedulerParameters({ config: true })).toEqual({ cpuShares: 0n, vcpuPeriod: 0n, vcpuQuota: 0n });

      await dom.setSchedulerParameters({ cpuShares: 300n, vcpuQuota: -1n }, { live: true, config: true });
      expect(cgroupFile('sched', 'cpu', 'cpu.shares')).toBe('300');
      expect(cgroupFile('sched', 'cpu', 'cpu.cfs_quota_us')).toBe('-1');
      expect(await dom.getXMLDesc({ inactive: true })).toContain('<cputune>\n    <shares>300</shares>\n    <quota>-1</quota>\n  </cputune>');
      const fresh = await open().lookupByName('sched');
      expect(await fresh.getSchedulerParameters({ config: true })).toEqual({ cpuShares: 300n, vcpuPeriod: 0n, vcpuQuota: -1n });

      await expect(dom.setSchedulerParameters({ cpuShares: 1n })).rejects.toThrow("invalid argument: shares '1' must be in range [2, 262144]");
      await expect(dom.setSchedulerParameters({ vcpuPeriod: 999n })).rejects.toThrow("cfs_period '999' must be in range (1000, 1000000)");
      await expect(dom.setSchedulerParameters({ cpuShares: 1n }, { config: true })).rejects.toThrow(
        "unsupported configuration: Value of cputune 'shares' must be in range [2, 262144]",
      );
      await expect(dom.getSchedulerParameters({ live: true, config: true })).rejects.toThrow(
        "invalid argument: Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
      );
      expect(cgroupFile('sched', 'cpu', 'cpu.shares')).toBe('300');
    } finally {
      await stop(dom);
    }
    // Started again from the stored definition: its values are applied.
    await dom.create();
    try {
      expect(cgroupFile('sched', 'cpu', 'cpu.shares')).toBe('300');
      expect(await dom.getSchedulerParameters()).toEqual({ cpuShares: 300n, vcpuPeriod: 100000n, vcpuQuota: -1n });
    } finally {
      await stop(dom);
    }
  });

  it('memory limits and allocation: memory.limit_in_bytes, memsw, soft limit; setmem and setmaxmem', async () => {
    const dom = await running('mem');
    const swap = existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
    try {
      expect(await dom.getMemoryParameters()).toEqual({
        hardLimitKiB: 65536n,
        softLimitKiB: 'unlimited',
        swapHardLimitKiB: swap ? 'unlimited' : expect.anything(),
      });
      await dom.setMemoryParameters({ hardLimitKiB: 32768n, softLimitKiB: 16384n, ...(swap ? { swapHardLimitKiB: 49152n } : {}) });
      expect(cgroupFile('mem', 'memory', 'memory.limit_in_bytes')).toBe(String(32768 * 1024));
      expect(cgroupFile('mem', 'memory', 'memory.soft_limit_in_bytes')).toBe(String(16384 * 1024));
      if (swap) expect(cgroupFile('mem', 'memory', 'memory.memsw.limit_in_bytes')).toBe(String(49152 * 1024));
      expect(await dom.getXMLDesc()).toContain("<memtune>\n    <hard_limit unit='KiB'>32768</hard_limit>\n    <soft_limit unit='KiB'>16384</soft_limit>");
      await expect(dom.setMemoryParameters({ hardLimitKiB: 65536n, swapHardLimitKiB: 32768n })).rejects.toThrow(
        'invalid argument: memory hard_limit tunable value must be lower than or equal to swap_hard_limit',
      );
      await expect(dom.setMemoryParameters({ minGuaranteeKiB: 1024n })).rejects.toThrow("argument unsupported: parameter 'min_guarantee' not supported");
      await dom.setMemoryParameters({ softLimitKiB: 'unlimited' });
      expect((await dom.getMemoryParameters()).softLimitKiB).toBe('unlimited');

      await dom.setMemoryParameters({ hardLimitKiB: 24576n }, { config: true });
      expect(await dom.getXMLDesc({ inactive: true })).toContain("<memtune>\n    <hard_limit unit='KiB'>24576</hard_limit>\n  </memtune>");
      expect((await (await open().lookupByName('mem')).getMemoryParameters({ config: true })).hardLimitKiB).toBe(24576n);
      expect(cgroupFile('mem', 'memory', 'memory.limit_in_bytes')).toBe(String(32768 * 1024));

      // setmem: the allocation becomes the memory limit; never above <memory>.
      await dom.setMemory(40960n);
      expect(cgroupFile('mem', 'memory', 'memory.limit_in_bytes')).toBe(String(40960 * 1024));
      expect((await dom.memoryStats()).actualKiB).toBe(40960n);
      expect(await dom.getXMLDesc()).toContain("<currentMemory unit='KiB'>40960</currentMemory>");
      expect(await dom.getXMLDesc({ inactive: true })).toContain("<currentMemory unit='KiB'>65536</currentMemory>");
      await expect(dom.setMemory(65537n)).rejects.toThrow('invalid argument: Cannot set memory higher than max memory');
      await expect(dom.setMemory(0n)).rejects.toThrow('invalid argument: memory in virDomainSetMemory must not be zero');
      await expect(dom.setMaxMemory(131072n)).rejects.toThrow(
        'Requested operation is not valid: Cannot resize the max memory on an active domain',
      );
      await dom.setMaxMemory(131072n, { config: true });
      expect(await dom.getXMLDesc({ inactive: true })).toContain("<memory unit='KiB'>131072</memory>");
      expect((await dom.getInfo()).maxMemKiB).toBe(65536n);

      const stats = await dom.memoryStats();
      const usage = BigInt(cgroupFile('mem', 'memory', 'memory.usage_in_bytes')) >> 10n;
      expect(stats.rssKiB).toBeGreaterThan(0n);
      expect(Number(stats.rssKiB)).toBeCloseTo(Number(usage), -3);
      const info = await dom.getInfo();
      expect(info.memoryKiB).toBeGreaterThan(0n);
      expect(info.cpuTimeNs).toBeGreaterThan(0n);
    } finally {
      await stop(dom);
    }
    expect((await dom.getInfo()).memoryKiB).toBe(65536n);
    expect((await dom.getInfo()).maxMemKiB).toBe(131072n);
  });

  it('blkio: throttles reach blkio.throttle.*; a weight needs bfq or cfq', async ({ skip }) => {
    const disk = readdirSync('/sys/block')
      .filter((d) => !/^(loop|ram|zram|nbd)/.test(d))
      .map((d) => `/dev/${d}`)
      .find((p) => existsSync(p) && statSync(p).isBlockDevice());
    if (!disk) skip();
    const { rdev } = statSync(disk!);
    const dev = `${Math.floor(rdev / 256) & 0xfff}:${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)}`;
    const dom = await running('blk');
    try {
      await dom.setBlkioParameters({ deviceReadBytesSec: `${disk},1048576`, deviceWriteIopsSec: [{ path: disk!, value: 300n }] });
      expect(cgroupFile('blk', 'blkio', 'blkio.throttle.read_bps_device')).toBe(`${dev} 1048576`);
      expect(cgroupFile('blk', 'blkio', 'blkio.throttle.write_iops_device')).toBe(`${dev} 300`);
      expect(await dom.getBlkioParameters()).toMatchObject({
        deviceReadBytesSec: [{ path: disk, value: 1048576n }],
        deviceWriteIopsSec: [{ path: disk, value: 300n }],
      });
      await dom.setBlkioParameters({ deviceReadBytesSec: `${disk},0` });
      expect(cgroupFile('blk', 'blkio', 'blkio.throttle.read_bps_device')).toBe('');
      expect((await dom.getBlkioParameters()).deviceReadBytesSec).toEqual([]);

      const hasWeight = ['blkio.bfq.weight', 'blkio.weight'].some((f) => existsSync(join('/sys/fs/cgroup/blkio', f)));
      if (hasWeight) {
        await dom.setBlkioParameters({ weight: 500 });
        expect((await dom.getBlkioParameters()).weight).toBe(500);
      } else {
        await expect(dom.setBlkioParameters({ weight: 500 })).rejects.toThrow(
          'Requested operation is not valid: blkio device weight is valid only for bfq or cfq scheduler',
        );
        expect((await dom.getBlkioParameters()).weight).toBe(0);
      }
      await dom.setBlkioParameters({ weight: 800, deviceWriteIopsSec: `${disk},10` }, { config: true });
      expect(await dom.getXMLDesc({ inactive: true })).toContain(
        `<blkiotune>\n    <weight>800</weight>\n    <device>\n      <path>${disk}</path>\n      <write_iops_sec>10</write_iops_sec>\n    </device>\n  </blkiotune>`,
      );
      expect(await (await open().lookupByName('blk')).getBlkioParameters({ config: true })).toMatchObject({
        weight: 800,
        deviceWriteIopsSec: [{ path: disk, value: 10n }],
      });
      expect(cgroupFile('blk', 'blkio', 'blkio.throttle.write_iops_device')).toBe(`${dev} 300`);
    } finally {
      await stop(dom);
    }
  });

  it('CPU statistics and domain stats come from cpuacct and memory', async () => {
    const dom = await running('stats');
    try {
      const cpu = await dom.getCPUStats();
      expect(cpu.cpuTimeNs).toBe(BigInt(cgroupFile('stats', 'cpuacct', 'cpuacct.usage')));
      expect(cpu.perCpuTimeNs).toEqual(cgroupFile('stats', 'cpuacct', 'cpuacct.usage_percpu').split(/\s+/).map(BigInt).slice(0, cpu.hostCpus));
      expect(cpu.userTimeNs + cpu.systemTimeNs).toBeLessThanOrEqual(cpu.cpuTimeNs + 20_000_000n);

      await open().defineXML(containerXML('idle'));
      const records = await open().getAllDomainStats();
      const byName = new Map(records.map((r) => [r.domain.name, new Map(r.params.map((p) => [p.field, p.value]))]));
      expect([...byName.keys()].sort()).toEqual(['idle', 'stats']);
      expect(byName.get('idle')).toEqual(
        new Map<string, number | bigint>([
          ['state.state', 5],
          ['state.reason', 0],
          ['balloon.current', 65536n],
          ['balloon.maximum', 65536n],
        ]),
      );
      const live = byName.get('stats')!;
      expect([...live.keys()]).toEqual([
        'state.state',
        'state.reason',
        'cpu.time',
        'cpu.user',
        'cpu.system',
        'balloon.current',
        'balloon.maximum',
        'balloon.swap_in',
        'balloon.rss',
      ]);
      expect([live.get('state.state'), live.get('state.reason')]).toEqual([1, 1]);
      const active = await open().getAllDomainStats({ stats: ['state'], filter: { active: true } });
      expect(active.map((r) => [r.domain.name, r.params.length])).toEqual([['stats', 2]]);
      const one = await open().getAllDomainStats({ domains: [await open().lookupByName('idle')], stats: ['balloon', 'vcpu'] });
      expect(one.map((r) => r.params.map((p) => p.field))).toEqual([['balloon.current', 'balloon.maximum']]);
    } finally {
      await stop(dom);
    }
  });

  it('shut off: live requests fail as libvirt fails them, current means the definition', async () => {
    const dom = await open().defineXML(containerXML('off'));
    const notRunning = 'Requested operation is not valid: domain is not running';
    await expect(dom.memoryStats()).rejects.toThrow(notRunning);
    await expect(dom.getCPUStats()).rejects.toThrow(notRunning);
    await expect(dom.setMemory(1024n)).rejects.toThrow(notRunning);
    await expect(dom.getSchedulerParameters({ live: true })).rejects.toThrow(notRunning);
    await expect(dom.setBlkioParameters({ weight: 300 }, { live: true })).rejects.toThrow(notRunning);
    expect(await dom.getSchedulerType()).toEqual({ type: 'posix', nparams: 3 });
    expect(await dom.getMemoryParameters()).toEqual({ hardLimitKiB: 'unlimited', softLimitKiB: 'unlimited', swapHardLimitKiB: 'unlimited' });
    await dom.setMemory(32768n, {});
    await dom.setMaxMemory(16384n);
    expect(await dom.getXMLDesc()).toContain("<memory unit='KiB'>16384</memory>\n  <currentMemory unit='KiB'>16384</currentMemory>");
    expect((await dom.getInfo()).cpuTimeNs).toBe(0n);

    // A transient domain has no persistent definition to change.
    const transient = await open().createXML(containerXML('fleeting'));
    try {
      await expect(transient.setSchedulerParameters({ cpuShares: 100n }, { config: true })).rejects.toThrow(
        'Requested operation is not valid: transient domains do not have any persistent config',
      );
      await transient.setSchedulerParameters({ cpuShares: 100n });
      expect(cgroupFile('fleeting', 'cpu', 'cpu.shares')).toBe('100');
    } finally {
      await transient.destroy();
    }
    expect(leftovers('fleeting')).toEqual([]);
  });
});
