#!/usr/bin/env node
// The dedup-persister build beyond tools/build/build-app.mjs: the analytics page. Its script and
// uPlot (from npm) are bundled into one file for the browser, and the page, its styles and the
// OpenAPI description are copied beside main.js, so the page works offline (no CDN).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', 'dist', 'apps', 'dedup-persister');
const page = join(out, 'analytics');
mkdirSync(page, { recursive: true });
await build({ entryPoints: [join(here, 'analytics-page', 'page.js')], outfile: join(page, 'page.js'), bundle: true, minify: true, format: 'iife', platform: 'browser', target: 'es2020', sourcemap: true, logLevel: 'warning' });
const uplotCss = readFileSync(createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css'), 'utf8');
writeFileSync(join(page, 'page.css'), `${uplotCss}\n${readFileSync(join(here, 'analytics-page', 'page.css'), 'utf8')}`);
copyFileSync(join(here, 'analytics-page', 'index.html'), join(page, 'index.html'));
copyFileSync(join(here, 'openapi.json'), join(out, 'openapi.json'));
console.log('built dist/apps/dedup-persister/analytics/ (page + uPlot) and copied openapi.json');
