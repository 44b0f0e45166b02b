/**
 * `npm start`: the main job on the embedded default example. Runs the same
 * nsvirsh commands a user would type on examples/demo.xml: define it, start
 * it (the host's own root, read-only, in new namespaces), show what the
 * container sees, stop it. State goes to a temporary NSVIRT_ROOT, removed at
 * the end, so the demo never touches the host's /etc/nsvirt.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli/nsvirsh.js';
import { packageRoot } from './package.js';

const EXAMPLE = join(packageRoot(), 'examples', 'demo.xml');

async function nsvirsh(env: NodeJS.ProcessEnv, ...args: string[]): Promise<number> {
  process.stdout.write(`\n$ nsvirsh ${args.map((a) => (/[\s'"]/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
  return runCli(args, {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stdout.write(t),
    env,
    cwd: packageRoot(),
  });
}

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  for (const deadline = Date.now() + ms; !cond() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
}

async function main(): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'nsvirt-demo-'));
  const env = { ...process.env, NSVIRT_ROOT: root };
  process.stdout.write(`nsvirt demo (state under ${root}, removed afterwards)\n`);
  try {
    const run = async (...steps: string[][]): Promise<boolean> => {
      for (const step of steps) if ((await nsvirsh(env, '-c', 'lxc:///', ...step)) !== 0) return false;
      return true;
    };
    if (!(await run(['define', EXAMPLE], ['list', '--all']))) return 1;
    if (process.getuid?.() !== 0) {
      process.stdout.write('\n(starting containers needs root: run `sudo npm start` to see the container itself)\n');
      return (await run(['undefine', 'nsvirt-demo'])) ? 0 : 1;
    }
    if (!(await run(['start', 'nsvirt-demo'], ['list'], ['domstate', '--reason', 'nsvirt-demo']))) return 1;
    const log = join(root, 'var/log/nsvirt/lxc/nsvirt-demo.log');
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('root: '));
    process.stdout.write(`\nWhat the container printed on its console (${log}):\n`);
    process.stdout.write(readFileSync(log, 'utf8').split('\n').filter((l) => !l.includes('starting up')).join('\n'));
    return (await run(['destroy', 'nsvirt-demo'], ['domstate', '--reason', 'nsvirt-demo'], ['undefine', 'nsvirt-demo'])) ? 0 : 1;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

process.exitCode = await main();
