/** nsvirsh run in-process (runCli), its output captured. */
import { runCli } from '../../src/cli/nsvirsh.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runNsvirsh(args: readonly string[], io: { env: NodeJS.ProcessEnv; cwd: string }): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: io.env,
    cwd: io.cwd,
  });
  return { code, stdout, stderr };
}
