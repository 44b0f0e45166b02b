/** Domain Management commands: define, undefine, dumpxml, domxml-from-native. */
import { GROUPS, domainOption, type CommandSpec } from '../spec.js';

const define: CommandSpec = {
  name: 'define',
  group: GROUPS.domain,
  help: "define (but don't start) a domain from an XML file",
  description: 'Define a domain.',
  options: [
    { name: 'file', type: 'data', required: true, help: 'file containing an XML domain description' },
    // Definitions are always checked in full; there is no separate schema pass to enable.
    { name: 'validate', type: 'bool', help: 'validate the XML against the schema' },
  ],
  async run(session, opts) {
    const file = opts.required('file');
    const xml = session.readFile(file);
    const dom = await session.withContext(`Failed to define domain from ${file}`, () =>
      session.connected.defineXML(xml),
    );
    session.printExtra(`Domain '${dom.name}' defined from ${file}\n`);
    return true;
  },
};

const undefine: CommandSpec = {
  name: 'undefine',
  group: GROUPS.domain,
  help: 'undefine a domain',
  description: 'Undefine an inactive domain, or convert persistent to transient.',
  options: [domainOption()],
  async run(session, opts) {
    const dom = await session.domain(opts);
    if (!dom) return false;
    // virsh names the domain as it was given on the command line.
    const given = opts.required('domain');
    await session.withContext(`Failed to undefine domain '${given}'`, () => dom.undefine());
    session.printExtra(`Domain '${given}' has been undefined\n`);
    return true;
  },
};

const dumpxml: CommandSpec = {
  name: 'dumpxml',
  group: GROUPS.domain,
  help: 'domain information in XML',
  description: 'Output the domain information as an XML dump to stdout.',
  options: [
    domainOption(),
    { name: 'inactive', type: 'bool', help: 'show inactive defined XML' },
    { name: 'security-info', type: 'bool', help: 'include security sensitive information in XML dump' },
  ],
  async run(session, opts) {
    const dom = await session.domain(opts);
    if (!dom) return false;
    session.print(await dom.getXMLDesc({ inactive: opts.flag('inactive'), securityInfo: opts.flag('security-info') }));
    return true;
  },
};

const domxmlFromNative: CommandSpec = {
  name: 'domxml-from-native',
  group: GROUPS.domain,
  help: 'Convert native config to domain XML',
  description: 'Convert native guest configuration format to domain XML format.',
  options: [
    { name: 'format', type: 'data', required: true, help: 'source config data format' },
    { name: 'config', type: 'data', required: true, help: 'config data file to import from' },
  ],
  async run(session, opts) {
    const config = session.readFile(opts.required('config')).toString('utf8');
    session.print(await session.connected.domainXMLFromNative(opts.required('format'), config));
    return true;
  },
};

export const domainCommands: readonly CommandSpec[] = [define, domxmlFromNative, dumpxml, undefine];
