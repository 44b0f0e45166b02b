/**
 * `npm start`: the main job on the embedded default example. Runs the same
 * nsvirsh commands a user would type on examples/demo.xml and shows their
 * output. Definitions go to a temporary NSVIRT_ROOT, removed at the end, so
 * the demo never touches the host's /etc/nsvirt.
 */
import { mkdtempSync, rmSync } from 'node:fs';
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

async function main(): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'nsvirt-demo-'));
  const env = { ...process.env, NSVIRT_ROOT: root };
  process.stdout.write(`nsvirt demo (state under ${root}, removed afterwards)\n`);
  try {
    const steps: string[][] = [
      ['-c', 'lxc:///', 'define', EXAMPLE],
      ['-c', 'lxc:///', 'list', '--all'],
      ['-c', 'lxc:///', 'dominfo', 'nsvirt-demo'],
      ['-c', 'lxc:///', 'dumpxml', 'nsvirt-demo'],
      ['-c', 'lxc:///', 'undefine', 'nsvirt-demo'],
    ];
    for (const step of steps) {
      const status = await nsvirsh(env, ...step);
      if (status !== 0) return status;
    }
    return 0;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

process.exitCode = await main();
