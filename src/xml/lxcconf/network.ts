/**
 * Network settings: LXC 3 `lxc.net.<index>.<setting>` and legacy
 * `lxc.network.<setting>` (where each `lxc.network.type` starts a new NIC).
 * Within a NIC a repeated setting replaces the earlier one and each address
 * setting adds an address, as in libvirt's conversion.
 */
import { isIP } from 'node:net';
import { invalidArg, unsupported, xmlError, type VirError } from '../errors.js';
import { entryError, type ConfigEntry, type LxcConfig } from './config.js';
import { readUnsigned } from './numbers.js';

export type IpFamily = 'ipv4' | 'ipv6';

export interface IpPlan {
  address: string;
  family: IpFamily;
  prefix: bigint;
}

export interface RoutePlan {
  family: IpFamily;
  gateway: string;
}

export interface InterfacePlan {
  type: 'bridge' | 'ethernet' | 'direct' | 'user';
  mac: string;
  /** Attributes of <source>, when the type has one. */
  source?: Record<string, string>;
  ips: IpPlan[];
  routes: RoutePlan[];
  guestName?: string;
  linkUp: boolean;
}

/** A host interface moved into the container (`phys`, `vlan`). */
export interface HostdevPlan {
  hostInterface: string;
  ips: IpPlan[];
  routes: RoutePlan[];
}

export interface NetworkPlan {
  interfaces: InterfacePlan[];
  hostdevs: HostdevPlan[];
  /** No network setting at all: LXC gives the container a private loopback-only network. */
  privnet: boolean;
}

const SCALAR_SETTINGS = [
  'type', 'link', 'hwaddr', 'flags', 'name', 'macvlan.mode', 'vlan.id', 'ipv4.gateway', 'ipv6.gateway',
] as const;
type ScalarSetting = (typeof SCALAR_SETTINGS)[number];

/** Settings that each add an address, and its family. */
const ADDRESS_SETTINGS: ReadonlyMap<string, IpFamily> = new Map([
  ['ipv4', 'ipv4'],
  ['ipv4.address', 'ipv4'],
  ['ipv6', 'ipv6'],
  ['ipv6.address', 'ipv6'],
]);

interface NicSettings {
  scalars: Partial<Record<ScalarSetting, string>>;
  ips: IpPlan[];
}

const LEGACY_PREFIX = 'lxc.network.';
const INDEXED_KEY = /^lxc\.net\.([0-9]+)\.(.+)$/;
const MAX_PREFIX: Readonly<Record<IpFamily, bigint>> = { ipv4: 32n, ipv6: 128n };
const ZERO_MAC = '00:00:00:00:00:00';

const isScalarSetting = (s: string): s is ScalarSetting => (SCALAR_SETTINGS as readonly string[]).includes(s);

/** The family of a numeric address (zone ids refused: the domain XML has no room for them). */
function addressFamily(text: string): IpFamily | undefined {
  const version = text.includes('%') ? 0 : isIP(text);
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : undefined;
}

/** `ADDRESS/PREFIX`; libvirt does not check the prefix range, we do. */
function parseCidr(value: string, family: IpFamily): IpPlan {
  const slash = value.indexOf('/');
  const address = value.slice(0, slash);
  const prefix = slash < 0 ? undefined : readUnsigned(value.slice(slash + 1), MAX_PREFIX[family]);
  if (prefix === undefined || addressFamily(address) !== family) throw invalidArg(`Invalid CIDR address: '${value}'`);
  return { address, family, prefix };
}

const isKnownSetting = (s: string): boolean => ADDRESS_SETTINGS.has(s) || isScalarSetting(s);

function applySetting(nic: NicSettings, setting: string, entry: ConfigEntry): void {
  const family = ADDRESS_SETTINGS.get(setting);
  if (family !== undefined) {
    nic.ips.push(parseCidr(entry.value, family));
  } else if (isScalarSetting(setting)) {
    // A blank setting means "not set"; a blank type is meaningful (no network device).
    if (entry.value === '' && setting !== 'type') delete nic.scalars[setting];
    else nic.scalars[setting] = entry.value;
  }
}

/**
 * The setting named by a network key, with its NIC index for `lxc.net.N.*`
 * keys (undefined index: legacy key); undefined for keys of other areas.
 */
function locateSetting(entry: ConfigEntry): { setting: string; index?: string } | undefined {
  if (entry.key.startsWith(LEGACY_PREFIX)) return { setting: entry.key.slice(LEGACY_PREFIX.length) };
  if (!entry.key.startsWith('lxc.net.')) return undefined;
  const m = INDEXED_KEY.exec(entry.key);
  if (!m) throw entryError(entry, 'invalid network key, expecting lxc.net.<index>.<setting>');
  return { setting: m[2]!, index: m[1]!.replace(/^0+(?=.)/, '') };
}

/** Group network entries into NICs, in order of first appearance. */
function collectNics(config: LxcConfig): NicSettings[] {
  const nics: NicSettings[] = [];
  const byIndex = new Map<string, NicSettings>();
  let legacyNic: NicSettings | undefined;
  const startNic = (): NicSettings => {
    const nic: NicSettings = { scalars: {}, ips: [] };
    nics.push(nic);
    return nic;
  };
  for (const entry of config.entries) {
    const located = locateSetting(entry);
    if (located === undefined) continue;
    const { setting, index } = located;
    if (!isKnownSetting(setting)) throw entryError(entry, 'unsupported network key');
    let nic: NicSettings;
    if (index !== undefined) {
      nic = byIndex.get(index) ?? startNic();
      byIndex.set(index, nic);
    } else {
      if (setting === 'type') legacyNic = startNic();
      if (legacyNic === undefined) throw entryError(entry, `network setting before the first ${LEGACY_PREFIX}type`);
      nic = legacyNic;
    }
    applySetting(nic, setting, entry);
  }
  return nics;
}

/** virMacAddrParse: six 1-2 digit hex groups split by ':', then the end or a blank. */
export function parseMac(text: string): string | undefined {
  const bytes: string[] = [];
  let i = 0;
  for (;;) {
    const start = i;
    while (i < text.length && i - start < 3 && /[0-9A-Fa-f]/.test(text[i]!)) i++;
    if (i - start < 1 || i - start > 2) return undefined;
    bytes.push(text.slice(start, i).toLowerCase().padStart(2, '0'));
    if (bytes.length === 6) return i === text.length || text.charCodeAt(i) <= 0x20 ? bytes.join(':') : undefined;
    if (text[i] !== ':') return undefined;
    i++;
  }
}

/**
 * virNetDevIPRouteCreate's checks on the default route libvirt builds for
 * a gateway, with its "Domain interface" wording (an XML <route> says
 * "guest interface"). libvirt names the route address (0.0.0.0) instead
 * of the gateway in the IPv4 family message; we name the gateway.
 */
function checkGateway(family: IpFamily, gateway: string): void {
  const routeError = (what: string): VirError => xmlError(`Domain interface: ${what} in route definition`);
  const actual = addressFamily(gateway);
  if (actual === undefined) throw routeError(`Bad gateway address '${gateway}'`);
  if (actual === family) return;
  throw routeError(
    family === 'ipv4'
      ? `IPv4 family specified for non-IPv4 gateway '${gateway}'`
      : `ipv6 specified for non-IPv6 gateway address '${gateway}'`,
  );
}

/** A default route per gateway setting, IPv4 first. */
function gatewayRoutes(nic: NicSettings): RoutePlan[] {
  const routes: RoutePlan[] = [];
  for (const family of ['ipv4', 'ipv6'] as const) {
    const gateway = nic.scalars[`${family}.gateway`];
    if (gateway === undefined) continue;
    checkGateway(family, gateway);
    routes.push({ family, gateway });
  }
  return routes;
}

const MACVLAN_MODES: ReadonlySet<string> = new Set(['private', 'vepa', 'bridge']);

function interfaceSource(type: string, nic: NicSettings): Pick<InterfacePlan, 'type' | 'source'> {
  const link = nic.scalars.link;
  if (type === 'veth') return link === undefined ? { type: 'ethernet' } : { type: 'bridge', source: { bridge: link } };
  if (type !== 'macvlan') return { type: 'user' };
  if (link === undefined) throw unsupported("Missing 'link' attribute for NIC");
  const requested = nic.scalars['macvlan.mode'] ?? 'private';
  // libvirt leaves an unknown mode at its enum default, vepa.
  return { type: 'direct', source: { dev: link, mode: MACVLAN_MODES.has(requested) ? requested : 'vepa' } };
}

function interfacePlan(type: string, nic: NicSettings): InterfacePlan {
  const { hwaddr, name, flags } = nic.scalars;
  return {
    ...interfaceSource(type, nic),
    mac: parseMac(hwaddr ?? '') ?? ZERO_MAC,
    ips: nic.ips,
    routes: gatewayRoutes(nic),
    ...(name === undefined ? {} : { guestName: name }),
    linkUp: flags === 'up',
  };
}

function hostdevPlan(type: 'phys' | 'vlan', nic: NicSettings): HostdevPlan {
  const { link, 'vlan.id': vlanId } = nic.scalars;
  if (link === undefined) throw unsupported("Missing 'link' attribute for NIC");
  const hostInterface = type === 'vlan' && vlanId !== undefined ? `${link}.${vlanId}` : link;
  return { hostInterface, ips: nic.ips, routes: gatewayRoutes(nic) };
}

const NO_DEVICE_TYPES: ReadonlySet<string> = new Set(['', 'none', 'empty']);

export function networkPlan(config: LxcConfig): NetworkPlan {
  const nics = collectNics(config);
  const plan: NetworkPlan = { interfaces: [], hostdevs: [], privnet: nics.length === 0 };
  for (const nic of nics) {
    const type = nic.scalars.type;
    if (type === undefined || NO_DEVICE_TYPES.has(type)) continue;
    if (type === 'phys' || type === 'vlan') plan.hostdevs.push(hostdevPlan(type, nic));
    else plan.interfaces.push(interfacePlan(type, nic));
  }
  return plan;
}
