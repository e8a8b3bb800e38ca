#!/usr/bin/env node
// `nx serve <app>` / `nx run-many -t serve`: one app of the local pipeline in the foreground, on
// its own port (the ones `pipeline up` uses), with the stack's settings; the producer on the
// local SSE source unless Wikimedia's stream is reachable. The stack is started first (one serve
// at a time under a lock) unless KAFKA_BOOTSTRAP_SERVERS is set: then the environment is used as is.
// Watch mode (default): a change to a source of the app or of a lib it imports rebuilds it (its Nx
// build command) and restarts it (SIGTERM, wait, start); watch.mjs and watch-plan.mjs.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommandLine, usageError } from '../lib/cli.mjs';
import { APPS, ROOT, SOURCES, WIKIMEDIA_API_URL, WIKIMEDIA_URL, appCommand, localApiUrl, localSourceUrl, stackEnv, wikimediaReachable } from './apps.mjs';
import { appWatchPlan, outputDigest, runCommand, stopChild, watchAndRestart, withFileLock } from './watch.mjs';

const DEBOUNCE_MS = 300;
const STOP_TIMEOUT_S = 30;
const HELP = `serve: run one app of the local pipeline in the foreground (what \`nx serve <app>\` runs)

Usage: node tools/pipeline/serve.mjs <app> [--source auto|local|wikimedia] [--rate N] [--no-watch]
  <app>      ${APPS.map((a) => a.name).join(', ')}
  --source   the producer's stream and the enricher's Action API: auto (default) = Wikimedia's if reachable,
             else the local SSE source and the local Action API stand-in
  --rate     events/s of the local SSE source (default 50, looping the recordings)
  --watch    (default; --no-watch or WM_SERVE_WATCH=0 turns it off) when a source of the app or of a
             workspace lib it imports changes (not its tests), rebuild it with its Nx build command
             and, if the bundle changed, restart it: SIGTERM, up to ${STOP_TIMEOUT_S} s to exit, then start.
             A failed build keeps the running app. Changes are debounced (${DEBOUNCE_MS} ms of quiet) and
             serves build one at a time, so a lib shared by all apps rebuilds them in turn.
Ports: as \`node tools/pipeline/pipeline.mjs --help\` lists (WM_PRODUCER_PORT=8101 ...).
The local stack is started first (tools/stack), unless KAFKA_BOOTSTRAP_SERVERS is set.
\`npx nx run-many -t serve\` runs all six; Ctrl-C stops them.
Exit codes: the app's; 1 when the stack does not come up; 2 usage error.`;

const cli = parseCommandLine({
  name: 'serve',
  usage: HELP,
  options: {
    source: { type: 'string', default: process.env.WM_SERVE_SOURCE ?? 'auto' },
    rate: { type: 'string', default: '50' },
    watch: { type: 'boolean', default: process.env.WM_SERVE_WATCH !== '0' },
  },
  allowNegative: true,
  allowPositionals: true,
  maxPositionals: 1,
  choices: { source: SOURCES },
  numbers: ['rate'],
});
const app = APPS.find((a) => a.name === cli.positionals[0]);
if (!app) usageError('serve', HELP, `the app must be one of: ${APPS.map((a) => a.name).join(', ')}`);
/** @param {string} msg */
const log = (msg) => process.stderr.write(`serve ${app.name}: ${msg}\n`);
/** A build runs in its own process group (sh -c 'a && b'): stop all of it. @param {number} pid */
const killGroup = (pid) => {
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    // already over
  }
};
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
  // Where serve-check (or a person) finds what is still running after nx stopped: this serve and its app.
  const pidDir = join(process.env.WM_STACK_DIR ?? join(ROOT, '.stack'), 'run', 'serve');
  const pidFile = join(pidDir, `${app.name}.pid`);
  mkdirSync(pidDir, { recursive: true });
  let stopping = false;
  /** @type {import('node:child_process').ChildProcess} */
  let child;
  /** @type {{ close: () => void } | undefined} */
  let watcher;
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let building;
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let replaced;
  const running = () => child.exitCode === null && child.signalCode === null;
  const out = join(ROOT, 'dist', 'apps', app.name);
  /** The build the app runs: a rebuild restarts it only when its output differs. */
  let runningDigest = '';
  const start = () => {
    if (cli.values.watch) runningDigest = outputDigest(out);
    child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: 'inherit' });
    writeFileSync(pidFile, `${process.pid} ${child.pid ?? ''}\n`);
    const self = child;
    self.on('exit', (code, signal) => {
      if (self === replaced) return; // stopped by a restart
      if (stopping || !watcher) {
        rmSync(pidFile, { force: true });
        watcher?.close();
        process.exitCode = code ?? (signal ? 128 + 15 : 1);
        return;
      }
      writeFileSync(pidFile, `${process.pid}\n`);
      log(`the app exited (${signal ?? `code ${code}`}); watching: a change rebuilds and starts it`);
    });
  };
  start();
  if (cli.values.watch) {
    const plan = appWatchPlan(ROOT, app.name);
    log(`watching ${plan.projects.join(', ')} (rebuild: ${plan.command})`);
    watcher = watchAndRestart({
      root: ROOT,
      plan,
      debounceMs: DEBOUNCE_MS,
      log,
      build: () =>
        withFileLock(join(ROOT, 'tmp', 'serve', 'build.lock'), async () => {
          if (stopping) return { ok: false, outputChanged: false };
          const code = await runCommand(plan.command, { cwd: ROOT, onSpawn: (c) => (building = c) });
          building = undefined;
          // An app that exited (crashed) is started by any good build.
          return { ok: code === 0 && !stopping, outputChanged: code === 0 && (!running() || outputDigest(out) !== runningDigest) };
        }),
      restart: async () => {
        if (stopping) return;
        const wasRunning = running();
        replaced = child;
        const t0 = Date.now();
        const r = await stopChild(replaced, STOP_TIMEOUT_S * 1000);
        if (stopping) {
          rmSync(pidFile, { force: true });
          process.exitCode = 128 + 15;
          return;
        }
        if (wasRunning) log(`restarting: the app ${r.killed ? `did not exit within ${STOP_TIMEOUT_S} s of SIGTERM (killed)` : 'stopped'} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        start();
        log(`restarted (pid ${child.pid})`);
      },
    });
  }
  for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.on(sig, () => {
      stopping = true;
      watcher?.close();
      if (building?.pid) killGroup(building.pid);
      if (running()) child.kill(sig);
      else {
        rmSync(pidFile, { force: true });
        process.exitCode = 128 + 15;
      }
    });
  }
} catch (err) {
  log(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
