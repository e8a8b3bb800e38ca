// The chaos suite's command: node --import tsx e2e/src/chaos-run.ts --help
// The workspace's path aliases need tsx to read tsconfig.base.json: without TSX_TSCONFIG_PATH this
// re-runs itself with it.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');

if (!process.env['TSX_TSCONFIG_PATH']) {
  const child = spawn(process.execPath, ['--import', 'tsx', __filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.base.json') },
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  import('./cli')
    .then(({ main }) => main(process.argv.slice(2)))
    .then((code) => process.exit(code))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
