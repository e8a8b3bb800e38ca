import { hostname } from 'node:os';
import type { BlueskyEvent, WikiAggregate, WikiAlert, WikiChange } from '@wikimonitor/contracts';
import { BlueskyEventSchema, WikiAggregateSchema, WikiAlertSchema, WikiChangeSchema } from '@wikimonitor/contracts';
import { type AggregatableChange, type MergeState, type WindowConfig, blueskyAggregatable } from '@wikimonitor/domain';
import { type KafkaConnection, type LoopHooks, type TopicId, type TransactionalLoop, type TransactionalProducer, createProducer, createTransactionalLoop, ensureTopics, groupMembershipOverrides, kafkaConnectionFromEnv, topicSpecsFor, withAdmin } from '@wikimonitor/kafka';
import { createAvroCodec, registryClientFromConfig } from '@wikimonitor/schemas';
import { type Logger, type ServiceHandle, WikiMonitorError, createMetricsRegistry, lifecycle, httpSettings, runHttpService } from '@wikimonitor/service-kit';
import { getTracer } from '@wikimonitor/telemetry';
import type { Registry } from 'prom-client';
import type { AppConfig } from './config';
import { type AggregateSummary, type PartitionWindows, createAggregateSteps } from './aggregate-step';
import { type PartialPartitionState, createMergeSteps, createPartialSteps } from './two-stage-step';
import { createAggregatorMetrics } from './metrics';

export const APP_NAME = 'aggregator';

export interface AggregatorAppOptions {
  config: AppConfig;
  log: Logger;
  tracingEnabled?: boolean;
  finally?: Array<() => Promise<void>>;
  handleSignals?: boolean;
  /** Wraps the transactional producer (tests inject faults between the loop and the broker). */
  wrapProducer?: (producer: TransactionalProducer) => TransactionalProducer;
}

export interface AggregatorApp {
  service: ServiceHandle;
  registry: Registry;
  /** The loop over the input (two-stage: stage 1, partial windows). */
  loop: TransactionalLoop<PartitionWindows> | TransactionalLoop<PartialPartitionState>;
  /** two-stage: stage 2, the merge per wiki. */
  mergeLoop?: TransactionalLoop<MergeState>;
  port: () => number;
  transactionalId: string;
}

export function windowConfig(config: AppConfig): WindowConfig {
  return {
    sizeMs: config.WINDOW_SIZE_MS,
    allowedLatenessMs: config.ALLOWED_LATENESS_MS,
    topPages: config.TOP_PAGES,
    alertSource: config.STREAM === 'bluesky' ? `${APP_NAME}-bsky` : APP_NAME,
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

/** Wires the aggregator: http, transactional producer, topics + schemas, then the transactional loop running the aggregate steps. */
export function createApp(opts: AggregatorAppOptions): AggregatorApp {
  const { config, log } = opts;
  const registry = createMetricsRegistry(APP_NAME);
  const metrics = createAggregatorMetrics(registry);
  const connection: KafkaConnection = kafkaConnectionFromEnv(config, `wikimonitor-${APP_NAME}`);
  const transactionalId = config.TRANSACTIONAL_ID ?? `${config.GROUP_ID}-${hostname()}`;
  const twoStage = config.AGGREGATION_MODE === 'two-stage';
  if (twoStage && config.STREAM !== 'wikimedia') throw new WikiMonitorError('CONFIG_INVALID', 'AGGREGATION_MODE=two-stage is for STREAM=wikimedia (the Bluesky stream is small enough for one partition per subject)');
  const producer = createProducer({ connection, log, transactionalId, overrides: { 'linger.ms': 5 } });
  // Stage 2 of two-stage is a loop of its own: its own transactional id, fenced like the first.
  const mergeProducer = twoStage ? createProducer({ connection, log, transactionalId: `${transactionalId}-merge`, overrides: { 'linger.ms': 5 } }) : undefined;
  const registryClient = registryClientFromConfig(config);
  // The one difference between the streams: the input schema, and how a record becomes what the windows read.
  let decode: (v: Buffer) => Promise<AggregatableChange>;
  let lateCodec: { init(): Promise<unknown> };
  if (config.STREAM === 'bluesky') {
    const input = createAvroCodec<BlueskyEvent>({ client: registryClient, topic: config.INPUT_TOPIC, schema: BlueskyEventSchema, log });
    decode = async (v) => blueskyAggregatable(await input.decode(v));
    lateCodec = createAvroCodec<BlueskyEvent>({ client: registryClient, topic: config.LATE_TOPIC, schema: BlueskyEventSchema, log });
  } else {
    const input = createAvroCodec<WikiChange>({ client: registryClient, topic: config.INPUT_TOPIC, schema: WikiChangeSchema, log });
    decode = (v) => input.decode(v);
    lateCodec = createAvroCodec<WikiChange>({ client: registryClient, topic: config.LATE_TOPIC, schema: WikiChangeSchema, log });
  }
  const aggregateCodec = createAvroCodec<WikiAggregate>({ client: registryClient, topic: config.AGGREGATES_TOPIC, schema: WikiAggregateSchema, log });
  const alertCodec = createAvroCodec<WikiAlert>({ client: registryClient, topic: config.ALERTS_TOPIC, schema: WikiAlertSchema, log });

  /** Partition counts found at start (two-stage progress records go to every partials partition). */
  const counts = { input: 0, partials: 0 };
  const setup = lifecycle('topics+schemas', {
    async start() {
      await withAdmin(connection, log, async (admin) => {
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
        counts.input = inputPartitions;
        if (twoStage) {
          const stageNames = { ...names, partials: config.PARTIALS_TOPIC, mergeChangelog: config.MERGE_CHANGELOG_TOPIC };
          const stageSpecs = (only: TopicId[], partitions: Partial<Record<TopicId, number>>) =>
            topicSpecsFor('aggregator', { replicationFactor: config.TOPIC_REPLICATION_FACTOR, names: stageNames, partitions, only });
          if (config.PROVISION_TOPICS) await ensureTopics(admin, stageSpecs(['partials'], { partials: config.TOPIC_PARTITIONS }), log);
          const pm = await admin.fetchTopicMetadata({ topics: [config.PARTIALS_TOPIC] });
          counts.partials = pm[0]?.partitions.length ?? 0;
          if (!counts.partials) throw new WikiMonitorError('TOPIC_MISMATCH', `partials topic ${config.PARTIALS_TOPIC} does not exist`, { retriable: true });
          if (config.PROVISION_TOPICS) await ensureTopics(admin, stageSpecs(['mergeChangelog'], { partials: counts.partials }), log);
          const mc = await admin.fetchTopicMetadata({ topics: [config.MERGE_CHANGELOG_TOPIC] });
          if ((mc[0]?.partitions.length ?? 0) < counts.partials) {
            throw new WikiMonitorError('TOPIC_MISMATCH', `merge changelog ${config.MERGE_CHANGELOG_TOPIC} needs at least ${counts.partials} partitions (one per partials partition)`);
          }
        }
      });
      await Promise.all([lateCodec.init(), aggregateCodec.init(), alertCodec.init()]);
    },
  });

  // `service` is declared below; these closures run only once the service has started.
  const fatal = (err: unknown) => {
    log.error({ err: (err as Error).message }, 'fatal processing error; stopping');
    void service.close(1);
  };

  const steps = createAggregateSteps({
    topics: { aggregates: config.AGGREGATES_TOPIC, alerts: config.ALERTS_TOPIC, late: config.LATE_TOPIC, dlq: config.DLQ_TOPIC, changelog: config.CHANGELOG_TOPIC },
    window: windowConfig(config),
    idleCloseMs: config.IDLE_CLOSE_MS,
    decode,
    encodeAggregate: (a) => aggregateCodec.encode(a),
    encodeAlert: (a) => alertCodec.encode(a),
    tracer: opts.tracingEnabled ? getTracer(APP_NAME) : null,
    app: APP_NAME,
    maxFutureSkewMs: config.MAX_FUTURE_SKEW_MS,
    onDistrustedState: (wiki, before, after) => {
      metrics.distrustedStates.inc();
      log.warn({ wiki, maxEventTime: before.maxEventTime, closedUpTo: before.closedUpTo, rebuiltMaxEventTime: after.maxEventTime, rebuiltClosedUpTo: after.closedUpTo }, 'restored wiki state beyond the wall clock plus skew: rebuilt');
    },
  });

  /** Wikis with state and open windows (two-stage: per input partition, so a wiki counts once per partition holding it). */
  const stateCounts = (): { wikis: number; windows: number } => {
    let wikis = 0;
    let windows = 0;
    if (perWiki) {
      for (const { state } of perWiki.snapshot().values()) {
        wikis += state.wikis.size;
        for (const s of state.wikis.values()) windows += s.windows.length;
      }
    }
    if (partials) {
      for (const { state } of partials.snapshot().values()) {
        wikis += state.partials.windows.size;
        for (const list of state.partials.windows.values()) windows += list.length;
      }
    }
    return { wikis, windows };
  };
  const updateGauges = () => {
    const c = stateCounts();
    metrics.wikis.set(c.wikis);
    metrics.openWindows.set(c.windows);
  };
  let maxEventTime = 0;
  const endSpans = (summaries: AggregateSummary[]) => summaries.forEach((s) => s.span?.end());

  /** Metrics and spans of a loop's transactions (both stages in two-stage mode count into the same metrics). */
  const hooks = (): LoopHooks<AggregateSummary> => ({
    aborted: (info) => {
      metrics.transactions.inc({ result: 'aborted' });
      for (const s of info.summaries) s.span?.recordException(new Error(info.message));
      endSpans(info.summaries);
    },
    committed: (info) => {
      metrics.transactions.inc({ result: 'committed' });
      metrics.transactionSeconds.observe(info.seconds);
      for (const c of info.summaries) {
        metrics.consumed.inc(c.consumed);
        if (c.late) metrics.late.inc(c.late);
        for (const reason of ['watermark', 'idle'] as const) if (c.windows[reason]) metrics.windowsClosed.inc({ reason }, c.windows[reason]);
        for (const severity of c.alerts) metrics.alerts.inc({ severity });
        for (const code of c.dead) metrics.deadLettered.inc({ code });
        maxEventTime = Math.max(maxEventTime, c.maxEventTime);
      }
      for (const i of info.isolated) metrics.deadLettered.inc({ code: i.code });
      if (maxEventTime) metrics.maxEventTime.set(maxEventTime / 1000);
      if (info.kind === 'tick') log.debug({ windows: info.summaries.reduce((n, s) => n + s.windows.idle, 0) }, 'idle windows closed');
      endSpans(info.summaries);
      updateGauges();
    },
    restored: (info) => {
      metrics.restoreSeconds.observe(info.seconds);
      const snapshot = perWiki?.snapshot();
      if (snapshot) metrics.restoredWikis.inc(info.partitions.reduce((n, p) => n + (snapshot.get(p)?.state.wikis.size ?? 0), 0));
      updateGauges();
    },
  });

  const common = {
    connection,
    log,
    app: APP_NAME,
    dlqTopic: config.DLQ_TOPIC,
    batchSize: config.BATCH_SIZE,
    consumerOverrides: { ...groupMembershipOverrides(config) },
    retry: { initialMs: 200, maxMs: 5_000, maxAttempts: config.MAX_TRANSACTION_RETRIES },
    onFatal: fatal,
  };
  const tickEveryMs = Math.max(50, Math.min(1_000, Math.floor(config.IDLE_CLOSE_MS / 4)));
  const inputProducer = opts.wrapProducer ? opts.wrapProducer(producer) : producer;
  const perWiki: TransactionalLoop<PartitionWindows> | undefined = twoStage
    ? undefined
    : createTransactionalLoop<PartitionWindows, AggregateSummary>({
        ...common,
        groupId: config.GROUP_ID,
        topic: config.INPUT_TOPIC,
        producer: inputProducer,
        step: steps.step,
        initialState: steps.initial,
        changelog: steps.changelog,
        tick: { everyMs: tickEveryMs, run: steps.closeIdle },
        hooks: hooks(),
      });

  // two-stage: stage 1 (partial windows per input partition) and stage 2 (merge per wiki).
  const tracer = opts.tracingEnabled ? getTracer(APP_NAME) : null;
  let partials: TransactionalLoop<PartialPartitionState> | undefined;
  let mergeLoop: TransactionalLoop<MergeState> | undefined;
  if (twoStage && mergeProducer) {
    const partialSteps = createPartialSteps({
      topics: { partials: config.PARTIALS_TOPIC, late: config.LATE_TOPIC, dlq: config.DLQ_TOPIC, changelog: config.CHANGELOG_TOPIC },
      window: windowConfig(config),
      idleCloseMs: config.IDLE_CLOSE_MS,
      decode,
      tracer,
      app: APP_NAME,
      maxFutureSkewMs: config.MAX_FUTURE_SKEW_MS,
      partialPartitions: () => counts.partials,
      inputPartitions: () => counts.input,
    });
    partials = createTransactionalLoop<PartialPartitionState, AggregateSummary>({
      ...common,
      groupId: config.GROUP_ID,
      topic: config.INPUT_TOPIC,
      producer: inputProducer,
      step: partialSteps.step,
      initialState: partialSteps.initial,
      changelog: partialSteps.changelog,
      tick: { everyMs: tickEveryMs, run: partialSteps.closeIdle },
      hooks: hooks(),
    });
    const mergeSteps = createMergeSteps({
      topics: { aggregates: config.AGGREGATES_TOPIC, alerts: config.ALERTS_TOPIC, dlq: config.DLQ_TOPIC, changelog: config.MERGE_CHANGELOG_TOPIC },
      window: windowConfig(config),
      encodeAggregate: (a) => aggregateCodec.encode(a),
      encodeAlert: (a) => alertCodec.encode(a),
      tracer,
      app: APP_NAME,
    });
    const mergeHooks = hooks();
    mergeLoop = createTransactionalLoop<MergeState, AggregateSummary>({
      ...common,
      groupId: `${config.GROUP_ID}-merge`,
      topic: config.PARTIALS_TOPIC,
      producer: opts.wrapProducer ? opts.wrapProducer(mergeProducer) : mergeProducer,
      step: mergeSteps.step,
      initialState: mergeSteps.initial,
      changelog: mergeSteps.changelog,
      // Its inputs are the first stage's records, not changes: only the first stage counts consumed changes.
      hooks: { ...mergeHooks, committed: (info) => mergeHooks.committed?.({ ...info, summaries: info.summaries.map((m) => ({ ...m, consumed: 0 })) }) },
    });
  }
  const loop = (perWiki ?? partials) as TransactionalLoop<PartitionWindows> | TransactionalLoop<PartialPartitionState>;

  const { service, http } = runHttpService({
    http: { ...httpSettings(config), registry },
    name: APP_NAME,
    log,
    // Started in order, closed in reverse: the loop stops consuming first (its in-flight batch
    // commits), then idle closing stops, then the producer closes.
    components: mergeProducer && mergeLoop ? [producer, mergeProducer, setup, loop, mergeLoop] : [producer, setup, loop],
    finally: opts.finally,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    handleSignals: opts.handleSignals,
  });

  return { service, registry, loop, mergeLoop, port: () => http.port(), transactionalId };
}
