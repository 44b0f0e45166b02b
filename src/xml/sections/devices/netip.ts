/**
 * <ip> and <route> children (virDomainNetIPInfoParseXML,
 * virNetDevIPRouteParseXML and their formatters). Used for an interface's
 * guest side, its host side (<source> of type='ethernet') and, by the hostdev
 * module, for <hostdev mode='capabilities' type='net'>.
 */
import { invalidArg, xmlError } from '../../errors.js';
import { attr, elements, type XmlElement } from '../../tree.js';
import { add, type Builder } from '../../writer.js';
import { nonEmptyAttr } from '../xml-access.js';
import { parseUIntWrapping } from './props.js';
import { parseULongLongWrapping } from './storage-props.js';
import { formatIp, maskByNetmask, maskByPrefix, parseIp, sameIp, type IpFamily, type ParsedIp } from './netaddr.js';

export type { IpFamily } from './netaddr.js';

export interface IpAddressDef {
  /** Canonical text form (e.g. `10.0.0.5`, `2001:db8::5`). */
  address: string;
  family: IpFamily;
  /** Prefix length; absent means "not given" (libvirt treats 0 the same). */
  prefix?: number;
  /** Address of the other end of a point-to-point link. */
  peer?: string;
}

export interface IpRouteDef {
  /** As written; absent means IPv4 rules apply. */
  family?: IpFamily;
  /** Destination network address. */
  address: string;
  /** IPv4 netmask, the alternative to `prefix`. */
  netmask?: string;
  prefix?: number;
  gateway: string;
  /** Route metric (> 0). */
  metric?: number;
}

export interface IpConfig {
  ips: IpAddressDef[];
  routes: IpRouteDef[];
}

export const emptyIpConfig = (): IpConfig => ({ ips: [], routes: [] });

export const hasIpConfig = (c: IpConfig): boolean => c.ips.length > 0 || c.routes.length > 0;

const familyFromAttr = (value: string | undefined): IpFamily | undefined =>
  value === 'ipv4' || value === 'ipv6' ? value : undefined;

/** virDomainNetIPParseXML */
function parseIpAddress(el: XmlElement): IpAddressDef {
  const address = attr(el, 'address');
  if (address === undefined) throw xmlError('Missing required address in <ip>');
  const parsed = parseIp(address, familyFromAttr(attr(el, 'family')));
  if (!parsed) throw xmlError(`Invalid address '${address}' in <ip>`);

  const def: IpAddressDef = { address: formatIp(parsed), family: parsed.family };
  const prefixText = attr(el, 'prefix');
  if (prefixText !== undefined) {
    const prefix = parseUIntWrapping(prefixText);
    if (prefix === undefined || prefix > (parsed.family === 'ipv6' ? 128 : 32)) {
      throw xmlError(`Invalid prefix value '${prefixText}' in <ip>`);
    }
    if (prefix !== 0) def.prefix = prefix;
  }
  const peerText = attr(el, 'peer');
  if (peerText !== undefined) {
    const peer = parseIp(peerText, parsed.family);
    if (!peer) throw invalidArg(`Invalid peer '${peerText}' in <ip>`);
    def.peer = formatIp(peer);
  }
  return def;
}

/** virXPathULong on an attribute (strtoul, so "-1" wraps): absent, a value, or invalid. */
function readULong(el: XmlElement, name: string): { value?: bigint; invalid?: true } {
  const text = nonEmptyAttr(el, name);
  if (text === undefined) return {};
  const value = parseULongLongWrapping(text);
  return value === undefined ? { invalid: true } : { value };
}

/** libvirt keeps these in an unsigned int. */
const toUInt32 = (v: bigint): number => Number(v & 0xffffffffn);

interface RouteText {
  family?: string;
  address?: string;
  netmask?: string;
  gateway?: string;
  prefix?: number;
  metric?: number;
}

/** virNetDevIPRouteParseXML: read the attributes, then check them as virNetDevIPRouteCreate does. */
function parseRoute(el: XmlElement, detail: string): IpRouteDef {
  const fail = (msg: string) => xmlError(`${detail}: ${msg}`);
  const text: RouteText = {
    family: nonEmptyAttr(el, 'family'),
    address: nonEmptyAttr(el, 'address'),
    netmask: nonEmptyAttr(el, 'netmask'),
    gateway: nonEmptyAttr(el, 'gateway'),
  };
  const prefix = readULong(el, 'prefix');
  if (prefix.invalid) throw fail('Invalid prefix specified in route definition');
  if (prefix.value !== undefined) text.prefix = toUInt32(prefix.value);
  const metric = readULong(el, 'metric');
  if (metric.invalid) throw fail('Invalid metric specified in route definition');
  if (metric.value !== undefined) {
    if (metric.value === 0n) throw fail('Invalid metric value, must be > 0 in route definition');
    text.metric = toUInt32(metric.value);
  }
  return checkRoute(text, fail);
}

function checkRoute(text: RouteText, fail: (msg: string) => Error): IpRouteDef {
  if (text.address === undefined) throw fail('Missing required address attribute in route definition');
  if (text.gateway === undefined) throw fail('Missing required gateway attribute in route definition');
  const address = parseIp(text.address);
  if (!address) throw fail(`Bad network address '${text.address}' in route definition`);
  const gateway = parseIp(text.gateway);
  if (!gateway) throw fail(`Bad gateway address '${text.gateway}' in route definition`);

  let netmask: ParsedIp | undefined;
  const prefix = text.prefix ?? 0;
  if (text.family === undefined || text.family === 'ipv4') {
    const which = text.family === undefined ? 'No family specified for' : 'IPv4 family specified for';
    if (address.family !== 'ipv4') throw fail(`${which} non-IPv4 address '${text.address}' in route definition`);
    if (gateway.family !== 'ipv4') throw fail(`${which} non-IPv4 gateway '${text.gateway}' in route definition`);
    if (text.netmask !== undefined) {
      netmask = parseIp(text.netmask);
      if (!netmask) throw fail(`Bad netmask address '${text.netmask}' in route definition`);
      if (netmask.family !== 'ipv4') {
        throw fail(`Invalid netmask '${text.netmask}' for address '${text.address}' (both must be IPv4)`);
      }
      if (text.prefix !== undefined) throw fail('Route definition cannot have both a prefix and a netmask');
    }
    if (prefix > 32) throw fail(`Invalid prefix ${prefix} specified in route definition, must be 0 - 32`);
  } else if (text.family === 'ipv6') {
    if (address.family !== 'ipv6') throw fail(`ipv6 family specified for non-IPv6 address '${text.address}' in route definition`);
    if (text.netmask !== undefined) {
      throw fail(`Specifying netmask invalid for IPv6 address '${text.address}' in route definition`);
    }
    if (gateway.family !== 'ipv6') {
      throw fail(`ipv6 specified for non-IPv6 gateway address '${text.gateway}' in route definition`);
    }
    if (prefix > 128) throw fail(`Invalid prefix ${prefix} specified in route definition, must be 0 - 128`);
  } else {
    throw fail(`Unrecognized family '${text.family}' in route definition`);
  }

  const network = netmask ? maskByNetmask(address, netmask) : maskByPrefix(address, prefix);
  if (!sameIp(network, address)) throw fail(`Address '${text.address}' in route definition is not a network address`);

  const route: IpRouteDef = { address: formatIp(address), gateway: formatIp(gateway) };
  const family = familyFromAttr(text.family);
  if (family !== undefined) route.family = family;
  if (netmask) route.netmask = formatIp(netmask);
  if (text.prefix !== undefined) route.prefix = text.prefix;
  if (text.metric !== undefined) route.metric = text.metric;
  return route;
}

/**
 * The <ip> and <route> children of `el`. `detail` names the context in route
 * errors ("guest interface", "interface host IP", "Domain hostdev device").
 */
export function parseIpConfig(el: XmlElement, detail: string): IpConfig {
  return {
    ips: elements(el, 'ip').map(parseIpAddress),
    routes: elements(el, 'route').map((r) => parseRoute(r, detail)),
  };
}

/** virDomainNetIPInfoFormat: every <ip>, then every <route>. */
export function formatIpConfig(parent: Builder, config: IpConfig): void {
  for (const ip of config.ips) {
    add(parent, 'ip', [
      ['address', ip.address],
      ['family', ip.family],
      ['prefix', ip.prefix],
      ['peer', ip.peer],
    ]);
  }
  for (const r of config.routes) {
    add(parent, 'route', [
      ['family', r.family],
      ['address', r.address],
      ['netmask', r.netmask],
      ['prefix', r.prefix],
      ['gateway', r.gateway],
      ['metric', r.metric],
    ]);
  }
}
