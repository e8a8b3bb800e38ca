#!/usr/bin/env node
// `nx serve <app>` / `nx run-many -t serve`: one app of the local pipeline in the foreground, on
// its own port (the ones `pipeline up` uses), with the stack's settings; the producer on the
// local SSE source unless Wikimedia's stream is reachable. The stack is started first (one serve
// at a time under a lock) unless KAFKA_BOOTSTRAP_SERVERS is set: then the environment is used as is.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommandLine, usageError } from '../lib/cli.mjs';
import { APPS, ROOT, SOURCES, WIKIMEDIA_API_URL, WIKIMEDIA_URL, appCommand, localApiUrl, localSourceUrl, stackEnv, wikimediaReachable } from './apps.mjs';

const HELP = `serve: run one app of the local pipeline in the foreground (what \`nx serve <app>\` runs)

Usage: node tools/pipeline/serve.mjs <app> [--source auto|local|wikimedia] [--rate N]
  <app>      ${APPS.map((a) => a.name).join(', ')}
  --source   the producer's stream and the enricher's Action API: auto (default) = Wikimedia's if reachable,
             else the local SSE source and the local Action API stand-in
  --rate     events/s of the local SSE source (default 50, looping the recordings)
Ports: as \`node tools/pipeline/pipeline.mjs --help\` lists (WM_PRODUCER_PORT=8101 ...).
The local stack is started first (tools/stack), unless KAFKA_BOOTSTRAP_SERVERS is set.
\`npx nx run-many -t serve\` runs all six; Ctrl-C stops them.
Exit codes: the app's; 1 when the stack does not come up; 2 usage error.`;

const cli = parseCommandLine({
  name: 'serve',
  usage: HELP,
  options: { source: { type: 'string', default: process.env.WM_SERVE_SOURCE ?? 'auto' }, rate: { type: 'string', default: '50' } },
  allowPositionals: true,
  maxPositionals: 1,
  choices: { source: SOURCES },
  numbers: ['rate'],
});
const app = APPS.find((a) => a.name === cli.positionals[0]);
if (!app) usageError('serve', HELP, `the app must be one of: ${APPS.map((a) => a.name).join(', ')}`);
/** @param {string} msg */
const log = (msg) => process.stderr.write(`serve ${app.name}: ${msg}\n`);
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `stack.mjs up` (idempotent), one serve at a time: six of them start together under run-many. */
async function stackUp() {
  const dir = join(process.env.WM_STACK_DIR ?? join(ROOT, '.stack'), 'run');
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'serve-stack.lock');
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch {
      // Held by another serve; a lock older than 15 min is left over from a killed one.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 15 * 60_000) rmSync(lock, { force: true });
      } catch {
        // released meanwhile
      }
      await sleep(500);
    }
  }
  try {
    const r = spawnSync(process.execPath, [join(ROOT, 'tools/stack/stack.mjs'), 'up'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error('the local stack did not come up (see above)');
  } finally {
    rmSync(lock, { force: true });
  }
}

try {
  const external = Boolean(process.env.KAFKA_BOOTSTRAP_SERVERS);
  if (!external) await stackUp();
  const base = external ? {} : stackEnv();
  const source = cli.values.source;
  // The producer and the enricher decide alike: the live stream with Wikimedia's API, or both local sources.
  const useWikimedia = (app.name === 'producer' || app.name === 'enricher') && (source === 'wikimedia' || (source === 'auto' && (await wikimediaReachable())));
  if (app.name === 'producer') log(useWikimedia ? `source: ${WIKIMEDIA_URL}` : `source: the local SSE source, ${localSourceUrl()}`);
  if (app.name === 'enricher') log(useWikimedia ? `Action API: ${WIKIMEDIA_API_URL}` : `Action API: the local stand-in, ${localApiUrl()}`);
  const { args, env } = appCommand(app, { base, sseUrl: useWikimedia ? WIKIMEDIA_URL : localSourceUrl(), rate: cli.values.rate, apiUrl: useWikimedia ? WIKIMEDIA_API_URL : localApiUrl() });
  log(`http://127.0.0.1:${app.port} (node ${args.slice(1).join(' ')})`);
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: 'inherit' });
  // Where serve-check (or a person) finds what is still running after nx stopped: this serve and its app.
  const pidDir = join(process.env.WM_STACK_DIR ?? join(ROOT, '.stack'), 'run', 'serve');
  mkdirSync(pidDir, { recursive: true });
  writeFileSync(join(pidDir, `${app.name}.pid`), `${process.pid} ${child.pid ?? ''}\n`);
  for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    rmSync(join(pidDir, `${app.name}.pid`), { force: true });
    process.exitCode = code ?? (signal ? 128 + 15 : 1);
  });
} catch (err) {
  log(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
