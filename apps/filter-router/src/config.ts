import { hostname } from 'node:os';
import { z } from 'zod';
import { registryConfigShape } from '@wikimonitor/schemas';
import { baseConfigShape, env, parseConfig } from '@wikimonitor/service-kit';
import { DEFAULT_TOPICS, ROUTE_TOPIC, TOPOLOGY, groupMembershipConfigShape, kafkaConfigShape } from '@wikimonitor/kafka';
import { telemetryConfigShape } from '@wikimonitor/telemetry';

export const APP_NAME = 'filter-router';
/** Chosen by bench/filter-router (fewer, larger transactions amortize their commit cost); at live rates batches stay small. */
export const DEFAULT_BATCH_SIZE = 2_000;

export const configSchema = z.object({
  ...baseConfigShape,
  ...kafkaConfigShape,
  ...groupMembershipConfigShape,
  ...telemetryConfigShape,
  ...registryConfigShape,
  INPUT_TOPIC: env.string(DEFAULT_TOPICS.raw),
  DLQ_TOPIC: env.string(DEFAULT_TOPICS.dlq),
  /** JSON rule file; unset = the default rules built into the app (rules/default-rules.json). */
  ROUTES_FILE: env.optionalString(),
  GROUP_ID: env.string(APP_NAME),
  /**
   * Must be unique per running instance and stable across its restarts: a restart then fences its
   * predecessor and aborts its open transaction at once instead of after transaction.timeout.ms.
   */
  TRANSACTIONAL_ID: env.string(`${APP_NAME}-${hostname()}`),
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
});

export type AppConfig = z.output<typeof configSchema>;

export function loadConfig(source: Record<string, string | undefined>): AppConfig {
  return parseConfig(configSchema, source, { name: 'filter-router' });
}
