/**
 * <features> (virDomainFeaturesDefParse / virDomainDefFormatFeatures), and
 * the composition of this part: <clock> (clock.ts) and the lifecycle
 * actions, <pm> and <perf> (lifecycle.ts). The LXC driver acts on privnet
 * and on the capabilities policy; every other feature is stored only.
 */
import type { SectionHooks } from '../model.js';
import type { ParseContext } from '../context.js';
import { attr, isElement, textOf, type XmlElement } from '../tree.js';
import { add, type Builder } from '../writer.js';
import { VirError, invalidValue, unsupported, xmlError } from '../errors.js';
import { bytesToKiBRoundUp, parseUnsigned, scaleInteger, ULLONG_MAX, LLONG_MAX } from '../units.js';
import { isOneOf, propEnum, propSwitch, propUInt, selectAll, type Switch } from './xml-access.js';
import { formatClock, parseClock, postParseClock, type Clock } from './clock.js';
import {
  formatLifecycle,
  parseLifecycle,
  validateLifecycle,
  type Lifecycle,
} from './lifecycle.js';

/** Linux capabilities, in libvirt's enum order (also the output order). */
export const PROCESS_CAPABILITIES = [
  'audit_control', 'audit_write', 'block_suspend', 'chown', 'dac_override', 'dac_read_search',
  'fowner', 'fsetid', 'ipc_lock', 'ipc_owner', 'kill', 'lease', 'linux_immutable', 'mac_admin',
  'mac_override', 'mknod', 'net_admin', 'net_bind_service', 'net_broadcast', 'net_raw', 'setgid',
  'setfcap', 'setpcap', 'setuid', 'sys_admin', 'sys_boot', 'sys_chroot', 'sys_module', 'sys_nice',
  'sys_pacct', 'sys_ptrace', 'sys_rawio', 'sys_resource', 'sys_time', 'sys_tty_config', 'syslog',
  'wake_alarm',
] as const;
export type ProcessCapability = (typeof PROCESS_CAPABILITIES)[number];

export type CapabilitiesPolicy = 'default' | 'allow' | 'deny';

/** What the container's init keeps: policy for unlisted capabilities plus explicit on/off per capability. */
export interface CapabilitiesFeature {
  policy: CapabilitiesPolicy;
  capabilities: Partial<Record<ProcessCapability, Switch>>;
}

const HYPERV_FEATURES = [
  'relaxed', 'vapic', 'spinlocks', 'vpindex', 'runtime', 'synic', 'stimer', 'reset', 'vendor_id',
  'frequencies', 'reenlightenment', 'tlbflush', 'ipi', 'evmcs', 'avic',
] as const;
export type HypervEnlightenment = (typeof HYPERV_FEATURES)[number];

export interface HypervFeature {
  mode: 'custom' | 'passthrough';
  enlightenments: Partial<Record<HypervEnlightenment, Switch>>;
  spinlockRetries?: number;
  stimerDirect?: Switch;
  vendorId?: string;
}

const KVM_FEATURES = ['hidden', 'hint-dedicated', 'poll-control', 'pv-ipi', 'dirty-ring'] as const;
export type KvmFeatureName = (typeof KVM_FEATURES)[number];

export interface KvmFeature {
  features: Partial<Record<KvmFeatureName, Switch>>;
  dirtyRingSize?: number;
}

const XEN_FEATURES = ['e820_host', 'passthrough'] as const;
export type XenFeatureName = (typeof XEN_FEATURES)[number];

export interface XenFeature {
  features: Partial<Record<XenFeatureName, Switch>>;
  passthroughMode?: 'sync_pt' | 'share_pt';
}

export type SpectreMitigation = 'broken' | 'workaround' | 'fixed';
export type IbsMitigation = 'broken' | 'workaround' | 'fixed-ibs' | 'fixed-ccd' | 'fixed-na';

/** Every feature libvirt 9.0 knows; only privnet and capabilities matter to containers. */
export interface Features {
  acpi?: true;
  apic?: { eoi?: Switch };
  pae?: true;
  hap?: Switch;
  viridian?: true;
  /** A private network namespace even without interfaces. */
  privnet?: true;
  hyperv?: HypervFeature;
  kvm?: KvmFeature;
  pvspinlock?: Switch;
  capabilities?: CapabilitiesFeature;
  pmu?: Switch;
  vmport?: Switch;
  gic?: { version?: 'host' | '2' | '3' };
  smm?: { state: Switch; tsegBytes?: bigint };
  ioapic?: 'qemu' | 'kvm';
  hpt?: { resizing?: 'enabled' | 'disabled' | 'required'; maxPageSizeKiB?: bigint };
  vmcoreinfo?: Switch;
  htm?: Switch;
  nestedHv?: Switch;
  msrs?: { unknown: 'ignore' | 'fault' };
  ccfAssist?: Switch;
  xen?: XenFeature;
  cfpc?: SpectreMitigation;
  sbbc?: SpectreMitigation;
  ibs?: IbsMitigation;
  tcg?: { tbCacheKiB: bigint };
}

export interface FeaturesPart extends Lifecycle {
  features: Features;
  clock: Clock;
}

export type { Clock } from './clock.js';
export type { Lifecycle, LifecycleAction } from './lifecycle.js';

/* ---------- feature handlers, in libvirt's enum (= output) order ---------- */

interface FeatureHandler {
  /** `root` is the <domain>: a few features read paths from there, as libvirt does. */
  parse(el: XmlElement, f: Features, root: XmlElement): void;
  format(b: Builder, f: Features): void;
}

type FlagKey = 'acpi' | 'pae' | 'viridian' | 'privnet';
type StateKey = 'hap' | 'pvspinlock' | 'pmu' | 'vmport' | 'vmcoreinfo' | 'htm' | 'nestedHv' | 'ccfAssist';

/** Old-style boolean: present means on, printed as `<name/>`. */
const flag = (name: string, key: FlagKey): FeatureHandler => ({
  parse: (_el, f) => {
    f[key] = true;
  },
  format: (b, f) => {
    if (f[key]) add(b, name);
  },
});

/** `<name state='on|off'/>`; state defaults to on unless libvirt requires it. */
const state = (name: string, key: StateKey, required = false): FeatureHandler => ({
  parse: (el, f) => {
    f[key] = propSwitch(el, 'state', required) ?? 'on';
  },
  format: (b, f) => {
    const value = f[key];
    if (value !== undefined) add(b, name, { state: value });
  },
});

/** `<name value='…'/>`, an enum whose absence unsets the feature. */
function valued<K extends 'cfpc' | 'sbbc' | 'ibs'>(name: K, values: readonly NonNullable<Features[K]>[]): FeatureHandler {
  return {
    parse: (el, f) => {
      f[name] = propEnum(el, 'value', values) as Features[K];
    },
    format: (b, f) => {
      const value = f[name];
      if (value !== undefined) add(b, name, { value });
    },
  };
}

const elementChildren = (el: XmlElement): XmlElement[] => el.children.filter(isElement);

/** Scaled size as virParseScaledValue: unsigned number, `unit` attribute, default scale. */
function parseScaledBytes(el: XmlElement, xpath: string, defaultScale: bigint, limit: bigint): bigint | undefined {
  const text = textOf(el);
  if (text === '') return undefined;
  const value = parseUnsigned(text);
  if (value === undefined) throw invalidValue(text, xpath);
  return scaleInteger(value, attr(el, 'unit'), defaultScale, limit);
}

const capabilitiesHandler: FeatureHandler = {
  parse: (el, f) => {
    const policy = propEnum(el, 'policy', ['default', 'allow', 'deny'] as const) ?? 'default';
    const capabilities = f.capabilities?.capabilities ?? {};
    for (const cap of elementChildren(el)) {
      const name = cap.local;
      if (!isOneOf(PROCESS_CAPABILITIES, name)) throw unsupported(`unexpected capability feature '${name}'`);
      capabilities[name] = propSwitch(cap, 'state') ?? 'on';
    }
    f.capabilities = { policy, capabilities };
  },
  format: (b, f) => {
    if (f.capabilities === undefined) return;
    const { policy, capabilities } = f.capabilities;
    const listed = PROCESS_CAPABILITIES.filter((name) => capabilities[name] !== undefined);
    // A default policy with nothing listed prints nothing at all.
    if (policy === 'default' && listed.length === 0) return;
    const el = add(b, 'capabilities', { policy });
    for (const name of listed) add(el, name, { state: capabilities[name] });
  },
};

/**
 * A <features> child that libvirt always writes with an end tag: when it
 * has no children, an open/close pair on two lines.
 */
const addBlock = (b: Builder, name: string, attrs: Record<string, string>, empty: boolean): Builder =>
  empty ? add(b, name, attrs, '\n    ') : add(b, name, attrs);

const HYPERV_VENDOR_ID_MAX = 12;

function parseHypervEnlightenment(el: XmlElement, hyperv: HypervFeature): void {
  const name = el.local;
  if (!isOneOf(HYPERV_FEATURES, name)) throw unsupported(`unsupported HyperV Enlightenment feature: ${name}`);
  const value = propSwitch(el, 'state', true)!;
  hyperv.enlightenments[name] = value;
  if (value !== 'on') return;
  if (name === 'spinlocks') {
    const retries = propUInt(el, 'retries', true)!;
    if (retries < 0xfff) throw xmlError('HyperV spinlock retry count must be at least 4095');
    hyperv.spinlockRetries = retries;
  } else if (name === 'stimer') {
    for (const sub of elementChildren(el)) {
      if (sub.local !== 'direct') throw unsupported(`unsupported Hyper-V stimer feature: ${sub.local}`);
      hyperv.stimerDirect = propSwitch(sub, 'state', true);
    }
  } else if (name === 'vendor_id') {
    const vendor = attr(el, 'value');
    if (vendor === undefined) throw xmlError("missing 'value' attribute for HyperV feature 'vendor_id'");
    if (vendor.length > HYPERV_VENDOR_ID_MAX) {
      throw xmlError(`HyperV vendor_id value must not be more than ${HYPERV_VENDOR_ID_MAX} characters.`);
    }
    if (vendor.includes(',')) throw xmlError('HyperV vendor_id value is invalid');
    hyperv.vendorId = vendor;
  }
}

const hypervHandler: FeatureHandler = {
  parse: (el, f) => {
    const mode = propEnum(el, 'mode', ['custom', 'passthrough'] as const) ?? 'custom';
    // Enlightenments of repeated <hyperv> elements accumulate.
    const hyperv: HypervFeature = { ...f.hyperv, mode, enlightenments: f.hyperv?.enlightenments ?? {} };
    for (const sub of elementChildren(el)) parseHypervEnlightenment(sub, hyperv);
    f.hyperv = hyperv;
  },
  format: (b, f) => {
    if (f.hyperv === undefined) return;
    const { mode, enlightenments, spinlockRetries, stimerDirect, vendorId } = f.hyperv;
    const listed = HYPERV_FEATURES.filter((name) => enlightenments[name] !== undefined);
    const el = addBlock(b, 'hyperv', { mode }, listed.length === 0);
    for (const name of listed) {
      const on = enlightenments[name] === 'on';
      const sub = add(el, name, {
        state: enlightenments[name],
        retries: on && name === 'spinlocks' ? spinlockRetries : undefined,
        value: on && name === 'vendor_id' ? vendorId : undefined,
      });
      if (on && name === 'stimer' && stimerDirect === 'on') add(sub, 'direct', { state: 'on' });
    }
  },
};

const kvmHandler: FeatureHandler = {
  parse: (el, f) => {
    const kvm: KvmFeature = { features: {} };
    for (const sub of elementChildren(el)) {
      const name = sub.local;
      if (!isOneOf(KVM_FEATURES, name)) throw unsupported(`unsupported KVM feature: ${name}`);
      const value = propSwitch(sub, 'state', true)!;
      kvm.features[name] = value;
      if (name === 'dirty-ring' && value === 'on') kvm.dirtyRingSize = parseDirtyRingSize(sub);
    }
    f.kvm = kvm;
  },
  format: (b, f) => {
    if (f.kvm === undefined) return;
    const { features, dirtyRingSize } = f.kvm;
    const listed = KVM_FEATURES.filter((name) => features[name] !== undefined);
    const el = addBlock(b, 'kvm', {}, listed.length === 0);
    for (const name of listed) {
      add(el, name, { state: features[name], size: name === 'dirty-ring' ? dirtyRingSize : undefined });
    }
  },
};

function parseDirtyRingSize(el: XmlElement): number {
  const size = propUInt(el, 'size', true)!;
  if ((size & (size - 1)) !== 0 || size < 1024 || size > 65536) {
    throw xmlError('dirty ring must be power of 2 and ranges [1024, 65536]');
  }
  return size;
}

const xenHandler: FeatureHandler = {
  parse: (el, f) => {
    // Settings of repeated <xen> elements accumulate.
    const xen: XenFeature = f.xen ?? { features: {} };
    for (const sub of elementChildren(el)) {
      const name = sub.local;
      if (!isOneOf(XEN_FEATURES, name)) throw unsupported(`unsupported Xen feature: ${name}`);
      const value = propSwitch(sub, 'state', true)!;
      xen.features[name] = value;
      if (name === 'passthrough' && value === 'on') {
        const mode = propEnum(sub, 'mode', ['sync_pt', 'share_pt'] as const);
        if (mode !== undefined) xen.passthroughMode = mode;
      }
    }
    f.xen = xen;
  },
  format: (b, f) => {
    if (f.xen === undefined) return;
    const { features, passthroughMode } = f.xen;
    const listed = XEN_FEATURES.filter((name) => features[name] !== undefined);
    const el = addBlock(b, 'xen', {}, listed.length === 0);
    for (const name of listed) {
      const mode = name === 'passthrough' && features[name] === 'on' ? passthroughMode : undefined;
      add(el, name, { state: features[name], mode });
    }
  },
};

/** virFormatIntPretty: the largest binary unit that divides the size exactly. */
function prettySize(bytes: bigint): [bigint, string] {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let value = bytes;
  let unit = 0;
  while (value !== 0n && value % 1024n === 0n && unit < units.length - 1) {
    value /= 1024n;
    unit++;
  }
  return [value, units[unit]!];
}

const smmHandler: FeatureHandler = {
  parse: (el, f, root) => {
    const smm: NonNullable<Features['smm']> = { state: propSwitch(el, 'state') ?? 'on' };
    // libvirt reads string(./features/smm/tseg): the first <tseg> of any <smm>.
    const [tseg] = selectAll(root, 'features', 'smm', 'tseg');
    if (smm.state === 'on' && tseg !== undefined) {
      const bytes = parseScaledBytes(tseg, 'string(./features/smm/tseg)', 1024n * 1024n, ULLONG_MAX);
      if (bytes !== undefined) smm.tsegBytes = bytes;
    }
    f.smm = smm;
  },
  format: (b, f) => {
    if (f.smm === undefined) return;
    const el = add(b, 'smm', { state: f.smm.state });
    if (f.smm.state === 'on' && f.smm.tsegBytes !== undefined) {
      const [value, unit] = prettySize(f.smm.tsegBytes);
      add(el, 'tseg', { unit }, value);
    }
  },
};

const hptHandler: FeatureHandler = {
  parse: (el, f, root) => {
    const resizing = propEnum(el, 'resizing', ['enabled', 'disabled', 'required'] as const);
    // Read from the domain root, as libvirt does: the first maxpagesize of any <hpt>.
    const [pageSize] = selectAll(root, 'features', 'hpt', 'maxpagesize');
    let maxPageSizeKiB = 0n;
    if (pageSize !== undefined) {
      try {
        maxPageSizeKiB = bytesToKiBRoundUp(parseScaledBytes(pageSize, './features/hpt/maxpagesize', 1024n, ULLONG_MAX) ?? 0n);
      } catch (e) {
        // libvirt reports its own message over whatever the size parser said.
        if (e instanceof VirError) throw unsupported('Unable to parse HPT maxpagesize setting');
        throw e;
      }
    }
    if (resizing === undefined && maxPageSizeKiB === 0n) return;
    f.hpt = {};
    if (resizing !== undefined) f.hpt.resizing = resizing;
    if (maxPageSizeKiB > 0n) f.hpt.maxPageSizeKiB = maxPageSizeKiB;
  },
  format: (b, f) => {
    if (f.hpt === undefined) return;
    const el = add(b, 'hpt', { resizing: f.hpt.resizing });
    if (f.hpt.maxPageSizeKiB !== undefined) add(el, 'maxpagesize', { unit: 'KiB' }, f.hpt.maxPageSizeKiB);
  },
};

const tcgHandler: FeatureHandler = {
  parse: (el, f) => {
    const tbCache = el.children.find((c): c is XmlElement => isElement(c) && c.name === 'tb-cache');
    const bytes = tbCache === undefined ? undefined : parseScaledBytes(tbCache, './tb-cache', 1024n, LLONG_MAX);
    const kib = bytes === undefined ? 0n : bytesToKiBRoundUp(bytes);
    if (kib >= bytesToKiBRoundUp(LLONG_MAX)) throw new VirError('VIR_ERR_OVERFLOW', 'size value too large');
    if (kib > 0n) f.tcg = { tbCacheKiB: kib };
  },
  format: (b, f) => {
    if (f.tcg !== undefined) add(add(b, 'tcg'), 'tb-cache', { unit: 'KiB' }, f.tcg.tbCacheKiB);
  },
};

const FEATURES: ReadonlyArray<readonly [string, FeatureHandler]> = [
  ['acpi', flag('acpi', 'acpi')],
  [
    'apic',
    {
      parse: (el, f) => {
        const eoi = propSwitch(el, 'eoi');
        f.apic = eoi === undefined ? {} : { eoi };
      },
      format: (b, f) => {
        if (f.apic) add(b, 'apic', { eoi: f.apic.eoi });
      },
    },
  ],
  ['pae', flag('pae', 'pae')],
  ['hap', state('hap', 'hap')],
  ['viridian', flag('viridian', 'viridian')],
  ['privnet', flag('privnet', 'privnet')],
  ['hyperv', hypervHandler],
  ['kvm', kvmHandler],
  ['pvspinlock', state('pvspinlock', 'pvspinlock')],
  ['capabilities', capabilitiesHandler],
  ['pmu', state('pmu', 'pmu')],
  ['vmport', state('vmport', 'vmport')],
  [
    'gic',
    {
      parse: (el, f) => {
        const version = propEnum(el, 'version', ['host', '2', '3'] as const);
        f.gic = version === undefined ? {} : { version };
      },
      format: (b, f) => {
        if (f.gic) add(b, 'gic', { version: f.gic.version });
      },
    },
  ],
  ['smm', smmHandler],
  [
    'ioapic',
    {
      parse: (el, f) => {
        f.ioapic = propEnum(el, 'driver', ['qemu', 'kvm'] as const);
      },
      format: (b, f) => {
        if (f.ioapic) add(b, 'ioapic', { driver: f.ioapic });
      },
    },
  ],
  ['hpt', hptHandler],
  ['vmcoreinfo', state('vmcoreinfo', 'vmcoreinfo')],
  ['htm', state('htm', 'htm', true)],
  ['nested-hv', state('nested-hv', 'nestedHv', true)],
  [
    'msrs',
    {
      parse: (el, f) => {
        f.msrs = { unknown: propEnum(el, 'unknown', ['ignore', 'fault'] as const, true)! };
      },
      format: (b, f) => {
        if (f.msrs) add(b, 'msrs', { unknown: f.msrs.unknown });
      },
    },
  ],
  ['ccf-assist', state('ccf-assist', 'ccfAssist', true)],
  ['xen', xenHandler],
  ['cfpc', valued('cfpc', ['broken', 'workaround', 'fixed'])],
  ['sbbc', valued('sbbc', ['broken', 'workaround', 'fixed'])],
  ['ibs', valued('ibs', ['broken', 'workaround', 'fixed-ibs', 'fixed-ccd', 'fixed-na'])],
  ['tcg', tcgHandler],
];

const HANDLERS: ReadonlyMap<string, FeatureHandler> = new Map(FEATURES);

/** ./features/*: every child of every <features>, in document order; a later one replaces an earlier one. */
function parseFeatures(root: XmlElement): Features {
  const features: Features = {};
  for (const el of selectAll(root, 'features', '*')) {
    const handler = HANDLERS.get(el.local);
    if (handler === undefined) throw unsupported(`unexpected feature '${el.local}'`);
    handler.parse(el, features, root);
  }
  return features;
}

/* ---------- part ---------- */

export function parseFeaturesPart(root: XmlElement, _ctx: ParseContext): FeaturesPart {
  return {
    features: parseFeatures(root),
    ...parseLifecycle(root),
    clock: parseClock(root),
  };
}

/** features? (printed after idmap); left out when no feature prints anything. */
export function formatFeatures(b: Builder, def: FeaturesPart): void {
  const el = add(b, 'features');
  for (const [, handler] of FEATURES) handler.format(el, def.features);
  if (el.node.childNodes.length === 0) el.remove();
}

/** clock, on_poweroff, on_reboot, on_crash, on_lockfailure?, pm?, perf? */
export function formatClockAndLifecycle(b: Builder, def: FeaturesPart): void {
  formatClock(b, def.clock);
  formatLifecycle(b, def);
}

export const hooks: SectionHooks = {
  postParse: (def) => postParseClock(def.clock),
  validate: (def) => validateLifecycle(def),
};
