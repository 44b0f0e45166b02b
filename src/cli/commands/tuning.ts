/**
 * Resource tuning and statistics: schedinfo, memtune, blkiotune, setmem,
 * setmaxmem, dommemstat, cpu-stats, domstats — virsh's options, checks,
 * layouts and error lines (tools/virsh-domain.c, virsh-domain-monitor.c).
 */
import { VirError } from '../../xml/errors.js';
import { LLONG_MAX, ULLONG_MAX, parseInt32, parseSigned, parseUnsignedWrapping, scaleInteger } from '../../xml/units.js';
import type { Domain } from '../../driver/connection.js';
import type {
  AffectOptions,
  BlkioDeviceList,
  BlkioParameterChanges,
  MemoryLimit,
  MemoryParameterChanges,
  SchedulerChanges,
} from '../../driver/runtime/tuning.js';
import { blkioParamName } from '../../driver/runtime/blkioparams.js';
import type { StatsGroup } from '../../driver/runtime/domainstats.js';
import type { DomainState } from '../../driver/state.js';
import { CommandOptions, GROUPS, domainOption, type CommandSpec, type OptionSpec } from '../spec.js';
import type { Session } from '../session.js';
import { CONFIG, CURRENT, LIVE, exclusiveOptionsOk } from '../exclusive.js';

/* ---------- shared option handling ---------- */


/** "%-15s: %s" */
const param = (name: string, value: string | number | bigint): string => `${name.padEnd(15)}: ${value}\n`;

/** VSH_EXCLUSIVE_OPTIONS_VAR for --current against --live and --config; undefined after printing the error. */
function affectOptions(session: Session, opts: CommandOptions): AffectOptions | undefined {
  if (!exclusiveOptionsOk(session, opts, [['current', 'live'], ['current', 'config']])) return undefined;
  return { live: opts.flag('live'), config: opts.flag('config') };
}

/** The --live/--config/--current choice and the domain; undefined after virsh's error line. */
async function affectedDomain(session: Session, opts: CommandOptions): Promise<{ affect: AffectOptions; dom: Domain } | undefined> {
  const affect = affectOptions(session, opts);
  if (!affect) return undefined;
  const dom = await session.domain(opts);
  return dom ? { affect, dom } : undefined;
}

/** vshCommandOptInt: a whole int; undefined when absent, null after printing the error. */
function intOption(session: Session, opts: CommandOptions, name: string): number | undefined | null {
  const text = opts.value(name);
  if (text === undefined) return undefined;
  const value = parseInt32(text);
  if (value === undefined) {
    session.error(`Numeric value '${text}' for <${name}> option is malformed or out of range`);
    return null;
  }
  return value;
}

/** A leading decimal (virStrToLong_* with an end pointer) and what follows it. */
function leadingInteger(text: string, signed: boolean): { value: bigint; suffix: string } | undefined {
  const m = (signed ? /^[ \t\n\v\f\r]*([+-]?\d+)(.*)$/s : /^[ \t\n\v\f\r]*\+?(\d+)(.*)$/s).exec(text);
  return m ? { value: BigInt(m[1]!), suffix: m[2]! } : undefined;
}

/** virScaleInteger, reporting its complaint as the second error line virsh prints. */
function scaled(session: Session, value: bigint, suffix: string, limit: bigint, complaint: string): bigint | undefined {
  try {
    return scaleInteger(value, suffix, 1024n, limit);
  } catch (e) {
    if (!(e instanceof VirError)) throw e;
    session.error(complaint);
    session.report(e);
    return undefined;
  }
}

/** vshCommandOptScaledInt (default KiB) rounded up to KiB, as setmem and setmaxmem take it. */
function sizeKiB(session: Session, opts: CommandOptions): bigint | undefined {
  const text = opts.required('size');
  const complaint = `Scaled numeric value '${text}' for <size> option is malformed or out of range`;
  const n = leadingInteger(text, false);
  if (n === undefined || n.value > ULLONG_MAX) {
    session.error(complaint);
    return undefined;
  }
  const bytes = scaled(session, n.value, n.suffix, ULLONG_MAX, complaint);
  return bytes === undefined ? undefined : (bytes + 1023n) / 1024n;
}

/* ---------- schedinfo ---------- */

const SCHED_FIELDS = [
  { field: 'cpu_shares', key: 'cpuShares', type: 'unsigned long long' },
  { field: 'vcpu_period', key: 'vcpuPeriod', type: 'unsigned long long' },
  { field: 'vcpu_quota', key: 'vcpuQuota', type: 'long long' },
] as const;

/** cmdSchedInfoUpdate: --set name=value words, then --cap and --weight (which no container has). */
function schedulerChanges(session: Session, opts: CommandOptions, nparams: number): SchedulerChanges | undefined {
  const known = SCHED_FIELDS.slice(0, nparams);
  const changes: { -readonly [K in keyof SchedulerChanges]: bigint } = {};
  const sets = opts.words('set').map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1), w.includes('=')] as const);
  const legacy = (['cap', 'weight'] as const).flatMap((name) => {
    const v = opts.value(name);
    return v === undefined ? [] : [[name, v, true] as const];
  });
  for (const [name, text, hasValue] of [...sets, ...legacy]) {
    if (!hasValue) {
      session.error('Invalid syntax for --set, expecting name=value');
      return undefined;
    }
    const f = known.find((k) => k.field === name);
    if (!f) {
      session.error(`invalid scheduler option: ${name}`);
      return undefined;
    }
    const value = f.type === 'long long' ? parseSigned(text) : parseUnsignedWrapping(text);
    if (value === undefined) throw new VirError('VIR_ERR_INVALID_ARG', `Invalid value for field '${name}': expected ${f.type}`);
    changes[f.key] = value;
  }
  return changes;
}

const schedinfo: CommandSpec = {
  name: 'schedinfo',
  group: GROUPS.domain,
  help: 'show/set scheduler parameters',
  description: 'Show/Set scheduler parameters.',
  options: [
    domainOption(),
    { name: 'weight', type: 'string', help: 'weight for XEN_CREDIT' },
    { name: 'cap', type: 'string', help: 'cap for XEN_CREDIT' },
    { name: 'current', type: 'bool', help: 'get/set current scheduler info' },
    { name: 'config', type: 'bool', help: 'get/set value to be used on next boot' },
    { name: 'live', type: 'bool', help: 'get/set value from running domain' },
    { name: 'set', type: 'argv', help: 'parameter=value' },
  ],
  async run(session, opts) {
    const target = await affectedDomain(session, opts);
    if (!target) return false;
    const { affect, dom } = target;
    let nparams: number;
    try {
      const scheduler = await dom.getSchedulerType();
      nparams = scheduler.nparams;
      session.print(param('Scheduler', scheduler.type));
    } catch (e) {
      session.print(param('Scheduler', 'Unknown'));
      throw e;
    }
    // Both at once can be set but not read: the reading is of the current definition then.
    const readWith: AffectOptions = affect.live && affect.config ? {} : affect;
    let params = await dom.getSchedulerParameters(readWith);
    const changes = schedulerChanges(session, opts, nparams);
    if (!changes) return false;
    if (Object.keys(changes).length > 0) {
      await dom.setSchedulerParameters(changes, affect);
      params = await dom.getSchedulerParameters(readWith);
    } else if (affect.live && affect.config) {
      session.error('cannot query both live and config at once');
      return false;
    }
    for (const f of SCHED_FIELDS.slice(0, nparams)) {
      const value = params[f.key];
      if (value !== undefined) session.print(param(f.field, value));
    }
    return true;
  },
};

/* ---------- memtune ---------- */

const MEMTUNE_OPTIONS = [
  ['hard-limit', 'hardLimitKiB', 'Max memory, as scaled integer (default KiB)'],
  ['soft-limit', 'softLimitKiB', 'Memory during contention, as scaled integer (default KiB)'],
  ['swap-hard-limit', 'swapHardLimitKiB', 'Max memory plus swap, as scaled integer (default KiB)'],
  ['min-guarantee', 'minGuaranteeKiB', 'Min guaranteed memory, as scaled integer (default KiB)'],
] as const;

/** virshMemtuneGetSize: negative is unlimited, else scaled (default KiB) and rounded up to KiB. null after an error. */
function memtuneSize(session: Session, opts: CommandOptions, name: string): MemoryLimit | undefined | null {
  const text = opts.value(name);
  if (text === undefined) return undefined;
  const complaint = `Unable to parse integer parameter ${name}`;
  const n = leadingInteger(text, true);
  if (n === undefined || n.value > LLONG_MAX || n.value < -LLONG_MAX - 1n) {
    session.error(complaint);
    return null;
  }
  if (n.value < 0n) return 'unlimited';
  const bytes = scaled(session, n.value, n.suffix, LLONG_MAX, complaint);
  return bytes === undefined ? null : (bytes + 1023n) / 1024n;
}

const memtune: CommandSpec = {
  name: 'memtune',
  group: GROUPS.domain,
  help: 'Get or set memory parameters',
  description:
    'Get or set the current memory parameters for a guest domain.\n' +
    '    To get the memory parameters use following command: \n\n' +
    '    nsvirsh # memtune <domain>',
  options: [
    domainOption(),
    ...MEMTUNE_OPTIONS.map(([name, , help]): OptionSpec => ({ name, type: 'string', help })),
    CONFIG,
    LIVE,
    CURRENT,
  ],
  async run(session, opts) {
    const target = await affectedDomain(session, opts);
    if (!target) return false;
    const { affect, dom } = target;
    const changes: { -readonly [K in keyof MemoryParameterChanges]: MemoryLimit } = {};
    for (const [name, key] of MEMTUNE_OPTIONS) {
      const size = memtuneSize(session, opts, name);
      if (size === null) return false;
      if (size !== undefined) changes[key] = size;
    }
    if (Object.keys(changes).length > 0) {
      await session.withContext('Unable to change memory parameters', () => dom.setMemoryParameters(changes, affect));
      return true;
    }
    const limits = await session.withContext('Unable to get number of memory parameters', () =>
      dom.getMemoryParameters(affect),
    );
    session.print(
      param('hard_limit', limits.hardLimitKiB) +
        param('soft_limit', limits.softLimitKiB) +
        param('swap_hard_limit', limits.swapHardLimitKiB),
    );
    return true;
  },
};

/* ---------- blkiotune ---------- */

const BLKIO_DEVICE_OPTIONS = [
  ['device-weights', 'deviceWeight', 'per-device IO Weights, in the form of /path/to/device,weight,...'],
  ['device-read-iops-sec', 'deviceReadIopsSec', 'per-device read I/O limit per second, in the form of /path/to/device,read_iops_sec,...'],
  ['device-write-iops-sec', 'deviceWriteIopsSec', 'per-device write I/O limit per second, in the form of /path/to/device,write_iops_sec,...'],
  ['device-read-bytes-sec', 'deviceReadBytesSec', 'per-device bytes read per second, in the form of /path/to/device,read_bytes_sec,...'],
  ['device-write-bytes-sec', 'deviceWriteBytesSec', 'per-device bytes wrote per second, in the form of /path/to/device,write_bytes_sec,...'],
] as const;

const deviceListText = (list: BlkioDeviceList): string => list.map((d) => `${d.path},${d.value}`).join(',');

const blkiotune: CommandSpec = {
  name: 'blkiotune',
  group: GROUPS.domain,
  help: 'Get or set blkio parameters',
  description:
    'Get or set the current blkio parameters for a guest domain.\n' +
    '    To get the blkio parameters use following command: \n\n' +
    '    nsvirsh # blkiotune <domain>',
  options: [
    domainOption(),
    { name: 'weight', type: 'string', help: 'IO Weight' },
    ...BLKIO_DEVICE_OPTIONS.map(([name, , help]): OptionSpec => ({ name, type: 'string', help })),
    CONFIG,
    LIVE,
    CURRENT,
  ],
  async run(session, opts) {
    const target = await affectedDomain(session, opts);
    if (!target) return false;
    const { affect, dom } = target;
    const weight = intOption(session, opts, 'weight');
    if (weight === null) return false;
    if (weight !== undefined && weight <= 0) {
      session.error(`Invalid value of ${weight} for I/O weight`);
      return false;
    }
    const changes: { -readonly [K in keyof BlkioParameterChanges]: BlkioParameterChanges[K] } = weight === undefined ? {} : { weight };
    for (const [name, key] of BLKIO_DEVICE_OPTIONS) {
      const text = opts.value(name);
      if (text !== undefined) changes[key] = text;
    }
    if (Object.keys(changes).length > 0) {
      await session.withContext('Unable to change blkio parameters', () => dom.setBlkioParameters(changes, affect));
      return true;
    }
    const p = await session.withContext('Unable to get blkio parameters', () => dom.getBlkioParameters(affect));
    const devices = BLKIO_DEVICE_OPTIONS.map(([, key]) => param(blkioParamName(key), deviceListText(p[key])));
    session.print(param('weight', p.weight) + devices.join(''));
    return true;
  },
};

/* ---------- setmem, setmaxmem ---------- */

function memorySizeCommand(name: 'setmem' | 'setmaxmem'): CommandSpec {
  const max = name === 'setmaxmem';
  return {
    name,
    group: GROUPS.domain,
    help: max ? 'change maximum memory limit' : 'change memory allocation',
    description: max
      ? 'Change the maximum memory allocation limit in the guest domain.'
      : 'Change the current memory allocation in the guest domain.',
    options: [
      domainOption(),
      {
        name: 'size',
        type: 'data',
        required: true,
        help: max ? 'new maximum memory size, as scaled integer (default KiB)' : 'new memory size, as scaled integer (default KiB)',
      },
      CONFIG,
      LIVE,
      CURRENT,
    ],
    async run(session, opts) {
      const target = await affectedDomain(session, opts);
      if (!target) return false;
      const { affect, dom } = target;
      const kib = sizeKiB(session, opts);
      if (kib === undefined) return false;
      // No option at all calls virDomainSetMemory / virDomainSetMaxMemory, which have their own defaults.
      const flags = affect.live || affect.config || opts.flag('current') ? affect : undefined;
      if (!max) {
        await dom.setMemory(kib, flags);
        return true;
      }
      await session.withContext('Unable to change MaxMemorySize', () => dom.setMaxMemory(kib, flags));
      return true;
    },
  };
}

/* ---------- dommemstat ---------- */

const dommemstat: CommandSpec = {
  name: 'dommemstat',
  group: GROUPS.monitor,
  help: 'get memory statistics for a domain',
  description: 'Get memory statistics for a running domain.',
  options: [domainOption(), { name: 'period', type: 'string', help: 'period in seconds to set collection' }, CONFIG, LIVE, CURRENT],
  async run(session, opts) {
    if (!affectOptions(session, opts)) return false;
    const dom = await session.domain(opts);
    if (!dom) return false;
    const period = intOption(session, opts, 'period');
    if (period === null) return false;
    if (period !== undefined) {
      if (period < 0) {
        session.error(`Invalid collection period value '${period}'`);
        return false;
      }
      return session.withContext('Unable to change balloon collection period.', async () => {
        throw new VirError('VIR_ERR_NO_SUPPORT', 'virDomainSetMemoryStatsPeriod');
      });
    }
    const stats = await session.withContext(`Failed to get memory statistics for domain ${dom.name}`, () => dom.memoryStats());
    session.print(`actual ${stats.actualKiB}\nswap_in ${stats.swapInKiB}\nrss ${stats.rssKiB}\n`);
    return true;
  },
};

/* ---------- cpu-stats ---------- */

/** vshCPUStatsPrintField for a time: "\t%-12s %9lld.%09lld seconds". */
const cpuTimeField = (field: string, ns: bigint): string =>
  `\t${field.padEnd(12)} ${String(ns / 1_000_000_000n).padStart(9)}.${String(ns % 1_000_000_000n).padStart(9, '0')} seconds\n`;

const cpuStats: CommandSpec = {
  name: 'cpu-stats',
  group: GROUPS.domain,
  help: 'show domain cpu statistics',
  description: "Display per-CPU and total statistics about the domain's CPUs",
  options: [
    domainOption(),
    { name: 'total', type: 'bool', help: 'Show total statistics only' },
    { name: 'start', type: 'string', help: 'Show statistics from this CPU' },
    { name: 'count', type: 'string', help: 'Number of shown CPUs at most' },
  ],
  async run(session, opts) {
    const dom = await session.domain(opts);
    if (!dom) return false;
    let showTotal = opts.flag('total');
    const start = intOption(session, opts, 'start');
    if (start === null) return false;
    if (start !== undefined && start < 0) {
      session.error('Invalid value for start CPU');
      return false;
    }
    const count = intOption(session, opts, 'count');
    if (count === null) return false;
    if (count !== undefined && count < 0) {
      session.error('Invalid value for number of CPUs to show');
      return false;
    }
    let showPerCpu = start !== undefined || count !== undefined;
    if (!showTotal && !showPerCpu) showTotal = showPerCpu = true;
    const stats = await session.withContext(`Failed to retrieve CPU statistics for domain '${dom.name}'`, () => dom.getCPUStats());
    if (showPerCpu) {
      const first = start ?? 0;
      if (first >= stats.hostCpus) {
        session.error(`Start CPU ${first} is out of range (min: 0, max: ${stats.hostCpus - 1})`);
        return false;
      }
      if (count !== undefined && count > stats.hostCpus) session.print(`Only ${stats.hostCpus} CPUs available to show\n`);
      const shown = count === undefined || count > stats.hostCpus ? stats.hostCpus - first : count;
      if (!stats.perCpuTimeNs) {
        session.print('No per-CPU stats available');
        if (!showTotal) return false;
      } else {
        for (let cpu = first; cpu < Math.min(first + shown, stats.hostCpus); cpu++) {
          session.print(`CPU${cpu}:\n${cpuTimeField('cpu_time', stats.perCpuTimeNs[cpu]!)}`);
        }
      }
    }
    if (showTotal) {
      session.print(
        'Total:\n' +
          cpuTimeField('cpu_time', stats.cpuTimeNs) +
          cpuTimeField('user_time', stats.userTimeNs) +
          cpuTimeField('system_time', stats.systemTimeNs),
      );
    }
    return true;
  },
};

/* ---------- domstats ---------- */

const STATS_OPTIONS: ReadonlyArray<readonly [StatsGroup, string]> = [
  ['state', 'report domain state'],
  ['cpu-total', 'report domain physical cpu usage'],
  ['balloon', 'report domain balloon statistics'],
  ['vcpu', 'report domain virtual cpu information'],
  ['interface', 'report domain network interface information'],
  ['block', 'report domain block device statistics'],
  ['perf', 'report domain perf event statistics'],
  ['iothread', 'report domain IOThread information'],
  ['memory', 'report domain memory usage'],
  ['dirtyrate', 'report domain dirty rate information'],
  ['vm', 'report hypervisor-specific statistics'],
];

const LIST_OPTIONS = [
  ['list-active', 'list only active domains'],
  ['list-inactive', 'list only inactive domains'],
  ['list-persistent', 'list only persistent domains'],
  ['list-transient', 'list only transient domains'],
  ['list-running', 'list only running domains'],
  ['list-paused', 'list only paused domains'],
  ['list-shutoff', 'list only shutoff domains'],
  ['list-other', 'list only domains in other states'],
  ['raw', 'do not pretty-print the fields'],
  ['enforce', 'enforce requested stats parameters'],
  ['backing', 'add backing chain information to block stats'],
  ['nowait', 'report only stats that are accessible instantly'],
] as const;

const OTHER_STATES: readonly DomainState[] = ['nostate', 'blocked', 'shutdown', 'crashed', 'pmsuspended'];

/** Two opposite flags: only one given selects, both or neither do not filter. */
const eitherOr = (yes: boolean, no: boolean): boolean | undefined => (yes === no ? undefined : yes);

const domstats: CommandSpec = {
  name: 'domstats',
  group: GROUPS.monitor,
  help: 'get statistics about one or multiple domains',
  description: 'Gets statistics about one or more (or all) domains',
  options: [
    ...STATS_OPTIONS.map(([name, help]): OptionSpec => ({ name, type: 'bool', help })),
    ...LIST_OPTIONS.map(([name, help]): OptionSpec => ({ name, type: 'bool', help })),
    { name: 'domain', type: 'argv', help: 'list of domains to get stats for' },
  ],
  async run(session, opts) {
    const domains: Domain[] = [];
    for (const word of opts.words('domain')) {
      const dom = await session.domain(new CommandOptions(new Map([['domain', word]])));
      if (!dom) return false;
      domains.push(dom);
    }
    const states: DomainState[] = [
      ...(opts.flag('list-running') ? (['running'] as const) : []),
      ...(opts.flag('list-paused') ? (['paused'] as const) : []),
      ...(opts.flag('list-shutoff') ? (['shutoff'] as const) : []),
      ...(opts.flag('list-other') ? OTHER_STATES : []),
    ];
    const records = await session.connected.getAllDomainStats({
      stats: STATS_OPTIONS.filter(([name]) => opts.flag(name)).map(([name]) => name),
      enforce: opts.flag('enforce'),
      domains: domains.length > 0 ? domains : undefined,
      filter: {
        active: opts.flag('list-active') || undefined,
        inactive: opts.flag('list-inactive') || undefined,
        persistent: eitherOr(opts.flag('list-persistent'), opts.flag('list-transient')),
        states: states.length > 0 ? states : undefined,
      },
    });
    for (const { domain, params } of records) {
      session.print(`Domain: '${domain.name}'\n${params.map((p) => `  ${p.field}=${p.value}\n`).join('')}\n`);
    }
    return true;
  },
};

export const tuningCommands: readonly CommandSpec[] = [
  blkiotune,
  cpuStats,
  dommemstat,
  domstats,
  memorySizeCommand('setmaxmem'),
  memorySizeCommand('setmem'),
  memtune,
  schedinfo,
];
