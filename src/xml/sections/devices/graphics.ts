/**
 * <graphics> and <video>: stored only by the LXC driver, but with the
 * generic parser's rules. A <graphics> without any <video> gets an implicit
 * video of the default model, which this driver cannot resolve, so such a
 * definition is rejected ("missing video model and cannot determine default").
 */
import type { DeviceFormatOptions } from './kinds.js';
import { attr, child, elements, type XmlElement } from '../../tree.js';
import { add, type Builder } from '../../writer.js';
import { internalError, unsupported, xmlError } from '../../errors.js';
import { propEnum, propSwitch, propYesNo, type Switch, type YesNo } from '../xml-access.js';
import { formatDeviceInfo, parseDeviceInfo, validateDeviceInfo, type DeviceInfo } from './deviceinfo.js';
import { parseInt32, propInt, propUInt } from './props.js';
import { formatVirtioOptions, parseVirtioOptions, validateNoVirtioOptions, type VirtioOptions } from './virtio.js';
import { ensureAudioId, parseAudioRef, type AudioDef } from './sound.js';

/* ---------- graphics ---------- */

export const GRAPHICS_TYPES = ['sdl', 'vnc', 'rdp', 'desktop', 'spice', 'egl-headless', 'dbus'] as const;
export type GraphicsType = (typeof GRAPHICS_TYPES)[number];

export type GraphicsListen =
  | { type: 'none' }
  | { type: 'address'; address?: string }
  /** A running domain also knows the network's address; a definition does not. */
  | { type: 'network'; network?: string }
  | { type: 'socket'; socket?: string };

export type AuthConnected = 'fail' | 'disconnect' | 'keep';

/** Password settings; libvirt shows the password itself only with --security-info. */
export interface GraphicsAuth {
  passwd?: string;
  username?: string;
  /** UTC, YYYY-MM-DDTHH:MM:SS. */
  passwdValidTo?: string;
  connected?: AuthConnected;
}

export type VncSharePolicy = 'allow-exclusive' | 'force-shared' | 'ignore';
export type SpiceChannelName =
  | 'main' | 'display' | 'inputs' | 'cursor' | 'playback' | 'record' | 'smartcard' | 'usbredir';
export type SpiceChannelMode = 'any' | 'secure' | 'insecure';

export interface Gl {
  enable?: YesNo;
  renderNode?: string;
}

export interface VncGraphics {
  type: 'vnc';
  /** 0 = chosen at start (autoport). */
  port: number;
  autoport: boolean;
  websocket: number;
  sharePolicy?: VncSharePolicy;
  powerControl?: YesNo;
  keymap?: string;
  audioId?: number;
  auth: GraphicsAuth;
  listens: GraphicsListen[];
}

export interface SpiceGraphics {
  type: 'spice';
  port: number;
  tlsPort: number;
  autoport: boolean;
  defaultMode?: 'secure' | 'insecure';
  keymap?: string;
  auth: GraphicsAuth;
  listens: GraphicsListen[];
  /** Per-channel modes other than 'any'. */
  channels: Partial<Record<SpiceChannelName, SpiceChannelMode>>;
  imageCompression?: string;
  jpegCompression?: string;
  zlibCompression?: string;
  playbackCompression?: Switch;
  streamingMode?: string;
  mouseMode?: 'server' | 'client';
  clipboardCopypaste?: YesNo;
  fileTransfer?: YesNo;
  gl?: Gl;
}

export interface RdpGraphics {
  type: 'rdp';
  port: number;
  autoport: boolean;
  replaceUser: boolean;
  multiUser: boolean;
  auth: GraphicsAuth;
  listens: GraphicsListen[];
}

export interface SdlGraphics {
  type: 'sdl';
  display?: string;
  xauth?: string;
  fullscreen: boolean;
  gl?: YesNo;
}

export interface DesktopGraphics {
  type: 'desktop';
  display?: string;
  fullscreen: boolean;
}

export interface EglHeadlessGraphics {
  type: 'egl-headless';
  renderNode?: string;
}

export interface DbusGraphics {
  type: 'dbus';
  p2p: boolean;
  address?: string;
  gl?: Gl;
  audioId?: number;
}

export type GraphicsDef =
  | VncGraphics | SpiceGraphics | RdpGraphics | SdlGraphics | DesktopGraphics | EglHeadlessGraphics | DbusGraphics;

const LISTEN_TYPES = ['none', 'address', 'network', 'socket'] as const;
const CONNECTED: readonly AuthConnected[] = ['fail', 'disconnect', 'keep'];
const SPICE_CHANNEL_NAMES: readonly SpiceChannelName[] = [
  'main', 'display', 'inputs', 'cursor', 'playback', 'record', 'smartcard', 'usbredir',
];
const SPICE_CHANNEL_MODES: readonly SpiceChannelMode[] = ['any', 'secure', 'insecure'];

/** Parse "YYYY-MM-DDTHH:MM:SS" as libvirt does, normalised through a UTC date. */
function parseValidTo(raw: string): string {
  const m = /^([+-]?\d+)-([+-]?\d+)-([+-]?\d+)T([+-]?\d+):([+-]?\d+):([+-]?\d+)$/.exec(raw);
  const date = m && new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  if (!date || Number.isNaN(date.getTime())) {
    throw internalError(`cannot parse password validity time '${raw}', expect YYYY-MM-DDTHH:MM:SS`);
  }
  return date.toISOString().slice(0, 19);
}

function parseAuth(el: XmlElement, type: GraphicsType): GraphicsAuth {
  const passwd = attr(el, 'passwd');
  if (passwd === undefined) return {};
  const auth: GraphicsAuth = { passwd, username: attr(el, 'username') };
  const validTo = attr(el, 'passwdValidTo');
  if (validTo !== undefined) auth.passwdValidTo = parseValidTo(validTo);
  const connected = attr(el, 'connected');
  if (connected !== undefined) {
    if (!(CONNECTED as readonly string[]).includes(connected)) throw unsupported(`unknown connected value ${connected}`);
    if (type === 'vnc' && connected !== 'keep') throw unsupported("VNC supports connected='keep' only");
    auth.connected = connected as AuthConnected;
  }
  return auth;
}

/** virDomainGraphicsListenDefParseXML; the first <listen> is checked against <graphics listen|socket>. */
function parseListen(el: XmlElement, graphics: XmlElement | undefined): GraphicsListen {
  const type = propEnum(el, 'type', LISTEN_TYPES, true)!;
  let address = attr(el, 'address');
  let socket = attr(el, 'socket');
  const network = attr(el, 'network');
  const addressCompat = graphics && attr(graphics, 'listen');
  const socketCompat = graphics && attr(graphics, 'socket');
  if (type === 'address') {
    if (address !== undefined && addressCompat !== undefined && address !== addressCompat) {
      throw unsupported(
        `graphics 'listen' attribute '${addressCompat}' must match 'address' attribute of first listen element (found '${address}')`,
      );
    }
    address ??= addressCompat;
  }
  if (type === 'socket') {
    if (socket !== undefined && socketCompat !== undefined && socket !== socketCompat) {
      throw unsupported(
        `graphics 'socket' attribute '${socketCompat}' must match 'socket' attribute of first listen element (found '${socket}')`,
      );
    }
    socket ??= socketCompat;
  }
  if (network && type !== 'network') throw xmlError("'network' attribute is valid only for listen type 'network'");
  if (socket && type !== 'socket') throw xmlError("'socket' attribute is valid only for listen type 'socket'");
  switch (type) {
    case 'address':
      return { type, address: address || undefined };
    case 'network':
      return { type, network: network || undefined };
    case 'socket':
      return { type, socket: socket || undefined };
    default:
      return { type };
  }
}

/** virDomainGraphicsListensParseXML: <listen> children, else the legacy listen/socket attribute. */
function parseListens(el: XmlElement, type: GraphicsType): GraphicsListen[] {
  const listens = elements(el, 'listen').map((l, i) => parseListen(l, i === 0 ? el : undefined));
  const socket = type === 'vnc' ? attr(el, 'socket') : undefined;
  const legacy: GraphicsListen =
    socket !== undefined ? { type: 'socket', socket } : { type: 'address', address: attr(el, 'listen') || undefined };
  if (listens.length === 0) return [legacy];
  if ((listens[0]!.type === 'address' || listens[0]!.type === 'network') && legacy.type === 'socket') {
    listens[0] = legacy;
  }
  return listens;
}

/** A vnc or rdp port: -1 (or no port at all) means "pick one at start". */
function parseLegacyPort(el: XmlElement, type: 'vnc' | 'rdp'): { port: number; autoport: boolean } {
  const raw = attr(el, 'port');
  if (raw === undefined) return { port: 0, autoport: true };
  const port = parseInt32(raw);
  if (port === undefined) throw internalError(`cannot parse ${type} port ${raw}`);
  return port === -1 ? { port: 0, autoport: true } : { port, autoport: false };
}

const audioId = (el: XmlElement): number | undefined => parseAudioRef(el) || undefined;

function parseVnc(el: XmlElement): VncGraphics {
  const listens = parseListens(el, 'vnc');
  let { port, autoport } = parseLegacyPort(el, 'vnc');
  const autoportAttr = attr(el, 'autoport');
  if (autoportAttr === 'yes' || autoportAttr === 'no') autoport = autoportAttr === 'yes';
  if (autoport) port = 0;
  return {
    type: 'vnc',
    port,
    autoport,
    websocket: propInt(el, 'websocket') ?? 0,
    sharePolicy: propEnum(el, 'sharePolicy', ['allow-exclusive', 'force-shared', 'ignore'] as const),
    powerControl: propYesNo(el, 'powerControl'),
    keymap: attr(el, 'keymap'),
    audioId: audioId(el),
    auth: parseAuth(el, 'vnc'),
    listens,
  };
}

function parseRdp(el: XmlElement): RdpGraphics {
  const listens = parseListens(el, 'rdp');
  let { port, autoport } = parseLegacyPort(el, 'rdp');
  if (attr(el, 'autoport') === 'yes') autoport = true;
  if (autoport) port = 0;
  return {
    type: 'rdp',
    port,
    autoport,
    replaceUser: attr(el, 'replaceUser') === 'yes',
    multiUser: attr(el, 'multiUser') === 'yes',
    auth: parseAuth(el, 'rdp'),
    listens,
  };
}

function parseSpiceChannels(el: XmlElement): SpiceGraphics['channels'] {
  const channels: SpiceGraphics['channels'] = {};
  for (const c of elements(el, 'channel')) {
    const name = propEnum(c, 'name', SPICE_CHANNEL_NAMES, true)!;
    channels[name] = propEnum(c, 'mode', SPICE_CHANNEL_MODES, true)!;
  }
  return channels;
}

/** An optional child whose one attribute is a required enum (VIR_XML_PROP_REQUIRED | NONZERO). */
function childEnum<T extends string>(el: XmlElement, name: string, attrName: string, values: readonly T[]): T | undefined {
  const c = child(el, name);
  return c && propEnum(c, attrName, values, true);
}

function parseGl(el: XmlElement): Gl | undefined {
  const gl = child(el, 'gl');
  return gl && { renderNode: attr(gl, 'rendernode'), enable: propYesNo(gl, 'enable', true) };
}

function parseSpice(el: XmlElement): SpiceGraphics {
  const listens = parseListens(el, 'spice');
  let port = propInt(el, 'port') ?? 0;
  let tlsPort = propInt(el, 'tlsPort') ?? 0;
  let autoport = propYesNo(el, 'autoport') === 'yes';
  const defaultMode = propEnum(el, 'defaultMode', SPICE_CHANNEL_MODES);
  if (port === -1 && tlsPort === -1) autoport = true;
  if (autoport) [port, tlsPort] = [0, 0];
  const keymap = attr(el, 'keymap');
  const auth = parseAuth(el, 'spice');
  const playback = child(el, 'playback');
  const clipboard = child(el, 'clipboard');
  const fileTransfer = child(el, 'filetransfer');
  return {
    type: 'spice',
    port,
    tlsPort,
    autoport,
    defaultMode: defaultMode === 'any' ? undefined : defaultMode,
    keymap,
    auth,
    listens,
    channels: parseSpiceChannels(el),
    imageCompression: childEnum(el, 'image', 'compression', ['auto_glz', 'auto_lz', 'quic', 'glz', 'lz', 'off']),
    jpegCompression: childEnum(el, 'jpeg', 'compression', ['auto', 'never', 'always']),
    zlibCompression: childEnum(el, 'zlib', 'compression', ['auto', 'never', 'always']),
    playbackCompression: playback && propSwitch(playback, 'compression', true),
    streamingMode: childEnum(el, 'streaming', 'mode', ['filter', 'all', 'off']),
    clipboardCopypaste: clipboard && propYesNo(clipboard, 'copypaste', true),
    fileTransfer: fileTransfer && propYesNo(fileTransfer, 'enable', true),
    gl: parseGl(el),
    mouseMode: childEnum(el, 'mouse', 'mode', ['server', 'client']),
  };
}

const fullscreen = (el: XmlElement): boolean => propYesNo(el, 'fullscreen') === 'yes';

function parseSdl(el: XmlElement): SdlGraphics {
  const full = fullscreen(el);
  const gl = child(el, 'gl');
  return {
    type: 'sdl',
    fullscreen: full,
    xauth: attr(el, 'xauth'),
    display: attr(el, 'display'),
    gl: gl && propYesNo(gl, 'enable', true),
  };
}

function parseDbus(el: XmlElement): DbusGraphics {
  const p2p = propYesNo(el, 'p2p') === 'yes';
  return { type: 'dbus', p2p, address: attr(el, 'address'), gl: parseGl(el), audioId: audioId(el) };
}

/** virDomainGraphicsDefParseXML. */
export function parseGraphics(el: XmlElement): GraphicsDef {
  const type = propEnum(el, 'type', GRAPHICS_TYPES, true)!;
  switch (type) {
    case 'vnc':
      return parseVnc(el);
    case 'sdl':
      return parseSdl(el);
    case 'rdp':
      return parseRdp(el);
    case 'desktop':
      return { type, fullscreen: fullscreen(el), display: attr(el, 'display') };
    case 'spice':
      return parseSpice(el);
    case 'egl-headless': {
      const gl = child(el, 'gl');
      return { type, renderNode: gl && attr(gl, 'rendernode') };
    }
    case 'dbus':
      return parseDbus(el);
  }
}

const hasListens = (g: GraphicsDef): g is VncGraphics | SpiceGraphics | RdpGraphics =>
  g.type === 'vnc' || g.type === 'spice' || g.type === 'rdp';

/** virDomainGraphicsDefValidate. */
export function validateGraphics(g: GraphicsDef, audios: readonly AudioDef[]): void {
  if (hasListens(g) && g.listens.some((l) => l.type === 'network' && l.network === undefined)) {
    throw xmlError("'network' attribute is required for listen type 'network'");
  }
  if (g.type === 'vnc') ensureAudioId(g.audioId ?? 0, audios);
  if (g.type === 'dbus' && g.p2p && g.address !== undefined) {
    throw xmlError('D-Bus p2p with an address is not supported');
  }
}

function formatAuthAttrs(a: GraphicsAuth, secure: boolean): Array<[string, string | undefined]> {
  if (a.passwd === undefined) return [];
  // The password is secret: printed only for stored definitions and --security-info.
  return [
    ['passwd', secure ? a.passwd : undefined],
    ['username', a.username],
    ['passwdValidTo', a.passwdValidTo],
    ['connected', a.connected],
  ];
}

/** The legacy `listen` attribute mirroring the first listen's address. */
const listenAttr = (listens: GraphicsListen[]): string | undefined => {
  const first = listens[0];
  return first?.type === 'address' ? first.address : undefined;
};

function formatListens(el: Builder, listens: GraphicsListen[]): void {
  for (const l of listens) {
    add(el, 'listen', {
      type: l.type,
      address: l.type === 'address' ? l.address : undefined,
      network: l.type === 'network' ? l.network : undefined,
      socket: l.type === 'socket' ? l.socket : undefined,
    });
  }
}

function vncPortAttrs(g: VncGraphics): Array<[string, string | number | undefined]> {
  const first = g.listens[0];
  if (first?.type === 'socket') return [['socket', first.socket]];
  if (first?.type === 'none') return [];
  const port = g.port && !g.autoport ? g.port : g.autoport ? -1 : undefined;
  return [
    ['port', port],
    ['autoport', g.autoport ? 'yes' : 'no'],
    ['websocket', g.websocket || undefined],
    ['listen', listenAttr(g.listens)],
  ];
}

function formatVnc(b: Builder, g: VncGraphics, secure: boolean): void {
  const el = add(b, 'graphics', [
    ['type', 'vnc'],
    ...vncPortAttrs(g),
    ['keymap', g.keymap],
    ['sharePolicy', g.sharePolicy],
    ['powerControl', g.powerControl],
    ...formatAuthAttrs(g.auth, secure),
  ]);
  formatListens(el, g.listens);
  if (g.audioId) add(el, 'audio', { id: g.audioId });
}

function spicePortAttrs(g: SpiceGraphics): Array<[string, string | number | undefined]> {
  const first = g.listens[0];
  if (first?.type !== 'address' && first?.type !== 'network') return [];
  return [
    ['port', g.port || undefined],
    ['tlsPort', g.tlsPort || undefined],
    ['autoport', g.autoport ? 'yes' : 'no'],
    ['listen', listenAttr(g.listens)],
  ];
}

function formatGl(el: Builder, gl: Gl | undefined): void {
  if (gl && (gl.enable !== undefined || gl.renderNode !== undefined)) {
    add(el, 'gl', { enable: gl.enable, rendernode: gl.renderNode });
  }
}

function formatSpice(b: Builder, g: SpiceGraphics, secure: boolean): void {
  const el = add(b, 'graphics', [
    ['type', 'spice'],
    ...spicePortAttrs(g),
    ['keymap', g.keymap],
    ['defaultMode', g.defaultMode],
    ...formatAuthAttrs(g.auth, secure),
  ]);
  formatListens(el, g.listens);
  for (const name of SPICE_CHANNEL_NAMES) {
    const mode = g.channels[name];
    if (mode !== undefined && mode !== 'any') add(el, 'channel', { name, mode });
  }
  const features: Array<[string, string, string | undefined]> = [
    ['image', 'compression', g.imageCompression],
    ['jpeg', 'compression', g.jpegCompression],
    ['zlib', 'compression', g.zlibCompression],
    ['playback', 'compression', g.playbackCompression],
    ['streaming', 'mode', g.streamingMode],
    ['mouse', 'mode', g.mouseMode],
    ['clipboard', 'copypaste', g.clipboardCopypaste],
    ['filetransfer', 'enable', g.fileTransfer],
  ];
  for (const [name, attrName, value] of features) if (value !== undefined) add(el, name, { [attrName]: value });
  formatGl(el, g.gl);
}

function formatRdp(b: Builder, g: RdpGraphics, secure: boolean): void {
  const port = g.port ? g.port : g.autoport ? 0 : undefined;
  const el = add(b, 'graphics', [
    ['type', 'rdp'],
    ['port', port],
    ['autoport', g.autoport ? 'yes' : undefined],
    ['replaceUser', g.replaceUser ? 'yes' : undefined],
    ['multiUser', g.multiUser ? 'yes' : undefined],
    ['listen', listenAttr(g.listens)],
    ...formatAuthAttrs(g.auth, secure),
  ]);
  formatListens(el, g.listens);
}

/** virDomainGraphicsDefFormat. */
export function formatGraphics(b: Builder, g: GraphicsDef, opts: DeviceFormatOptions): void {
  switch (g.type) {
    case 'vnc':
      return formatVnc(b, g, opts.secure);
    case 'spice':
      return formatSpice(b, g, opts.secure);
    case 'rdp':
      return formatRdp(b, g, opts.secure);
    case 'sdl': {
      const el = add(b, 'graphics', [
        ['type', 'sdl'],
        ['display', g.display],
        ['xauth', g.xauth],
        ['fullscreen', g.fullscreen ? 'yes' : undefined],
      ]);
      formatGl(el, { enable: g.gl });
      return;
    }
    case 'desktop':
      add(b, 'graphics', [['type', 'desktop'], ['display', g.display], ['fullscreen', g.fullscreen ? 'yes' : undefined]]);
      return;
    case 'egl-headless':
      formatGl(add(b, 'graphics', { type: g.type }), { renderNode: g.renderNode });
      return;
    case 'dbus': {
      const el = add(b, 'graphics', [['type', 'dbus'], ['p2p', g.p2p ? 'yes' : undefined], ['address', g.address]]);
      formatGl(el, g.gl);
      if (g.audioId) add(el, 'audio', { id: g.audioId });
    }
  }
}

/* ---------- video ---------- */

export const VIDEO_TYPES = [
  'default', 'vga', 'cirrus', 'vmvga', 'xen', 'vbox', 'qxl', 'parallels', 'virtio', 'gop', 'none', 'bochs', 'ramfb',
] as const;
export type VideoType = (typeof VIDEO_TYPES)[number];

export interface VideoDef {
  /** 'default' only for the implicit video of a <graphics>, which this driver rejects. */
  type: VideoType;
  /** KiB; 0 = unset. */
  ram: number;
  vram: number;
  vram64: number;
  vgamem: number;
  heads: number;
  primary: boolean;
  acceleration?: { accel3d?: YesNo; accel2d?: YesNo; renderNode?: string };
  resolution?: { x: number; y: number };
  /** `<driver name>`: the backend. */
  backend?: 'qemu' | 'vhostuser';
  vgaconf?: 'io' | 'on' | 'off';
  virtio?: VirtioOptions;
  info: DeviceInfo;
}

function parseAcceleration(el: XmlElement): VideoDef['acceleration'] {
  const renderNode = attr(el, 'rendernode');
  const accel3d = propYesNo(el, 'accel3d');
  const accel2d = propYesNo(el, 'accel2d');
  if (renderNode === undefined && accel3d === undefined && accel2d === undefined) {
    throw unsupported('missing values for acceleration');
  }
  return { accel3d, accel2d, renderNode };
}

function parseVideoModel(video: VideoDef, model: XmlElement): void {
  video.primary = attr(model, 'primary') === 'yes';
  const accel = child(model, 'acceleration');
  if (accel) video.acceleration = parseAcceleration(accel);
  const res = child(model, 'resolution');
  if (res) video.resolution = { x: propUInt(res, 'x', { required: true })!, y: propUInt(res, 'y', { required: true })! };
  video.type = propEnum(model, 'type', VIDEO_TYPES) ?? 'default';
  video.ram = propUInt(model, 'ram') ?? 0;
  video.vram = propUInt(model, 'vram') ?? 0;
  video.vram64 = propUInt(model, 'vram64') ?? 0;
  video.vgamem = propUInt(model, 'vgamem') ?? 0;
  video.heads = propUInt(model, 'heads') ?? 1;
}

/** virDomainVideoDefParseXML. */
export function parseVideo(el: XmlElement): VideoDef {
  const video: VideoDef = { type: 'default', ram: 0, vram: 0, vram64: 0, vgamem: 0, heads: 1, primary: false, info: {} };
  const model = child(el, 'model');
  if (model) parseVideoModel(video, model);
  const driver = child(el, 'driver');
  if (driver) {
    video.backend = propEnum(driver, 'name', ['qemu', 'vhostuser'] as const);
    video.virtio = parseVirtioOptions(driver);
  }
  video.info = parseDeviceInfo(el);
  if (driver) video.vgaconf = propEnum(driver, 'vgaconf', ['io', 'on', 'off'] as const);
  return video;
}

/** A video marked primary goes first, as libvirt inserts it. */
export function parseVideos(els: readonly XmlElement[]): VideoDef[] {
  const videos: VideoDef[] = [];
  for (const e of els) {
    const video = parseVideo(e);
    if (video.primary) videos.unshift(video);
    else videos.push(video);
  }
  return videos;
}

/** virDomainVideoDefaultRAM for a non-VBox, non-VMware domain. */
function defaultVideoRam(type: VideoType): number {
  switch (type) {
    case 'vga':
    case 'cirrus':
    case 'vmvga':
    case 'bochs':
      return 16 * 1024;
    case 'xen':
      return 4 * 1024;
    case 'qxl':
      return 64 * 1024;
    default:
      return 0;
  }
}

/** VIR_ROUND_UP_POWER_OF_TWO for the unsigned int libvirt stores it in. */
function roundUpPowerOfTwo(v: number): number {
  if (v <= 1) return v;
  const p = 2 ** Math.ceil(Math.log2(v));
  return p > 0xffffffff ? 0 : p;
}

/** virDomainVideoDefPostParse. */
function postParseVideo(v: VideoDef): void {
  if (v.ram === 0 && v.type === 'qxl') v.ram = defaultVideoRam(v.type);
  if (v.vram === 0) v.vram = defaultVideoRam(v.type);
  v.ram = roundUpPowerOfTwo(v.ram);
  v.vram = roundUpPowerOfTwo(v.vram);
}

const emptyVideo = (type: VideoType): VideoDef => ({
  type, ram: 0, vram: 0, vram64: 0, vgamem: 0, heads: 0, primary: false, info: {},
});

/**
 * Defaults for videos, then the implicit video a <graphics> asks for, then
 * the first video is the primary one (virDomainDefPostParseVideo).
 */
export function postParseVideos(videos: VideoDef[], graphicsCount: number): void {
  videos.forEach(postParseVideo);
  if (graphicsCount > 0 && videos.length === 0) videos.push(emptyVideo('default'));
  const first = videos[0];
  if (first === undefined) return;
  if (first.type === 'none') {
    videos[0] = emptyVideo('none');
    return;
  }
  first.primary = true;
  postParseVideo(first);
}

/** virDomainVideoDefValidate. */
export function validateVideo(v: VideoDef, all: readonly VideoDef[]): void {
  validateDeviceInfo(v.info);
  if (v.type === 'default') throw internalError('missing video model and cannot determine default');
  if (all.length > 1 && all.some((x) => x.type === 'none')) {
    throw unsupported("a 'none' video type must be the only video device defined for the domain");
  }
  if (v.backend === 'vhostuser' && v.type !== 'virtio') {
    throw unsupported("'vhostuser' driver is only supported with 'virtio' device");
  }
  if (v.backend !== 'vhostuser' && v.acceleration?.renderNode !== undefined) {
    throw unsupported("unsupported rendernode accel attribute without 'vhostuser'");
  }
  if (v.resolution && (v.resolution.x === 0 || v.resolution.y === 0)) {
    throw unsupported('video resolution values must be greater than 0');
  }
  if (v.type !== 'qxl') {
    for (const name of ['ram', 'vram64', 'vgamem'] as const) {
      if (v[name] !== 0) throw unsupported(`${name} attribute only supported for video type qxl`);
    }
  }
  if (v.type === 'ramfb' && v.info.address) throw unsupported('address not supported for video type ramfb');
  if (v.type !== 'virtio') validateNoVirtioOptions(v.virtio);
}

/** virDomainDefVideoValidate: at most one primary video. */
export function validateVideos(videos: readonly VideoDef[]): void {
  if (videos[0]?.primary && videos.slice(1).some((v) => v.primary)) {
    throw unsupported('Only one primary video device is supported');
  }
}

function formatVideoDriver(el: Builder, v: VideoDef): void {
  const virtio = formatVirtioOptions(v.virtio);
  const vgaconf = v.vgaconf === 'io' ? undefined : v.vgaconf; // libvirt cannot print its zero value
  if (virtio.length === 0 && vgaconf === undefined && v.backend === undefined) return;
  add(el, 'driver', [...virtio, ['vgaconf', vgaconf], ['name', v.backend]]);
}

/** virDomainVideoDefFormat. */
export function formatVideo(b: Builder, v: VideoDef): void {
  const el = add(b, 'video');
  formatVideoDriver(el, v);
  const model = add(el, 'model', [
    ['type', v.type],
    ['ram', v.ram || undefined],
    ['vram', v.vram || undefined],
    ['vram64', v.vram64 || undefined],
    ['vgamem', v.vgamem || undefined],
    ['heads', v.heads || undefined],
    ['primary', v.primary ? 'yes' : undefined],
  ]);
  const a = v.acceleration;
  if (a) add(model, 'acceleration', { accel3d: a.accel3d, accel2d: a.accel2d, rendernode: a.renderNode });
  if (v.resolution) add(model, 'resolution', v.resolution.x && v.resolution.y ? v.resolution : {});
  formatDeviceInfo(el, v.info);
}
