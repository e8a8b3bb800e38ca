// The local pipeline's apps (and their ports, from ports.mjs) and how each one is started: shared by `pipeline up`
// (background processes under supervise.mjs) and `nx serve <app>` (serve.mjs, in the foreground).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APPS } from './ports.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// The apps run under this node (process.execPath), and node_modules' native Kafka addon is built
// for Node 22 (scripts/bootstrap.sh): an older node cannot load it, so say so before starting anything.
const NODE_MAJOR = 22;
if (Number(process.versions.node.split('.')[0]) < NODE_MAJOR) {
  console.error(`tools/pipeline: Node.js ${NODE_MAJOR}+ is needed, this is ${process.version} (${process.execPath}). ` +
    'Run `bash scripts/bootstrap.sh` (installs Node 22 into .stack/cache/node22 if missing), then `source scripts/node-env.sh`.');
  process.exit(1);
}

export { APPS };

export const WIKIMEDIA_URL = 'https://stream.wikimedia.org/v2/stream/recentchange';
/** The enricher's Action API with the live stream: Wikimedia's; with the local source: the local stand-in (it knows the recorded revisions only). */
export const WIKIMEDIA_API_URL = 'https://{domain}/w/api.php';
/** The local Action API stand-in's URL template. */
export const localApiUrl = () => `http://127.0.0.1:${APPS.find((a) => a.name === 'action-api-source')?.port}/{domain}/w/api.php`;
/** Apps that only serve the local sources (skipped when the pipeline reads Wikimedia). */
export const LOCAL_SOURCES = ['sse-source', 'action-api-source'];
export const SOURCES = ['auto', 'local', 'wikimedia'];

/** The stack's connection settings (`stack.mjs env`: broker, registry, database, Jaeger). @returns {Record<string, string>} */
export function stackEnv() {
  const r = spawnSync(process.execPath, [join(ROOT, 'tools/stack/stack.mjs'), 'env'], { encoding: 'utf8' });
  /** @type {Record<string, string>} */
  const env = {};
  for (const m of r.stdout.matchAll(/^export ([A-Z_]+)=(.*)$/gm)) env[String(m[1])] = String(m[2]).replace(/^["']|["']$/g, '');
  return env;
}

export async function wikimediaReachable() {
  try {
    const res = await fetch(WIKIMEDIA_URL, { signal: AbortSignal.timeout(4000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * The node arguments and environment of one app on the local pipeline: its port, the stack's
 * settings, the producer on `sseUrl`, the local source looping the recordings at `rate`, the enricher on
 * `apiUrl` (default the local Action API stand-in).
 * @param {{ name: string, port: number, app?: string, env?: Record<string, string> }} app
 * @param {{ base: Record<string, string>, sseUrl: string, rate: string, apiUrl?: string, bluesky?: boolean }} opts
 * @returns {{ args: string[], env: NodeJS.ProcessEnv }}
 */
export function appCommand(app, opts) {
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, ...opts.base, HTTP_PORT: String(app.port), ...(app.env ?? {}) };
  if (opts.base.OTEL_EXPORTER_OTLP_ENDPOINT) env.OTEL_TRACES_SAMPLER_ARG = process.env.OTEL_TRACES_SAMPLER_ARG ?? '0.01';
  const args = ['--enable-source-maps', join(ROOT, 'dist', 'apps', app.app ?? app.name, 'main.js')];
  // With the Bluesky instances running, the one persister also stores the Bluesky events (bsky_events).
  if (app.name === 'dedup-persister' && opts.bluesky) env.BLUESKY_TOPICS = process.env.BLUESKY_TOPICS ?? 'bsky.events.all';
  if (app.name === 'sse-source') args.push('--port', String(app.port), '--host', '127.0.0.1', '--rate', opts.rate, '--loop');
  if (app.name === 'producer') env.SSE_URL = opts.sseUrl;
  if (app.name === 'action-api-source') args.push('--port', String(app.port), '--host', '127.0.0.1');
  if (app.name === 'enricher') env.API_URL = opts.apiUrl ?? localApiUrl();
  return { args, env };
}

/**
 * MERGE SWITCH (issue 19, Bluesky as a second firehose). The downstream instances below are ready;
 * the source half (apps/jetstream-source, the producer's Jetstream mode: branch bsky-source) is
 * not merged yet. Once it is: set this to true, check producer-bsky's env against the producer's
 * Jetstream configuration names, and jetstream-source's command line in appCommand. Then
 * `pipeline up` runs both streams by default (`--bluesky false` leaves Bluesky out).
 */
export const BLUESKY_SOURCE_MERGED = false;

/**
 * Ports of the Bluesky instances (the same apps as the Wikimedia ones, a second configuration each).
 * @type {(name: string, def: number) => number}
 */
const bskyPort = (name, def) => Number(process.env[name] ?? def);

/**
 * The Bluesky stream's processes: the same apps under STREAM=bluesky (their own groups, transactional
 * ids and topics by default), plus the local Jetstream stand-in. The dedup-persister and lag-monitor
 * serve both streams from one instance (BLUESKY_TOPICS, STREAMS).
 * @type {Array<{ name: string, app: string, port: number, optional?: boolean, env: Record<string, string> }>}
 */
export const BLUESKY_INSTANCES = [
  // TO CONFIRM AT MERGE: the stand-in's name and command line (like sse-source's: --port, --rate, --loop).
  { name: 'jetstream-source', app: 'jetstream-source', port: bskyPort('WM_JETSTREAM_SOURCE_PORT', 8094), optional: true, env: {} },
  // TO CONFIRM AT MERGE: the producer's Jetstream-mode variables (names below are placeholders).
  {
    name: 'producer-bsky',
    app: 'producer',
    port: bskyPort('WM_PRODUCER_BSKY_PORT', 8111),
    env: { SOURCE: 'jetstream', JETSTREAM_URL: `ws://127.0.0.1:${bskyPort('WM_JETSTREAM_SOURCE_PORT', 8094)}/subscribe`, OUTPUT_TOPIC: 'bsky.raw.events', CHECKPOINT_KEY: 'jetstream', PRODUCER_TRANSACTIONAL_ID: 'producer-bsky' },
  },
  { name: 'filter-router-bsky', app: 'filter-router', port: bskyPort('WM_FILTER_ROUTER_BSKY_PORT', 8112), env: { STREAM: 'bluesky' } },
  { name: 'aggregator-bsky', app: 'aggregator', port: bskyPort('WM_AGGREGATOR_BSKY_PORT', 8113), env: { STREAM: 'bluesky' } },
];

/** The local source's stream URL. */
export const localSourceUrl = () => `http://127.0.0.1:${APPS[0]?.port}/v2/stream/recentchange`;
