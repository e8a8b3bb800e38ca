import { type BlueskyEvent, BlueskyEventSchema, type WikiChange, WikiChangeSchema } from '@wikimonitor/contracts';
import { type RouteTarget, type RoutingRules, routeBlueskyEvent, routeChange } from '@wikimonitor/domain';
import { type KafkaConnection, type LoopStats, type TransactionalProducer, createProducer, createTransactionalLoop, groupMembershipOverrides, provisionTopics, kafkaConnectionFromEnv, topicSpecsFor } from '@wikimonitor/kafka';
import { type AvroCodec, createAvroCodec, registryClientFromConfig } from '@wikimonitor/schemas';
import { type Logger, type ServiceHandle, createMetricsRegistry, lifecycle, httpSettings, runHttpService } from '@wikimonitor/service-kit';
import { SpanStatusCode, getTracer } from '@wikimonitor/telemetry';
import type { Registry } from 'prom-client';
import { type AppConfig, APP_NAME } from './config';
import { createRouterMetrics } from './metrics';
import { type RouteSummary, createRouteStep } from './route-step';
import { loadBlueskyRoutingRules, loadRoutingRules } from './rules';

export { APP_NAME } from './config';

export interface FilterRouterOptions {
  config: AppConfig;
  log: Logger;
  /** Start OpenTelemetry spans per routed record (only when the SDK is running). */
  tracingEnabled?: boolean;
  finally?: Array<() => Promise<void>>;
  handleSignals?: boolean;
  /** Wraps the transactional producer (tests inject faults between the loop and the broker). */
  wrapProducer?: (producer: TransactionalProducer) => TransactionalProducer;
}

export interface RouterStats extends LoopStats {
  routed: Record<string, number>;
  deadLettered: number;
}

export interface FilterRouterApp<R = RoutingRules> {
  service: ServiceHandle;
  port: () => number;
  registry: Registry;
  /** The stream's validated rules (RoutingRules, or BlueskyRoutingRules for STREAM=bluesky). */
  rules: R;
  stats(): RouterStats;
}

/** What differs between the streams: the record schema, the rules and their pure routing. */
interface StreamRouting<T extends { id: string }> {
  schema: object;
  rules: { readonly routes: ReadonlyArray<{ readonly name: string; readonly topic: string; readonly key: string }> };
  source: string;
  route: (record: T) => RouteTarget[];
}

function streamRouting(config: AppConfig): StreamRouting<WikiChange> | StreamRouting<BlueskyEvent> {
  const files = { file: config.ROUTES_FILE, inputTopic: config.INPUT_TOPIC, dlqTopic: config.DLQ_TOPIC };
  if (config.STREAM === 'bluesky') {
    const { rules, source } = loadBlueskyRoutingRules(files);
    return { schema: BlueskyEventSchema, rules, source, route: (e: BlueskyEvent) => routeBlueskyEvent(rules, e) };
  }
  const { rules, source } = loadRoutingRules(files);
  return { schema: WikiChangeSchema, rules, source, route: (c: WikiChange) => routeChange(rules, c) };
}

/**
 * Wires the filter-router: rules (validated before anything connects), http, the transactional
 * producer, topics and schemas, then the consumer whose batches become transactions.
 */
export function createApp<R = RoutingRules>(opts: FilterRouterOptions): FilterRouterApp<R> {
  return createRouter<WikiChange | BlueskyEvent, R>(opts, streamRouting(opts.config) as StreamRouting<WikiChange | BlueskyEvent>);
}

function createRouter<T extends { id: string }, R>(opts: FilterRouterOptions, stream: StreamRouting<T>): FilterRouterApp<R> {
  const { config, log } = opts;
  const { rules, source } = stream;
  const registry = createMetricsRegistry(APP_NAME);
  const metrics = createRouterMetrics(registry);
  metrics.routes.set(rules.routes.length);
  const connection: KafkaConnection = kafkaConnectionFromEnv(config, `wikimonitor-${APP_NAME}`);

  const producer = createProducer({
    connection,
    log,
    transactionalId: config.TRANSACTIONAL_ID,
    overrides: { 'linger.ms': config.PRODUCER_LINGER_MS },
  });
  const registryClient = registryClientFromConfig(config);
  // The input codec only reads (writer schemas by id); registering under the input subject is the producer's job.
  const input = createAvroCodec<T>({ client: registryClient, topic: config.INPUT_TOPIC, schema: stream.schema, log });
  const outputs = new Map<string, AvroCodec<T>>(rules.routes.map((r) => [r.topic, createAvroCodec<T>({ client: registryClient, topic: r.topic, schema: stream.schema, log })]));

  const setup = lifecycle('topics+schemas', {
    async start() {
      log.info({ stream: config.STREAM, source, routes: rules.routes.map((r) => ({ name: r.name, topic: r.topic, key: r.key })) }, 'routing rules loaded');
      if (config.PROVISION_TOPICS) {
        await provisionTopics(
          connection,
          topicSpecsFor('filter-router', {
            replicationFactor: config.TOPIC_REPLICATION_FACTOR,
            names: { dlq: config.DLQ_TOPIC },
            partitions: { dlq: config.DLQ_PARTITIONS },
            routes: rules.routes.map((r) => r.topic),
            routePartitions: config.TOPIC_PARTITIONS,
          }),
          log,
        );
      }
      for (const codec of outputs.values()) await codec.init();
      log.info({ subjects: [...outputs.values()].map((c) => ({ subject: c.subject, schemaId: c.schemaId() })) }, 'route schemas registered');
    },
  });

  const counts = { routed: {} as Record<string, number>, deadLettered: 0 };
  const endSpans = (summaries: RouteSummary[], failed: boolean) => {
    for (const s of summaries)
      for (const o of s.outcomes) {
        if (failed) o.span?.setStatus({ code: SpanStatusCode.ERROR, message: 'transaction aborted' });
        o.span?.end();
      }
  };
  const loop = createTransactionalLoop<undefined, RouteSummary>({
    connection,
    log,
    groupId: config.GROUP_ID,
    topic: config.INPUT_TOPIC,
    producer: opts.wrapProducer ? opts.wrapProducer(producer) : producer,
    app: APP_NAME,
    dlqTopic: config.DLQ_TOPIC,
    step: createRouteStep<T>({ route: stream.route, input, outputs, dlqTopic: config.DLQ_TOPIC, tracer: opts.tracingEnabled ? getTracer(APP_NAME) : null }),
    initialState: () => undefined,
    batchSize: config.BATCH_SIZE,
    consumerOverrides: {
      ...groupMembershipOverrides(config),
    },
    retry: { initialMs: config.RETRY_INITIAL_MS, maxMs: config.RETRY_MAX_MS },
    hooks: {
      consumed: (n) => metrics.consumed.inc(n),
      aborted: (info) => {
        metrics.aborted.inc({ code: info.code });
        endSpans(info.summaries, true);
      },
      committed: (info) => {
        metrics.committed.inc();
        metrics.transactionSeconds.observe(info.seconds);
        metrics.batchRecords.observe(info.inputs);
        let newest = 0;
        for (const s of info.summaries) {
          newest = Math.max(newest, s.newest);
          for (const o of s.outcomes) {
            if (o.kind === 'dead-letter') {
              counts.deadLettered++;
              metrics.deadLettered.inc({ code: o.code });
              continue;
            }
            if (!o.routes.length) metrics.unrouted.inc();
            for (const route of o.routes) {
              counts.routed[route] = (counts.routed[route] ?? 0) + 1;
              metrics.routed.inc({ route });
            }
          }
        }
        for (const i of info.isolated) {
          counts.deadLettered++;
          metrics.deadLettered.inc({ code: i.code });
        }
        if (newest) metrics.lastEventTime.set(newest / 1000);
        endSpans(info.summaries, false);
      },
    },
    onFatal: () => void service.close(1),
  });

  // Closed in reverse: the consumer first (its in-flight transaction commits or aborts), then the producer.
  const { service, http } = runHttpService({
    http: { ...httpSettings(config), registry },
    name: APP_NAME,
    log,
    components: [producer, setup, loop],
    finally: opts.finally,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    handleSignals: opts.handleSignals,
  });

  return { service, port: () => http.port(), registry, rules: rules as R, stats: () => ({ ...loop.stats(), routed: { ...counts.routed }, deadLettered: counts.deadLettered }) };
}
