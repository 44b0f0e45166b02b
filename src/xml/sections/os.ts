/** <os> for type exe (init, args, env, dir, user, group, cmdline) and <idmap>. STUB: to be completed. */
import type { SectionHooks } from '../model.js';
import type { ParseContext } from '../context.js';
import { child, childText, type XmlElement } from '../tree.js';
import { add, type Builder } from '../writer.js';
import { xmlError } from '../errors.js';

export interface OsPart {
  os: { type: 'exe'; arch: string; init: string };
}

export function parseOsPart(root: XmlElement, ctx: ParseContext): OsPart {
  const os = child(root, 'os');
  const init = os ? childText(os, 'init') : undefined;
  if (!init) throw xmlError('init binary must be specified');
  return { os: { type: 'exe', arch: ctx.hostArch, init } };
}

/** os, idmap? */
export function formatOsAndIdmap(b: Builder, def: OsPart): void {
  const os = add(b, 'os');
  add(os, 'type', { arch: def.os.arch }, def.os.type);
  add(os, 'init', {}, def.os.init);
}

export const hooks: SectionHooks = {};
