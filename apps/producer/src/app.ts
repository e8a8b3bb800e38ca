import type { WikiChange } from '@wikimonitor/contracts';
import { WikiChangeSchema } from '@wikimonitor/contracts';
import {
  type KafkaConnection,
  type KafkaProducer,
  createProducer,
  provisionTopics,
  kafkaConnectionFromEnv,
  topicSpecsFor,
} from '@wikimonitor/kafka';
import { createAvroCodec, registryClientFromConfig } from '@wikimonitor/schemas';
import { type Lifecycle, type Logger, type ServiceHandle, createMetricsRegistry, lifecycle, retry, serviceVersion, runHttpService } from '@wikimonitor/service-kit';
import { getTracer } from '@wikimonitor/telemetry';
import type { Registry } from 'prom-client';
import { type Checkpoint, type CheckpointStore, createKafkaCheckpointStore } from './checkpoint';
import type { ProducerConfig } from './config';
import { createIngestor } from './ingestor';
import { createProducerMetrics } from './metrics';
import { runSseClient } from './sse-client';

export const APP_NAME = 'producer';

export function userAgent(contact: string): string {
  return `WikiMonitor/${serviceVersion()} (${contact}) Node.js/${process.versions.node.split('.')[0]} librdkafka`;
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
  stats(): { completed: number; inFlight: number; watermark: string | undefined };
}

/** Wires the producer: http, Kafka producer, topics, schema, resume position, then the stream loop. */
export function createProducerApp(opts: ProducerAppOptions): ProducerApp {
  const { config, log } = opts;
  const registry = createMetricsRegistry(APP_NAME);
  const metrics = createProducerMetrics(registry);
  const connection: KafkaConnection = kafkaConnectionFromEnv(config, `wikimonitor-${APP_NAME}`);
  const kafkaProducer: KafkaProducer = createProducer({
    connection,
    log,
    overrides: {
      'linger.ms': config.PRODUCER_LINGER_MS,
      'compression.type': config.PRODUCER_COMPRESSION,
      'batch.num.messages': config.PRODUCER_BATCH_MESSAGES,
    },
  });
  const codec = createAvroCodec<WikiChange>({
    client: registryClientFromConfig(config),
    topic: config.OUTPUT_TOPIC,
    schema: WikiChangeSchema,
    log,
  });
  const checkpointKey = config.CHECKPOINT_KEY ?? config.SSE_URL;
  const checkpoints: CheckpointStore = createKafkaCheckpointStore({ connection, producer: kafkaProducer, topic: config.CHECKPOINT_TOPIC, key: checkpointKey });
  const ingestor = createIngestor({
    producer: kafkaProducer,
    encode: (c) => codec.encode(c),
    log,
    metrics,
    topic: config.OUTPUT_TOPIC,
    dlqTopic: config.DLQ_TOPIC,
    sourceUrl: config.SSE_URL,
    maxInFlight: config.MAX_IN_FLIGHT,
    tracer: opts.tracingEnabled ? getTracer(APP_NAME) : null,
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
          }),
          log,
        );
      }
      await codec.init();
      log.info({ subject: codec.subject, schemaId: codec.schemaId() }, 'schema registered');
    },
  });

  let lastSaved: string | undefined;
  const saveCheckpoint = async () => {
    const id = ingestor.watermark();
    if (!id || id === lastSaved) return;
    const cp: Checkpoint = { lastEventId: id, url: config.SSE_URL, events: ingestor.completed(), at: new Date().toISOString() };
    await checkpoints.save(cp);
    lastSaved = id;
    metrics.checkpointed.set(ingestor.completed());
  };

  const abort = new AbortController();
  let streamLoop: Promise<void> | undefined;
  let checkpointTimer: NodeJS.Timeout | undefined;
  let connected = false;

  const stream: Lifecycle = lifecycle('sse-stream', {
    async start() {
      let resumeFrom: string | undefined;
      if (config.RESUME) {
        // A checkpoint topic created moments ago may not be in the client's metadata yet: retry.
        const cp = await retry(() => checkpoints.load(), {
          attempts: 10,
          initialMs: 200,
          maxMs: 3_000,
          onRetry: (err, attempt) => log.warn({ attempt, err: (err as Error).message }, 'reading the checkpoint failed, retrying'),
        });
        resumeFrom = cp?.lastEventId;
        log.info({ key: checkpointKey, lastEventId: resumeFrom ?? null, at: cp?.at ?? null }, resumeFrom ? 'resuming from checkpoint' : 'no checkpoint: starting at the live end (or SSE_SINCE)');
      }
      checkpointTimer = setInterval(() => {
        saveCheckpoint().catch((err) => log.warn({ err: (err as Error).message }, 'checkpoint write failed; will retry'));
      }, config.CHECKPOINT_INTERVAL_MS);
      streamLoop = runSseClient({
        url: config.SSE_URL,
        userAgent: userAgent(config.USER_AGENT_CONTACT),
        lastEventId: resumeFrom,
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
      ingestor.stop();
      await streamLoop;
      clearInterval(checkpointTimer);
      await ingestor.drain();
      await saveCheckpoint().catch((err) => log.error({ err: (err as Error).message }, 'final checkpoint failed'));
      log.info({ completed: ingestor.completed(), lastEventId: lastSaved ?? null }, 'stream closed, all accepted events finished');
    },
    isReady: () => connected,
  });

  const { service } = runHttpService({
    http: { port: config.HTTP_PORT, registry },
    name: APP_NAME,
    log,
    components: [kafkaProducer, setup, stream],
    finally: opts.finally,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    handleSignals: opts.handleSignals,
  });

  return { service, registry, stats: () => ({ completed: ingestor.completed(), inFlight: ingestor.inFlight(), watermark: ingestor.watermark() }) };
}
