#!/usr/bin/env node
// The lag-monitor build beyond tools/build/build-app.mjs (which bundles main.ts): the ops CLI
// (tools/ops) as dist/apps/lag-monitor/cli.js, so the lag-monitor image ships it, and the dashboard's
// static files beside main.js, where the server looks for them.
import { cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleOpsCli } from '../../tools/ops/build.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const out = join(root, 'dist', 'apps', 'lag-monitor');
await bundleOpsCli(join(out, 'cli.js'));
cpSync(join(here, 'src', 'dashboard'), join(out, 'dashboard'), { recursive: true });
console.log('built dist/apps/lag-monitor/cli.js (tools/ops) and copied the dashboard');
