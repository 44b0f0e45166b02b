/**
 * Device XML given to attach-device and detach-device
 * (virDomainDeviceDefParse): the element names the device type; only
 * `<interface>` can be hot-plugged into a container by nsvirt.
 */
import type { ParseContext } from '../../xml/context.js';
import { xmlError } from '../../xml/errors.js';
import { formatDomainXML } from '../../xml/format.js';
import type { DomainDef } from '../../xml/model.js';
import { parseDomainXML } from '../../xml/parse.js';
import { parseInterface, type InterfaceDef } from '../../xml/sections/devices/net.js';
import { child, parseXmlTree } from '../../xml/tree.js';
import { nonEmptyAttr } from '../../xml/sections/xml-access.js';

/** libvirt's device types (virDomainDevice), named as its messages name them. */
const DEVICE_TYPES: ReadonlySet<string> = new Set([
  'disk', 'lease', 'filesystem', 'interface', 'input', 'sound', 'video', 'hostdev', 'watchdog', 'controller',
  'graphics', 'hub', 'redirdev', 'smartcard', 'chr', 'memballoon', 'nvram', 'rng', 'shmem', 'tpm', 'panic',
  'memory', 'iommu', 'vsock', 'audio', 'crypto',
]);

/** Character devices are all of type 'chr' (virDomainDeviceDefParseType). */
const CHAR_DEVICES: ReadonlySet<string> = new Set(['serial', 'parallel', 'channel', 'console']);

export type DeviceDef =
  | {
      readonly type: 'interface';
      readonly iface: InterfaceDef;
      /** The XML named a MAC address (otherwise one was generated, and any interface matches on detach). */
      readonly macGiven: boolean;
    }
  | { readonly type: string };

export function parseDeviceXML(xml: string | Uint8Array, ctx: ParseContext): DeviceDef {
  const root = parseXmlTree(xml);
  const type = CHAR_DEVICES.has(root.name) ? 'chr' : root.name;
  if (!DEVICE_TYPES.has(type)) throw xmlError(`unknown device type '${root.name}'`);
  if (type !== 'interface') return { type };
  return { type, iface: parseInterface(root, ctx), macGiven: nonEmptyAttr(child(root, 'mac'), 'address') !== undefined };
}

export const isInterface = (device: DeviceDef): device is Extract<DeviceDef, { type: 'interface' }> => 'iface' in device;

/**
 * `def` with `iface` added, checked as a definition is (libvirt's device
 * post-parse and validate): the returned copy is what was checked.
 */
export function withInterface(def: DomainDef, iface: InterfaceDef, ctx: ParseContext): DomainDef {
  const candidate = structuredClone(def);
  candidate.devices.interfaces.push(structuredClone(iface));
  parseDomainXML(formatDomainXML(candidate, { inactive: true, secure: true }), ctx);
  return candidate;
}
