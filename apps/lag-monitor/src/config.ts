import { z } from 'zod';
import { registryConfigShape } from '@wikimonitor/schemas';
import { baseConfigShape, env, parseConfig } from '@wikimonitor/service-kit';
import { DEFAULT_TOPICS, TOPOLOGY, groupMembershipConfigShape, kafkaConfigShape } from '@wikimonitor/kafka';
import { telemetryConfigShape } from '@wikimonitor/telemetry';

export const DEFAULT_CYCLE_INTERVAL_MS = 5_000;
export const DEFAULT_WINDOW_CYCLES = 10;
export const DEFAULT_HISTORY_CYCLES = 120;
export const DEFAULT_PROBE_TOPIC = DEFAULT_TOPICS.probe;
export const DEFAULT_COMMIT_LOG_TOPIC = '__consumer_offsets';
export const DEFAULT_GONE_GROUP_RETENTION_MS = 7 * 86_400_000;
export const DEFAULT_UNREADY_AFTER_FAILED_CYCLES = 3;
/** kafka-lag-exporter's `cluster_name` label when none is configured. */
export const DEFAULT_METRICS_CLUSTER_NAME = 'default';
/**
 * Half the pipeline's transaction.timeout.ms (60 s): a transaction open that long has blocked every
 * read_committed reader for 30 s, and the broker has not yet aborted it.
 */
export const DEFAULT_STUCK_TRANSACTION_MS = 30_000;
/** The one-partition topic whose assignment in LEASE_GROUP_ID makes an instance the leader (the one that publishes alerts). */
export const DEFAULT_LEASE_TOPIC = DEFAULT_TOPICS.lease;
/** The group every instance of one deployment joins for the leader lease. */
export const DEFAULT_LEASE_GROUP_ID = 'lag-monitor-leader';
/** One transactional id for the whole deployment: a new leader's initTransactions fences every former one. */
export const DEFAULT_ALERTS_TRANSACTIONAL_ID = 'lag-monitor-alerts';
/**
 * How far back a new leader looks, on the alerts topic and among the changes it evaluated as a
 * standby: longer than any time without a leader (a session timeout, 10 s by default), with room for
 * a slow start.
 */
export const DEFAULT_ALERT_LOOKBACK_MS = 15 * 60_000;

const regex = () =>
  z
    .string()
    .min(1)
    .refine((v) => {
      try {
        new RegExp(v);
        return true;
      } catch {
        return false;
      }
    }, 'must be a valid regular expression')
    .optional();

export const DEFAULT_EVENT_STREAM_MAX_CLIENTS = 50;

const optionalUrl = () => z.url('must be a URL').optional();

export const configSchema = z.object({
  ...baseConfigShape,
  ...kafkaConfigShape,
  ...telemetryConfigShape,
  ...registryConfigShape,
  ...groupMembershipConfigShape,
  /** Concurrent dashboard event streams (/api/events); more are answered 503 with Retry-After. */
  EVENT_STREAM_MAX_CLIENTS: env.int(DEFAULT_EVENT_STREAM_MAX_CLIENTS, { min: 1, max: 10_000 }),
  /** Time between the starts of two monitoring cycles. */
  CYCLE_INTERVAL_MS: env.int(DEFAULT_CYCLE_INTERVAL_MS, { min: 100 }),
  /** Cycles in the sliding status window (window length = WINDOW_CYCLES x CYCLE_INTERVAL_MS). */
  WINDOW_CYCLES: env.int(DEFAULT_WINDOW_CYCLES, { min: 2, max: 1000 }),
  /** Cycles of per-group history kept for the API and the dashboard. */
  HISTORY_CYCLES: env.int(DEFAULT_HISTORY_CYCLES, { min: 2, max: 10_000 }),
  /** Exact group ids to monitor (empty = every group the broker lists). */
  GROUPS: env.list([]),
  /** Only groups whose id matches. */
  GROUP_ALLOW: regex(),
  /** Never groups whose id matches. */
  GROUP_DENY: regex(),
  /** Extra topics to report production rate and partition balance for. */
  BALANCE_TOPICS: env.list([]),
  /**
   * Source streams the dashboard and /api/snapshot sum up (records, rates, lag of the groups reading
   * them), as `name=topic-prefix`. Groups and topics themselves are discovered, whatever the stream.
   */
  STREAMS: env.list(['wikimedia=wiki.', 'bluesky=bsky.']),
  /** End offset lag is measured to: the last stable offset (read_committed) or the high watermark. */
  END_OFFSET_ISOLATION: env.enum(['read_committed', 'read_uncommitted'], 'read_committed'),
  /** Tail __consumer_offsets for commit times (needed to tell STALL from STOP). */
  COMMIT_LOG_ENABLED: env.bool(true),
  COMMIT_LOG_TOPIC: env.string(DEFAULT_COMMIT_LOG_TOPIC),
  /** How long a group the broker stopped listing is still reported. */
  GONE_GROUP_RETENTION_MS: env.int(DEFAULT_GONE_GROUP_RETENTION_MS, { min: 0 }),
  /** Readiness turns false after this many consecutive failed cycles (the served data is stale from the first). */
  UNREADY_AFTER_FAILED_CYCLES: env.int(DEFAULT_UNREADY_AFTER_FAILED_CYCLES, { min: 1, max: 1000 }),
  /** No successful cycle for this long (a hung cycle) is stale and unready too; default: see {@link staleAfterMs}. */
  STALE_AFTER_MS: env.int(0, { min: 0 }),
  /** How long a last stable offset may stay put while the high watermark grows before its partition is STUCK_TRANSACTION (ms). */
  STUCK_TRANSACTION_MS: env.int(DEFAULT_STUCK_TRANSACTION_MS, { min: 1, max: 86_400_000 }),
  ADMIN_TIMEOUT_MS: env.int(10_000, { min: 100 }),
  /** Offset fetches in flight at once (one per group). */
  ADMIN_CONCURRENCY: env.int(8, { min: 1, max: 256 }),
  /** Bound on reading the first unconsumed records of one cycle. */
  RECORD_READ_TIMEOUT_MS: env.int(5_000, { min: 100 }),
  ALERTS_ENABLED: env.bool(true),
  ALERTS_TOPIC: env.string(DEFAULT_TOPICS.alerts),
  ALERTS_TOPIC_PARTITIONS: env.int(TOPOLOGY.alerts.partitions, { min: 1 }),
  ALERT_WEBHOOK_URL: optionalUrl(),
  ALERT_WEBHOOK_TIMEOUT_MS: env.int(5_000, { min: 100 }),
  ALERT_WEBHOOK_ATTEMPTS: env.int(5, { min: 1, max: 20 }),
  /** Webhook body: the WikiAlert as JSON (native), or Alertmanager's webhook payload (version 4). */
  ALERT_WEBHOOK_FORMAT: env.enum(['native', 'alertmanager'], 'native'),
  /** lag-monitor's URL as its users reach it (links in Alertmanager-format alerts). */
  ALERT_EXTERNAL_URL: optionalUrl(),
  /** Leader lease (several instances: one publishes alerts): the lease topic, created with one partition if missing. */
  LEASE_TOPIC: env.string(DEFAULT_LEASE_TOPIC),
  /** The lease group; every instance of one deployment the same, another deployment its own. */
  LEASE_GROUP_ID: env.string(DEFAULT_LEASE_GROUP_ID),
  /** Transactional id of the alert producer: the same for every instance of one deployment, another deployment its own. */
  ALERTS_TRANSACTIONAL_ID: env.string(DEFAULT_ALERTS_TRANSACTIONAL_ID),
  /** How far back a new leader reads the alerts topic and the changes it evaluated as a standby. */
  ALERT_LOOKBACK_MS: env.int(DEFAULT_ALERT_LOOKBACK_MS, { min: 10_000, max: 86_400_000 }),
  PROBE_ENABLED: env.bool(true),
  PROBE_TOPIC: env.string(DEFAULT_PROBE_TOPIC),
  PROBE_PARTITIONS: env.int(TOPOLOGY.probe.partitions, { min: 1 }),
  PROBE_INTERVAL_MS: env.int(1_000, { min: 50 }),
  PROBE_TIMEOUT_MS: env.int(10_000, { min: 100 }),
  PROVISION_TOPICS: env.bool(true),
  TOPIC_REPLICATION_FACTOR: env.int(1, { min: 1 }),
  /** Per-partition Prometheus series (group x topic x partition); off for very large clusters. */
  METRICS_PARTITION_SERIES: env.bool(true),
  /** `cluster_name` label of the kafka-lag-exporter metric names (METRIC_ALIASES in metrics.ts). */
  METRICS_CLUSTER_NAME: env.string(DEFAULT_METRICS_CLUSTER_NAME),
});

export type AppConfig = z.output<typeof configSchema>;

export function loadConfig(source: Record<string, string | undefined>): AppConfig {
  return parseConfig(configSchema, source, { name: 'lag-monitor' });
}

/**
 * How long without a successful cycle the data is stale and the monitor unready even when no cycle
 * failed (one hangs): STALE_AFTER_MS, or by default the failed cycles allowed, each a full interval,
 * plus what one slow cycle may take (four admin stages and the record reads, each bounded).
 */
export function staleAfterMs(cfg: Pick<AppConfig, 'STALE_AFTER_MS' | 'UNREADY_AFTER_FAILED_CYCLES' | 'CYCLE_INTERVAL_MS' | 'ADMIN_TIMEOUT_MS' | 'RECORD_READ_TIMEOUT_MS'>): number {
  if (cfg.STALE_AFTER_MS > 0) return cfg.STALE_AFTER_MS;
  return cfg.UNREADY_AFTER_FAILED_CYCLES * cfg.CYCLE_INTERVAL_MS + 4 * cfg.ADMIN_TIMEOUT_MS + cfg.RECORD_READ_TIMEOUT_MS;
}

/** The group filter from GROUPS / GROUP_ALLOW / GROUP_DENY. */
export function groupFilter(cfg: Pick<AppConfig, 'GROUPS' | 'GROUP_ALLOW' | 'GROUP_DENY'>): (groupId: string) => boolean {
  const exact = new Set(cfg.GROUPS);
  const allow = cfg.GROUP_ALLOW ? new RegExp(cfg.GROUP_ALLOW) : undefined;
  const deny = cfg.GROUP_DENY ? new RegExp(cfg.GROUP_DENY) : undefined;
  return (id) => (exact.size === 0 || exact.has(id)) && (!allow || allow.test(id)) && !(deny && deny.test(id));
}
