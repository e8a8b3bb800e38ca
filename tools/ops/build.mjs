#!/usr/bin/env node
// Bundles the ops CLI (tools/ops/src/main.ts) into one file: workspace code in, npm packages external
// (librdkafka is native), as tools/build/build-app.mjs does for the apps.
//   node tools/ops/build.mjs [outfile]     default dist/tools/ops/cli.js
// lag-monitor's build calls bundleOpsCli() to ship the CLI in its image as cli.js.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseCommandLine } from '../lib/cli.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

/** @param {string} outfile */
export async function bundleOpsCli(outfile) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})].flatMap((d) => [d, `${d}/*`]);
  await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    sourcemap: true,
    tsconfig: join(root, 'tsconfig.base.json'),
    external,
    logLevel: 'warning',
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const usage = 'Usage: node tools/ops/build.mjs [outfile]   bundles the ops CLI (default dist/tools/ops/cli.js)';
  const [given] = parseCommandLine({ name: 'ops build', usage, options: {}, allowPositionals: true, maxPositionals: 1 }).positionals;
  const outfile = resolve(given ?? join(root, 'dist', 'tools', 'ops', 'cli.js'));
  await bundleOpsCli(outfile);
  console.log(`built ${outfile}`);
}
