/**
 * Signal names as virsh send-process-signal reads them (getSignalNumber):
 * a number, or a name in any case with or without "sig" — the names of
 * libvirt's virDomainProcessSignal, whose numbers are Linux's.
 */
const NAMES: readonly string[] = [
  'nop', 'hup', 'int', 'quit', 'ill', 'trap', 'abrt', 'bus', 'fpe', 'kill',
  'usr1', 'segv', 'usr2', 'pipe', 'alrm', 'term', 'stkflt', 'chld', 'cont', 'stop',
  'tstp', 'ttin', 'ttou', 'urg', 'xcpu', 'xfsz', 'vtalrm', 'prof', 'winch', 'poll',
  'pwr', 'sys',
  ...Array.from({ length: 33 }, (_, i) => `rt${i}`),
];

/** virStrToLong_i: optional blanks and sign, decimal digits, nothing after. */
const INTEGER = /^\s*[+-]?\d+$/;

/** The signal number `text` names, or undefined when it names none (numbers are not range-checked). */
export function signalNumber(text: string): number | undefined {
  const lower = text.replace(/[A-Z]/g, (c) => c.toLowerCase());
  if (INTEGER.test(lower)) {
    const n = Number(lower.trim());
    return n >= 0 && n <= 0x7fffffff ? n : undefined;
  }
  const index = NAMES.indexOf(lower.startsWith('sig') ? lower.slice(3) : lower);
  return index >= 0 ? index : undefined;
}
