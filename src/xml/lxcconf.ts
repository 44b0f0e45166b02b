/**
 * LXC native configuration to a domain definition, as `virsh
 * domxml-from-native lxc-tools FILE` does it (libvirt's lxc_native.c).
 *
 * The configuration is read into a plan (lxcconf/plan.ts), written as a
 * domain XML document (lxcconf/document.ts) and run through the domain XML
 * parser, so every default and canonical form comes from one place. Only
 * what libvirt sets without the XML parser's checks is applied afterwards.
 */
import { defaultContext, type ParseContext } from './context.js';
import { formatDomainXML } from './format.js';
import type { DomainDef } from './model.js';
import { parseDomainXML } from './parse.js';
import { internalError } from './errors.js';
import { MAX_XML_BYTES } from './tree.js';
import { planToDomainXML } from './lxcconf/document.js';
import { planFromLxcConfig, type NativeDomainPlan } from './lxcconf/plan.js';

/**
 * libvirt fills the architecture and the id maps in directly: an unknown or
 * foreign arch is not looked up in the capabilities, and the id maps are
 * neither sorted nor required to map root.
 */
function applyUncheckedFields(def: DomainDef, plan: NativeDomainPlan): void {
  if (plan.arch === undefined) delete def.os.arch;
  else def.os.arch = plan.arch;
  const { uid, gid } = plan.idmaps;
  if (uid.length > 0 || gid.length > 0) def.idmap = { uid, gid };
}

export function lxcConfigToDomain(config: string, ctx: ParseContext = defaultContext()): DomainDef {
  const plan = planFromLxcConfig(config);
  const xml = planToDomainXML(plan);
  // Only hostile input gets here (long values on thousands of lines); say so rather than blame the XML.
  if (xml.length > MAX_XML_BYTES) {
    throw internalError(`the converted domain XML would be larger than ${MAX_XML_BYTES} bytes`);
  }
  const def = parseDomainXML(xml, ctx);
  applyUncheckedFields(def, plan);
  return def;
}

/** The converted definition as canonical domain XML text, as virsh prints it. */
export function lxcConfigToDomainXML(config: string, ctx: ParseContext = defaultContext()): string {
  return formatDomainXML(lxcConfigToDomain(config, ctx));
}
