#!/usr/bin/env node
// The lag-monitor build beyond tools/build/build-app.mjs (which bundles main.ts): the ops CLI as
// dist/apps/lag-monitor/cli.js (same bundling rules: workspace code in, npm packages external) and
// the dashboard's static files beside main.js, where the server looks for them.
import { build } from 'esbuild';
import { cpSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const out = join(root, 'dist', 'apps', 'lag-monitor');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})].flatMap((d) => [d, `${d}/*`]);
await build({
  entryPoints: [join(here, 'src', 'cli.ts')],
  outfile: join(out, 'cli.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  tsconfig: join(root, 'tsconfig.base.json'),
  external,
  logLevel: 'warning',
});
cpSync(join(here, 'src', 'dashboard'), join(out, 'dashboard'), { recursive: true });
console.log('built dist/apps/lag-monitor/cli.js and copied the dashboard');
