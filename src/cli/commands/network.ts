/** Interface commands: domiflist, domifaddr, domifstat. */
import { GROUPS, domainOption, type CommandSpec } from '../spec.js';
import { renderTable } from '../table.js';

const domiflist: CommandSpec = {
  name: 'domiflist',
  group: GROUPS.monitor,
  help: 'list all domain virtual interfaces',
  description: 'Get the summary of virtual interfaces for a domain.',
  options: [domainOption(), { name: 'inactive', type: 'bool', help: 'get inactive rather than running configuration' }],
  async run(session, opts) {
    const dom = await session.domain(opts);
    if (!dom) return false;
    const rows = await dom.interfaceList({ inactive: opts.flag('inactive') });
    session.print(renderTable(['Interface', 'Type', 'Source', 'Model', 'MAC'], rows.map((r) => [r.name, r.type, r.source, r.model, r.mac]), !session.quiet));
    return true;
  },
};

const domifaddr: CommandSpec = {
  name: 'domifaddr',
  group: GROUPS.monitor,
  help: 'Get network interfaces\' addresses for a running domain',
  description: 'Get network interfaces\' addresses for a running domain',
  options: [
    domainOption(),
    { name: 'interface', type: 'data', help: 'network interface name' },
    { name: 'full', type: 'bool', help: 'always display names and MACs of interfaces' },
    { name: 'source', type: 'string', help: 'address source: \'lease\', \'agent\', or \'arp\'' },
  ],
  async run(session, opts) {
    const dom = await session.domain(opts);
    if (!dom) return false;
    const wanted = opts.value('interface');
    const ifaces = (await session.withContext(`Failed to query for interfaces addresses`, () => dom.interfaceAddresses())).filter(
      (i) => wanted === undefined || i.name === wanted,
    );
    let out = ` ${'Name'.padEnd(10)} ${'MAC address'.padEnd(20)} ${'Protocol'.padEnd(8)}     Address\n${'-'.repeat(79)}\n`;
    for (const i of ifaces) {
      if (i.addrs.length === 0) out += ` ${i.name.padEnd(10)} ${i.hwaddr.padEnd(17)}    ${'N/A'.padEnd(12)} N/A\n`;
      i.addrs.forEach((a, n) => {
        const first = n === 0 || opts.flag('full');
        out += ` ${(first ? i.name : '-').padEnd(10)} ${(first ? i.hwaddr : '-').padEnd(17)}    ${a.type.padEnd(12)} ${a.addr}/${a.prefix}\n`;
      });
    }
    session.print(out);
    return true;
  },
};

const domifstat: CommandSpec = {
  name: 'domifstat',
  group: GROUPS.monitor,
  help: 'get network interface stats for a domain',
  description: 'Get network interface stats for a running domain.',
  options: [domainOption(), { name: 'interface', type: 'data', required: true, help: 'interface device specified by name or MAC Address' }],
  async run(session, opts) {
    const dom = await session.domain(opts);
    if (!dom) return false;
    const device = opts.required('interface');
    const s = await session.withContext(`Failed to get interface stats ${opts.required('domain')} ${device}`, () => dom.interfaceStats(device));
    const fields: Array<[string, bigint]> = [
      ['rx_bytes', s.rxBytes], ['rx_packets', s.rxPackets], ['rx_errs', s.rxErrs], ['rx_drop', s.rxDrop],
      ['tx_bytes', s.txBytes], ['tx_packets', s.txPackets], ['tx_errs', s.txErrs], ['tx_drop', s.txDrop],
    ];
    session.print(fields.map(([k, v]) => `${device} ${k} ${v}\n`).join(''));
    return true;
  },
};

export const networkCommands: readonly CommandSpec[] = [domifaddr, domiflist, domifstat];
