import {
  type ConsumerRunner,
  type KafkaConnection,
  type KafkaProducer,
  type Message,
  type TopicPartition,
  createConsumerRunner,
  groupMembershipOverrides,
  createProducer,
  ensureTopics,
  headersFromMessage,
  kafkaConnectionFromEnv,
  topicSpecsFor,
  withAdmin,
} from '@wikimonitor/kafka';
import { registryClientFromConfig } from '@wikimonitor/schemas';
import { type Logger, type ServiceHandle, createMetricsRegistry, lifecycle, retry, httpSettings, runHttpService } from '@wikimonitor/service-kit';
import { SpanStatusCode, context, getTracer, startBatchProcessSpan, trace } from '@wikimonitor/telemetry';
import type { Registry } from 'prom-client';
import { analyticsRoutes, createAnalyticsHub } from './analytics-api';
import { historyRoutes, poolBusy } from './api';
import type { AppConfig } from './config';
import { createApiPool, createDatabase, pgTls } from './db';
import { createDecoders, topicKinds } from './decoders';
import { createPersisterMetrics } from './metrics';
import { defaultMigrationsDir, loadMigrations } from './migrate';
import { type BatchOutcome, createPersister } from './persister';
import { type PersistStore, createPgStore } from './store';

export const APP_NAME = 'dedup-persister';

/** librdkafka's logical offsets for a partition with nothing stored. */
const OFFSET_BEGINNING = -2;
const OFFSET_END = -1;
const METADATA_REFRESH_MS = 30_000;
/** For the persister's own pool (migrations, offset loading, probe): generous, only a hung server hits it. */
const PERSISTER_STATEMENT_TIMEOUT_MS = 60_000;
/** Trace links per batch span (a batch can hold thousands of records). */
const MAX_LINKS = 32;

export interface DedupPersisterOptions {
  config: AppConfig;
  log: Logger;
  tracingEnabled?: boolean;
  finally?: Array<() => Promise<void>>;
  handleSignals?: boolean;
  /** Observes every committed batch (tests, benchmarks). */
  onBatch?: (outcome: BatchOutcome) => void;
}

export interface DedupPersisterApp {
  service: ServiceHandle;
  registry: Registry;
  port: () => number;
  store: PersistStore;
  runner: ConsumerRunner;
}

/** Wires the service: http (+ history API), PostgreSQL (migrations, health), DLQ producer, topics, consumer. */
export function createApp(opts: DedupPersisterOptions): DedupPersisterApp {
  const { config, log } = opts;
  const registry = createMetricsRegistry(APP_NAME);
  const metrics = createPersisterMetrics(registry);
  const connection: KafkaConnection = kafkaConnectionFromEnv(config, `wikimonitor-${APP_NAME}`);
  const topics = { changes: config.CHANGES_TOPICS, aggregates: config.AGGREGATES_TOPICS, alerts: config.ALERTS_TOPICS, bsky: config.BLUESKY_TOPICS };
  const kinds = topicKinds(topics);
  const consumed = [...kinds.keys()];

  const ssl = pgTls(config.DATABASE_SSL_MODE, config.DATABASE_SSL_CA);
  const db = createDatabase({
    databaseUrl: config.DATABASE_URL,
    ssl,
    poolSize: config.DB_POOL_SIZE,
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
    connectAttempts: config.DB_CONNECT_ATTEMPTS,
    statementTimeoutMs: PERSISTER_STATEMENT_TIMEOUT_MS,
    healthIntervalMs: config.DB_HEALTH_INTERVAL_MS,
    migrations: loadMigrations(config.MIGRATIONS_DIR ?? defaultMigrationsDir()),
    applyMigrations: config.MIGRATE,
    log,
    onHealth: (up) => metrics.dbUp.set(up ? 1 : 0),
  });
  const apiPool = createApiPool({ databaseUrl: config.DATABASE_URL, ssl, poolSize: config.API_POOL_SIZE, connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS, statementTimeoutMs: config.API_STATEMENT_TIMEOUT_MS, log });
  const apiPoolComponent = lifecycle('postgres-api', { close: () => apiPool.end().catch(() => undefined) });
  const store = createPgStore({ databaseUrl: config.DATABASE_URL, ssl, groupId: config.CONSUMER_GROUP, method: config.WRITE_METHOD, connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS, log, pool: db.pool });
  const storeComponent = lifecycle('postgres-writer', { close: () => store.close() });

  const producer: KafkaProducer = createProducer({ connection, log });
  const decoders = createDecoders({
    client: registryClientFromConfig(config),
    topics,
    log,
  });

  const setup = lifecycle('topics', {
    async start() {
      if (!config.PROVISION_TOPICS) return;
      // Only the dead-letter topic, and only when missing: consumed topics are provisioned by the apps that write them.
      await withAdmin(connection, log, async (admin) => {
        if (!(await admin.listTopics()).includes(config.DLQ_TOPIC)) {
          await ensureTopics(admin, topicSpecsFor('dedup-persister', { replicationFactor: config.TOPIC_REPLICATION_FACTOR, names: { dlq: config.DLQ_TOPIC } }), log);
        }
      });
    },
  });

  const tracer = opts.tracingEnabled ? getTracer(APP_NAME) : null;
  const owned = () => new Set(runner.assignments().map((tp) => `${tp.topic}:${tp.partition}`));

  const hub = createAnalyticsHub({ maxClients: config.EVENT_STREAM_MAX_CLIENTS });
  const persister = createPersister({
    store,
    decoders,
    kindOf: (t) => kinds.get(t),
    deadLetter: async (records) => {
      await Promise.all(records.map((r) => producer.send(r)));
    },
    dlqTopic: config.DLQ_TOPIC,
    metrics,
    log,
    retry: { attempts: config.DB_RETRY_ATTEMPTS, initialMs: config.DB_RETRY_INITIAL_MS, maxMs: config.DB_RETRY_MAX_MS },
    onDbState: (up) => db.report(up),
    owned,
    // Secondary, for lag monitoring: assignment always seeks to the offsets in PostgreSQL.
    afterCommit: (offsets) => {
      if (config.COMMIT_TO_KAFKA && offsets.length) runner.mirror(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.nextOffset })));
    },
    onCommitted: (c) => hub.publish(c),
    app: APP_NAME,
  });

  const handle = async (batch: Message[], signal: AbortSignal): Promise<void> => {
    // Not `onBatch?.(await ...)`: optional chaining would skip the call itself when onBatch is unset.
    if (!tracer) {
      const outcome = await persister.handle(batch, signal);
      opts.onBatch?.(outcome);
      return;
    }
    // Parent: the first sampled record's producer context; links: every record's (see libs/telemetry).
    const span = startBatchProcessSpan(tracer, batch[0]?.topic ?? consumed.join(','), batch.map((m) => headersFromMessage(m.headers)), MAX_LINKS);
    try {
      const outcome = await context.with(trace.setSpan(context.active(), span), () => persister.handle(batch, signal));
      opts.onBatch?.(outcome);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  };

  const positionsOnAssign = async (partitions: TopicPartition[]) => {
    const stored = await retry(() => store.loadOffsets(partitions), {
      attempts: config.DB_RETRY_ATTEMPTS,
      initialMs: config.DB_RETRY_INITIAL_MS,
      maxMs: config.DB_RETRY_MAX_MS,
      onRetry: (err, attempt) => log.warn({ attempt, err: (err as Error).message }, 'loading stored offsets failed, retrying'),
    });
    const fallback = config.START_OFFSET === 'latest' ? OFFSET_END : OFFSET_BEGINNING;
    const positions = partitions.map((p) => {
      const s = stored.find((o) => o.topic === p.topic && o.partition === p.partition);
      return { topic: p.topic, partition: p.partition, offset: s ? s.nextOffset : fallback };
    });
    log.info({ positions }, 'seeking assigned partitions to the offsets stored in PostgreSQL');
    return positions;
  };

  const runner: ConsumerRunner = createConsumerRunner({
    connection,
    log,
    groupId: config.CONSUMER_GROUP,
    topics: consumed,
    offsets: 'external',
    positionsOnAssign,
    // Kafka's offsets follow PostgreSQL's for lag monitoring, confirmed (see mirrorOffsets).
    mirrorOffsets: config.COMMIT_TO_KAFKA,
    batchSize: config.BATCH_SIZE,
    handle: (batch, ctx) => handle(batch, ctx.signal),
    // A consumed topic created after start (its producer started later) is picked up within this time.
    overrides: { 'topic.metadata.refresh.interval.ms': METADATA_REFRESH_MS, ...groupMembershipOverrides(config) },
    onFatal: () => void service.close(1),
  });

  const { service, http } = runHttpService({
    http: {
      ...httpSettings(config),
      registry,
      routes: (app) => {
        // Queries beyond the pool and its bounded queue are refused, not queued (event streams have their own limit).
        const busy = () => poolBusy(apiPool, config.API_POOL_SIZE, config.API_MAX_WAITING);
        // Analytics first: the history routes end with the /api 404 handler.
        analyticsRoutes({ pool: apiPool, log, dbUp: () => db.isUp(), busy, hub })(app);
        historyRoutes({ pool: apiPool, log, dbUp: () => db.isUp(), busy })(app);
      },
    },
    name: APP_NAME,
    log,
    // Closed in reverse: stop consuming (the in-flight batch commits), then producer, writer, pool.
    components: [db, apiPoolComponent, storeComponent, producer, setup, lifecycle('analytics-streams', { close: async () => hub.close() }), runner],
    finally: opts.finally,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    handleSignals: opts.handleSignals,
  });

  return { service, registry, port: () => http.port(), store, runner };
}
