#!/usr/bin/env node
// The lag-monitor build beyond tools/build/build-app.mjs (which bundles main.ts): the dashboard's
// static files beside main.js, where the server looks for them, and the ops CLI (apps/ops-cli, built
// first by the build target's dependsOn) as cli.js, so the lag-monitor image ships it.
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const out = join(root, 'dist', 'apps', 'lag-monitor');
const cli = join(root, 'dist', 'apps', 'ops-cli', 'main.js');
if (!existsSync(cli)) {
  console.error(`build-extras: ${cli} missing (run nx build ops-cli first)`);
  process.exit(1);
}
// Its source map keeps its own name beside lag-monitor's main.js.map.
writeFileSync(join(out, 'cli.js'), readFileSync(cli, 'utf8').replace(/\/\/# sourceMappingURL=main\.js\.map\s*$/, '//# sourceMappingURL=cli.js.map\n'));
if (existsSync(`${cli}.map`)) cpSync(`${cli}.map`, join(out, 'cli.js.map'));
cpSync(join(here, 'src', 'dashboard'), join(out, 'dashboard'), { recursive: true });
console.log('copied the ops CLI to dist/apps/lag-monitor/cli.js and the dashboard');
