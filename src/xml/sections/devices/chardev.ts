/** Character devices: <serial>, <parallel>, <console>, <channel>. STUB: to be completed. */
import type { ParseContext } from '../../context.js';
import { elements, attr, type XmlElement } from '../../tree.js';
import { add } from '../../writer.js';
import type { DeviceFormatter, DeviceKind } from './kinds.js';

export interface ConsoleDef {
  type: string;
}

export interface CharDevices {
  consoles: ConsoleDef[];
}

export function parseCharDevices(els: readonly XmlElement[], _ctx: ParseContext): CharDevices {
  return { consoles: els.filter((e) => e.name === 'console').map((e) => ({ type: attr(e, 'type') ?? 'pty' })) };
}

export const charFormatters: Partial<Record<DeviceKind, DeviceFormatter<CharDevices>>> = {
  console: (b, d) =>
    d.consoles.forEach((c, i) => {
      const el = add(b, 'console', { type: c.type });
      add(el, 'target', { type: 'lxc', port: i });
    }),
};
void elements;
