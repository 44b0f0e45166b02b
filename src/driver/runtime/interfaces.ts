/**
 * What a domain's network interfaces look like from outside: virsh's
 * domiflist rows, the addresses nsvirt configured (domifaddr), and traffic
 * counters of the host end (domifstat, seen from the guest: rx/tx swapped,
 * as libvirt reports veth counters).
 */
import { VirError } from '../../xml/errors.js';
import type { DomainDef } from '../../xml/model.js';
import type { InterfaceDef } from '../../xml/sections/devices/net.js';
import { linkStats } from '../../native.js';

export interface InterfaceRow {
  /** Host-side device (vnetN) while running, '-' otherwise. */
  readonly name: string;
  readonly type: string;
  readonly source: string;
  readonly model: string;
  readonly mac: string;
}

function sourceOf(iface: InterfaceDef): string {
  switch (iface.type) {
    case 'bridge':
      return iface.source.bridge;
    case 'network':
      return iface.source.network;
    case 'direct':
      return iface.source.dev;
    default:
      return '-';
  }
}

export const interfaceRows = (def: DomainDef): InterfaceRow[] =>
  def.devices.interfaces.map((iface) => ({
    name: iface.hostDevName ?? '-',
    type: iface.type,
    source: sourceOf(iface),
    model: iface.model ?? '-',
    mac: iface.mac.address,
  }));

export interface InterfaceAddresses {
  readonly name: string;
  readonly hwaddr: string;
  readonly addrs: ReadonlyArray<{ readonly type: 'ipv4' | 'ipv6'; readonly addr: string; readonly prefix: number }>;
}

/** The addresses each interface of a running domain was configured with (there is no DHCP lease to read). */
export const configuredAddresses = (live: DomainDef): InterfaceAddresses[] =>
  live.devices.interfaces.map((iface) => ({
    name: iface.hostDevName ?? iface.guestDevName ?? '-',
    hwaddr: iface.mac.address,
    addrs: iface.guestIp.ips.map((ip) => ({
      type: ip.family,
      addr: ip.address,
      prefix: ip.prefix ?? (ip.family === 'ipv6' ? 64 : 24),
    })),
  }));

export interface InterfaceStats {
  readonly rxBytes: bigint;
  readonly rxPackets: bigint;
  readonly rxErrs: bigint;
  readonly rxDrop: bigint;
  readonly txBytes: bigint;
  readonly txPackets: bigint;
  readonly txErrs: bigint;
  readonly txDrop: bigint;
}

/** Counters of the interface named by its host device or MAC, from the guest's point of view. */
export function interfaceStats(live: DomainDef, device: string): InterfaceStats {
  const iface = live.devices.interfaces.find((i) => i.hostDevName === device || i.mac.address === device.toLowerCase());
  if (!iface?.hostDevName) throw new VirError('VIR_ERR_INVALID_ARG', `Invalid path, '${device}' is not a known interface`);
  const s = linkStats(iface.hostDevName);
  const big = (v: number | bigint): bigint => BigInt(v);
  return {
    rxBytes: big(s.txBytes),
    rxPackets: big(s.txPackets),
    rxErrs: big(s.txErrors),
    rxDrop: big(s.txDrops),
    txBytes: big(s.rxBytes),
    txPackets: big(s.rxPackets),
    txErrs: big(s.rxErrors),
    txDrop: big(s.rxDrops),
  };
}
