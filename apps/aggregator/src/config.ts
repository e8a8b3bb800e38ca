import { z } from 'zod';
import { registryConfigShape } from '@wikimonitor/schemas';
import { baseConfigShape, env, parseConfig } from '@wikimonitor/service-kit';
import { DEFAULT_TOPICS, TOPOLOGY, groupMembershipConfigShape, kafkaConfigShape } from '@wikimonitor/kafka';
import { telemetryConfigShape } from '@wikimonitor/telemetry';
import { DEFAULT_MAX_FUTURE_SKEW_MS, DEFAULT_SPIKE_CONFIG } from '@wikimonitor/domain';

export const DEFAULT_INPUT_TOPIC = DEFAULT_TOPICS.changesAll;
export const DEFAULT_LATE_TOPIC = DEFAULT_TOPICS.late;
export const DEFAULT_CHANGELOG_TOPIC = DEFAULT_TOPICS.changelog;
export const DEFAULT_GROUP_ID = 'aggregator';
export const DEFAULT_WINDOW_SIZE_MS = 60_000;
export const DEFAULT_ALLOWED_LATENESS_MS = 30_000;
export const DEFAULT_IDLE_CLOSE_MS = 120_000;
export const DEFAULT_TOP_PAGES = 5;
export const DEFAULT_BATCH_SIZE = 500;

/** Per stream: the topics and group an instance uses unless configured otherwise. */
export const STREAM_DEFAULTS = {
  wikimedia: { input: DEFAULT_INPUT_TOPIC, aggregates: DEFAULT_TOPICS.aggregates, late: DEFAULT_LATE_TOPIC, changelog: DEFAULT_CHANGELOG_TOPIC, groupId: DEFAULT_GROUP_ID },
  bluesky: { input: 'bsky.events.all', aggregates: 'bsky.aggregates', late: 'bsky.events.late', changelog: 'bsky.aggregator.changelog', groupId: `${DEFAULT_GROUP_ID}-bsky` },
} as const;

export const configSchema = z.object({
  ...baseConfigShape,
  ...kafkaConfigShape,
  ...groupMembershipConfigShape,
  ...telemetryConfigShape,
  ...registryConfigShape,
  /**
   * The stream this instance windows: wikimedia (WikiChange keyed by wiki) or bluesky (BlueskyEvent
   * keyed by subject, windows per `<collection>:<operation>` / identity / account). One instance per
   * stream, same code; the stream only picks the input schema and the topic and group defaults.
   */
  STREAM: env.enum(['wikimedia', 'bluesky'], 'wikimedia'),
  /** The filter-router's every-record route: wiki.changes.all, or bsky.events.all for STREAM=bluesky. */
  INPUT_TOPIC: env.optionalString(),
  /** Default wiki.aggregates, or bsky.aggregates (same WikiAggregate schema, `wiki` = the subject). */
  AGGREGATES_TOPIC: env.optionalString(),
  /** Both streams' spike alerts go to wiki.alerts by default (subject and source tell them apart). */
  ALERTS_TOPIC: env.string(DEFAULT_TOPICS.alerts),
  /** Default wiki.changes.late, or bsky.events.late. */
  LATE_TOPIC: env.optionalString(),
  DLQ_TOPIC: env.string(DEFAULT_TOPICS.dlq),
  /** Compacted window-state changelog, one partition per input partition; default wiki.aggregator.changelog or bsky.aggregator.changelog. */
  CHANGELOG_TOPIC: env.optionalString(),
  /**
   * per-wiki: one event-time clock per wiki; needs the input keyed by wiki (one partition per wiki).
   * two-stage: partial windows per input partition (one clock per partition), merged per wiki; the
   * input keyed by wiki:title spreads the busiest wiki over every partition (README: Scaling).
   * STREAM=wikimedia only.
   */
  AGGREGATION_MODE: env.enum(['per-wiki', 'two-stage'], 'per-wiki'),
  /** two-stage: partial windows and progress between the stages. */
  PARTIALS_TOPIC: env.string(DEFAULT_TOPICS.partials),
  /** two-stage: the merge stage's compacted changelog, one partition per partials partition. */
  MERGE_CHANGELOG_TOPIC: env.string(DEFAULT_TOPICS.mergeChangelog),
  /** Default aggregator, or aggregator-bsky. */
  GROUP_ID: env.optionalString(),
  /** Stable per instance (a restarted instance fences its predecessor); default `<GROUP_ID>-<hostname>`. */
  TRANSACTIONAL_ID: env.optionalString(),
  WINDOW_SIZE_MS: env.int(DEFAULT_WINDOW_SIZE_MS, { min: 1_000 }),
  ALLOWED_LATENESS_MS: env.int(DEFAULT_ALLOWED_LATENESS_MS, { min: 0 }),
  /**
   * A change dated more than this after the wall clock (or before 2001) is dead-lettered
   * (EVENT_TIME_FUTURE / EVENT_TIME_TOO_OLD) and never moves a watermark; restored state beyond
   * the wall clock plus this is rebuilt.
   */
  MAX_FUTURE_SKEW_MS: env.int(DEFAULT_MAX_FUTURE_SKEW_MS, { min: 0 }),
  /** A wiki with no change for this long (processing time) has its open windows closed. */
  IDLE_CLOSE_MS: env.int(DEFAULT_IDLE_CLOSE_MS, { min: 100 }),
  TOP_PAGES: env.int(DEFAULT_TOP_PAGES, { min: 0, max: 100 }),
  SPIKE_ALPHA: env.number(DEFAULT_SPIKE_CONFIG.alpha, { min: 0.001, max: 1 }),
  SPIKE_THRESHOLD: env.number(DEFAULT_SPIKE_CONFIG.threshold, { min: 0 }),
  SPIKE_MIN_VOLUME: env.int(DEFAULT_SPIKE_CONFIG.minVolume, { min: 0 }),
  SPIKE_MIN_RATIO: env.number(DEFAULT_SPIKE_CONFIG.minRatio, { min: 0 }),
  SPIKE_WARMUP_WINDOWS: env.int(DEFAULT_SPIKE_CONFIG.warmupWindows, { min: 0 }),
  SPIKE_RESET_AFTER_WINDOWS: env.int(DEFAULT_SPIKE_CONFIG.resetAfterWindows, { min: 1 }),
  /** Records per consume batch = per transaction at most. */
  BATCH_SIZE: env.int(DEFAULT_BATCH_SIZE, { min: 1, max: 100_000 }),
  /** Consecutive failed transactions (each aborted and rewound) before the service stops. */
  MAX_TRANSACTION_RETRIES: env.int(5, { min: 0 }),
  PROVISION_TOPICS: env.bool(true),
  /** Partitions of topics this app creates when missing (the changelog always matches the input). */
  TOPIC_PARTITIONS: env.int(TOPOLOGY.changesAll.partitions, { min: 1 }),
  TOPIC_REPLICATION_FACTOR: env.int(1, { min: 1 }),
}).transform((c) => {
  const d = STREAM_DEFAULTS[c.STREAM];
  return {
    ...c,
    INPUT_TOPIC: c.INPUT_TOPIC ?? d.input,
    AGGREGATES_TOPIC: c.AGGREGATES_TOPIC ?? d.aggregates,
    LATE_TOPIC: c.LATE_TOPIC ?? d.late,
    CHANGELOG_TOPIC: c.CHANGELOG_TOPIC ?? d.changelog,
    GROUP_ID: c.GROUP_ID ?? d.groupId,
  };
});

export type AppConfig = z.output<typeof configSchema>;

export function loadConfig(source: Record<string, string | undefined>): AppConfig {
  return parseConfig(configSchema, source, { name: 'aggregator' });
}
