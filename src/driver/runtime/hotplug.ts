/**
 * Device hot-plug: virDomainAttachDeviceFlags and virDomainDetachDeviceFlags
 * (lxc_driver.c) for `<interface>`, the only device nsvirt adds to or removes
 * from a container.
 *
 * Unlike libvirt, which leaves a live-attached interface unnamed, down and
 * without addresses inside the container, nsvirt sets it up exactly as at
 * start (network.ts): guest name, MAC, addresses, routes, link state, bridge
 * port. The supervisor makes the change (`net-apply`); the running
 * definition and the interface names are updated under the domain lock, the
 * persistent definition is stored through define (validated, atomic), as
 * libvirt saves it last.
 */
import type { ParseContext } from '../../xml/context.js';
import { VirError, unsupported } from '../../xml/errors.js';
import { formatDomainXML } from '../../xml/format.js';
import type { DomainDef } from '../../xml/model.js';
import type { InterfaceDef } from '../../xml/sections/devices/net.js';
import type { DomainRef } from '../driver.js';
import { withDomainLock } from '../lock.js';
import { isInterface, parseDeviceXML, withInterface, type DeviceDef } from './devicexml.js';
import { runtimeFiles } from './files.js';
import { namespaceLinks, readNetworkFacts } from './hostfacts.js';
import { impactOf, type AffectOptions, type Impact } from './impact.js';
import { readInterfaceNames, saveRunningDefinition, writeInterfaceNames, type RunningInterfaceNames } from './livestate.js';
import { applyNetworkChange, ownsNetworkNamespace } from './netchange.js';
import { attachInterfacePlan, detachInterfacePlan } from './network.js';
import type { DomainSource, RunningDomain } from './running.js';

/** What hot-plug needs from the driver. */
export interface DeviceSource extends DomainSource {
  /** Store a changed persistent definition as virDomainDefineXML does. */
  defineXML(xml: string): Promise<unknown>;
}

type InterfaceDevice = Extract<DeviceDef, { type: 'interface' }>;

/** The running definition and interface names after a live change. */
interface RunningChange {
  readonly def: DomainDef;
  readonly names: RunningInterfaceNames;
}

interface DeviceChange {
  /** The persistent definition with the change (given a copy). */
  config(def: DomainDef): DomainDef;
  /** Change the running container; the new running definition and names. */
  live(running: RunningDomain): Promise<RunningChange>;
}

/** Parse the device XML; only interfaces go further. */
function interfaceDevice(xml: string | Uint8Array, ctx: ParseContext, impact: Impact, action: 'attach' | 'detach'): InterfaceDevice {
  const device = parseDeviceXML(xml, ctx);
  if (isInterface(device)) return device;
  throw unsupported(impact.config ? `persistent ${action} of device is not supported` : `device type '${device.type}' cannot be ${action}ed`);
}

/**
 * As lxcDomainAttachDeviceFlags / DetachDeviceFlags: the persistent copy is
 * changed first (so a refusal there changes nothing), then the container,
 * then the persistent definition is stored.
 */
async function changeDevices(
  source: DeviceSource,
  ref: DomainRef,
  opts: AffectOptions,
  prepare: (impact: Impact) => DeviceChange,
): Promise<void> {
  let config: DomainDef | undefined;
  await withDomainLock(source.paths, ref.name, async () => {
    const snapshot = await source.snapshot(ref);
    const impact = impactOf(snapshot, opts);
    const change = prepare(impact);
    if (impact.config) config = change.config(structuredClone(snapshot.def));
    if (impact.live) {
      const running: RunningDomain = { live: snapshot.live!, files: runtimeFiles(source.paths, snapshot.name) };
      const { def, names } = await change.live(running);
      saveRunningDefinition(source.paths, def);
      writeInterfaceNames(running.files.interfaces, names);
    }
  });
  // After the domain lock: define takes the driver lock first.
  if (config) await source.defineXML(formatDomainXML(config, { inactive: true, secure: true }));
}

/** libvirt's refusal while the container has no init (between an end and a restart, or preserved). */
function initPidOf(running: RunningDomain): number {
  if (running.live.initPid <= 0) throw new VirError('VIR_ERR_OPERATION_INVALID', 'Cannot attach disk until init PID is known');
  return running.live.initPid;
}

/** Make the interface in the container and record it in the running definition. */
async function plugIn(source: DeviceSource, running: RunningDomain, iface: InterfaceDef, ctx: ParseContext): Promise<RunningChange> {
  const initPid = initPidOf(running);
  if (!ownsNetworkNamespace(running.files)) {
    throw new VirError('VIR_ERR_OPERATION_INVALID', 'interfaces can only be attached to a container with a network namespace of its own');
  }
  const def = withInterface(running.live.def, iface, ctx);
  const plan = attachInterfacePlan(iface, running.live.def.devices.interfaces, readNetworkFacts(source.paths.networkDir), namespaceLinks(initPid));
  await applyNetworkChange(running.files, plan.host, plan.child);
  const index = def.devices.interfaces.length - 1;
  const added = def.devices.interfaces[index]!;
  if (plan.names.host !== undefined) added.hostDevName = plan.names.host;
  added.guestDevName = plan.names.guest;
  const names = readInterfaceNames(running.files.interfaces);
  names[index] = plan.names;
  return { def, names };
}

/** virDomainNetFindIdx: the interface the device XML names, by MAC address (any one when it gives none). */
function findInterface(def: DomainDef, device: InterfaceDevice): number {
  const mac = device.iface.mac.address;
  const matches = def.devices.interfaces.flatMap((i, n) => (!device.macGiven || i.mac.address === mac ? [n] : []));
  if (matches.length > 1) {
    throw new VirError('VIR_ERR_OPERATION_FAILED', device.macGiven ? `multiple devices matching MAC address ${mac} found` : 'multiple matching devices found');
  }
  if (matches.length === 0) {
    throw new VirError('VIR_ERR_DEVICE_MISSING', device.macGiven ? `no device matching MAC address ${mac} found` : 'no matching device found');
  }
  return matches[0]!;
}

/** Remove the interface from the container and from the running definition. */
async function unplug(running: RunningDomain, device: InterfaceDevice): Promise<RunningChange> {
  const def = structuredClone(running.live.def);
  const index = findInterface(def, device);
  initPidOf(running);
  const plan = detachInterfacePlan(def.devices.interfaces[index]!);
  await applyNetworkChange(running.files, plan.host, plan.child);
  def.devices.interfaces.splice(index, 1);
  const names = readInterfaceNames(running.files.interfaces);
  names.splice(index, 1);
  return { def, names };
}

/** virDomainAttachDeviceFlags. Neither `live` nor `config`: the running domain if it runs, else the definition. */
export async function attachDevice(source: DeviceSource, ref: DomainRef, xml: string | Uint8Array, opts: AffectOptions, ctx: ParseContext): Promise<void> {
  await changeDevices(source, ref, opts, (impact) => {
    const { iface } = interfaceDevice(xml, ctx, impact, 'attach');
    return {
      config: (def) => withInterface(def, iface, ctx),
      live: (running) => plugIn(source, running, iface, ctx),
    };
  });
}

/** virDomainDetachDeviceFlags: the interface with the device's MAC address. */
export async function detachDevice(source: DeviceSource, ref: DomainRef, xml: string | Uint8Array, opts: AffectOptions, ctx: ParseContext): Promise<void> {
  await changeDevices(source, ref, opts, (impact) => {
    const device = interfaceDevice(xml, ctx, impact, 'detach');
    return {
      config: (def) => {
        def.devices.interfaces.splice(findInterface(def, device), 1);
        return def;
      },
      live: (running) => unplug(running, device),
    };
  });
}
