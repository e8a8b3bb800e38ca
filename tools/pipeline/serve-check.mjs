#!/usr/bin/env node
// Runs what a developer runs, `npx nx run-many -t serve`, and checks that every app of the local
// pipeline answers /readyz on its port, then stops them all (SIGTERM to the nx process group).
// A CI step of scripts/test.sh; on its own: node tools/pipeline/serve-check.mjs [--timeout-s N].
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommandLine } from '../lib/cli.mjs';
import { APPS, ROOT } from './apps.mjs';

const HELP = `serve-check: \`npx nx run-many -t serve\`, every app ready on its port, then stop them

Usage: node tools/pipeline/serve-check.mjs [--timeout-s N]
  --timeout-s   how long the apps may take to be ready (default 240)
Exit codes: 0 every app answered /readyz, 1 not, 2 usage error.`;
const cli = parseCommandLine({ name: 'serve-check', usage: HELP, options: { 'timeout-s': { type: 'string', default: '240' } }, numbers: ['timeout-s'] });
/** @param {string} msg */
const log = (msg) => process.stderr.write(`serve-check: ${msg}\n`);
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** @param {string} url */
async function status(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

// An app already on a port (a running `pipeline up`) would answer for the one under test.
for (const app of APPS) {
  if (await status(`http://127.0.0.1:${app.port}/healthz`)) {
    log(`port ${app.port} (${app.name}) already answers: stop what runs there (npm run pipeline -- down) or move the apps (WM_*_PORT, see pipeline --help)`);
    process.exit(1);
  }
}

const started = Date.now();
// parallel: every serve task is continuous (never ends); nx.json's parallel of 2 would start two.
const nx = spawn('npx', ['nx', 'run-many', '-t', 'serve', `--parallel=${APPS.length + 1}`, '--outputStyle=stream'], {
  cwd: ROOT,
  env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
  stdio: ['ignore', 'pipe', 'pipe'],
  detached: true,
});
let output = '';
const keep = (/** @type {Buffer} */ b) => {
  output = (output + b.toString()).slice(-20_000);
};
nx.stdout?.on('data', keep);
nx.stderr?.on('data', keep);
let exited = false;
nx.on('exit', () => {
  exited = true;
});

const ready = new Map(APPS.map((a) => [a.name, 0]));
const deadline = started + Number(cli.values['timeout-s']) * 1000;
while (Date.now() < deadline && !exited) {
  for (const app of APPS) if (ready.get(app.name) !== 200) ready.set(app.name, await status(`http://127.0.0.1:${app.port}/readyz`));
  if ([...ready.values()].every((s) => s === 200)) break;
  await sleep(1000);
}
const ok = [...ready.values()].every((s) => s === 200);
for (const app of APPS) console.log(`${app.name.padEnd(16)} http://127.0.0.1:${app.port}/readyz  ${ready.get(app.name) || 'no answer'}`);
log(ok ? `every app ready ${((Date.now() - started) / 1000).toFixed(1)} s after \`nx run-many -t serve\`` : `not every app became ready${exited ? ' (nx exited)' : ''}; last output:\n${output.slice(-4000)}`);
const signal = (/** @type {number} */ pid, /** @type {NodeJS.Signals | 0} */ sig) => {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
};
if (!exited && nx.pid) {
  signal(-nx.pid, 'SIGTERM');
  for (let i = 0; i < 200 && !exited; i++) await sleep(100);
  signal(-nx.pid, 'SIGKILL');
}
// nx does not always pass the stop on to every task: stop what the serves recorded (serve, then app).
const pidDir = join(process.env.WM_STACK_DIR ?? join(ROOT, '.stack'), 'run', 'serve');
/** @type {number[]} */
const left = [];
for (const app of APPS) {
  const file = join(pidDir, `${app.name}.pid`);
  if (!existsSync(file)) continue;
  for (const pid of readFileSync(file, 'utf8').trim().split(/\s+/).map(Number).filter((n) => n > 0)) if (signal(pid, 'SIGTERM')) left.push(pid);
}
for (let i = 0; i < 150 && left.some((pid) => signal(pid, 0)); i++) await sleep(100);
for (const pid of left) signal(pid, 'SIGKILL');
if (left.length) log(`stopped ${left.length} process(es) nx left running`);
process.exitCode = ok ? 0 : 1;
