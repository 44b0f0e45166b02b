/** nsvirsh as a program straight from the TypeScript sources: `vite-node test/support/nsvirsh-main.ts -- ARGS`. */
import { runCli } from '../../src/cli/nsvirsh.js';

runCli(process.argv.slice(2), {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
}).then((status) => {
  process.exitCode = status;
});
