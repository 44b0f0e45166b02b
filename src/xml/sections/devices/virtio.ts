/** The virtio transport options a device's `<driver>` may carry (virDomainVirtioOptions). */
import type { XmlElement } from '../../tree.js';
import { unsupported } from '../../errors.js';
import { propSwitch, type Switch } from '../xml-access.js';

export interface VirtioOptions {
  iommu?: Switch;
  ats?: Switch;
  packed?: Switch;
  pagePerVq?: Switch;
}

/** XML attribute name of each option, in libvirt's output order. */
const ATTRS: ReadonlyArray<readonly [keyof VirtioOptions, string]> = [
  ['iommu', 'iommu'],
  ['ats', 'ats'],
  ['packed', 'packed'],
  ['pagePerVq', 'page_per_vq'],
];

/** virDomainVirtioOptionsParseXML. */
export function parseVirtioOptions(driver: XmlElement | undefined): VirtioOptions | undefined {
  if (driver === undefined) return undefined;
  const options: VirtioOptions = {};
  for (const [key, name] of ATTRS) {
    const value = propSwitch(driver, name);
    if (value !== undefined) options[key] = value;
  }
  return options;
}

/** virDomainVirtioOptionsFormat: the attributes for a `<driver>`. */
export function formatVirtioOptions(o: VirtioOptions | undefined): Array<[string, Switch]> {
  if (o === undefined) return [];
  return ATTRS.flatMap(([key, name]): Array<[string, Switch]> => (o[key] === undefined ? [] : [[name, o[key]!]]));
}

/** virDomainCheckVirtioOptionsAreAbsent: options only virtio devices may set. */
export function validateNoVirtioOptions(o: VirtioOptions | undefined): void {
  if (o?.iommu !== undefined) throw unsupported('iommu driver option is only supported for virtio devices');
  if (o?.ats !== undefined) throw unsupported('ats driver option is only supported for virtio devices');
  if (o?.packed !== undefined) throw unsupported('packed driver option is only supported for virtio devices');
  if (o?.pagePerVq !== undefined) throw unsupported('page_per_vq option is only supported for virtio devices');
}
