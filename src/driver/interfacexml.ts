/**
 * What virsh's attach-interface and detach-interface do on the client side
 * (tools/virsh-domain.c): build the `<interface>` XML from a few options,
 * and pick the interface to detach by type and MAC address. The device XML
 * then goes to attachDevice / detachDevice.
 */
import type { DomainDef } from '../xml/model.js';
import { formatMac, parseMac } from '../xml/sections/devices/netaddr.js';
import { formatInterface } from '../xml/sections/devices/net.js';
import { escapeLibvirt, formatStandalone } from '../xml/writer.js';

/**
 * A refusal virsh itself makes, before asking the driver (printed as its
 * own `error:` line, not as a libvirt error).
 */
export class InterfaceRequestError extends Error {
  override readonly name = 'InterfaceRequestError';
}

/** attach-interface's options. */
export interface InterfaceSpec {
  /** network, bridge or direct. */
  readonly type: string;
  /** The network, bridge, or host device (direct) it attaches to. */
  readonly source: string;
  /** <target dev>: the host end's name. */
  readonly target?: string;
  readonly mac?: string;
  readonly model?: string;
  readonly mtu?: number | string;
  /** <source mode> of a direct interface (vepa, bridge, private, passthrough). */
  readonly sourceMode?: string;
}

/** The <source> attribute of each type attach-interface can build. */
const SOURCE_ATTRIBUTE: Readonly<Record<string, string>> = { network: 'network', bridge: 'bridge', direct: 'dev' };

const element = (name: string, attrs: ReadonlyArray<readonly [string, string | number | undefined]>): string =>
  `  <${name}${attrs.flatMap(([k, v]) => (v === undefined ? [] : [` ${k}='${escapeLibvirt(String(v))}'`])).join('')}/>\n`;

/** The XML attach-interface sends (cmdAttachInterface), e.g. `<interface type='bridge'><source bridge='br0'/>…`. */
export function interfaceXML(spec: InterfaceSpec): string {
  const sourceAttr = SOURCE_ATTRIBUTE[spec.type];
  if (sourceAttr === undefined) throw new InterfaceRequestError(`No support for ${spec.type} in command 'attach-interface'`);
  if (spec.sourceMode !== undefined && spec.type !== 'direct') {
    throw new InterfaceRequestError("--source-mode can be used only with --type direct");
  }
  const optional: Array<[string, string, string | number | undefined]> = [
    ['target', 'dev', spec.target],
    ['mac', 'address', spec.mac],
    ['model', 'type', spec.model],
    ['mtu', 'size', spec.mtu],
  ];
  return (
    `<interface type='${spec.type}'>\n` +
    element('source', [
      [sourceAttr, spec.source],
      ['mode', spec.sourceMode],
    ]) +
    optional.map(([name, attr, value]) => (value === undefined ? '' : element(name, [[attr, value]]))).join('') +
    '</interface>\n'
  );
}

const sameMac = (a: string, b: string): boolean => {
  const x = parseMac(a);
  const y = parseMac(b);
  return x !== undefined && y !== undefined && formatMac(x) === formatMac(y);
};

/**
 * The interface of `def` that detach-interface removes (virshDomainDetachInterface):
 * the only one of `type`, or the one of `type` with MAC address `mac`.
 * Returns its device XML, as virsh passes it on.
 */
export function interfaceToDetach(def: DomainDef, type: string, mac?: string): string {
  const ofType = def.devices.interfaces.filter((i) => i.type === type);
  const matches = mac === undefined ? ofType : ofType.filter((i) => sameMac(i.mac.address, mac));
  if (matches.length === 0) {
    throw new InterfaceRequestError(
      mac === undefined ? `No interface found whose type is ${type}` : `No interface found whose type is ${type} and MAC address is ${mac}`,
    );
  }
  if (matches.length > 1) {
    throw new InterfaceRequestError(
      mac === undefined
        ? `Domain has ${matches.length} interfaces. Please specify which one to detach using --mac`
        : `Domain has multiple interfaces matching MAC address ${mac}. You must use detach-device and specify the device pci address to remove it.`,
    );
  }
  return formatStandalone((parent) => formatInterface(parent, matches[0]!));
}
