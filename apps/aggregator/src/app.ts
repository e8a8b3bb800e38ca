import { hostname } from 'node:os';
import type { WikiAggregate, WikiAlert, WikiChange } from '@wikimonitor/contracts';
import { WikiAggregateSchema, WikiAlertSchema, WikiChangeSchema } from '@wikimonitor/contracts';
import type { WindowConfig } from '@wikimonitor/domain';
import { type KafkaConnection, type TopicId, createAdmin, createConsumerRunner, createProducer, ensureTopics, kafkaConnectionFromEnv, topicSpecsFor } from '@wikimonitor/kafka';
import { createAvroCodec, registryClientFromConfig } from '@wikimonitor/schemas';
import { type Logger, type ServiceHandle, WikiMonitorError, createHttpServer, createMetricsRegistry, lifecycle, runService } from '@wikimonitor/service-kit';
import { getTracer } from '@wikimonitor/telemetry';
import type { Registry } from 'prom-client';
import type { AppConfig } from './config';
import { createAggregatorMetrics } from './metrics';
import { type Processor, createProcessor } from './processor';
import { createChangelogStore } from './state-store';

export const APP_NAME = 'aggregator';

export interface AggregatorAppOptions {
  config: AppConfig;
  log: Logger;
  tracingEnabled?: boolean;
  finally?: Array<() => Promise<void>>;
  handleSignals?: boolean;
}

export interface AggregatorApp {
  service: ServiceHandle;
  registry: Registry;
  processor: Processor;
  port: () => number;
  transactionalId: string;
}

export function windowConfig(config: AppConfig): WindowConfig {
  return {
    sizeMs: config.WINDOW_SIZE_MS,
    allowedLatenessMs: config.ALLOWED_LATENESS_MS,
    topPages: config.TOP_PAGES,
    alertSource: APP_NAME,
    spike: {
      alpha: config.SPIKE_ALPHA,
      threshold: config.SPIKE_THRESHOLD,
      minVolume: config.SPIKE_MIN_VOLUME,
      minRatio: config.SPIKE_MIN_RATIO,
      warmupWindows: config.SPIKE_WARMUP_WINDOWS,
      resetAfterWindows: config.SPIKE_RESET_AFTER_WINDOWS,
    },
  };
}

/** Wires the aggregator: http, transactional producer, topics + schemas, changelog store, processor, consumer. */
export function createApp(opts: AggregatorAppOptions): AggregatorApp {
  const { config, log } = opts;
  const registry = createMetricsRegistry(APP_NAME);
  const metrics = createAggregatorMetrics(registry);
  const connection: KafkaConnection = kafkaConnectionFromEnv(config, `wikimonitor-${APP_NAME}`);
  const transactionalId = config.TRANSACTIONAL_ID ?? `${config.GROUP_ID}-${hostname()}`;
  const producer = createProducer({ connection, log, transactionalId, overrides: { 'linger.ms': 5 } });
  const registryClient = registryClientFromConfig(config);
  const inputCodec = createAvroCodec<WikiChange>({ client: registryClient, topic: config.INPUT_TOPIC, schema: WikiChangeSchema, log });
  const lateCodec = createAvroCodec<WikiChange>({ client: registryClient, topic: config.LATE_TOPIC, schema: WikiChangeSchema, log });
  const aggregateCodec = createAvroCodec<WikiAggregate>({ client: registryClient, topic: config.AGGREGATES_TOPIC, schema: WikiAggregateSchema, log });
  const alertCodec = createAvroCodec<WikiAlert>({ client: registryClient, topic: config.ALERTS_TOPIC, schema: WikiAlertSchema, log });
  const store = createChangelogStore({ connection, topic: config.CHANGELOG_TOPIC, groupId: config.GROUP_ID, log });

  const setup = lifecycle('topics+schemas', {
    async start() {
      const admin = await createAdmin(connection, log);
      try {
        const names = {
          changesAll: config.INPUT_TOPIC,
          changelog: config.CHANGELOG_TOPIC,
          aggregates: config.AGGREGATES_TOPIC,
          alerts: config.ALERTS_TOPIC,
          late: config.LATE_TOPIC,
          dlq: config.DLQ_TOPIC,
        };
        const specs = (only: TopicId[], partitions: Partial<Record<TopicId, number>>) =>
          topicSpecsFor('aggregator', { replicationFactor: config.TOPIC_REPLICATION_FACTOR, names, partitions, only });
        if (config.PROVISION_TOPICS) await ensureTopics(admin, specs(['changesAll'], { changesAll: config.TOPIC_PARTITIONS }), log);
        const meta = await admin.fetchTopicMetadata({ topics: [config.INPUT_TOPIC] });
        const inputPartitions = meta[0]?.partitions.length ?? 0;
        if (!inputPartitions) throw new WikiMonitorError('TOPIC_MISMATCH', `input topic ${config.INPUT_TOPIC} does not exist`, { retriable: true });
        // The changelog mirrors the input's partitioning: a wiki's state lives in its input partition's number.
        const outputs = specs(['changelog', 'aggregates', 'alerts', 'late', 'dlq'], { changesAll: inputPartitions, aggregates: config.TOPIC_PARTITIONS });
        if (config.PROVISION_TOPICS) await ensureTopics(admin, outputs, log);
        const cl = await admin.fetchTopicMetadata({ topics: [config.CHANGELOG_TOPIC] });
        if ((cl[0]?.partitions.length ?? 0) < inputPartitions) {
          throw new WikiMonitorError('TOPIC_MISMATCH', `changelog ${config.CHANGELOG_TOPIC} needs at least ${inputPartitions} partitions (one per input partition)`);
        }
      } finally {
        await admin.disconnect();
      }
      await Promise.all([lateCodec.init(), aggregateCodec.init(), alertCodec.init()]);
    },
  });

  // `service` and `runner` are declared below; these closures run only once the service has started.
  const fatal = (err: unknown) => {
    log.error({ err: (err as Error).message }, 'fatal processing error; stopping');
    void service.close(1);
  };

  const processor = createProcessor({
    topics: { input: config.INPUT_TOPIC, aggregates: config.AGGREGATES_TOPIC, alerts: config.ALERTS_TOPIC, late: config.LATE_TOPIC, dlq: config.DLQ_TOPIC, changelog: config.CHANGELOG_TOPIC },
    window: windowConfig(config),
    idleCloseMs: config.IDLE_CLOSE_MS,
    maxTransactionRetries: config.MAX_TRANSACTION_RETRIES,
    producer,
    store,
    decode: (v) => inputCodec.decode(v),
    encodeAggregate: (a) => aggregateCodec.encode(a),
    encodeAlert: (a) => alertCodec.encode(a),
    consumer: () => runner.consumer,
    log,
    metrics,
    tracer: opts.tracingEnabled ? getTracer(APP_NAME) : null,
    appName: APP_NAME,
    onFatal: fatal,
  });
  const runner = createConsumerRunner({
    connection,
    log,
    groupId: config.GROUP_ID,
    topics: [config.INPUT_TOPIC],
    offsets: 'external',
    isolationLevel: 'read_committed',
    batchSize: config.BATCH_SIZE,
    handle: (batch) => processor.handleBatch(batch),
    positionsOnAssign: (tps) => processor.onAssign(tps),
    onRevoke: (tps) => processor.onRevoke(tps),
    onFatal: fatal,
    overrides: {
      'session.timeout.ms': config.CONSUMER_SESSION_TIMEOUT_MS,
      ...(config.GROUP_INSTANCE_ID ? { 'group.instance.id': config.GROUP_INSTANCE_ID } : {}),
    },
  });

  const http = createHttpServer({
    port: config.HTTP_PORT,
    registry,
    log,
    isLive: () => service.isLive(),
    isReady: () => service.isReady(),
  });

  const service: ServiceHandle = runService({
    name: APP_NAME,
    log,
    // Started in order, closed in reverse: the consumer stops first (its in-flight batch commits),
    // then idle closing stops, then the store and the producer close.
    components: [http, producer, setup, store, processor.lifecycle, runner],
    finally: opts.finally,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    handleSignals: opts.handleSignals,
  });

  return { service, registry, processor, port: () => http.port(), transactionalId };
}
