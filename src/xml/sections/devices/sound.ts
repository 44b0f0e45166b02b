/** <sound> devices and the <audio> backends they play through; stored only. */
import { attr, child, elements, type XmlElement } from '../../tree.js';
import { add, type Builder } from '../../writer.js';
import { unsupported, xmlError } from '../../errors.js';
import { propEnum, propYesNo, type YesNo } from '../xml-access.js';
import { formatDeviceInfo, parseDeviceInfo, validateDeviceInfo, type DeviceInfo } from './deviceinfo.js';
import { propInt, propUInt } from './props.js';

/* ---------- sound ---------- */

export const SOUND_MODELS = ['sb16', 'es1370', 'pcspk', 'ac97', 'ich6', 'ich7', 'ich9', 'usb'] as const;
export const SOUND_CODECS = ['duplex', 'micro', 'output'] as const;

export interface SoundDef {
  model: (typeof SOUND_MODELS)[number];
  codecs: Array<(typeof SOUND_CODECS)[number]>;
  /** The <audio> backend it uses, by id; 0 = unset. */
  audioId: number;
  info: DeviceInfo;
}

const MODELS_WITH_CODECS: ReadonlySet<string> = new Set(['ich6', 'ich7', 'ich9']);

function parseCodec(el: XmlElement): SoundDef['codecs'][number] {
  const type = attr(el, 'type');
  if (type === undefined || !(SOUND_CODECS as readonly string[]).includes(type)) {
    throw unsupported(`unknown codec type '${type ?? '(null)'}'`);
  }
  return type as SoundDef['codecs'][number];
}

/** The id of an <audio id='N'/> child (sound, graphics): required, non-zero. */
export function parseAudioRef(el: XmlElement): number {
  const audio = child(el, 'audio');
  return (audio && propUInt(audio, 'id', { required: true, nonZero: true })) ?? 0;
}

export function parseSound(el: XmlElement): SoundDef {
  const model = propEnum(el, 'model', SOUND_MODELS, true)!;
  const codecs = MODELS_WITH_CODECS.has(model) ? elements(el, 'codec').map(parseCodec) : [];
  const audioId = parseAudioRef(el);
  return { model, codecs, audioId, info: parseDeviceInfo(el) };
}

export function formatSound(b: Builder, s: SoundDef): void {
  const el = add(b, 'sound', { model: s.model });
  for (const type of s.codecs) add(el, 'codec', { type });
  if (s.audioId) add(el, 'audio', { id: s.audioId });
  formatDeviceInfo(el, s.info);
}

/** virDomainEnsureAudioID: a reference must name one of the domain's <audio> ids. */
export function ensureAudioId(id: number, audios: readonly AudioDef[]): void {
  if (id && !audios.some((a) => a.id === id)) throw xmlError(`no audio device with ID ${id}`);
}

export function validateSound(s: SoundDef, audios: readonly AudioDef[]): void {
  validateDeviceInfo(s.info);
  ensureAudioId(s.audioId, audios);
}

/* ---------- audio ---------- */

export const AUDIO_TYPES = [
  'none', 'alsa', 'coreaudio', 'jack', 'oss', 'pulseaudio', 'sdl', 'spice', 'file', 'dbus',
] as const;
export type AudioType = (typeof AUDIO_TYPES)[number];

export const AUDIO_FORMATS = ['s8', 'u8', 's16', 'u16', 's32', 'u32', 'f32'] as const;

/** A backend-specific attribute, as name and printed value, in libvirt's order. */
export type AudioAttr = readonly [string, string];

/** One direction (<input> or <output>) of an audio backend. */
export interface AudioIo {
  mixingEngine?: YesNo;
  fixedSettings?: YesNo;
  voices?: number;
  bufferLength?: number;
  settings?: { frequency?: number; channels?: number; format?: (typeof AUDIO_FORMATS)[number] };
  /** Attributes only this backend type knows (dev, latency, …). */
  backend: AudioAttr[];
}

export interface AudioDef {
  id: number;
  type: AudioType;
  timerPeriod?: number;
  /** Attributes only this backend type knows (serverName, path, …). */
  backend: AudioAttr[];
  input: AudioIo;
  output: AudioIo;
}

type AttrKind = 'string' | 'uint' | 'yesno' | 'nonNegativeInt' | readonly string[];

/** A backend attribute: its name and how libvirt reads it. */
type AttrSpec = readonly [string, AttrKind];

interface BackendSpec {
  /** Attributes of <audio>, in output order. */
  top: readonly AttrSpec[];
  /** Attributes of <input>/<output> in output order, and their parse order when it differs. */
  io: readonly AttrSpec[];
  ioParseOrder?: readonly string[];
}

const BACKENDS: Record<AudioType, BackendSpec> = {
  none: { top: [], io: [] },
  spice: { top: [], io: [] },
  dbus: { top: [], io: [] },
  alsa: { top: [], io: [['dev', 'string']] },
  coreaudio: { top: [], io: [['bufferCount', 'uint']] },
  jack: {
    top: [],
    io: [['serverName', 'string'], ['clientName', 'string'], ['connectPorts', 'string'], ['exactName', 'yesno']],
  },
  oss: {
    top: [['tryMMap', 'yesno'], ['exclusive', 'yesno'], ['dspPolicy', 'nonNegativeInt']],
    io: [['dev', 'string'], ['bufferCount', 'uint'], ['tryPoll', 'yesno']],
    ioParseOrder: ['dev', 'tryPoll', 'bufferCount'],
  },
  pulseaudio: { top: [['serverName', 'string']], io: [['name', 'string'], ['streamName', 'string'], ['latency', 'uint']] },
  sdl: { top: [['driver', ['esd', 'alsa', 'arts', 'pulseaudio']]], io: [['bufferCount', 'uint']] },
  file: { top: [['path', 'string']], io: [] },
};

function readAttr(el: XmlElement, [name, kind]: AttrSpec): string | undefined {
  if (kind === 'string') return attr(el, name);
  if (kind === 'yesno') return propYesNo(el, name);
  if (kind === 'uint') return propUInt(el, name)?.toString();
  if (kind === 'nonNegativeInt') {
    const v = propInt(el, name);
    if (v !== undefined && v < 0) throw xmlError(`cannot parse '${name}' value '${v}'`);
    return v?.toString();
  }
  return propEnum(el, name, kind);
}

/** Read `specs` from `el` in `parseOrder`, keeping them in output order. */
function readAttrs(el: XmlElement | undefined, specs: readonly AttrSpec[], parseOrder?: readonly string[]): AudioAttr[] {
  if (el === undefined) return [];
  const values = new Map<string, string>();
  const order = parseOrder ?? specs.map(([name]) => name);
  for (const name of order) {
    const value = readAttr(el, specs.find(([n]) => n === name)!);
    if (value !== undefined) values.set(name, value);
  }
  return specs.flatMap(([name]) => (values.has(name) ? [[name, values.get(name)!] as const] : []));
}

/** virDomainAudioCommonParse. */
function parseAudioIoCommon(el: XmlElement | undefined): Omit<AudioIo, 'backend'> {
  if (el === undefined) return {};
  const mixingEngine = propYesNo(el, 'mixingEngine');
  const fixedSettings = propYesNo(el, 'fixedSettings');
  if (fixedSettings === 'yes' && mixingEngine !== 'yes') throw unsupported('fixed audio settings requires mixing engine');
  const io: Omit<AudioIo, 'backend'> = {
    mixingEngine,
    fixedSettings,
    voices: propUInt(el, 'voices', { nonZero: true }),
    bufferLength: propUInt(el, 'bufferLength', { nonZero: true }),
  };
  const settings = child(el, 'settings');
  if (settings) {
    if (fixedSettings !== 'yes') throw unsupported('audio settings specified without fixed settings flag');
    io.settings = {
      frequency: propUInt(settings, 'frequency', { nonZero: true }),
      channels: propUInt(settings, 'channels', { nonZero: true }),
      format: propEnum(settings, 'format', AUDIO_FORMATS),
    };
  }
  return io;
}

export function parseAudio(el: XmlElement): AudioDef {
  const type = propEnum(el, 'type', AUDIO_TYPES, true)!;
  const id = propUInt(el, 'id', { required: true, nonZero: true })!;
  const timerPeriod = propUInt(el, 'timerPeriod', { nonZero: true });
  const inputEl = child(el, 'input');
  const outputEl = child(el, 'output');
  const input = parseAudioIoCommon(inputEl);
  const output = parseAudioIoCommon(outputEl);
  const spec = BACKENDS[type];
  const backend = readAttrs(el, spec.top);
  return {
    id,
    type,
    timerPeriod,
    backend,
    input: { ...input, backend: readAttrs(inputEl, spec.io, spec.ioParseOrder) },
    output: { ...output, backend: readAttrs(outputEl, spec.io, spec.ioParseOrder) },
  };
}

/** virDomainAudioCommonFormat: printed only when something is set. */
function formatAudioIo(b: Builder, name: 'input' | 'output', io: AudioIo): void {
  const set = io.mixingEngine || io.fixedSettings || io.voices || io.bufferLength || io.backend.length > 0;
  if (!set) return;
  const el = add(b, name, [
    ['mixingEngine', io.mixingEngine],
    ['fixedSettings', io.fixedSettings],
    ['voices', io.voices],
    ['bufferLength', io.bufferLength],
    ...io.backend,
  ]);
  if (io.fixedSettings === 'yes') {
    const s = io.settings ?? {};
    add(el, 'settings', { frequency: s.frequency, channels: s.channels, format: s.format });
  }
}

/** virDomainAudioDefFormat: id, type, timerPeriod, then the backend's own attributes. */
export function formatAudio(b: Builder, a: AudioDef): void {
  const el = add(b, 'audio', [['id', a.id], ['type', a.type], ['timerPeriod', a.timerPeriod], ...a.backend]);
  formatAudioIo(el, 'input', a.input);
  formatAudioIo(el, 'output', a.output);
}

export function validateAudio(a: AudioDef, audios: readonly AudioDef[]): void {
  if (audios.some((other) => other !== a && other.id === a.id)) {
    throw xmlError(`audio ID ${a.id} is used multiple times`);
  }
}
