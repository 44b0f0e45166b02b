/**
 * virsh console's terminal side (tools/virsh-console.c): the terminal in
 * raw mode, its bytes to the console stream and the stream's to the
 * terminal, until the escape character (^], 0x1d) is typed or the console
 * closes. The terminal is restored on every way out, including signals
 * and the process exiting.
 */
import type { Duplex } from 'node:stream';

/** ^] (Ctrl + ]), virsh's default escape character. */
export const ESCAPE_CHAR = 0x1d;

/** What virsh prints before attaching: the caret form and the key combination. */
export const ESCAPE_TEXT = '^] (Ctrl + ])';

export interface Terminal {
  readonly input: NodeJS.ReadStream;
  readonly output: NodeJS.WritableStream;
}

/** 'detached': the escape character was typed (or nsvirsh was told to stop); 'closed': the console ended. */
export type RelayEnd = 'detached' | 'closed';

/** Requests to stop that end the session cleanly instead of killing nsvirsh with the terminal still raw. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT'];

export function relayConsole(stream: Duplex, terminal: Terminal): Promise<RelayEnd> {
  const { input, output } = terminal;
  return new Promise((resolve) => {
    let done = false;
    const restore = (): void => {
      if (input.isTTY) input.setRawMode(false);
    };
    const finish = (how: RelayEnd): void => {
      if (done) return;
      done = true;
      input.removeListener('data', onInput);
      input.pause();
      restore();
      process.removeListener('exit', restore);
      for (const s of STOP_SIGNALS) process.removeListener(s, onStopSignal);
      stream.removeListener('data', onOutput);
      stream.removeListener('end', onClosed);
      stream.removeListener('close', onClosed);
      stream.removeListener('error', onClosed);
      // A late error of the connection must not become an uncaught exception.
      stream.on('error', () => {});
      stream.destroy();
      resolve(how);
    };
    const onInput = (chunk: Buffer): void => {
      const escape = chunk.indexOf(ESCAPE_CHAR);
      if (escape < 0) {
        stream.write(chunk);
        return;
      }
      if (escape > 0) stream.write(chunk.subarray(0, escape));
      finish('detached');
    };
    const onOutput = (chunk: Buffer): void => {
      output.write(chunk);
    };
    const onClosed = (): void => finish('closed');
    const onStopSignal = (): void => finish('detached');

    if (input.isTTY) input.setRawMode(true);
    process.once('exit', restore);
    for (const s of STOP_SIGNALS) process.on(s, onStopSignal);
    stream.on('data', onOutput);
    stream.on('end', onClosed);
    stream.on('close', onClosed);
    stream.on('error', onClosed);
    input.on('data', onInput);
    input.resume();
  });
}
