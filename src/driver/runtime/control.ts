/**
 * Client of a supervisor's control socket (docs/plan-format.md, "Control
 * protocol"): one-line requests, console relays and status-change events.
 *
 * A socket that is missing or that nobody listens on means the domain is
 * not running. A refusal (`error ERRNO MESSAGE`) is a SupervisorError, for
 * the caller to word as libvirt would.
 */
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { VirError } from '../../xml/errors.js';
import { domainNotRunning, systemError } from '../errors.js';
import { decodeLine } from './plan-encoding.js';

/** How long a request waits for its reply unless told otherwise. */
export const DEFAULT_CONTROL_TIMEOUT_MS = 10_000;

/** The supervisor's longest command line, without the newline. */
const MAX_LINE = 1023;

/** The supervisor refused a request ("operation failed: REASON" unless the caller words it better). */
export class SupervisorError extends VirError {
  constructor(
    readonly request: string,
    /** errno the supervisor gave (ESRCH: no init, EBUSY: console taken, …). */
    readonly errno: number,
    readonly reason: string,
    /** The plan record or phase that failed, for requests that run plan records (net-apply). */
    readonly step?: string,
  ) {
    super('VIR_ERR_OPERATION_FAILED', reason);
    this.name = 'SupervisorError';
  }
}

const NOT_LISTENING = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTDIR']);

function connectFailure(socketPath: string, e: unknown): unknown {
  if (NOT_LISTENING.has((e as NodeJS.ErrnoException).code ?? '')) return domainNotRunning();
  return systemError(`Failed to connect to the domain supervisor at '${socketPath}'`, e);
}

function checkLine(line: string): void {
  if (line.includes('\n') || Buffer.byteLength(line) > MAX_LINE) throw new Error(`invalid control request '${line}'`);
}

/**
 * A connection that has sent `line` and received its one reply line. Any
 * bytes after the reply are put back, so a console relay or an event
 * stream continues from them; the socket starts flowing again as soon as
 * the caller adds a 'data' listener or pipes it.
 */
function exchange(socketPath: string, line: string, timeoutMs: number): Promise<{ socket: Socket; reply: string[] }> {
  checkLine(line);
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let received = Buffer.alloc(0);
    let connected = false;
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Without a 'readable' listener (and none for 'data') the stream waits for its consumer.
      socket.removeListener('readable', onReadable);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      outcome();
    };
    const fail = (e: unknown): void =>
      finish(() => {
        socket.destroy();
        reject(e);
      });
    const timer = setTimeout(
      () => fail(new VirError('VIR_ERR_OPERATION_FAILED', `no reply from the domain supervisor to '${line}' within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onError = (e: Error): void =>
      fail(connected ? systemError('Lost the connection to the domain supervisor', e) : connectFailure(socketPath, e));
    const onClose = (): void =>
      fail(new VirError('VIR_ERR_OPERATION_FAILED', `the domain supervisor closed the connection without answering '${line}'`));
    const onReadable = (): void => {
      for (let chunk = socket.read() as Buffer | null; chunk !== null && !settled; chunk = socket.read() as Buffer | null) {
        received = Buffer.concat([received, chunk]);
        const nl = received.indexOf(0x0a);
        if (nl < 0) continue;
        finish(() => {
          if (nl + 1 < received.length) socket.unshift(received.subarray(nl + 1));
          resolve({ socket, reply: decodeLine(received.subarray(0, nl).toString('utf8')) });
        });
      }
    };
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.on('readable', onReadable);
    socket.once('connect', () => {
      connected = true;
      socket.write(`${line}\n`);
    });
  });
}

/** The fields after `ok`; throws SupervisorError for an `error` reply. */
function okFields(line: string, reply: string[]): string[] {
  const [word, ...rest] = reply;
  if (word === 'ok') return rest;
  if (word === 'error') throw new SupervisorError(line, Number(rest[0]), rest[1] ?? 'unknown error');
  throw new VirError('VIR_ERR_INTERNAL_ERROR', `unexpected reply from the domain supervisor to '${line}': ${reply.join(' ')}`);
}

/**
 * Send one request (`status`, `signal 15`, `destroy`, …) and return the
 * fields of its `ok` reply.
 */
export async function controlRequest(socketPath: string, line: string, timeoutMs = DEFAULT_CONTROL_TIMEOUT_MS): Promise<string[]> {
  const { socket, reply } = await exchange(socketPath, line, timeoutMs);
  socket.destroy();
  return okFields(line, reply);
}

/**
 * Send a request that runs plan records (`net-apply FILE`): a refusal is
 * `error STEP ERRNO MESSAGE`, a SupervisorError naming the step.
 */
export async function controlStepRequest(socketPath: string, line: string, timeoutMs = DEFAULT_CONTROL_TIMEOUT_MS): Promise<string[]> {
  const { socket, reply } = await exchange(socketPath, line, timeoutMs);
  socket.destroy();
  const [word, step, errno, reason] = reply;
  if (word === 'error' && step !== undefined) throw new SupervisorError(line, Number(errno), reason ?? 'unknown error', step);
  return okFields(line, reply);
}

/**
 * Attach to console INDEX: the returned stream carries the console's raw
 * bytes both ways until either side ends it. `force` takes the console over
 * from a client already attached (which is disconnected).
 */
export async function openConsoleStream(
  socketPath: string,
  index: number,
  force: boolean,
  timeoutMs = DEFAULT_CONTROL_TIMEOUT_MS,
): Promise<Duplex> {
  const line = `console ${index}${force ? ' force' : ''}`;
  const { socket, reply } = await exchange(socketPath, line, timeoutMs);
  try {
    okFields(line, reply);
  } catch (e) {
    socket.destroy();
    throw e;
  }
  return socket;
}

/** A status change of the domain (`event STATE REASON INIT_PID EXIT_STATUS`). */
export interface SupervisorEvent {
  readonly state: string;
  readonly reason: string;
  /** 0 when no init runs. */
  readonly initPid: number;
  /** Raw wait status of the last init; undefined before any init ended. */
  readonly exitStatus: number | undefined;
}

export interface EventWatch {
  /** Stop watching. */
  close(): void;
  /** Settles when the connection is gone: the supervisor exited, or close() was called. */
  readonly closed: Promise<void>;
}

function parseEvent(line: string): SupervisorEvent | undefined {
  const [word, state, reason, initPid, exitStatus] = decodeLine(line);
  if (word !== 'event' || state === undefined || reason === undefined) return undefined;
  const status = Number(exitStatus);
  return { state, reason, initPid: Number(initPid ?? 0), exitStatus: status >= 0 ? status : undefined };
}

/** Call `onEvent` on every status change of the domain until the watch is closed. */
export async function watchEvents(
  socketPath: string,
  onEvent: (event: SupervisorEvent) => void,
  timeoutMs = DEFAULT_CONTROL_TIMEOUT_MS,
): Promise<EventWatch> {
  const line = 'watch';
  const { socket, reply } = await exchange(socketPath, line, timeoutMs);
  try {
    okFields(line, reply);
  } catch (e) {
    socket.destroy();
    throw e;
  }
  let pending = '';
  socket.on('data', (chunk: Buffer) => {
    pending += chunk.toString('latin1'); // event lines are percent-encoded ASCII
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const event = parseEvent(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      if (event) onEvent(event);
    }
  });
  // A vanished supervisor is the end of the watch, not an error.
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { close: () => socket.destroy(), closed };
}
