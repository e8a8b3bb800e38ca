import { hostname } from 'node:os';
import { z } from 'zod';
import { registryConfigShape } from '@wikimonitor/schemas';
import { baseConfigShape, env, parseConfig } from '@wikimonitor/service-kit';
import { DEFAULT_TOPICS, ROUTE_TOPIC, TOPOLOGY, groupMembershipConfigShape, kafkaConfigShape } from '@wikimonitor/kafka';
import { telemetryConfigShape } from '@wikimonitor/telemetry';

export const APP_NAME = 'filter-router';
/** Chosen by bench/filter-router (fewer, larger transactions amortize their commit cost); at live rates batches stay small. */
export const DEFAULT_BATCH_SIZE = 2_000;

/** Per stream: the input topic and consumer group an instance uses unless configured otherwise. */
export const STREAM_DEFAULTS = {
  wikimedia: { inputTopic: DEFAULT_TOPICS.raw, groupId: APP_NAME },
  bluesky: { inputTopic: DEFAULT_TOPICS.bskyRaw, groupId: `${APP_NAME}-bsky` },
} as const;

export const configSchema = z.object({
  ...baseConfigShape,
  ...kafkaConfigShape,
  ...groupMembershipConfigShape,
  ...telemetryConfigShape,
  ...registryConfigShape,
  /**
   * Which stream this instance routes: wikimedia (WikiChange records, rules/default-rules.json) or
   * bluesky (BlueskyEvent records, rules/bluesky-rules.json). One instance per stream, same code.
   */
  STREAM: env.enum(['wikimedia', 'bluesky'], 'wikimedia'),
  /** Default: wiki.raw.changes, or bsky.raw.events for STREAM=bluesky. */
  INPUT_TOPIC: env.optionalString(),
  DLQ_TOPIC: env.string(DEFAULT_TOPICS.dlq),
  /** JSON rule file; unset = the default rules built into the app (rules/default-rules.json). */
  ROUTES_FILE: env.optionalString(),
  /** Default: filter-router, or filter-router-bsky for STREAM=bluesky. */
  GROUP_ID: env.optionalString(),
  /**
   * Must be unique per running instance and stable across its restarts: a restart then fences its
   * predecessor and aborts its open transaction at once instead of after transaction.timeout.ms.
   * Default `<GROUP_ID>-<hostname>` (so the two streams' instances on one host never fence each other).
   */
  TRANSACTIONAL_ID: env.optionalString(),
  /** Most records read, routed and committed in one transaction. */
  BATCH_SIZE: env.int(DEFAULT_BATCH_SIZE, { min: 1, max: 100_000 }),
  /** Backoff between attempts after an aborted transaction. */
  RETRY_INITIAL_MS: env.int(200, { min: 1 }),
  RETRY_MAX_MS: env.int(10_000, { min: 1 }),
  PRODUCER_LINGER_MS: env.int(5, { min: 0 }),
  PROVISION_TOPICS: env.bool(true),
  /** Partitions of the route topics it creates (existing topics must have at least this many). */
  TOPIC_PARTITIONS: env.int(ROUTE_TOPIC.partitions, { min: 1 }),
  DLQ_PARTITIONS: env.int(TOPOLOGY.dlq.partitions, { min: 1 }),
  TOPIC_REPLICATION_FACTOR: env.int(1, { min: 1 }),
}).transform((c) => {
  const stream = STREAM_DEFAULTS[c.STREAM];
  const GROUP_ID = c.GROUP_ID ?? stream.groupId;
  return { ...c, INPUT_TOPIC: c.INPUT_TOPIC ?? stream.inputTopic, GROUP_ID, TRANSACTIONAL_ID: c.TRANSACTIONAL_ID ?? `${GROUP_ID}-${hostname()}` };
});

export type AppConfig = z.output<typeof configSchema>;

export function loadConfig(source: Record<string, string | undefined>): AppConfig {
  return parseConfig(configSchema, source, { name: 'filter-router' });
}
