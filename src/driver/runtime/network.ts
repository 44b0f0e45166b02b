/**
 * The container's network interfaces as plan records (libvirt's
 * virLXCProcessSetupInterfaces on the host side and
 * lxcContainerRenameAndEnableInterfaces inside): veth pairs for bridge,
 * network and ethernet interfaces, macvlan for direct ones, host interfaces
 * handed over by `<hostdev type='net'>`; then, inside, the names, addresses,
 * routes and link states the definition asks for. The same records, one
 * interface at a time, add and remove interfaces of a running container.
 */
import { VirError } from '../../xml/errors.js';
import type { DomainDef } from '../../xml/model.js';
import type { InterfaceDef, IpAddressDef, IpRouteDef } from '../../xml/sections/devices/net.js';
import type { ChildOp, HostNetOp } from './plan.js';

export interface NetworkFacts {
  /** Names of the links in the driver's network namespace. */
  readonly links: readonly string[];
  /** The bridge of a network defined for nsvirt (ROOT/etc/nsvirt/networks/NAME.xml), if any. */
  bridgeOfNetwork(name: string): string | undefined;
}

/** The names one interface got: its host end (none for macvlan) and its name inside. */
export interface InterfaceNames {
  readonly host?: string;
  readonly guest: string;
}

export interface NetworkPlan {
  readonly host: HostNetOp[];
  readonly child: ChildOp[];
  /** Host links the supervisor deletes when the container ends. */
  readonly cleanupLinks: string[];
  /** Per `<interface>`, in order. */
  readonly names: InterfaceNames[];
}

const unsupported = (msg: string): VirError => new VirError('VIR_ERR_CONFIG_UNSUPPORTED', msg);

/** A generator of free names like vnet0, vnet1 … (virNetDevGenerateName). */
function nameAllocator(taken: readonly string[]): (prefix: string) => string {
  const used = new Set(taken);
  return (prefix) => {
    for (let n = 0; ; n++) {
      const name = `${prefix}${n}`;
      if (!used.has(name)) {
        used.add(name);
        return name;
      }
    }
  };
}

/** Prefix length when the definition gives none: the address class for IPv4, 64 for IPv6. */
function defaultPrefix(ip: IpAddressDef): number {
  if (ip.prefix !== undefined && ip.prefix !== 0) return ip.prefix;
  if (ip.family === 'ipv6') return 64;
  const first = Number(ip.address.split('.')[0]);
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}

const netmaskPrefix = (mask: string): number =>
  mask.split('.').reduce((bits, octet) => bits + Number(octet).toString(2).replace(/0/g, '').length, 0);

function routeFields(r: IpRouteDef): [string, string, string, string, string] {
  const family = r.family ?? (r.address.includes(':') ? 'ipv6' : 'ipv4');
  const prefix = r.prefix ?? (r.netmask ? netmaskPrefix(r.netmask) : 0);
  return [family, r.address, String(prefix), r.gateway, String(r.metric ?? 0)];
}

function checkSupported(iface: InterfaceDef): void {
  if (iface.script !== undefined) throw unsupported('scripts are not supported on LXC network interfaces');
  if (iface.type === 'direct') {
    if (iface.bandwidth) throw unsupported('Unable to set network bandwidth on direct interfaces');
    if (iface.virtualPort) throw unsupported('Unable to set port profile on direct interfaces');
  } else if (iface.type !== 'bridge' && iface.type !== 'network' && iface.type !== 'ethernet') {
    throw new VirError('VIR_ERR_INTERNAL_ERROR', `Unsupported network type ${iface.type}`);
  }
}

/** The bridge a bridge or network interface plugs into, checked to exist. */
function bridgeOf(iface: InterfaceDef, facts: NetworkFacts, hostEnd: string): string | undefined {
  let bridge: string | undefined;
  if (iface.type === 'bridge') bridge = iface.source.bridge;
  else if (iface.type === 'network') {
    bridge = facts.bridgeOfNetwork(iface.source.network);
    if (bridge === undefined) {
      throw new VirError('VIR_ERR_NO_NETWORK', `no network with matching name '${iface.source.network}'`);
    }
  }
  // Whether it is really a bridge the kernel tells when the port is added.
  if (bridge !== undefined && !facts.links.includes(bridge)) {
    throw new VirError('VIR_ERR_SYSTEM_ERROR', `Unable to add bridge ${bridge} port ${hostEnd}: No such device`);
  }
  return bridge;
}

/** The records of one interface: host side, guest side, and the names it gets. */
export interface InterfacePlan {
  readonly host: HostNetOp[];
  readonly child: ChildOp[];
  /** The host end the supervisor deletes when the container ends (veth only). */
  readonly cleanupLink?: string;
  readonly names: InterfaceNames;
}

const duplicateMac = (mac: string): VirError => unsupported(`MAC address ${mac} is used by two interfaces`);

/**
 * One (supported) interface: its link made on the host (veth pair or
 * macvlan), plugged in, moved into the container, then named `guest` and
 * configured inside.
 */
function interfacePlan(iface: InterfaceDef, guest: string, facts: NetworkFacts, freeName: (prefix: string) => string): InterfacePlan {
  const host: HostNetOp[] = [];
  let moved: string;
  let hostName: string | undefined;
  if (iface.type === 'direct') {
    if (!facts.links.includes(iface.source.dev)) {
      throw new VirError('VIR_ERR_SYSTEM_ERROR', `Unable to create macvlan device on '${iface.source.dev}': No such device`);
    }
    moved = freeName('macvlan');
    host.push({ op: 'macvlan', name: moved, lower: iface.source.dev, mode: iface.source.mode === 'passthrough' ? 'passthru' : iface.source.mode });
  } else {
    const hostEnd = iface.hostDevName && !/%d/.test(iface.hostDevName) ? iface.hostDevName : freeName('vnet');
    hostName = hostEnd;
    moved = freeName('vnet');
    const bridge = bridgeOf(iface, facts, hostEnd);
    host.push({ op: 'veth', host: hostEnd, peer: moved });
    if (iface.mtu !== undefined) host.push({ op: 'link-mtu', name: hostEnd, mtu: iface.mtu });
    if (bridge !== undefined) host.push({ op: 'link-master', name: hostEnd, bridge });
    host.push({ op: 'link-up', name: hostEnd });
    if (iface.type === 'ethernet') {
      for (const ip of iface.source.ips) host.push({ op: 'host-addr', name: hostEnd, address: ip.address, prefix: defaultPrefix(ip), peer: ip.peer ?? '' });
      for (const r of iface.source.routes) host.push({ op: 'host-route', name: hostEnd, route: routeFields(r) });
    }
  }
  host.push({ op: 'link-mac', name: moved, mac: iface.mac.address });
  if (iface.mtu !== undefined) host.push({ op: 'link-mtu', name: moved, mtu: iface.mtu });
  host.push({ op: 'link-netns', name: moved });
  return {
    host,
    child: guestSide(moved, guest, iface.guestIp.ips, iface.guestIp.routes, iface.linkState),
    ...(hostName === undefined ? { names: { guest } } : { cleanupLink: hostName, names: { host: hostName, guest } }),
  };
}

/** Every interface, host side then guest side. */
export function networkPlan(def: DomainDef, facts: NetworkFacts): NetworkPlan {
  const plan: NetworkPlan = { host: [], child: [], cleanupLinks: [], names: [] };
  const freeName = nameAllocator(facts.links);
  const macs = new Set<string>();
  let defaultGuestIndex = 0;
  for (const iface of def.devices.interfaces) {
    checkSupported(iface);
    if (macs.has(iface.mac.address)) throw duplicateMac(iface.mac.address);
    macs.add(iface.mac.address);
    const one = interfacePlan(iface, iface.guestDevName ?? `eth${defaultGuestIndex++}`, facts, freeName);
    plan.host.push(...one.host);
    plan.child.push(...one.child);
    if (one.cleanupLink !== undefined) plan.cleanupLinks.push(one.cleanupLink);
    plan.names.push(one.names);
  }
  for (const hd of def.devices.hostdevs) {
    if (hd.mode !== 'capabilities' || hd.type !== 'net') continue;
    plan.host.push({ op: 'link-netns', name: hd.interfaceName });
    // libvirt stores these addresses but does not apply them; nsvirt does.
    plan.child.push(...guestSide(hd.interfaceName, hd.interfaceName, hd.ip.ips, hd.ip.routes, hd.ip.ips.length > 0 ? 'up' : undefined));
  }
  return plan;
}

const DEFAULT_GUEST_NAME = /^eth\d+$/;

/**
 * The guest name of an interface added to a running container without a
 * `<guest dev>`: default names continue after those the running interfaces
 * got (eth0, eth1 …), skipping names already taken inside.
 */
function nextGuestName(running: readonly InterfaceDef[], guestLinks: readonly string[]): string {
  const taken = new Set([...guestLinks, ...running.flatMap((i) => (i.guestDevName === undefined ? [] : [i.guestDevName]))]);
  for (let n = running.filter((i) => DEFAULT_GUEST_NAME.test(i.guestDevName ?? '')).length; ; n++) {
    if (!taken.has(`eth${n}`)) return `eth${n}`;
  }
}

/**
 * Records that add `iface` to a running container whose interfaces are
 * `running` (with the names they got) and whose namespace has `guestLinks`:
 * the same set-up as at start, with names free on the host and inside.
 */
export function attachInterfacePlan(
  iface: InterfaceDef,
  running: readonly InterfaceDef[],
  facts: NetworkFacts,
  guestLinks: readonly string[],
): InterfacePlan {
  checkSupported(iface);
  if (running.some((i) => i.mac.address === iface.mac.address)) throw duplicateMac(iface.mac.address);
  const guest = iface.guestDevName ?? nextGuestName(running, guestLinks);
  return interfacePlan(iface, guest, facts, nameAllocator([...facts.links, ...guestLinks]));
}

/**
 * Records that remove a running interface: the host end of a veth pair
 * (its peer goes with it), or the macvlan inside the container (which
 * libvirt refuses to detach).
 */
export function detachInterfacePlan(iface: InterfaceDef): { host: HostNetOp[]; child: ChildOp[] } {
  switch (iface.type) {
    case 'bridge':
    case 'network':
    case 'ethernet':
      if (iface.hostDevName === undefined) throw new VirError('VIR_ERR_INTERNAL_ERROR', `interface ${iface.mac.address} has no host device`);
      return { host: [{ op: 'link-del', name: iface.hostDevName }], child: [] };
    case 'direct':
      if (iface.guestDevName === undefined) throw new VirError('VIR_ERR_INTERNAL_ERROR', `interface ${iface.mac.address} has no guest device`);
      return { host: [], child: [{ op: 'link-remove', name: iface.guestDevName }] };
    default:
      throw unsupported('Only bridged veth devices can be detached');
  }
}

/** Inside: the name, addresses, link state and routes (routes need the link up). */
function guestSide(current: string, guest: string, ips: readonly IpAddressDef[], routes: readonly IpRouteDef[], linkState: 'up' | 'down' | undefined): ChildOp[] {
  const ops: ChildOp[] = [];
  if (current !== guest) ops.push({ op: 'link-rename', from: current, to: guest });
  for (const ip of ips) ops.push({ op: 'addr-add', name: guest, address: ip.address, prefix: defaultPrefix(ip), peer: ip.peer ?? '' });
  // libvirt brings the link up when it has addresses or asks for state up.
  if (ips.length > 0 || linkState === 'up') ops.push({ op: 'link-set', name: guest, state: 'up' });
  for (const r of routes) ops.push({ op: 'route-add', name: guest, route: routeFields(r) });
  return ops;
}
