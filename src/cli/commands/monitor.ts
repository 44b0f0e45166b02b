/** Domain Monitoring commands: list, dominfo, domstate, domid, domname, domuuid. */
import { exclusiveOptionsOk } from '../exclusive.js';
import type { Domain, ListDomainsFilter } from '../../driver/connection.js';
import type { DomainState } from '../../driver/state.js';
import { GROUPS, domainOption, type CommandOptions, type CommandSpec } from '../spec.js';
import type { Session } from '../session.js';
import { renderTable } from '../table.js';
import { STATE_WORDS, field, reasonWord } from '../words.js';

/** Two opposite flags: only one given selects, both or neither do not filter. */
const eitherOr = (yes: boolean, no: boolean): boolean | undefined => (yes === no ? undefined : yes);

const OTHER_STATES: readonly DomainState[] = ['nostate', 'blocked', 'shutdown', 'crashed', 'pmsuspended'];

/** cmdList's flags: --inactive and --all choose activity, the other filters narrow it. */
function listFilter(opts: CommandOptions): ListDomainsFilter {
  const all = opts.flag('all');
  const inactive = opts.flag('inactive');
  const states: DomainState[] = [
    ...(opts.flag('state-running') ? (['running'] as const) : []),
    ...(opts.flag('state-paused') ? (['paused'] as const) : []),
    ...(opts.flag('state-shutoff') ? (['shutoff'] as const) : []),
    ...(opts.flag('state-other') ? OTHER_STATES : []),
  ];
  return {
    active: all || !inactive,
    inactive: all || inactive,
    persistent: eitherOr(opts.flag('persistent'), opts.flag('transient')),
    autostart: eitherOr(opts.flag('autostart'), opts.flag('no-autostart')),
    states: states.length > 0 ? states : undefined,
  };
}

interface ListedDomain {
  readonly dom: Domain;
  readonly id: number | undefined;
}

/** virshDomainSorter: running domains by ID, then the others by name, ignoring ASCII case. */
function compareListed(a: ListedDomain, b: ListedDomain): number {
  if (a.id !== undefined && b.id !== undefined) return a.id - b.id;
  if (a.id !== undefined) return -1;
  if (b.id !== undefined) return 1;
  const an = a.dom.name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const bn = b.dom.name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return an < bn ? -1 : an > bn ? 1 : a.dom.name < b.dom.name ? -1 : a.dom.name > b.dom.name ? 1 : 0;
}

const idText = (id: number | undefined): string => (id === undefined ? '-' : String(id));

const listOptions = [
  ['inactive', 'list inactive domains'],
  ['all', 'list inactive & active domains'],
  ['transient', 'list transient domains'],
  ['persistent', 'list persistent domains'],
  ['autostart', 'list domains with autostart enabled'],
  ['no-autostart', 'list domains with autostart disabled'],
  ['state-running', 'list domains in running state'],
  ['state-paused', 'list domains in paused state'],
  ['state-shutoff', 'list domains in shutoff state'],
  ['state-other', 'list domains in other states'],
  ['uuid', "list uuid's only"],
  ['name', 'list domain names only'],
  ['id', 'list domain IDs only'],
  ['table', 'list table (default)'],
  ['title', 'show domain title'],
] as const;

const list: CommandSpec = {
  name: 'list',
  group: GROUPS.monitor,
  help: 'list domains',
  description: 'Returns list of domains.',
  options: listOptions.map(([name, help]) => ({ name, type: 'bool', help })),
  async run(session, opts) {
    const byUUID = opts.flag('uuid');
    const byName = opts.flag('name');
    const byID = opts.flag('id');
    if (!exclusiveOptionsOk(session, opts, [['table', 'name'], ['table', 'uuid'], ['table', 'id']])) return false;
    const domains = await session.connected.listAllDomains(listFilter(opts));
    const listed = await Promise.all(domains.map(async (dom) => ({ dom, id: await dom.getID() })));
    listed.sort(compareListed);

    if (!byUUID && !byName && !byID) {
      await printTable(session, listed, opts.flag('title'));
      return true;
    }
    for (const { dom, id } of listed) {
      // --id alone lists running domains only.
      if (byID && id === undefined && !byUUID && !byName) continue;
      const parts = [...(byID ? [idText(id)] : []), ...(byUUID ? [dom.uuid] : []), ...(byName ? [dom.name] : [])];
      session.print(`${parts.join(' ')}\n`);
    }
    return true;
  },
};

async function printTable(session: Session, listed: readonly ListedDomain[], withTitle: boolean): Promise<void> {
  const header = withTitle ? ['Id', 'Name', 'State', 'Title'] : ['Id', 'Name', 'State'];
  const rows = await Promise.all(
    listed.map(async ({ dom, id }) => {
      const row = [idText(id), dom.name, STATE_WORDS[(await dom.getState()).state]];
      return withTitle ? [...row, (await dom.getTitle()) ?? ''] : row;
    }),
  );
  session.print(renderTable(header, rows, !session.quiet));
}

const dominfo: CommandSpec = {
  name: 'dominfo',
  group: GROUPS.monitor,
  help: 'domain information',
  description: 'Returns basic information about the domain.',
  options: [domainOption()],
  async run(session, opts) {
    const dom = await session.domain(opts);
    if (!dom) return false;
    const info = await dom.getInfo();
    let out =
      field('Id:', idText(await dom.getID())) +
      field('Name:', dom.name) +
      field('UUID:', dom.uuid) +
      field('OS Type:', await dom.getOSType()) +
      field('State:', STATE_WORDS[info.state]) +
      field('CPU(s):', info.nrVirtCpu);
    if (info.cpuTimeNs !== 0n) out += field('CPU time:', `${(Number(info.cpuTimeNs) / 1e9).toFixed(1)}s`);
    out +=
      field('Max memory:', `${info.maxMemKiB} KiB`) +
      field('Used memory:', `${info.memoryKiB} KiB`) +
      field('Persistent:', (await dom.isPersistent()) ? 'yes' : 'no') +
      field('Autostart:', (await dom.getAutostart()) ? 'enable' : 'disable') +
      field('Managed save:', 'no');
    const security = session.connected.getSecurityModel();
    if (security.model !== '') out += field('Security model:', security.model) + field('Security DOI:', security.doi);
    session.print(out);
    return true;
  },
};

const domstate: CommandSpec = {
  name: 'domstate',
  group: GROUPS.monitor,
  help: 'domain state',
  description: 'Returns state about a domain.',
  options: [domainOption(), { name: 'reason', type: 'bool', help: 'also print reason for the state' }],
  async run(session, opts) {
    const dom = await session.domain(opts);
    if (!dom) return false;
    const state = await dom.getState();
    const word = STATE_WORDS[state.state];
    session.print(opts.flag('reason') ? `${word} (${reasonWord(state)})\n` : `${word}\n`);
    return true;
  },
};

const domid: CommandSpec = {
  name: 'domid',
  group: GROUPS.monitor,
  help: 'convert a domain name or UUID to domain id',
  description: '',
  options: [domainOption('domain name or uuid')],
  async run(session, opts) {
    const dom = await session.domain(opts, { name: true, uuid: true });
    if (!dom) return false;
    session.print(`${idText(await dom.getID())}\n`);
    return true;
  },
};

const domname: CommandSpec = {
  name: 'domname',
  group: GROUPS.monitor,
  help: 'convert a domain id or UUID to domain name',
  description: '',
  options: [domainOption('domain id or uuid')],
  async run(session, opts) {
    const dom = await session.domain(opts, { id: true, uuid: true });
    if (!dom) return false;
    session.print(`${dom.name}\n`);
    return true;
  },
};

const domuuid: CommandSpec = {
  name: 'domuuid',
  group: GROUPS.monitor,
  help: 'convert a domain name or id to domain UUID',
  description: '',
  options: [domainOption('domain id or name')],
  async run(session, opts) {
    const dom = await session.domain(opts, { id: true, name: true });
    if (!dom) return false;
    session.print(`${dom.uuid}\n`);
    return true;
  },
};

export const monitorCommands: readonly CommandSpec[] = [domid, dominfo, domname, domstate, domuuid, list];
