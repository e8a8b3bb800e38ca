#!/usr/bin/env node
// Bundles one app's own code (and the workspace libs it imports through tsconfig paths) into
// dist/apps/<name>/main.js. Every npm package stays external so native modules (librdkafka) and
// OpenTelemetry's require hooks keep working; the image installs production dependencies beside it.
import { build } from 'esbuild';
import { cpSync, existsSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const name = process.argv[2];
if (!name) {
  console.error('usage: build-app.mjs <app-name>');
  process.exit(2);
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})].flatMap((d) => [d, `${d}/*`]);
const outdir = join(root, 'dist', 'apps', name);
mkdirSync(outdir, { recursive: true });
const started = Date.now();
await build({
  entryPoints: [join(root, 'apps', name, 'src', 'main.ts')],
  outfile: join(outdir, 'main.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  tsconfig: join(root, 'tsconfig.base.json'),
  external,
  logLevel: 'warning',
});
// Runtime assets next to the bundle (e.g. SQL migrations, rule files).
for (const asset of ['migrations', 'rules']) {
  const src = join(root, 'apps', name, asset);
  if (existsSync(src)) cpSync(src, join(outdir, asset), { recursive: true });
}
writeFileSync(join(outdir, 'package.json'), JSON.stringify({ name: `@wikimonitor/${name}`, version: pkg.version, private: true, main: 'main.js', dependencies: pkg.dependencies }, null, 2));
console.log(`built dist/apps/${name}/main.js in ${Date.now() - started} ms`);
