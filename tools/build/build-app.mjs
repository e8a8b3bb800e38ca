#!/usr/bin/env node
// Bundles one app's own code (and the workspace libs it imports through tsconfig paths) into
// dist/apps/<name>/main.js. Every npm package stays external so native modules (librdkafka) and
// OpenTelemetry's require hooks keep working; the image installs production dependencies beside it.
import { build } from 'esbuild';
import { cpSync, existsSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandLine, usageError } from '../lib/cli.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const USAGE = `Usage: node tools/build/build-app.mjs <app-name>
Bundles apps/<app-name>/src/main.ts (and instrumentation.ts) into dist/apps/<app-name>/ with esbuild
(npm packages stay external); usually run through \`npx nx build <app-name>\`.`;
const [name] = parseCommandLine({ name: 'build-app', usage: USAGE, options: {}, allowPositionals: true, maxPositionals: 1 }).positionals;
if (!name) usageError('build-app', USAGE, 'needs an app name');
if (!existsSync(join(root, 'apps', name, 'src', 'main.ts'))) usageError('build-app', USAGE, `no app ${JSON.stringify(name)} (apps/${name}/src/main.ts does not exist)`);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})].flatMap((d) => [d, `${d}/*`]);
const outdir = join(root, 'dist', 'apps', name);
// main.ts's `import './instrumentation'` resolves to the separate bundle (one module instance).
/** @type {import('esbuild').Plugin} */
const externalInstrumentation = {
  name: 'external-instrumentation',
  setup(b) {
    b.onResolve({ filter: /^\.\/instrumentation$/ }, () => ({ path: './instrumentation.js', external: true }));
  },
};
mkdirSync(outdir, { recursive: true });
const started = Date.now();
// instrumentation.ts becomes its own bundle, required on main.js's first line: the OpenTelemetry
// SDK must hook http/express/pg before any bundled module loads them.
const instrumentation = join(root, 'apps', name, 'src', 'instrumentation.ts');
const hasInstrumentation = existsSync(instrumentation);
/** @type {import('esbuild').BuildOptions} */
const common = { bundle: true, platform: 'node', target: 'node22', format: 'cjs', sourcemap: true, tsconfig: join(root, 'tsconfig.base.json'), logLevel: 'warning' };
if (hasInstrumentation) {
  await build({ ...common, entryPoints: [instrumentation], outfile: join(outdir, 'instrumentation.js'), external });
}
await build({
  entryPoints: [join(root, 'apps', name, 'src', 'main.ts')],
  outfile: join(outdir, 'main.js'),
  ...common,
  ...(hasInstrumentation ? { banner: { js: '"use strict";\nrequire("./instrumentation.js");' }, plugins: [externalInstrumentation] } : {}),
  external,
});
// Runtime assets next to the bundle (e.g. SQL migrations, rule files).
for (const asset of ['migrations', 'rules']) {
  const src = join(root, 'apps', name, asset);
  if (existsSync(src)) cpSync(src, join(outdir, asset), { recursive: true });
}
writeFileSync(join(outdir, 'package.json'), JSON.stringify({ name: `@wikimonitor/${name}`, version: pkg.version, private: true, main: 'main.js', dependencies: pkg.dependencies }, null, 2));
console.log(`built dist/apps/${name}/main.js in ${Date.now() - started} ms`);
