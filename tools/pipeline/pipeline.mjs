#!/usr/bin/env node
// Runs the whole WikiMonitor pipeline on the local stack: the SSE source (recorded real events,
// when Wikimedia is unreachable), producer, filter-router, aggregator, dedup-persister and
// lag-monitor, each as a background process with its log and pid under .stack/.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommandLine, usageError } from '../lib/cli.mjs';
import { APPS, BLUESKY_INSTANCES, BLUESKY_SOURCE_MERGED, JETSTREAM_URL, LOCAL_SOURCES, ROOT, SOURCES, WIKIMEDIA_API_URL, WIKIMEDIA_URL, appCommand, localApiUrl, localJetstreamUrl, localSourceUrl, stackEnv, wikimediaReachable } from './apps.mjs';

const STACK_DIR = process.env.WM_STACK_DIR ?? join(ROOT, '.stack');
const RUN = join(STACK_DIR, 'run', 'apps');
const LOGS = join(STACK_DIR, 'logs', 'apps');
const HELP = `pipeline: run WikiMonitor's six services (and the local SSE source and Action API stand-in) on the local stack

Usage: node tools/pipeline/pipeline.mjs <command> [options]
  up [--source auto|local|wikimedia] [--rate N]   build, start the stack and every app (idempotent);
                                                   an app that exits by itself is restarted (backoff 1-30 s)
  down [--stack]                                   stop the apps (and the stack with --stack)
  status                                           health, readiness and key counters of each app
  logs <app>                                       last 100 lines of an app's log
Options:
  --source   auto (default): Wikimedia's live stream (and its Action API for the enricher) if reachable,
             else the local SSE source and the local Action API stand-in
  --rate     events/s of the local source (default 50; it loops the real recorded events)
  --bluesky  true (default once the Jetstream source half is merged: tools/pipeline/apps.mjs
             BLUESKY_SOURCE_MERGED) or false: also run the Bluesky stream (jetstream-source,
             producer-bsky, filter-router-bsky, aggregator-bsky; the persister stores bsky.events.all)
Ports: WM_PRODUCER_PORT=8101 WM_FILTER_ROUTER_PORT=8102 WM_AGGREGATOR_PORT=8103
       WM_DEDUP_PERSISTER_PORT=8104 WM_LAG_MONITOR_PORT=8105 WM_ENRICHER_PORT=8106
       WM_SSE_SOURCE_PORT=8092 WM_ACTION_API_SOURCE_PORT=8093
       Bluesky: WM_JETSTREAM_SOURCE_PORT=8094 WM_PRODUCER_BSKY_PORT=8111 WM_FILTER_ROUTER_BSKY_PORT=8112
       WM_AGGREGATOR_BSKY_PORT=8113
Stack settings (WM_KAFKA_PORT, ...) are the stack's: node tools/stack/stack.mjs --help
Exit codes: 0 done, 1 failed, 2 usage error (unknown command or flag, bad value).`;

const cli = parseCommandLine({
  name: 'pipeline',
  usage: HELP,
  options: { source: { type: 'string', default: 'auto' }, rate: { type: 'string', default: '50' }, stack: { type: 'boolean', default: false }, bluesky: { type: 'string', default: String(BLUESKY_SOURCE_MERGED) } },
  allowPositionals: true,
  maxPositionals: 2,
  choices: { source: SOURCES, bluesky: ['true', 'false'] },
  numbers: ['rate'],
});
/** @param {string} app */
const pidFile = (app) => join(RUN, `${app}.pid`);
/** @param {number | undefined} pid */
const alive = (pid) => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** @param {string} app */
const readPid = (app) => (existsSync(pidFile(app)) ? Number(readFileSync(pidFile(app), 'utf8')) : undefined);
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** @param {string} msg */
const log = (msg) => process.stderr.write(`pipeline: ${msg}\n`);
/**
 * Every process `up` may start, in start order: the Bluesky instances before the dedup-persister, so
 * the topics it consumes (bsky.events.all, created by filter-router-bsky and aggregator-bsky) exist
 * when it subscribes, as wiki.changes.all does.
 */
const persisterAt = APPS.findIndex((a) => a.name === 'dedup-persister');
const ALL = [...APPS.slice(0, persisterAt), ...BLUESKY_INSTANCES, ...APPS.slice(persisterAt)];

/** @param {string} url */
async function get(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { ok: res.ok, text: await res.text() };
  } catch {
    return { ok: false, text: '' };
  }
}

async function up() {
  mkdirSync(RUN, { recursive: true });
  mkdirSync(LOGS, { recursive: true });
  const stack = spawnSync(process.execPath, [join(ROOT, 'tools/stack/stack.mjs'), 'up'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (stack.status !== 0) throw new Error('the local stack did not come up (see above)');
  log('building apps (nx run-many -t build)');
  const build = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' } });
  if (build.status !== 0) throw new Error('build failed');

  const sourceMode = cli.values.source;
  const useWikimedia = sourceMode === 'wikimedia' || (sourceMode === 'auto' && (await wikimediaReachable()));
  /** @type {Record<string, string>} */
  const base = { ...stackEnv(), LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' };
  const sseUrl = useWikimedia ? WIKIMEDIA_URL : localSourceUrl();
  log(useWikimedia ? 'source: Wikimedia EventStreams (live)' : `source: local SSE source replaying data/recordings at ${cli.values.rate} events/s (looped, fresh ids)`);

  const bluesky = cli.values.bluesky === 'true';
  if (bluesky && !BLUESKY_SOURCE_MERGED) log('--bluesky true: the Jetstream source half is not merged (tools/pipeline/apps.mjs BLUESKY_SOURCE_MERGED): jetstream-source and producer-bsky are left out, the downstream instances wait for bsky.raw.events');
  log(bluesky ? `streams: Wikimedia and Bluesky (${useWikimedia ? 'live Jetstream' : `local Jetstream stand-in replaying data/recordings/bluesky-jetstream at ${cli.values.rate} events/s`})` : 'streams: Wikimedia');
  for (const app of bluesky ? ALL : APPS) {
    if ((LOCAL_SOURCES.includes(app.name) || app.name === 'jetstream-source') && useWikimedia) continue;
    if (!BLUESKY_SOURCE_MERGED && ['jetstream-source', 'producer-bsky'].includes(app.name)) continue;
    const pid = readPid(app.name);
    if (pid && alive(pid)) {
      log(`${app.name}: already running (pid ${pid})`);
      continue;
    }
    const { args, env } = appCommand(app, { base, sseUrl, rate: cli.values.rate, apiUrl: useWikimedia ? WIKIMEDIA_API_URL : localApiUrl(), bluesky, jetstreamUrl: useWikimedia ? JETSTREAM_URL : localJetstreamUrl() });
    const out = openSync(join(LOGS, `${app.name}.log`), 'a');
    // Under a supervisor that restarts the app when it exits by itself (see supervise.mjs).
    const child = spawn(process.execPath, [join(ROOT, 'tools', 'pipeline', 'supervise.mjs'), app.name, ...args], { cwd: ROOT, env, detached: true, stdio: ['ignore', out, out] });
    child.unref();
    writeFileSync(pidFile(app.name), String(child.pid));
    log(`${app.name}: started pid ${child.pid}, http://127.0.0.1:${app.port}`);
    const deadline = Date.now() + 90_000;
    while (!(await get(`http://127.0.0.1:${app.port}/healthz`)).ok) {
      if (!alive(child.pid)) throw new Error(`${app.name} exited during start; see ${join(LOGS, `${app.name}.log`)}`);
      if (Date.now() > deadline) throw new Error(`${app.name} did not answer /healthz in 90 s (its supervisor restarts it while it fails); see ${join(LOGS, `${app.name}.log`)}`);
      await sleep(300);
    }
  }
  await status();
  const persister = APPS.find((a) => a.name === 'dedup-persister');
  log(`dashboard: http://127.0.0.1:${APPS.find((a) => a.name === 'lag-monitor')?.port}/   analytics: http://127.0.0.1:${persister?.port}/analytics/   Jaeger UI: http://127.0.0.1:${process.env.WM_JAEGER_UI_PORT ?? 16686}/   stop: npm run pipeline -- down`);
}

async function down() {
  for (const app of [...ALL].reverse()) {
    const pid = readPid(app.name);
    if (!pid) continue;
    if (alive(pid)) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 300 && alive(pid); i++) await sleep(100);
      // The supervisor leads the app's process group: SIGKILL reaches both.
      if (alive(pid)) process.kill(-pid, 'SIGKILL');
      log(`${app.name}: stopped`);
    }
    rmSync(pidFile(app.name), { force: true });
  }
  if (cli.values.stack) spawnSync(process.execPath, [join(ROOT, 'tools/stack/stack.mjs'), 'down'], { stdio: 'inherit' });
}

async function status() {
  const rows = [['APP', 'PID', 'PORT', 'LIVE', 'READY', 'KEY COUNTER']];
  /** @type {Record<string, string>} */
  const counters = {
    'sse-source': 'sse_source_events_sent_total',
    producer: 'producer_events_published_total',
    'filter-router': 'filter_router_records_consumed_total',
    aggregator: 'aggregator_windows_closed_total',
    'dedup-persister': 'dedup_persister_rows_written_total',
    'lag-monitor': 'lag_monitor_cycles_total',
    'action-api-source': 'action_api_source_requests_total',
    enricher: 'enricher_records_enriched_total',
    'producer-bsky': 'producer_events_published_total',
    'filter-router-bsky': 'filter_router_records_consumed_total',
    'aggregator-bsky': 'aggregator_windows_closed_total',
    'jetstream-source': 'jetstream_source_stats{figure="sent"',
  };
  let allOk = true;
  for (const app of ALL) {
    const pid = readPid(app.name);
    const running = pid && alive(pid);
    if (!running && (app.optional || BLUESKY_INSTANCES.some((b) => b.name === app.name))) continue;
    const live = running && (await get(`http://127.0.0.1:${app.port}/healthz`)).ok;
    const ready = running && (await get(`http://127.0.0.1:${app.port}/readyz`)).ok;
    let counter = '';
    if (running) {
      const m = await get(`http://127.0.0.1:${app.port}/metrics`);
      const total = m.text
        .split('\n')
        .filter((l) => l.startsWith(counters[app.name]))
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
      const name = counters[app.name] ?? '';
      counter = `${name.includes('{') ? `${name}}` : name}=${total}`;
    }
    allOk &&= Boolean(live);
    rows.push([app.name, running ? String(pid) : '-', String(app.port), live ? 'yes' : 'NO', ready ? 'yes' : 'no', counter]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
  return allOk;
}

const [cmd, app] = cli.positionals;
const COMMANDS = ['up', 'down', 'status', 'logs', 'help'];
if (cmd !== undefined && !COMMANDS.includes(cmd)) usageError('pipeline', HELP, `unknown command ${JSON.stringify(cmd)}; commands: ${COMMANDS.join(', ')}`);
if (cmd === 'logs' && !ALL.some((a) => a.name === app)) usageError('pipeline', HELP, `logs needs one of: ${ALL.map((a) => a.name).join(', ')}`);
if (cmd !== 'logs' && app !== undefined) usageError('pipeline', HELP, `unexpected argument ${JSON.stringify(app)}`);
try {
  if (!cmd || cmd === 'help') console.log(HELP);
  else if (cmd === 'up') await up();
  else if (cmd === 'down') await down();
  else if (cmd === 'status') process.exitCode = (await status()) ? 0 : 1;
  else console.log(readFileSync(join(LOGS, `${app}.log`), 'utf8').split('\n').slice(-100).join('\n'));
} catch (err) {
  log(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
