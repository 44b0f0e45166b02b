/**
 * nsvirsh schedinfo, memtune, blkiotune, setmem, setmaxmem, dommemstat,
 * cpu-stats, domstats and dominfo's live lines against virsh's layouts and
 * error lines (reference §5). Shut-off behaviour needs no container; the
 * live commands start real ones (root) and check the kernel's files.
 */
import { containerCgroupFile, hostLeftovers } from './support/leftovers.js';
import { runNsvirsh } from './support/cli.js';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildRootfs, type Rootfs } from './support/rootfs.js';
import { domainXML, useTempRoot } from './support/tmproot.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const { root } = useTempRoot('nsvirt-cli-tune-');
beforeEach(() => chmodSync(root(), 0o755));

const nsvirsh = (...args: string[]): Promise<Result> => runNsvirsh(args, { env: { NSVIRT_ROOT: root() }, cwd: root() });

const ok = (stdout: string): Result => ({ code: 0, stdout: `${stdout}\n`, stderr: '' });
const failed = (stderr: string, stdout = '\n'): Result => ({ code: 1, stdout, stderr });

async function define(name: string, xml = domainXML(name)): Promise<void> {
  writeFileSync(join(root(), `${name}.xml`), xml);
  expect((await nsvirsh('define', `${name}.xml`)).code).toBe(0);
}

const NOT_RUNNING = 'error: Requested operation is not valid: domain is not running\n';

describe('a shut-off domain', () => {
  it('schedinfo, memtune and blkiotune show the definition', async () => {
    await define('web');
    expect(await nsvirsh('schedinfo', 'web')).toEqual(
      ok('Scheduler      : posix\ncpu_shares     : 0\nvcpu_period    : 0\nvcpu_quota     : 0\n'),
    );
    expect(await nsvirsh('memtune', 'web')).toEqual(ok('hard_limit     : unlimited\nsoft_limit     : unlimited\nswap_hard_limit: unlimited\n'));
    expect(await nsvirsh('blkiotune', 'web')).toEqual(
      ok(
        'weight         : 0\ndevice_weight  : \ndevice_read_iops_sec: \ndevice_write_iops_sec: \n' +
          'device_read_bytes_sec: \ndevice_write_bytes_sec: \n',
      ),
    );
  });

  it('changes go to the stored definition (current = config), in libvirt units', async () => {
    await define('web');
    expect(await nsvirsh('schedinfo', 'web', '--set', 'cpu_shares=2048', '--set', 'vcpu_quota=-1')).toEqual(
      ok('Scheduler      : posix\ncpu_shares     : 2048\nvcpu_period    : 0\nvcpu_quota     : -1\n'),
    );
    expect(await nsvirsh('memtune', 'web', '--hard-limit', '100M', '--soft-limit', '1000', '--swap-hard-limit', '-1')).toEqual(ok(''));
    expect(await nsvirsh('memtune', 'web', '--config')).toEqual(ok('hard_limit     : 102400\nsoft_limit     : 1000\nswap_hard_limit: unlimited\n'));
    expect(await nsvirsh('blkiotune', 'web', '--weight', '700', '--device-read-iops-sec', '/dev/sda,100,/dev/sdb,0', '--current')).toEqual(ok(''));
    expect((await nsvirsh('blkiotune', 'web')).stdout).toContain('weight         : 700\n');
    expect((await nsvirsh('blkiotune', 'web')).stdout).toContain('device_read_iops_sec: /dev/sda,100\n');
    expect(await nsvirsh('setmaxmem', 'web', '128M')).toEqual(ok(''));
    expect(await nsvirsh('setmem', 'web', '32768', '--config')).toEqual(ok(''));
    const xml = (await nsvirsh('dumpxml', '--inactive', 'web')).stdout;
    expect(xml).toContain("<memory unit='KiB'>131072</memory>\n  <currentMemory unit='KiB'>32768</currentMemory>\n");
    expect(xml).toContain(
      '<blkiotune>\n    <weight>700</weight>\n    <device>\n      <path>/dev/sda</path>\n      <read_iops_sec>100</read_iops_sec>\n    </device>\n  </blkiotune>\n',
    );
    expect(xml).toContain("<memtune>\n    <hard_limit unit='KiB'>102400</hard_limit>\n    <soft_limit unit='KiB'>1000</soft_limit>\n  </memtune>\n");
    expect(xml).toContain('<cputune>\n    <shares>2048</shares>\n    <quota>-1</quota>\n  </cputune>\n');
    expect((await nsvirsh('dominfo', 'web')).stdout).toContain('Max memory:     131072 KiB\nUsed memory:    32768 KiB\n');
  });

  it('live requests fail with virsh and libvirt error lines', async () => {
    await define('web');
    expect(await nsvirsh('dommemstat', 'web')).toEqual(failed(`error: Failed to get memory statistics for domain web\n${NOT_RUNNING}`));
    expect(await nsvirsh('cpu-stats', 'web')).toEqual(failed(`error: Failed to retrieve CPU statistics for domain 'web'\n${NOT_RUNNING}`));
    expect(await nsvirsh('cpu-stats', 'web', '--total')).toEqual(failed(`error: Failed to retrieve CPU statistics for domain 'web'\n${NOT_RUNNING}`));
    // setmem without options is virDomainSetMemory: the running domain only.
    expect(await nsvirsh('setmem', 'web', '1024')).toEqual(failed(NOT_RUNNING));
    expect(await nsvirsh('schedinfo', 'web', '--live')).toEqual(failed(NOT_RUNNING, 'Scheduler      : posix\n\n'));
    expect(await nsvirsh('memtune', 'web', '--live')).toEqual(failed(`error: Unable to get number of memory parameters\n${NOT_RUNNING}`));
    expect(await nsvirsh('blkiotune', 'web', '--live')).toEqual(failed(`error: Unable to get blkio parameters\n${NOT_RUNNING}`));
    expect(await nsvirsh('memtune', 'web', '--live', '--hard-limit', '1G')).toEqual(failed(`error: Unable to change memory parameters\n${NOT_RUNNING}`));
    expect(await nsvirsh('blkiotune', 'web', '--weight', '300', '--live')).toEqual(failed(`error: Unable to change blkio parameters\n${NOT_RUNNING}`));
    expect(await nsvirsh('setmem', 'web', '1024', '--live')).toEqual(failed(NOT_RUNNING));
    expect(await nsvirsh('setmem', 'web', '1G', '--config')).toEqual(failed('error: invalid argument: Cannot set memory higher than max memory\n'));
  });

  it('refuses what virsh refuses, before or after asking the driver as virsh does', async () => {
    await define('web');
    expect(await nsvirsh('setmem', 'web', '1', '--current', '--live')).toEqual(failed('error: Options --current and --live are mutually exclusive\n'));
    expect(await nsvirsh('memtune', 'web', '--config', '--current')).toEqual(failed('error: Options --current and --config are mutually exclusive\n'));
    expect(await nsvirsh('schedinfo', 'web', '--weight', '5', '--cap', '3')).toEqual(
      failed('error: invalid scheduler option: cap\n', 'Scheduler      : posix\n\n'),
    );
    expect(await nsvirsh('schedinfo', 'web', '--weight', '5')).toEqual(failed('error: invalid scheduler option: weight\n', 'Scheduler      : posix\n\n'));
    expect(await nsvirsh('schedinfo', 'web', '--set', 'cpu_shares')).toEqual(
      failed('error: Invalid syntax for --set, expecting name=value\n', 'Scheduler      : posix\n\n'),
    );
    expect(await nsvirsh('schedinfo', 'web', '--set', 'vcpu_quota=x')).toEqual(
      failed("error: invalid argument: Invalid value for field 'vcpu_quota': expected long long\n", 'Scheduler      : posix\n\n'),
    );
    expect(await nsvirsh('schedinfo', 'web', '--live', '--config')).toEqual(
      failed('error: cannot query both live and config at once\n', 'Scheduler      : posix\n\n'),
    );
    expect(await nsvirsh('schedinfo', 'web', '--set', 'cpu_shares=1', '--config')).toEqual(
      failed("error: unsupported configuration: Value of cputune 'shares' must be in range [2, 262144]\n", 'Scheduler      : posix\n\n'),
    );
    expect(await nsvirsh('memtune', 'web', '--hard-limit', 'lots')).toEqual(failed('error: Unable to parse integer parameter hard-limit\n'));
    expect(await nsvirsh('memtune', 'web', '--soft-limit', '5X')).toEqual(
      failed("error: Unable to parse integer parameter soft-limit\nerror: invalid argument: unknown suffix 'X'\n"),
    );
    expect(await nsvirsh('memtune', 'web', '--min-guarantee', '5')).toEqual(
      failed("error: Unable to change memory parameters\nerror: argument unsupported: parameter 'min_guarantee' not supported\n"),
    );
    expect(await nsvirsh('memtune', 'web', '--hard-limit', '2G', '--swap-hard-limit', '1G')).toEqual(
      failed(
        'error: Unable to change memory parameters\n' +
          'error: invalid argument: memory hard_limit tunable value must be lower than or equal to swap_hard_limit\n',
      ),
    );
    expect(await nsvirsh('blkiotune', 'web', '--weight', '0')).toEqual(failed('error: Invalid value of 0 for I/O weight\n'));
    expect(await nsvirsh('blkiotune', 'web', '--weight', 'x')).toEqual(failed("error: Numeric value 'x' for <weight> option is malformed or out of range\n"));
    expect(await nsvirsh('blkiotune', 'web', '--device-write-bytes-sec', '/dev/sda')).toEqual(
      failed("error: Unable to change blkio parameters\nerror: invalid argument: unable to parse blkio device 'device_write_bytes_sec' '/dev/sda'\n"),
    );
    expect(await nsvirsh('setmem', 'web', 'big')).toEqual(failed("error: Scaled numeric value 'big' for <size> option is malformed or out of range\n"));
    expect(await nsvirsh('setmem', 'web', '1Q', '--config')).toEqual(
      failed("error: Scaled numeric value '1Q' for <size> option is malformed or out of range\nerror: invalid argument: unknown suffix 'Q'\n"),
    );
    expect(await nsvirsh('setmaxmem', 'web', '0')).toEqual(
      failed('error: Unable to change MaxMemorySize\nerror: invalid argument: memory in virDomainSetMaxMemory must not be zero\n'),
    );
    expect(await nsvirsh('dommemstat', 'web', '--period', '5')).toEqual(
      failed(
        'error: Unable to change balloon collection period.\n' +
          'error: this function is not supported by the connection driver: virDomainSetMemoryStatsPeriod\n',
      ),
    );
    expect(await nsvirsh('cpu-stats', 'web', '--start', '-1')).toEqual(failed('error: Invalid value for start CPU\n'));
    expect(await nsvirsh('cpu-stats', 'nope')).toEqual(failed("error: failed to get domain 'nope'\n"));
    expect(await nsvirsh('domstats', 'web', 'nope')).toEqual(failed("error: failed to get domain 'nope'\n"));
  });

  it('domstats: state and balloon records; --enforce refuses groups nsvirt lacks', async () => {
    await define('web');
    await define('db', domainXML('db', { memoryKiB: 131072 }));
    expect(await nsvirsh('domstats')).toEqual(
      ok(
        "Domain: 'db'\n  state.state=5\n  state.reason=0\n  balloon.current=131072\n  balloon.maximum=131072\n\n" +
          "Domain: 'web'\n  state.state=5\n  state.reason=0\n  balloon.current=65536\n  balloon.maximum=65536\n\n",
      ),
    );
    expect(await nsvirsh('domstats', '--state', '--vcpu', 'web')).toEqual(ok("Domain: 'web'\n  state.state=5\n  state.reason=0\n\n"));
    expect(await nsvirsh('domstats', '--list-active')).toEqual(ok(''));
    expect(await nsvirsh('domstats', '--block', '--enforce')).toEqual(
      failed('error: argument unsupported: Stats types bits 0x20 are not supported by this daemon\n'),
    );
  });

  it('help lays the options out as virsh does', async () => {
    expect((await nsvirsh('help', 'schedinfo')).stdout).toContain(
      '  SYNOPSIS\n    schedinfo <domain> [--weight <string>] [--cap <string>] [--current] [--config] [--live] [[--set] <string>]...\n',
    );
    expect((await nsvirsh('help', 'setmem')).stdout).toContain('  SYNOPSIS\n    setmem <domain> <size> [--config] [--live] [--current]\n');
  });
});

/* ---------- running domains ---------- */

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('cli-tuning.test.ts: running-domain tests skipped, starting containers needs root');

describe.skipIf(!isRoot)('a running domain (root)', () => {
  let rootfs: Rootfs;
  beforeAll(() => {
    rootfs = buildRootfs();
  });
  afterAll(() => {
    rootfs.remove();
    expect(existsSync(rootfs.path)).toBe(false);
  });

  const containerXML = (name: string): string => `<domain type='lxc'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <os><type>exe</type><init>/bin/sh</init><initarg>-c</initarg><initarg>i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 300</initarg></os>
  <devices>
    <filesystem type='mount'><source dir='${rootfs.path}'/><target dir='/'/></filesystem>
    <console type='pty'/>
  </devices>
</domain>`;

  const cgroupFile = containerCgroupFile;

  const leftovers = (name: string): string[] => hostLeftovers(root(), name);

  async function withRunning(name: string, body: () => Promise<void>): Promise<void> {
    await define(name, containerXML(name));
    expect((await nsvirsh('start', name)).code).toBe(0);
    try {
      await body();
    } finally {
      await nsvirsh('destroy', name);
    }
    expect(leftovers(name)).toEqual([]);
  }

  it('schedinfo and memtune read and write the cgroup', async () => {
    await withRunning('web', async () => {
      expect(await nsvirsh('schedinfo', 'web')).toEqual(
        ok('Scheduler      : posix\ncpu_shares     : 1024\nvcpu_period    : 100000\nvcpu_quota     : -1\n'),
      );
      expect(await nsvirsh('schedinfo', 'web', '--set', 'cpu_shares=512', '--set', 'vcpu_quota=30000', '--live')).toEqual(
        ok('Scheduler      : posix\ncpu_shares     : 512\nvcpu_period    : 100000\nvcpu_quota     : 30000\n'),
      );
      expect([cgroupFile('web', 'cpu', 'cpu.shares'), cgroupFile('web', 'cpu', 'cpu.cfs_quota_us')]).toEqual(['512', '30000']);
      expect(await nsvirsh('schedinfo', 'web', '--config')).toEqual(
        ok('Scheduler      : posix\ncpu_shares     : 0\nvcpu_period    : 0\nvcpu_quota     : 0\n'),
      );
      expect(await nsvirsh('schedinfo', 'web', '--set', 'vcpu_period=10')).toEqual(
        failed("error: invalid argument: cfs_period '10' must be in range (1000, 1000000)\n", 'Scheduler      : posix\n\n'),
      );

      expect(await nsvirsh('memtune', 'web')).toEqual(ok('hard_limit     : 65536\nsoft_limit     : unlimited\nswap_hard_limit: unlimited\n'));
      expect(await nsvirsh('memtune', 'web', '--hard-limit', '48M', '--soft-limit', '16384')).toEqual(ok(''));
      expect(cgroupFile('web', 'memory', 'memory.limit_in_bytes')).toBe(String(48 << 20));
      expect(cgroupFile('web', 'memory', 'memory.soft_limit_in_bytes')).toBe(String(16 << 20));
      expect(await nsvirsh('memtune', 'web')).toEqual(ok('hard_limit     : 49152\nsoft_limit     : 16384\nswap_hard_limit: unlimited\n'));
      expect(await nsvirsh('memtune', 'web', '--config')).toEqual(ok('hard_limit     : unlimited\nsoft_limit     : unlimited\nswap_hard_limit: unlimited\n'));
    });
  });

  it('setmem writes the memory limit; setmaxmem refuses a running domain; dominfo and dommemstat read usage', async () => {
    await withRunning('web', async () => {
      expect(await nsvirsh('setmem', 'web', '40M')).toEqual(ok(''));
      expect(cgroupFile('web', 'memory', 'memory.limit_in_bytes')).toBe(String(40 << 20));
      expect(await nsvirsh('setmem', 'web', '65537')).toEqual(failed('error: invalid argument: Cannot set memory higher than max memory\n'));
      expect(await nsvirsh('setmaxmem', 'web', '128M')).toEqual(
        failed('error: Unable to change MaxMemorySize\nerror: Requested operation is not valid: Cannot resize the max memory on an active domain\n'),
      );
      expect(await nsvirsh('setmaxmem', 'web', '128M', '--config')).toEqual(ok(''));

      const memstat = await nsvirsh('dommemstat', 'web');
      expect(memstat.stdout).toMatch(/^actual 40960\nswap_in \d+\nrss [1-9]\d*\n\n$/);
      const rss = Number(/rss (\d+)/.exec(memstat.stdout)![1]);
      expect(rss).toBeCloseTo(Number(cgroupFile('web', 'memory', 'memory.usage_in_bytes')) / 1024, -3);

      const info = (await nsvirsh('dominfo', 'web')).stdout;
      expect(info).toMatch(/\nCPU\(s\):         1\nCPU time:       \d+\.\ds\nMax memory:     65536 KiB\nUsed memory:    [1-9]\d* KiB\n/);
    });
    // Shut off again: Used memory is the allocation, no CPU time line.
    expect((await nsvirsh('dominfo', 'web')).stdout).toContain('CPU(s):         1\nMax memory:     131072 KiB\nUsed memory:    65536 KiB\n');
  });

  it('blkiotune sets throttles; a live weight needs bfq or cfq', async ({ skip }) => {
    const disk = readdirSync('/sys/block')
      .filter((d) => !/^(loop|ram|zram|nbd)/.test(d))
      .map((d) => `/dev/${d}`)
      .find((p) => existsSync(p) && statSync(p).isBlockDevice());
    if (!disk) skip();
    const { rdev } = statSync(disk!);
    const dev = `${Math.floor(rdev / 256) & 0xfff}:${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)}`;
    await withRunning('web', async () => {
      expect(await nsvirsh('blkiotune', 'web', '--device-read-bytes-sec', `${disk},2097152`, '--device-write-iops-sec', `${disk},100`)).toEqual(ok(''));
      expect(cgroupFile('web', 'blkio', 'blkio.throttle.read_bps_device')).toBe(`${dev} 2097152`);
      expect(cgroupFile('web', 'blkio', 'blkio.throttle.write_iops_device')).toBe(`${dev} 100`);
      const shown = (await nsvirsh('blkiotune', 'web')).stdout;
      expect(shown).toContain(`device_read_bytes_sec: ${disk},2097152\n`);
      expect(shown).toContain(`device_write_iops_sec: ${disk},100\n`);
      expect(await nsvirsh('blkiotune', 'web', '--device-read-iops-sec', '/dev/null,5')).toEqual(
        failed("error: Unable to change blkio parameters\nerror: Path '/dev/null' must be a block device: Invalid argument\n"),
      );
      if (!['blkio.bfq.weight', 'blkio.weight'].some((f) => existsSync(join('/sys/fs/cgroup/blkio', f)))) {
        expect(await nsvirsh('blkiotune', 'web', '--weight', '500')).toEqual(
          failed('error: Unable to change blkio parameters\nerror: Requested operation is not valid: blkio device weight is valid only for bfq or cfq scheduler\n'),
        );
        expect(shown).toMatch(/^weight         : 0\n/);
      }
    });
  });

  /** Wait until init's busy loop is over and the container only sleeps. */
  async function settled(name: string): Promise<void> {
    let last = '';
    for (let i = 0; i < 100; i++) {
      const now = cgroupFile(name, 'cpuacct', 'cpuacct.usage');
      if (now === last) return;
      last = now;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${name} keeps using CPU`);
  }

  it('cpu-stats and domstats lay the counters out as virsh does', async () => {
    await withRunning('web', async () => {
      await settled('web');
      const usage = cgroupFile('web', 'cpuacct', 'cpuacct.usage_percpu').split(/\s+/).map(BigInt);
      const seconds = (ns: bigint): string => `${String(ns / 1_000_000_000n).padStart(9)}.${String(ns % 1_000_000_000n).padStart(9, '0')} seconds`;
      const stats = await nsvirsh('cpu-stats', 'web');
      expect(stats.code).toBe(0);
      const lines = stats.stdout.split('\n');
      expect(lines[0]).toBe('CPU0:');
      expect(lines[1]).toBe(`\tcpu_time     ${seconds(usage[0]!)}`);
      expect(stats.stdout).toMatch(
        /\nTotal:\n\tcpu_time {5}[ \d]{9}\.\d{9} seconds\n\tuser_time {4}[ \d]{9}\.\d{9} seconds\n\tsystem_time  [ \d]{9}\.\d{9} seconds\n\n$/,
      );
      const total = await nsvirsh('cpu-stats', 'web', '--total');
      expect(total.stdout).toMatch(/^Total:\n\tcpu_time {5}[ \d]{9}\.\d{9} seconds\n/);
      expect(await nsvirsh('cpu-stats', 'web', '--start', '0', '--count', '1')).toEqual(ok(`CPU0:\n\tcpu_time     ${seconds(usage[0]!)}\n`));
      const cpus = readFileSync('/sys/devices/system/cpu/present', 'utf8').trim();
      const hostCpus = Number(cpus.split(/[-,]/).pop()) + 1;
      expect(await nsvirsh('cpu-stats', 'web', '--start', String(hostCpus))).toEqual(
        failed(`error: Start CPU ${hostCpus} is out of range (min: 0, max: ${hostCpus - 1})\n`),
      );

      expect((await nsvirsh('domstats', 'web')).stdout).toMatch(
        /^Domain: 'web'\n  state\.state=1\n  state\.reason=1\n  cpu\.time=\d+\n  cpu\.user=\d+\n  cpu\.system=\d+\n  balloon\.current=65536\n  balloon\.maximum=65536\n  balloon\.swap_in=\d+\n  balloon\.rss=\d+\n\n\n$/,
      );
      expect(await nsvirsh('domstats', '--list-shutoff')).toEqual(ok(''));
    });
  });
});
