import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { BlueskyEvent, WikiChange } from '@wikimonitor/contracts';
import { BlueskyEventSchema, WikiChangeSchema } from '@wikimonitor/contracts';
import { DEFAULT_MAX_FUTURE_SKEW_MS } from '@wikimonitor/domain';
import {
  type KafkaConnection,
  type KafkaProducer,
  createProducer,
  provisionTopics,
  kafkaConnectionFromEnv,
  topicSpecsFor,
} from '@wikimonitor/kafka';
import { createAvroCodec, registryClientFromConfig } from '@wikimonitor/schemas';
import { type Lifecycle, type Logger, type ServiceHandle, createMetricsRegistry, describeError, lifecycle, retry, serviceVersion, httpSettings, runHttpService } from '@wikimonitor/service-kit';
import { getTracer } from '@wikimonitor/telemetry';
import type { Registry } from 'prom-client';
import { type CheckpointStore, createKafkaCheckpointStore } from './checkpoint';
import type { ProducerConfig } from './config';
import { createIngestor } from './ingestor';
import { runJetstreamClient } from './jetstream-client';
import { type JetstreamPositionRecord, createJetstreamIngestor } from './jetstream-ingestor';
import { createProducerMetrics } from './metrics';
import { runSseClient } from './sse-client';

export const APP_NAME = 'producer';

export function userAgent(contact: string): string {
  return `WikiMonitor/${serviceVersion()} (${contact}) Node.js/${process.versions.node.split('.')[0]} librdkafka`;
}

/** Stable across restarts and unique per checkpoint key: one live producer per stream position. */
export function defaultTransactionalId(checkpointKey: string): string {
  return `wikimonitor-producer-${createHash('sha256').update(checkpointKey).digest('hex').slice(0, 16)}`;
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

/** Wires the producer: http, Kafka producer, topics, schema, resume position, then the stream loop. */
export function createProducerApp(opts: ProducerAppOptions): ProducerApp {
  return opts.config.SOURCE === 'jetstream' ? createJetstreamProducerApp(opts) : createEventStreamsProducerApp(opts);
}

/** The default checkpoint key of a Jetstream producer: the URL with its filters (another filter is another stream). */
export function jetstreamCheckpointKey(config: Pick<ProducerConfig, 'JETSTREAM_URL' | 'JETSTREAM_WANTED_COLLECTIONS' | 'JETSTREAM_WANTED_DIDS'>): string {
  const url = new URL(config.JETSTREAM_URL);
  for (const c of [...config.JETSTREAM_WANTED_COLLECTIONS].sort()) url.searchParams.append('wantedCollections', c);
  for (const d of [...config.JETSTREAM_WANTED_DIDS].sort()) url.searchParams.append('wantedDids', d);
  return url.toString();
}

/** The Kafka producer of either source, tuned alike. */
function kafkaProducerFor(config: ProducerConfig, log: Logger, connection: KafkaConnection, transactionalId: string | undefined): KafkaProducer {
  return createProducer({
    connection,
    log,
    transactionalId,
    overrides: {
      'linger.ms': config.PRODUCER_LINGER_MS,
      'compression.type': config.PRODUCER_COMPRESSION,
      'batch.num.messages': config.PRODUCER_BATCH_MESSAGES,
    },
  });
}

function createEventStreamsProducerApp(opts: ProducerAppOptions): ProducerApp {
  const { config, log } = opts;
  const registry = createMetricsRegistry(APP_NAME);
  const metrics = createProducerMetrics(registry);
  const connection: KafkaConnection = kafkaConnectionFromEnv(config, `wikimonitor-${APP_NAME}`);
  const checkpointKey = config.CHECKPOINT_KEY ?? config.SSE_URL;
  const transactionalId = config.PRODUCER_EXACTLY_ONCE ? (config.PRODUCER_TRANSACTIONAL_ID ?? defaultTransactionalId(checkpointKey)) : undefined;
  const kafkaProducer = kafkaProducerFor(config, log, connection, transactionalId);
  const codec = createAvroCodec<WikiChange>({
    client: registryClientFromConfig(config),
    topic: config.OUTPUT_TOPIC,
    schema: WikiChangeSchema,
    log,
  });
  const checkpoints: CheckpointStore = createKafkaCheckpointStore({ connection, log, topic: config.CHECKPOINT_TOPIC, key: checkpointKey });
  const ingestor = createIngestor({
    producer: kafkaProducer,
    checkpoints,
    encode: (c) => codec.encode(c),
    log,
    metrics,
    topic: config.OUTPUT_TOPIC,
    dlqTopic: config.DLQ_TOPIC,
    sourceUrl: config.SSE_URL,
    exactlyOnce: config.PRODUCER_EXACTLY_ONCE,
    marginMs: config.RESUME_MARGIN_MS,
    maxIds: config.POSITION_MAX_IDS,
    maxInFlight: config.MAX_IN_FLIGHT,
    commitIntervalMs: config.COMMIT_INTERVAL_MS,
    commitMaxEvents: config.COMMIT_MAX_EVENTS,
    maxRecordBytes: config.MAX_RECORD_BYTES,
    tracer: opts.tracingEnabled ? getTracer(APP_NAME) : null,
    onFatal: (err) => {
      log.fatal({ err: describeError(err), transactionalId: transactionalId ?? null }, 'producer unusable (fenced by another instance with the same transactional.id, or failed): stopping');
      void service.close(1);
    },
  });

  const setup = lifecycle('topics+schema', {
    async start() {
      if (config.PROVISION_TOPICS) {
        await provisionTopics(
          connection,
          topicSpecsFor('producer', {
            replicationFactor: config.TOPIC_REPLICATION_FACTOR,
            names: { raw: config.OUTPUT_TOPIC, dlq: config.DLQ_TOPIC, checkpoints: config.CHECKPOINT_TOPIC },
            partitions: { raw: config.TOPIC_PARTITIONS },
            only: ['raw', 'checkpoints', 'dlq'],
          }),
          log,
        );
      }
      await codec.init();
      log.info({ subject: codec.subject, schemaId: codec.schemaId() }, 'schema registered');
    },
  });

  const abort = new AbortController();
  let streamLoop: Promise<void> | undefined;
  let connected = false;

  const stream: Lifecycle = lifecycle('sse-stream', {
    async start() {
      if (config.RESUME) {
        // A checkpoint topic created moments ago may not be in the client's metadata yet: retry.
        const cp = await retry(() => checkpoints.load(), {
          attempts: 10,
          initialMs: 200,
          maxMs: 3_000,
          onRetry: (err, attempt) => log.warn({ attempt, err: (err as Error).message }, 'reading the checkpoint failed, retrying'),
        });
        ingestor.restore(cp);
        const resumeId = ingestor.resumeId();
        log.info(
          { key: checkpointKey, resumeId: resumeId ?? null, at: cp?.at ?? null, marginMs: config.RESUME_MARGIN_MS, format: cp ? ('v' in cp ? cp.v : 1) : null },
          resumeId ? 'resuming from checkpoint' : 'no checkpoint: starting at the live end (or SSE_SINCE)',
        );
      }
      ingestor.start();
      streamLoop = runSseClient({
        url: config.SSE_URL,
        userAgent: userAgent(config.USER_AGENT_CONTACT),
        resumeId: () => ingestor.resumeId(),
        since: config.SSE_SINCE,
        idleTimeoutMs: config.SSE_IDLE_TIMEOUT_MS,
        backoff: { initialMs: config.SSE_RECONNECT_INITIAL_MS, maxMs: config.SSE_RECONNECT_MAX_MS },
        log,
        signal: abort.signal,
        onEvent: (ev, t) => ingestor.handle(ev, t),
        waitForCapacity: () => ingestor.waitForCapacity(),
        onConnected: () => {
          connected = true;
          metrics.connected.set(1);
        },
        onDisconnected: (reason) => {
          connected = false;
          metrics.connected.set(0);
          metrics.reconnects.inc({ reason });
        },
      }).catch((err) => {
        log.error({ err: (err as Error).message }, 'stream failed permanently');
        void service.close(1);
      });
    },
    async close() {
      abort.abort();
      await streamLoop;
      await ingestor.close();
      log.info({ completed: ingestor.completed(), resumeId: ingestor.resumeId() ?? null }, 'stream closed, all accepted events finished');
    },
    isReady: () => connected,
  });

  const { service } = runHttpService({
    http: { ...httpSettings(config), registry },
    name: APP_NAME,
    log,
    components: [kafkaProducer, setup, stream],
    finally: opts.finally,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    handleSignals: opts.handleSignals,
  });

  return { service, registry, stats: () => ({ completed: ingestor.completed(), inFlight: ingestor.inFlight(), resumeId: ingestor.resumeId() }) };
}

/** SOURCE=jetstream: Bluesky Jetstream (WebSocket) -> BlueskyEvent records in bsky.raw.events, resumed by cursor exactly once. */
function createJetstreamProducerApp(opts: ProducerAppOptions): ProducerApp {
  const { config, log } = opts;
  const registry = createMetricsRegistry(APP_NAME);
  const metrics = createProducerMetrics(registry);
  const connection: KafkaConnection = kafkaConnectionFromEnv(config, `wikimonitor-${APP_NAME}`);
  const checkpointKey = config.CHECKPOINT_KEY ?? jetstreamCheckpointKey(config);
  const transactionalId = config.PRODUCER_EXACTLY_ONCE ? (config.PRODUCER_TRANSACTIONAL_ID ?? defaultTransactionalId(checkpointKey)) : undefined;
  const topic = config.BSKY_OUTPUT_TOPIC;
  const kafkaProducer = kafkaProducerFor(config, log, connection, transactionalId);
  const codec = createAvroCodec<BlueskyEvent>({ client: registryClientFromConfig(config), topic, schema: BlueskyEventSchema, log });
  const checkpoints = createKafkaCheckpointStore<JetstreamPositionRecord, JetstreamPositionRecord>({ connection, log, topic: config.CHECKPOINT_TOPIC, key: checkpointKey });
  // Read at start-up, before anything connects: a configured dictionary that cannot be read stops the app.
  const zstdDictionary = config.JETSTREAM_ZSTD_DICTIONARY ? readFileSync(config.JETSTREAM_ZSTD_DICTIONARY) : undefined;
  const ingestor = createJetstreamIngestor({
    producer: kafkaProducer,
    checkpoints,
    encode: (e) => codec.encode(e),
    log,
    metrics,
    topic,
    dlqTopic: config.DLQ_TOPIC,
    sourceUrl: config.JETSTREAM_URL,
    exactlyOnce: config.PRODUCER_EXACTLY_ONCE,
    marginUs: config.RESUME_MARGIN_MS * 1000,
    maxIds: config.POSITION_MAX_IDS,
    maxInFlight: config.MAX_IN_FLIGHT,
    commitIntervalMs: config.COMMIT_INTERVAL_MS,
    commitMaxEvents: config.COMMIT_MAX_EVENTS,
    maxRecordBytes: config.MAX_RECORD_BYTES,
    maxFutureSkewMs: DEFAULT_MAX_FUTURE_SKEW_MS,
    tracer: opts.tracingEnabled ? getTracer(APP_NAME) : null,
    onFatal: (err) => {
      log.fatal({ err: describeError(err), transactionalId: transactionalId ?? null }, 'producer unusable (fenced by another instance with the same transactional.id, or failed): stopping');
      void service.close(1);
    },
  });

  const setup = lifecycle('topics+schema', {
    async start() {
      if (config.PROVISION_TOPICS) {
        await provisionTopics(
          connection,
          topicSpecsFor('producer', {
            replicationFactor: config.TOPIC_REPLICATION_FACTOR,
            names: { bskyRaw: topic, dlq: config.DLQ_TOPIC, checkpoints: config.CHECKPOINT_TOPIC },
            partitions: { bskyRaw: config.TOPIC_PARTITIONS },
            only: ['bskyRaw', 'checkpoints', 'dlq'],
          }),
          log,
        );
      }
      await codec.init();
      log.info({ subject: codec.subject, schemaId: codec.schemaId() }, 'schema registered');
    },
  });

  const abort = new AbortController();
  let streamLoop: Promise<void> | undefined;
  let connected = false;
  const stream: Lifecycle = lifecycle('jetstream', {
    async start() {
      if (config.RESUME) {
        const cp = await retry(() => checkpoints.load(), {
          attempts: 10,
          initialMs: 200,
          maxMs: 3_000,
          onRetry: (err, attempt) => log.warn({ attempt, err: (err as Error).message }, 'reading the checkpoint failed, retrying'),
        });
        ingestor.restore(cp);
        log.info({ key: checkpointKey, cursor: ingestor.cursor() ?? null, maxTimeUs: cp?.maxTimeUs ?? null, kept: cp?.ids.reduce((n, g) => n + g.length - 1, 0) ?? 0 }, cp ? 'resuming from checkpoint' : 'no checkpoint: starting live');
      }
      ingestor.start();
      streamLoop = runJetstreamClient({
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
        signal: abort.signal,
        onMessage: (data, t) => ingestor.handle(data, t),
        hasCapacity: () => ingestor.hasCapacity(),
        waitForCapacity: () => ingestor.waitForCapacity(),
        onConnected: (cursor) => {
          ingestor.connected(cursor);
          connected = true;
          metrics.connected.set(1);
        },
        onDisconnected: (reason) => {
          connected = false;
          metrics.connected.set(0);
          metrics.reconnects.inc({ reason });
        },
      }).catch((err) => {
        log.error({ err: (err as Error).message }, 'stream failed permanently');
        void service.close(1);
      });
    },
    async close() {
      abort.abort();
      await streamLoop;
      await ingestor.close();
      log.info({ completed: ingestor.completed(), cursor: ingestor.cursor() ?? null }, 'stream closed, all accepted events finished');
    },
    isReady: () => connected,
  });

  const { service } = runHttpService({
    http: { ...httpSettings(config), registry },
    name: APP_NAME,
    log,
    components: [kafkaProducer, setup, stream],
    finally: opts.finally,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    handleSignals: opts.handleSignals,
  });

  return { service, registry, stats: () => ({ completed: ingestor.completed(), inFlight: ingestor.inFlight(), resumeId: ingestor.cursor()?.toString() }) };
}
