/**
 * virConnectGetAllDomainStats records (libvirt's LXC driver has none; nsvirt
 * fills the groups a container has, with the field names and types the QEMU
 * driver uses): state, cpu-total, balloon.
 */
import { VirError } from '../../xml/errors.js';
import type { Domain, ListDomainsFilter } from '../connection.js';
import type { DomainRef, DomainSnapshot } from '../driver.js';
import { domainGone } from '../errors.js';
import type { DomainState, DomainStateInfo, StateReasons } from '../state.js';
import { readHostFacts, type HostFacts } from './hostfacts.js';
import { domainCgroup } from './domaincgroup.js';
import { cpuTimeNs, memoryUsageKiB, swapUsageKiB, userSystemTimeNs } from './cgroupusage.js';

/** virDomainStatsTypes, by virsh's option names. */
export type StatsGroup =
  | 'state'
  | 'cpu-total'
  | 'balloon'
  | 'vcpu'
  | 'interface'
  | 'block'
  | 'perf'
  | 'iothread'
  | 'memory'
  | 'dirtyrate'
  | 'vm';

const GROUP_BITS: Readonly<Record<StatsGroup, number>> = {
  state: 0x1,
  'cpu-total': 0x2,
  balloon: 0x4,
  vcpu: 0x8,
  interface: 0x10,
  block: 0x20,
  perf: 0x40,
  iothread: 0x80,
  memory: 0x100,
  dirtyrate: 0x200,
  vm: 0x400,
};

const SUPPORTED_STATS: readonly StatsGroup[] = ['state', 'cpu-total', 'balloon'];

/** One typed parameter of a stats record: int/uint/llong/ullong as number or bigint, or a string. */
export interface TypedParameter {
  readonly field: string;
  readonly value: number | bigint | string;
}

/**
 * The groups to report: those asked for that nsvirt has (all of them when
 * none are asked for); with `enforce`, asking for others is an error.
 */
export function statsGroups(requested: readonly StatsGroup[], enforce: boolean): StatsGroup[] {
  if (requested.length === 0) return [...SUPPORTED_STATS];
  const missing = requested.filter((g) => !SUPPORTED_STATS.includes(g)).reduce((bits, g) => bits | GROUP_BITS[g], 0);
  if (enforce && missing !== 0) {
    throw new VirError('VIR_ERR_ARGUMENT_UNSUPPORTED', `Stats types bits 0x${missing.toString(16)} are not supported by this daemon`);
  }
  return SUPPORTED_STATS.filter((g) => requested.includes(g));
}

/** virDomainState numbers. */
const STATE_NUMBERS: Readonly<Record<DomainState, number>> = {
  nostate: 0,
  running: 1,
  blocked: 2,
  paused: 3,
  shutdown: 4,
  shutoff: 5,
  crashed: 6,
  pmsuspended: 7,
};

/** Each state's reason enum, in libvirt's order (the index is the number). */
const REASON_ORDER: { readonly [S in DomainState]: readonly StateReasons[S][] } = {
  nostate: ['unknown'],
  running: [
    'unknown',
    'booted',
    'migrated',
    'restored',
    'from-snapshot',
    'unpaused',
    'migration-canceled',
    'save-canceled',
    'wakeup',
    'crashed',
    'postcopy',
  ],
  blocked: ['unknown'],
  paused: [
    'unknown',
    'user',
    'migration',
    'save',
    'dump',
    'ioerror',
    'watchdog',
    'from-snapshot',
    'shutting-down',
    'snapshot',
    'crashed',
    'starting-up',
    'postcopy',
    'postcopy-failed',
  ],
  shutdown: ['unknown', 'user'],
  shutoff: ['unknown', 'shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from-snapshot', 'daemon'],
  crashed: ['unknown', 'panicked'],
  pmsuspended: ['unknown'],
};

function reasonNumber(info: DomainStateInfo): number {
  const order: readonly string[] = REASON_ORDER[info.state];
  return Math.max(0, order.indexOf(info.reason));
}

/** A group a running domain cannot report right now (its cgroup went away) is left out, as QEMU's driver does. */
function tryRead(read: () => TypedParameter[]): TypedParameter[] {
  try {
    return read();
  } catch {
    return [];
  }
}

/** One domain's record, its state as `state` says. */
export function domainStats(d: DomainSnapshot, state: DomainStateInfo, groups: readonly StatsGroup[], facts: HostFacts): TypedParameter[] {
  const params: TypedParameter[] = [];
  const cg = d.live ? domainCgroup(d.live.def, facts) : undefined;
  const current = d.live?.def ?? d.def;
  for (const group of groups) {
    if (group === 'state') {
      params.push({ field: 'state.state', value: STATE_NUMBERS[state.state] }, { field: 'state.reason', value: reasonNumber(state) });
    } else if (group === 'cpu-total' && cg) {
      params.push(
        ...tryRead(() => {
          const { userNs, systemNs } = userSystemTimeNs(cg);
          return [
            { field: 'cpu.time', value: cpuTimeNs(cg) },
            { field: 'cpu.user', value: userNs },
            { field: 'cpu.system', value: systemNs },
          ];
        }),
      );
    } else if (group === 'balloon') {
      params.push({ field: 'balloon.current', value: current.currentMemoryKiB }, { field: 'balloon.maximum', value: current.memoryKiB });
      if (cg) {
        params.push(
          ...tryRead(() => [
            { field: 'balloon.swap_in', value: swapUsageKiB(cg) },
            { field: 'balloon.rss', value: memoryUsageKiB(cg) },
          ]),
        );
      }
    }
  }
  return params;
}

/** virConnectGetAllDomainStats / virDomainListGetStats arguments. */
export interface DomainStatsOptions {
  /** The groups wanted (default: every group nsvirt has). */
  readonly stats?: readonly StatsGroup[];
  /** Fail when a wanted group is not available (VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS). */
  readonly enforce?: boolean;
  /** These domains, in this order (default: every domain). */
  readonly domains?: readonly DomainRef[];
  /** Only the domains matching, as listAllDomains filters. */
  readonly filter?: ListDomainsFilter;
}

export interface DomainStatsRecord {
  readonly domain: Domain;
  readonly params: readonly TypedParameter[];
}

/** What collecting stats needs from the driver. */
export interface StatsSource {
  listAll(): Promise<DomainSnapshot[]>;
  state(ref: DomainRef): Promise<DomainStateInfo>;
}

/** The chosen domains that `include` accepts, each with its record. */
export async function collectDomainStats(
  source: StatsSource,
  opts: DomainStatsOptions,
  include: (d: DomainSnapshot) => boolean,
): Promise<Array<{ snapshot: DomainSnapshot; params: TypedParameter[] }>> {
  const groups = statsGroups(opts.stats ?? [], opts.enforce ?? false);
  const all = await source.listAll();
  const chosen = opts.domains
    ? opts.domains.map((ref) => {
        const found = all.find((d) => d.uuid === ref.uuid);
        if (!found) throw domainGone(ref.uuid, ref.name);
        return found;
      })
    : all;
  const facts = readHostFacts();
  const records: Array<{ snapshot: DomainSnapshot; params: TypedParameter[] }> = [];
  for (const snapshot of chosen.filter(include)) {
    const state = snapshot.live?.state ?? (await source.state(snapshot));
    records.push({ snapshot, params: domainStats(snapshot, state, groups, facts) });
  }
  return records;
}
