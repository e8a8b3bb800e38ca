import { createHash } from 'node:crypto';
import {
  type Lifecycle,
  type Logger,
  createHttpServer,
  createLogger,
  createMetricsRegistry,
  describeError,
  lifecycle,
} from '@wikimonitor/service-kit';
import type { Request, Response } from 'express';
import type { Registry } from 'prom-client';
import { type SseSourceConfig, defaultConfig } from './config';
import { createUuidV5 } from './fresh-id';
import { findRepoRoot, loadRecordings, resolveRecordingFiles } from './loader';
import type { ParsedRecording } from './recording';
import { ReplayLog } from './replay-log';
import { positionIndexFor, resolveStartPosition } from './resume';
import { SourceStats, type SseSourceStats } from './stats';
import { STREAM_PREAMBLE, streamEvents } from './stream';
import { type StreamOptions, applyQueryOverrides } from './stream-options';
import { effectiveTimeMode } from './time-mode';
import { DatacenterRotation, UpstreamTimes, datacenterOffsetShift } from './upstream';

export type { SseSourceStats } from './stats';

export interface SseSource extends Lifecycle {
  port(): number;
  /** URL of the first configured stream, e.g. http://127.0.0.1:8092/v2/stream/recentchange. */
  url(): string;
  stats(): SseSourceStats;
}

export interface SseSourceDeps {
  config: SseSourceConfig;
  log: Logger;
  registry?: Registry;
  /** Base for relative SSE_SOURCE_DATA paths (default: the working directory). */
  cwd?: string;
}

const sha1 = (parts: ReadonlyArray<Uint8Array | string>): Uint8Array => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
};

function firstString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

function flattenQuery(query: Request['query']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(query as Record<string, unknown>)) out[k] = firstString(v);
  return out;
}

/** The local EventStreams server as a lifecycle component: start() loads the recordings and listens. */
export function createSseSource(deps: SseSourceDeps): SseSource {
  const { config, log } = deps;
  const registry = deps.registry ?? createMetricsRegistry('sse-source');
  const stats = new SourceStats(registry);
  const deriveId = createUuidV5(sha1);
  const streams = new Set(config.streams);
  const active = new Set<AbortController>();
  const attempts = new Map<string, number>();
  /** Open stream connections per client (remote address + User-Agent), for SSE_SOURCE_MAX_CONNECTIONS. */
  const perClient = new Map<string, number>();
  const rotation = new DatacenterRotation();
  let replay: { log: ReplayLog; wikiIndex: Map<string, number[]>; upstream: UpstreamTimes } | undefined;
  let connectionSeq = 0;
  let closing = false;

  const fail = (res: Response, status: number, error: string, detail: string) => {
    stats.badRequest();
    res.status(status).json({ status, error, detail });
  };

  async function handleStream(req: Request, res: Response): Promise<void> {
    if (!replay || closing) {
      res.status(503).json({ status: 503, error: 'service_unavailable', detail: 'not ready' });
      return;
    }
    const names = String(req.params.streams).split(',');
    const unknown = names.filter((n) => !streams.has(n));
    if (unknown.length > 0) {
      fail(res, 404, 'not_found', `unknown stream ${unknown.join(', ')}; this source serves ${[...streams].join(', ')}`);
      return;
    }
    const query = flattenQuery(req.query);
    const parsedOptions = applyQueryOverrides(config.stream, query);
    if (!parsedOptions.ok) {
      fail(res, 400, 'invalid_parameter', parsedOptions.problems.join('; '));
      return;
    }
    const options = parsedOptions.value;

    if (options.status) {
      const key = options.statusKey ?? `${options.status.status}:${options.status.times}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      if (attempt <= options.status.times) {
        stats.fault('status');
        if (options.status.status === 429) res.set('Retry-After', '1');
        const error = options.status.status === 429 ? 'too_many_requests' : 'service_unavailable';
        res.status(options.status.status).json({ status: options.status.status, error, detail: `injected fault: attempt ${attempt} of ${options.status.times} refused` });
        return;
      }
    }

    const { log: replayLog, wikiIndex } = replay;
    const timeMode = effectiveTimeMode(options);
    // Time mode `now` with timestamp ids: one upstream log for all connections, its times kept once given.
    const upstream = timeMode === 'now' && options.idMode === 'timestamp' ? replay.upstream : undefined;
    const start = resolveStartPosition(
      { lastEventId: req.get('last-event-id'), since: query.since },
      positionIndexFor(replayLog, options.passes, timeMode, upstream),
      options.idMode,
    );
    if (!start.ok) {
      fail(res, 400, start.error, start.detail);
      return;
    }

    const client = `${req.socket.remoteAddress ?? ''} ${req.get('user-agent') ?? ''}`;
    const open = perClient.get(client) ?? 0;
    if (config.maxConnections > 0 && open >= config.maxConnections) {
      stats.connectionRefused();
      res.set('Retry-After', '1');
      res.status(429).json({ status: 429, error: 'too_many_requests', detail: `at most ${config.maxConnections} concurrent connections per client (remote address + User-Agent)` });
      return;
    }
    perClient.set(client, open + 1);
    const datacenter = rotation.serve(options.datacenter, client);

    const connectionId = ++connectionSeq;
    const abort = new AbortController();
    active.add(abort);
    res.on('close', () => abort.abort());
    res.on('error', () => abort.abort());
    req.socket.setNoDelay(true);
    stats.connectionOpened();
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'Access-Control-Allow-Origin': '*',
    });
    res.write(STREAM_PREAMBLE);
    log.info({ connectionId, startOffset: start.offset, from: start.from, datacenter, options: describeOptions(options) }, 'stream opened');
    try {
      const outcome = await streamEvents(
        { log: replayLog, wikiIndex, deriveId, stats },
        {
          res,
          signal: abort.signal,
          options,
          startOffset: start.offset,
          partitionStarts: start.partitionStarts,
          resumedFrom: start.resumedFrom,
          datacenterOffsetShift: datacenterOffsetShift(datacenter),
          upstream,
          connectionId,
        },
      );
      log.info({ connectionId, ...outcome }, 'stream finished');
    } catch (err) {
      log.error({ connectionId, err: describeError(err) }, 'stream failed');
      res.destroy();
    } finally {
      const left = (perClient.get(client) ?? 1) - 1;
      if (left > 0) perClient.set(client, left);
      else perClient.delete(client);
      active.delete(abort);
      stats.connectionClosed();
      if (!res.writableEnded && !res.destroyed) res.end();
    }
  }

  const http = createHttpServer({
    port: config.port,
    host: config.host,
    registry,
    log,
    isLive: () => true,
    isReady: () => replay !== undefined && !closing,
    routes: (app) => {
      app.get('/stats', (_req, res) => {
        res.json(stats.snapshot());
      });
      app.get('/v2/stream/:streams', handleStream);
    },
  });

  async function load(): Promise<void> {
    const files = await resolveRecordingFiles(config.data, { cwd: deps.cwd, repoRoot: findRepoRoot() });
    const recordings: ParsedRecording[] = inTimeOrder(await loadRecordings(files));
    const events = recordings.flatMap((r) => r.events);
    stats.loaded(recordings);
    for (const r of recordings.filter((x) => x.skipped.length > 0)) {
      log.warn({ file: r.file, skipped: r.skipped.length, first: r.skipped.slice(0, 5) }, 'recording has records that are not JSON objects; skipped');
    }
    if (events.length === 0) throw new Error(`no events in ${files.join(', ')}`);
    const replayLog = new ReplayLog(events, { defaultTopic: config.topic, deriveId });
    replay = { log: replayLog, wikiIndex: replayLog.indexByWiki(), upstream: new UpstreamTimes(config.retention) };
    log.info(
      {
        files: recordings.map((r) => ({ file: r.file, format: r.format, events: r.events.length, skipped: r.skipped.length })),
        events: events.length,
        passSpanMs: replayLog.passSpanMs,
      },
      `loaded ${events.length} events from ${recordings.length} recordings`,
    );
  }

  const base = lifecycle('sse-source', {
    start: async () => {
      await load();
      await http.start();
    },
    close: async () => {
      closing = true;
      for (const a of active) a.abort();
      await http.close();
    },
    isReady: () => replay !== undefined && !closing,
  });

  return {
    ...base,
    port: () => http.port(),
    url: () => {
      const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
      return `http://${host}:${http.port()}/v2/stream/${config.streams[0]}`;
    },
    stats: () => stats.snapshot(),
  };
}

function describeOptions(o: StreamOptions): Record<string, unknown> {
  return {
    rate: o.rate,
    burst: o.burst,
    passes: o.passes === Infinity ? 'forever' : o.passes,
    end: o.end,
    fault: o.fault.kind === 'none' ? undefined : o.fault,
    status: o.status,
    injections: o.injections.length > 0 ? o.injections : undefined,
    canaryEvery: o.canaryEvery || undefined,
    time: effectiveTimeMode(o),
    idMode: o.idMode,
    lifetimeMs: o.lifetimeMs || undefined,
    datacenter: o.datacenter,
  };
}

/**
 * The recordings in serving order: by their earliest event time (ties and files without times in the
 * given order, i.e. by name). An upstream partition's timestamps then grow along the log as in Kafka
 * (up to the disorder inside a recording, a few seconds), so resuming by time finds the right place.
 */
export function inTimeOrder(recordings: readonly ParsedRecording[]): ParsedRecording[] {
  const earliest = (r: ParsedRecording) => r.events.reduce((min, e) => (Number.isFinite(e.timeMs) ? Math.min(min, e.timeMs) : min), Infinity);
  return recordings
    .map((r, i) => ({ r, i, t: earliest(r) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((x) => x.r);
}

export interface StartSseSourceOptions extends Partial<Omit<SseSourceConfig, 'stream'>> {
  /** Per-connection defaults (rate, loop passes, faults...); query parameters still override them. */
  stream?: Partial<StreamOptions>;
  /** Defaults to a silent logger. */
  log?: Logger;
}

export interface SseSourceHandle {
  /** Stream URL, e.g. http://127.0.0.1:40123/v2/stream/recentchange. */
  url: string;
  /** http://host:port, for /stats, /metrics, /healthz. */
  baseUrl: string;
  port: number;
  close(): Promise<void>;
  stats(): SseSourceStats;
}

/**
 * Starts a source in-process (port 0 and 127.0.0.1 unless given; the environment is not read).
 * Apps cannot import this (apps never import apps): they spawn `node dist/apps/sse-source/main.js`.
 */
export async function startSseSource(options: StartSseSourceOptions = {}): Promise<SseSourceHandle> {
  const defaults = defaultConfig();
  const { stream, log, ...rest } = options;
  const config: SseSourceConfig = { ...defaults, port: 0, host: '127.0.0.1', logLevel: 'silent', ...rest, stream: { ...defaults.stream, ...stream } };
  const source = createSseSource({ config, log: log ?? createLogger('sse-source', config.logLevel) });
  try {
    await source.start();
  } catch (err) {
    await source.close();
    throw err;
  }
  const url = source.url();
  return { url, baseUrl: new URL(url).origin, port: source.port(), close: () => source.close(), stats: () => source.stats() };
}
