import { type WikiAlert, WikiAlertSchema } from '@wikimonitor/contracts';
import { consumerStatusAlert, parseStreamPrefixes, shouldAlert } from '@wikimonitor/domain';
import { type GroupAdmin, type KafkaConnection, type KafkaProducer, type Lease, createGroupAdmin, createLease, createProducer, describeGroupsVerdict, groupMembershipOverrides, provisionTopics, kafkaConnectionFromEnv, topicSpecsFor } from '@wikimonitor/kafka';
import { type FirstRecordReader, createFirstRecordReader } from '@wikimonitor/lag';
import { createAvroCodec, registryClientFromConfig } from '@wikimonitor/schemas';
import { type Lifecycle, type Logger, type ServiceHandle, createMetricsRegistry, describeError, lifecycle, httpSettings, runHttpService } from '@wikimonitor/service-kit';
import type { Registry } from 'prom-client';
import { createAlertKafka } from './alert-kafka';
import { type AlertSink, type Leadership, createAlertSink } from './alerts';
import { type CommitLog, createCommitLog } from './commit-log';
import { type AppConfig, groupFilter, staleAfterMs } from './config';
import { type Api, createApi } from './http-api';
import { createMonitorMetrics } from './metrics';
import { type CycleResult, type LagMonitor, createLagMonitor } from './monitor';
import { type EndToEndProbe, createProbe } from './probe';

export const APP_NAME = 'lag-monitor';

type CycleAdmin = Pick<GroupAdmin, 'listGroups' | 'describeGroups' | 'fetchCommitted' | 'fetchPartitions' | 'fetchWatermarks' | 'close' | 'describeGroupsGuard'>;

export interface LagMonitorAppOptions {
  config: AppConfig;
  log: Logger;
  finally?: Array<() => Promise<void>>;
  handleSignals?: boolean;
  /** Test seams: replace the broker-facing parts (the HTTP API, metrics and status logic stay real). */
  overrides?: {
    admin?: () => Promise<CycleAdmin>;
    reader?: FirstRecordReader;
  };
}

export interface LagMonitorApp {
  service: ServiceHandle;
  registry: Registry;
  monitor: LagMonitor;
  api: Api;
  port(): number;
  /** Resolves after the next completed cycle (tests, benchmarks). */
  nextCycle(): Promise<CycleResult>;
  alertsInFlight(): number;
  /** Whether this instance publishes alerts (holds the leader lease), and since when. */
  leadership(): Leadership;
}

/**
 * Wires lag-monitor: HTTP (API, dashboard, health, metrics), an alert producer, topic and schema
 * set-up, the admin and record-reader clients, the commit-log tail, the end-to-end probe, and the
 * cycle loop. Closing runs in reverse: the loop finishes its cycle, the probe and alert deliveries
 * drain, clients disconnect, the producer flushes, HTTP goes last.
 */
export function createApp(opts: LagMonitorAppOptions): LagMonitorApp {
  const { config, log } = opts;
  const registry = createMetricsRegistry(APP_NAME);
  const metrics = createMonitorMetrics(registry, { partitionSeries: config.METRICS_PARTITION_SERIES, clusterName: config.METRICS_CLUSTER_NAME, health: () => monitor.health(), leadership: () => alerts.leadership(), describesMembers: () => admin?.describeGroupsGuard?.safe !== false });
  const connection: KafkaConnection = kafkaConnectionFromEnv(config, `wikimonitor-${APP_NAME}`);
  const includeGroup = groupFilter(config);
  const usesKafka = !opts.overrides?.admin;
  const alertsToKafka = config.ALERTS_ENABLED && usesKafka;
  const probeOn = config.PROBE_ENABLED && usesKafka;
  const commitLogOn = config.COMMIT_LOG_ENABLED && usesKafka;

  // The probe's producer; alerts have their own, transactional, one per leadership term.
  const producer: KafkaProducer | undefined = probeOn ? createProducer({ connection, log, overrides: { 'linger.ms': 0 } }) : undefined;
  const codec = alertsToKafka
    ? createAvroCodec<WikiAlert>({
        client: registryClientFromConfig(config),
        topic: config.ALERTS_TOPIC,
        schema: WikiAlertSchema,
        log,
      })
    : undefined;

  const setup = lifecycle('topics+schema', {
    async start() {
      if (config.PROVISION_TOPICS && (alertsToKafka || probeOn)) {
        await provisionTopics(
          connection,
          topicSpecsFor('lag-monitor', {
            replicationFactor: config.TOPIC_REPLICATION_FACTOR,
            names: { alerts: config.ALERTS_TOPIC, probe: config.PROBE_TOPIC, lease: config.LEASE_TOPIC },
            partitions: { alerts: config.ALERTS_TOPIC_PARTITIONS, probe: config.PROBE_PARTITIONS },
            only: [...(alertsToKafka ? (['alerts', 'lease'] as const) : []), ...(probeOn ? (['probe'] as const) : [])],
          }),
          log,
        );
      }
      if (codec) {
        await codec.init();
        log.info({ subject: codec.subject, schemaId: codec.schemaId() }, 'alert schema registered');
      }
    },
  });

  let admin: CycleAdmin | undefined;
  const adminComponent = lifecycle('lag-admin', {
    async start() {
      admin = opts.overrides?.admin
        ? await opts.overrides.admin()
        : await createGroupAdmin({ connection, log, timeoutMs: config.ADMIN_TIMEOUT_MS, isolation: config.END_OFFSET_ISOLATION, guardDescribeGroups: describeGroupsVerdict });
    },
    close: async () => admin?.close(),
    isReady: () => !!admin,
  });
  const need = () => {
    if (!admin) throw new Error('admin client not started');
    return admin;
  };

  const reader: FirstRecordReader =
    opts.overrides?.reader ?? createFirstRecordReader({ connection, log, timeoutMs: config.RECORD_READ_TIMEOUT_MS, isolation: config.END_OFFSET_ISOLATION });
  const commitLog: CommitLog | undefined = commitLogOn ? createCommitLog({ connection, log, topic: config.COMMIT_LOG_TOPIC, includeGroup }) : undefined;

  const monitor = createLagMonitor({
    admin: {
      listGroups: () => need().listGroups(),
      describeGroups: (ids) => need().describeGroups(ids),
      fetchCommitted: (id) => need().fetchCommitted(id),
      fetchPartitions: (topics) => need().fetchPartitions(topics),
      fetchWatermarks: (tps) => need().fetchWatermarks(tps),
    },
    reader,
    commitLog: commitLog ?? null,
    includeGroup,
    extraTopics: config.BALANCE_TOPICS,
    streams: parseStreamPrefixes(config.STREAMS),
    windowCycles: config.WINDOW_CYCLES,
    intervalMs: config.CYCLE_INTERVAL_MS,
    historyCycles: config.HISTORY_CYCLES,
    goneRetentionMs: config.GONE_GROUP_RETENTION_MS,
    stuckTransactionMs: config.STUCK_TRANSACTION_MS,
    health: { unreadyAfterFailures: config.UNREADY_AFTER_FAILED_CYCLES, overdueMs: staleAfterMs(config) },
    adminConcurrency: config.ADMIN_CONCURRENCY,
    log,
  });

  const alerts: AlertSink = createAlertSink({
    log,
    enabled: config.ALERTS_ENABLED,
    kafka: codec && alertsToKafka ? createAlertKafka({ connection, log, topic: config.ALERTS_TOPIC, transactionalId: config.ALERTS_TRANSACTIONAL_ID, codec, source: APP_NAME }) : undefined,
    lookBackMs: config.ALERT_LOOKBACK_MS,
    // Two instances' cycles run up to an interval apart, plus a slow cycle.
    toleranceMs: 2 * config.CYCLE_INTERVAL_MS,
    webhook: config.ALERTS_ENABLED && config.ALERT_WEBHOOK_URL ? { url: config.ALERT_WEBHOOK_URL, timeoutMs: config.ALERT_WEBHOOK_TIMEOUT_MS, attempts: config.ALERT_WEBHOOK_ATTEMPTS, format: config.ALERT_WEBHOOK_FORMAT, externalUrl: config.ALERT_EXTERNAL_URL ?? '' } : undefined,
    hooks: {
      onDelivered: (sink) => metrics.alerts.inc({ sink, result: 'delivered' }),
      onFailed: (sink) => metrics.alerts.inc({ sink, result: 'failed' }),
    },
  });

  // Several instances: the one assigned the lease partition publishes alerts; every one computes and serves.
  const lease: Lease | undefined = alertsToKafka
    ? createLease({
        connection,
        log,
        groupId: config.LEASE_GROUP_ID,
        topic: config.LEASE_TOPIC,
        overrides: groupMembershipOverrides(config),
        onAcquire: (signal) => void alerts.acquire(signal),
        onLose: () => alerts.lose(),
        onFatal: (err) => {
          log.fatal({ err: describeError(err) }, 'the leader lease consumer failed for good (e.g. GROUP_INSTANCE_ID taken over by another instance): stopping');
          void started.service.close(1); // only ever called once the service runs
        },
      })
    : undefined;

  const probe: EndToEndProbe | undefined =
    probeOn && producer
      ? createProbe({
          connection,
          producer,
          log,
          topic: config.PROBE_TOPIC,
          partitions: config.PROBE_PARTITIONS,
          intervalMs: config.PROBE_INTERVAL_MS,
          timeoutMs: config.PROBE_TIMEOUT_MS,
          hooks: {
            onRoundTrip: (ms) => metrics.probeRoundTrip.observe(ms / 1000),
            onSent: () => metrics.probesSent.inc(),
            onLost: (n) => metrics.probesLost.inc(n),
          },
        })
      : undefined;

  const api = createApi({ monitor, probe: () => probe?.stats() ?? null, leadership: () => alerts.leadership(), maxStreamClients: config.EVENT_STREAM_MAX_CLIENTS, log });
  const waiters: Array<(r: CycleResult) => void> = [];

  function onCycle(result: CycleResult) {
    metrics.update(result, monitor, reader.stats(), commitLog?.caughtUp() ?? false);
    for (const change of result.changes) {
      log.info({ group: change.group, previous: change.previous, status: change.status, lag: change.totalLag, lagSeconds: change.maxLagSeconds }, 'group status changed');
      // Every instance remembers its alerts; the leader publishes them (a standby's, once it leads).
      if (config.ALERTS_ENABLED && shouldAlert(change)) alerts.raise(consumerStatusAlert(change, APP_NAME));
    }
    api.broadcast();
    waiters.splice(0).forEach((w) => w(result));
  }

  function onCycleFailed(err: unknown) {
    metrics.cycles.inc({ result: 'error' });
    const health = monitor.health();
    log.warn({ err: describeError(err), consecutiveFailures: health.consecutiveFailures, staleSince: health.staleSince, ready: health.ready }, 'monitoring cycle failed; serving the last report marked stale, retrying next interval');
    // Dashboards learn at once that what they show is stale.
    api.broadcast();
  }

  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  const loop: Lifecycle = lifecycle('cycle-loop', {
    async start() {
      running = true;
      const tick = () => {
        const started = Date.now();
        current = monitor
          .runCycle()
          .then(onCycle, onCycleFailed)
          .catch((err: unknown) => log.error({ err: describeError(err) }, 'handling a cycle result failed'))
          .finally(() => {
            if (running) timer = setTimeout(tick, Math.max(0, config.CYCLE_INTERVAL_MS - (Date.now() - started)));
          });
      };
      tick();
    },
    async close() {
      running = false;
      clearTimeout(timer);
      await current;
    },
    // Ready once a cycle completed, and no longer after UNREADY_AFTER_FAILED_CYCLES failed ones in a row.
    isReady: () => monitor.health().ready,
  });

  const streams = lifecycle('event-streams', { close: async () => api.close() });
  // Closed in reverse: the loop stops raising alerts, the lease hands over (what is pending is
  // written, the term's producer closes), then the sink's webhook calls drain.
  const components: Lifecycle[] = [streams, ...(producer ? [producer] : []), setup, adminComponent, reader, ...(commitLog ? [commitLog] : []), alerts, ...(lease ? [lease] : []), ...(probe ? [probe] : []), loop];
  const started = runHttpService({
    http: { ...httpSettings(config), registry, routes: (app) => api.routes(app) },
    name: APP_NAME,
    log,
    components,
    finally: opts.finally,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    handleSignals: opts.handleSignals,
  });
  const { http } = started;

  return {
    service: started.service,
    registry,
    monitor,
    api,
    port: () => http.port(),
    nextCycle: () => new Promise<CycleResult>((resolve) => waiters.push(resolve)),
    alertsInFlight: () => alerts.inFlight(),
    leadership: () => alerts.leadership(),
  };
}
