import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { BlueskyEvent, WikiChange } from '@wikimonitor/contracts';
import { BlueskyEventSchema, WikiChangeSchema } from '@wikimonitor/contracts';
import { DEFAULT_MAX_FUTURE_SKEW_MS } from '@wikimonitor/domain';
import { type KafkaConnection, type KafkaProducer, type TopicId, createProducer, provisionTopics, kafkaConnectionFromEnv, topicSpecsFor } from '@wikimonitor/kafka';
import { createAvroCodec, registryClientFromConfig } from '@wikimonitor/schemas';
import { type Lifecycle, type Logger, type ServiceHandle, createMetricsRegistry, describeError, lifecycle, retry, serviceVersion, httpSettings, runHttpService } from '@wikimonitor/service-kit';
import { type RootSampling, type Tracer, getTracer, rootSampling } from '@wikimonitor/telemetry';
import type { Registry } from 'prom-client';
import { createKafkaCheckpointStore } from './checkpoint';
import type { ProducerConfig } from './config';
import { createIngestor } from './ingestor';
import { runJetstreamClient } from './jetstream-client';
import { type JetstreamPositionRecord, createJetstreamIngestor } from './jetstream-ingestor';
import { type ProducerMetrics, createProducerMetrics } from './metrics';
import { runSseClient } from './sse-client';

export const APP_NAME = 'producer';

export function userAgent(contact: string): string {
  return `WikiMonitor/${serviceVersion()} (${contact}) Node.js/${process.versions.node.split('.')[0]} librdkafka`;
}

/** Stable across restarts and unique per checkpoint key: one live producer per stream position. */
export function defaultTransactionalId(checkpointKey: string): string {
  return `wikimonitor-producer-${createHash('sha256').update(checkpointKey).digest('hex').slice(0, 16)}`;
}

/** The default checkpoint key of a Jetstream producer: the URL with its filters (another filter is another stream). */
export function jetstreamCheckpointKey(config: Pick<ProducerConfig, 'JETSTREAM_URL' | 'JETSTREAM_WANTED_COLLECTIONS' | 'JETSTREAM_WANTED_DIDS'>): string {
  const url = new URL(config.JETSTREAM_URL);
  for (const c of [...config.JETSTREAM_WANTED_COLLECTIONS].sort()) url.searchParams.append('wantedCollections', c);
  for (const d of [...config.JETSTREAM_WANTED_DIDS].sort()) url.searchParams.append('wantedDids', d);
  return url.toString();
}

export interface ProducerAppOptions {
  config: ProducerConfig;
  log: Logger;
  tracingEnabled: boolean;
  finally?: Array<() => Promise<void>>;
  handleSignals?: boolean;
}

export interface ProducerApp {
  service: ServiceHandle;
  registry: Registry;
  stats(): { completed: number; inFlight: number; resumeId: string | undefined };
}

/** What the shared wiring hands a source. */
interface SourceContext {
  config: ProducerConfig;
  log: Logger;
  metrics: ProducerMetrics;
  connection: KafkaConnection;
  producer: KafkaProducer;
  tracer: Tracer | null;
  sampling?: RootSampling;
  /** The producer is unusable (fenced, failed): stop the service. */
  fatal: (err: unknown) => void;
}

/** What differs between the sources: their stream, records, position and topic. */
interface Source {
  /** Component name (logs, lifecycle). */
  name: string;
  topic: { id: TopicId; name: string };
  codec: { init(): Promise<void>; subject: string; schemaId(): number | undefined };
  /** Reads the committed position and hands it to the ingestor (RESUME=true). */
  restore(): Promise<void>;
  /** The read loop until `signal` aborts (rejects when it cannot go on). */
  run(signal: AbortSignal, hooks: { onConnected(): void; onDisconnected(reason: string): void }): Promise<void>;
  ingestor: { start(): void; close(): Promise<void>; completed(): number; inFlight(): number };
  /** The position to log and report (Last-Event-ID or cursor). */
  position(): string | undefined;
}

/** Wires the producer: http, Kafka producer, topics, schema, resume position, then the stream loop of the configured SOURCE. */
export function createProducerApp(opts: ProducerAppOptions): ProducerApp {
  const { config, log } = opts;
  const registry = createMetricsRegistry(APP_NAME);
  const metrics = createProducerMetrics(registry);
  const connection: KafkaConnection = kafkaConnectionFromEnv(config, `wikimonitor-${APP_NAME}`);
  const checkpointKey = config.CHECKPOINT_KEY ?? (config.SOURCE === 'jetstream' ? jetstreamCheckpointKey(config) : config.SSE_URL);
  const transactionalId = config.PRODUCER_EXACTLY_ONCE ? (config.PRODUCER_TRANSACTIONAL_ID ?? defaultTransactionalId(checkpointKey)) : undefined;
  const producer = createProducer({
    connection,
    log,
    transactionalId,
    overrides: {
      'linger.ms': config.PRODUCER_LINGER_MS,
      'compression.type': config.PRODUCER_COMPRESSION,
      'batch.num.messages': config.PRODUCER_BATCH_MESSAGES,
    },
  });
  const ctx: SourceContext = {
    config,
    log,
    metrics,
    connection,
    producer,
    tracer: opts.tracingEnabled ? getTracer(APP_NAME) : null,
    sampling: opts.tracingEnabled ? rootSampling(config.OTEL_TRACES_SAMPLER_ARG) : undefined,
    fatal: (err) => {
      log.fatal({ err: describeError(err), transactionalId: transactionalId ?? null }, 'producer unusable (fenced by another instance with the same transactional.id, or failed): stopping');
      void service.close(1);
    },
  };
  const source = config.SOURCE === 'jetstream' ? jetstreamSource(ctx, checkpointKey) : eventStreamsSource(ctx, checkpointKey);

  const setup = lifecycle('topics+schema', {
    async start() {
      if (config.PROVISION_TOPICS) {
        await provisionTopics(
          connection,
          topicSpecsFor('producer', {
            replicationFactor: config.TOPIC_REPLICATION_FACTOR,
            names: { [source.topic.id]: source.topic.name, dlq: config.DLQ_TOPIC, checkpoints: config.CHECKPOINT_TOPIC },
            partitions: { [source.topic.id]: config.TOPIC_PARTITIONS },
            only: [source.topic.id, 'checkpoints', 'dlq'],
          }),
          log,
        );
      }
      await source.codec.init();
      log.info({ subject: source.codec.subject, schemaId: source.codec.schemaId() }, 'schema registered');
    },
  });

  const abort = new AbortController();
  let streamLoop: Promise<void> | undefined;
  let connected = false;
  const stream: Lifecycle = lifecycle(source.name, {
    async start() {
      if (config.RESUME) await source.restore();
      source.ingestor.start();
      streamLoop = source
        .run(abort.signal, {
          onConnected: () => {
            connected = true;
            metrics.connected.set(1);
          },
          onDisconnected: (reason) => {
            connected = false;
            metrics.connected.set(0);
            metrics.reconnects.inc({ reason });
          },
        })
        .catch((err) => {
          log.error({ err: (err as Error).message }, 'stream failed permanently');
          void service.close(1);
        });
    },
    async close() {
      abort.abort();
      await streamLoop;
      await source.ingestor.close();
      log.info({ completed: source.ingestor.completed(), position: source.position() ?? null }, 'stream closed, all accepted events finished');
    },
    isReady: () => connected,
  });

  const { service } = runHttpService({
    http: { ...httpSettings(config), registry },
    name: APP_NAME,
    log,
    components: [producer, setup, stream],
    finally: opts.finally,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    handleSignals: opts.handleSignals,
  });

  return { service, registry, stats: () => ({ completed: source.ingestor.completed(), inFlight: source.ingestor.inFlight(), resumeId: source.position() }) };
}

/** A checkpoint topic created moments ago may not be in the client's metadata yet: retry. */
function loadWithRetry<T>(load: () => Promise<T>, log: Logger): Promise<T> {
  return retry(load, { attempts: 10, initialMs: 200, maxMs: 3_000, onRetry: (err, attempt) => log.warn({ attempt, err: (err as Error).message }, 'reading the checkpoint failed, retrying') });
}

/** The ingestor settings both sources take from the configuration. */
function ingestorSettings(ctx: SourceContext) {
  const { config } = ctx;
  return {
    producer: ctx.producer,
    log: ctx.log,
    metrics: ctx.metrics,
    dlqTopic: config.DLQ_TOPIC,
    exactlyOnce: config.PRODUCER_EXACTLY_ONCE,
    maxIds: config.POSITION_MAX_IDS,
    maxInFlight: config.MAX_IN_FLIGHT,
    commitIntervalMs: config.COMMIT_INTERVAL_MS,
    commitMaxEvents: config.COMMIT_MAX_EVENTS,
    maxRecordBytes: config.MAX_RECORD_BYTES,
    tracer: ctx.tracer,
    sampling: ctx.sampling,
    onFatal: ctx.fatal,
  };
}

/** SOURCE=eventstreams: Wikimedia EventStreams (SSE) -> WikiChange records in wiki.raw.changes. */
function eventStreamsSource(ctx: SourceContext, checkpointKey: string): Source {
  const { config, log } = ctx;
  const codec = createAvroCodec<WikiChange>({ client: registryClientFromConfig(config), topic: config.OUTPUT_TOPIC, schema: WikiChangeSchema, log });
  const checkpoints = createKafkaCheckpointStore({ connection: ctx.connection, log, topic: config.CHECKPOINT_TOPIC, key: checkpointKey });
  const ingestor = createIngestor({ ...ingestorSettings(ctx), checkpoints, encode: (c) => codec.encode(c), topic: config.OUTPUT_TOPIC, sourceUrl: config.SSE_URL, marginMs: config.RESUME_MARGIN_MS });
  return {
    name: 'sse-stream',
    topic: { id: 'raw', name: config.OUTPUT_TOPIC },
    codec,
    async restore() {
      const cp = await loadWithRetry(() => checkpoints.load(), log);
      ingestor.restore(cp);
      const resumeId = ingestor.resumeId();
      log.info(
        { key: checkpointKey, resumeId: resumeId ?? null, at: cp?.at ?? null, marginMs: config.RESUME_MARGIN_MS, format: cp ? ('v' in cp ? cp.v : 1) : null },
        resumeId ? 'resuming from checkpoint' : 'no checkpoint: starting at the live end (or SSE_SINCE)',
      );
    },
    run: (signal, hooks) =>
      runSseClient({
        url: config.SSE_URL,
        userAgent: userAgent(config.USER_AGENT_CONTACT),
        resumeId: () => ingestor.resumeId(),
        since: config.SSE_SINCE,
        idleTimeoutMs: config.SSE_IDLE_TIMEOUT_MS,
        backoff: { initialMs: config.SSE_RECONNECT_INITIAL_MS, maxMs: config.SSE_RECONNECT_MAX_MS },
        log,
        signal,
        onEvent: (ev, t) => ingestor.handle(ev, t),
        waitForCapacity: () => ingestor.waitForCapacity(),
        onConnected: hooks.onConnected,
        onDisconnected: hooks.onDisconnected,
      }),
    ingestor,
    position: () => ingestor.resumeId(),
  };
}

/** SOURCE=jetstream: Bluesky Jetstream (WebSocket) -> BlueskyEvent records in bsky.raw.events, resumed by cursor exactly once. */
function jetstreamSource(ctx: SourceContext, checkpointKey: string): Source {
  const { config, log } = ctx;
  const topic = config.BSKY_OUTPUT_TOPIC;
  const codec = createAvroCodec<BlueskyEvent>({ client: registryClientFromConfig(config), topic, schema: BlueskyEventSchema, log });
  const checkpoints = createKafkaCheckpointStore<JetstreamPositionRecord, JetstreamPositionRecord>({ connection: ctx.connection, log, topic: config.CHECKPOINT_TOPIC, key: checkpointKey });
  // Read at start-up, before anything connects: a configured dictionary that cannot be read stops the app.
  const zstdDictionary = config.JETSTREAM_ZSTD_DICTIONARY ? readFileSync(config.JETSTREAM_ZSTD_DICTIONARY) : undefined;
  const ingestor = createJetstreamIngestor({
    ...ingestorSettings(ctx),
    checkpoints,
    encode: (e) => codec.encode(e),
    topic,
    sourceUrl: config.JETSTREAM_URL,
    marginUs: config.RESUME_MARGIN_MS * 1000,
    maxFutureSkewMs: DEFAULT_MAX_FUTURE_SKEW_MS,
  });
  return {
    name: 'jetstream',
    topic: { id: 'bskyRaw', name: topic },
    codec,
    async restore() {
      const cp = await loadWithRetry(() => checkpoints.load(), log);
      ingestor.restore(cp);
      log.info({ key: checkpointKey, cursor: ingestor.cursor() ?? null, maxTimeUs: cp?.maxTimeUs ?? null, kept: cp?.ids.reduce((n, g) => n + g.length - 1, 0) ?? 0 }, cp ? 'resuming from checkpoint' : 'no checkpoint: starting live');
    },
    run: (signal, hooks) =>
      runJetstreamClient({
        url: config.JETSTREAM_URL,
        userAgent: userAgent(config.USER_AGENT_CONTACT),
        wantedCollections: config.JETSTREAM_WANTED_COLLECTIONS,
        wantedDids: config.JETSTREAM_WANTED_DIDS,
        cursor: () => ingestor.cursor(),
        zstdDictionary,
        idleTimeoutMs: config.JETSTREAM_IDLE_TIMEOUT_MS,
        pingIntervalMs: config.JETSTREAM_PING_INTERVAL_MS,
        backoff: { initialMs: config.SSE_RECONNECT_INITIAL_MS, maxMs: config.SSE_RECONNECT_MAX_MS },
        log,
        signal,
        onMessage: (data, t) => ingestor.handle(data, t),
        hasCapacity: () => ingestor.hasCapacity(),
        waitForCapacity: () => ingestor.waitForCapacity(),
        onConnected: (cursor) => {
          ingestor.connected(cursor);
          hooks.onConnected();
        },
        onDisconnected: hooks.onDisconnected,
      }),
    ingestor,
    position: () => ingestor.cursor()?.toString(),
  };
}
