import { type WikiChange, type WikiChangeEnriched, WikiChangeEnrichedSchema, WikiChangeSchema } from '@wikimonitor/contracts';
import { type KafkaConnection, type TopicId, type TransactionalLoop, type TransactionalProducer, createProducer, createTransactionalLoop, ensureTopics, groupMembershipOverrides, kafkaConnectionFromEnv, topicSpecsFor, withAdmin } from '@wikimonitor/kafka';
import { createAvroCodec, registryClientFromConfig } from '@wikimonitor/schemas';
import { type Logger, type ServiceHandle, WikiMonitorError, createMetricsRegistry, lifecycle, runHttpService } from '@wikimonitor/service-kit';
import { SpanStatusCode, getTracer } from '@wikimonitor/telemetry';
import { classify } from '@wikimonitor/domain';
import type { Registry } from 'prom-client';
import { createApiClient } from './api-client';
import { type AppConfig, APP_NAME } from './config';
import { type EnrichSummary, createEnrichSteps } from './enrich-step';
import { createCallLimiter } from './limiter';
import { createEnricherMetrics } from './metrics';
import { type ParkedState, parkedChangelog, parkedCounts } from './parked';

export { APP_NAME } from './config';

export interface EnricherOptions {
  config: AppConfig;
  log: Logger;
  /** Start OpenTelemetry spans (only when the SDK is running). */
  tracingEnabled?: boolean;
  finally?: Array<() => Promise<void>>;
  handleSignals?: boolean;
  /** Wraps the transactional producer (tests inject faults between the loop and the broker). */
  wrapProducer?: (producer: TransactionalProducer) => TransactionalProducer;
}

export interface EnricherApp {
  service: ServiceHandle;
  port: () => number;
  registry: Registry;
  loop: TransactionalLoop<ParkedState>;
}

/**
 * Wires the enricher: the Action API client (User-Agent, timeouts, per-wiki concurrency, overall
 * rate), the transactional producer, topics and schemas, then the kernel's transactional loop with
 * the enrich step, the retry tick and the parked-records changelog.
 */
export function createApp(opts: EnricherOptions): EnricherApp {
  const { config, log } = opts;
  const registry = createMetricsRegistry(APP_NAME);
  const metrics = createEnricherMetrics(registry);
  const connection: KafkaConnection = kafkaConnectionFromEnv(config, `wikimonitor-${APP_NAME}`);
  const producer = createProducer({ connection, log, transactionalId: config.TRANSACTIONAL_ID, overrides: { 'linger.ms': 5 } });
  const registryClient = registryClientFromConfig(config);
  const input = createAvroCodec<WikiChange>({ client: registryClient, topic: config.INPUT_TOPIC, schema: WikiChangeSchema, log });
  const output = createAvroCodec<WikiChangeEnriched>({ client: registryClient, topic: config.OUTPUT_TOPIC, schema: WikiChangeEnrichedSchema, log });
  const tracer = opts.tracingEnabled ? getTracer(APP_NAME) : null;

  const api = createApiClient({
    urlTemplate: config.API_URL,
    userAgent: config.USER_AGENT,
    connectTimeoutMs: config.API_CONNECT_TIMEOUT_MS,
    readTimeoutMs: config.API_READ_TIMEOUT_MS,
    maxlag: config.API_MAXLAG_S,
    content: config.CONTENT_PREFIX_BYTES > 0,
    limiter: createCallLimiter({ perKey: config.API_CONCURRENCY_PER_WIKI, ratePerSecond: config.API_RATE_LIMIT }),
    tracer,
    observe: ({ revids, answer, seconds }) => {
      // The call as a whole: its revisions' own fates (badrevids) are counted when they commit.
      const c = classify(answer, -1);
      const outcome = !c.ok && c.reason === 'badrevids' ? 'ok' : c.ok ? 'ok' : c.reason;
      metrics.apiCalls.inc({ outcome });
      metrics.apiRevids.inc(revids);
      metrics.apiCallSeconds.observe(seconds);
    },
  });

  const setup = lifecycle('topics+schemas', {
    async start() {
      await withAdmin(connection, log, async (admin) => {
        const names = { changesHumanContent: config.INPUT_TOPIC, enriched: config.OUTPUT_TOPIC, enrichErrors: config.ERROR_TOPIC, dlq: config.DLQ_TOPIC, enricherParked: config.PARKED_TOPIC };
        const specs = (only: TopicId[], partitions: Partial<Record<TopicId, number>>) => topicSpecsFor('enricher', { replicationFactor: config.TOPIC_REPLICATION_FACTOR, names, partitions, only });
        if (config.PROVISION_TOPICS) await ensureTopics(admin, specs(['changesHumanContent'], {}), log);
        const meta = await admin.fetchTopicMetadata({ topics: [config.INPUT_TOPIC] });
        const inputPartitions = meta[0]?.partitions.length ?? 0;
        if (!inputPartitions) throw new WikiMonitorError('TOPIC_MISMATCH', `input topic ${config.INPUT_TOPIC} does not exist`, { retriable: true });
        // A page parks in the changelog partition of its input partition's number.
        const outputs = specs(['enricherParked', 'enriched', 'enrichErrors', 'dlq'], {
          changesHumanContent: inputPartitions,
          enriched: config.TOPIC_PARTITIONS,
          enrichErrors: config.ERROR_TOPIC_PARTITIONS,
          dlq: config.DLQ_PARTITIONS,
        });
        if (config.PROVISION_TOPICS) await ensureTopics(admin, outputs, log);
        const cl = await admin.fetchTopicMetadata({ topics: [config.PARKED_TOPIC] });
        if ((cl[0]?.partitions.length ?? 0) < inputPartitions) {
          throw new WikiMonitorError('TOPIC_MISMATCH', `parked-records topic ${config.PARKED_TOPIC} needs at least ${inputPartitions} partitions (one per input partition)`);
        }
      });
      await output.init();
      log.info({ subject: output.subject, schemaId: output.schemaId(), api: config.API_URL, userAgent: config.USER_AGENT }, 'enricher ready to consume');
    },
    close: async () => api.close(),
  });

  const steps = createEnrichSteps({
    api,
    decode: (v) => input.decode(v),
    encode: (e) => output.encode(e),
    topics: { output: config.OUTPUT_TOPIC, errors: config.ERROR_TOPIC, dlq: config.DLQ_TOPIC },
    policy: { maxAttempts: config.RETRY_MAX_ATTEMPTS, initialMs: config.RETRY_INITIAL_MS, maxMs: config.RETRY_MAX_MS, maxRetryAfterMs: config.RETRY_AFTER_MAX_MS },
    maxRevidsPerCall: config.API_MAX_REVIDS,
    contentPrefixBytes: config.CONTENT_PREFIX_BYTES,
    tracer,
    app: APP_NAME,
  });

  const updateGauges = () => {
    let pages = 0;
    let records = 0;
    for (const { state } of loop.snapshot().values()) {
      const c = parkedCounts(state);
      pages += c.pages;
      records += c.records;
    }
    metrics.parkedPages.set(pages);
    metrics.parkedRecords.set(records);
  };
  const endSpans = (summaries: EnrichSummary[], failed: boolean) => {
    for (const s of summaries)
      for (const span of s.spans) {
        if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: 'transaction aborted' });
        span.end();
      }
  };

  const loop: TransactionalLoop<ParkedState> = createTransactionalLoop<ParkedState, EnrichSummary>({
    connection,
    log,
    groupId: config.GROUP_ID,
    topic: config.INPUT_TOPIC,
    producer: opts.wrapProducer ? opts.wrapProducer(producer) : producer,
    app: APP_NAME,
    dlqTopic: config.DLQ_TOPIC,
    step: steps.step,
    tick: { everyMs: config.TICK_MS, run: steps.tick },
    initialState: () => new Map(),
    changelog: parkedChangelog(config.PARKED_TOPIC),
    batchSize: config.BATCH_SIZE,
    consumerOverrides: { ...groupMembershipOverrides(config) },
    retry: { initialMs: config.TXN_RETRY_INITIAL_MS, maxMs: config.TXN_RETRY_MAX_MS },
    hooks: {
      consumed: (n) => metrics.consumed.inc(n),
      aborted: (info) => {
        metrics.transactions.inc({ kind: info.kind, result: 'aborted' });
        endSpans(info.summaries, true);
      },
      committed: (info) => {
        metrics.transactions.inc({ kind: info.kind, result: 'committed' });
        metrics.transactionSeconds.observe(info.seconds);
        for (const s of info.summaries) {
          metrics.enriched.inc(s.enriched);
          metrics.held.inc(s.held);
          for (const [reason, n] of Object.entries(s.errors)) metrics.errorTopic.inc({ reason }, n);
          for (const [reason, n] of Object.entries(s.retries)) metrics.retries.inc({ reason }, n);
          for (const [code, n] of Object.entries(s.invalid)) metrics.deadLettered.inc({ code }, n);
        }
        for (const i of info.isolated) metrics.deadLettered.inc({ code: i.code });
        endSpans(info.summaries, false);
        updateGauges();
      },
      restored: () => updateGauges(),
    },
    onFatal: () => void service.close(1),
  });

  // Closed in reverse: the loop stops consuming first (its in-flight transaction commits or aborts), then the producer.
  const { service, http } = runHttpService({
    http: { port: config.HTTP_PORT, registry },
    name: APP_NAME,
    log,
    components: [producer, setup, loop],
    finally: opts.finally,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    handleSignals: opts.handleSignals,
  });

  return { service, port: () => http.port(), registry, loop };
}
