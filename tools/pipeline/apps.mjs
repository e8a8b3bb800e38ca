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
 * @param {{ base: Record<string, string>, sseUrl: string, rate: string, apiUrl?: string, bluesky?: boolean, jetstreamUrl?: string }} opts
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
  if (app.name === 'producer-bsky') env.JETSTREAM_URL = process.env.JETSTREAM_URL ?? opts.jetstreamUrl ?? localJetstreamUrl();
  // The recordings looped (2,000 passes, fresh revs and seqs each: hours at the pipeline's rate).
  if (app.name === 'jetstream-source') args.push('--port', String(app.port), '--host', '127.0.0.1', '--rate', opts.rate, '--loop-count', '2000');
  if (app.name === 'action-api-source') args.push('--port', String(app.port), '--host', '127.0.0.1');
  if (app.name === 'enricher') env.API_URL = opts.apiUrl ?? localApiUrl();
  return { args, env };
}

/**
 * The Bluesky stream runs by default (issue 19): `pipeline up` starts both streams, `--bluesky false`
 * leaves Bluesky out. Kept as a switch so a build without the Jetstream source can turn it off.
 */
export const BLUESKY_SOURCE_MERGED = true;

/** The Bluesky source: the local Jetstream stand-in, or the real Jetstream when the pipeline reads Wikimedia live. */
export const JETSTREAM_URL = 'wss://jetstream2.us-east.bsky.network/subscribe';
export const localJetstreamUrl = () => `ws://127.0.0.1:${bskyPort('WM_JETSTREAM_SOURCE_PORT', 8094)}/subscribe`;

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
  { name: 'jetstream-source', app: 'jetstream-source', port: bskyPort('WM_JETSTREAM_SOURCE_PORT', 8094), optional: true, env: {} },
  // The producer in Jetstream mode (apps/producer SOURCE=jetstream: records to BSKY_OUTPUT_TOPIC, default bsky.raw.events).
  {
    name: 'producer-bsky',
    app: 'producer',
    port: bskyPort('WM_PRODUCER_BSKY_PORT', 8111),
    env: { SOURCE: 'jetstream', CHECKPOINT_KEY: 'jetstream', PRODUCER_TRANSACTIONAL_ID: 'producer-bsky' },
  },
  { name: 'filter-router-bsky', app: 'filter-router', port: bskyPort('WM_FILTER_ROUTER_BSKY_PORT', 8112), env: { STREAM: 'bluesky' } },
  { name: 'aggregator-bsky', app: 'aggregator', port: bskyPort('WM_AGGREGATOR_BSKY_PORT', 8113), env: { STREAM: 'bluesky' } },
];

/** The local source's stream URL. */
export const localSourceUrl = () => `http://127.0.0.1:${APPS[0]?.port}/v2/stream/recentchange`;
