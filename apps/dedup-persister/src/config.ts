import { z } from 'zod';
import { registryConfigShape } from '@wikimonitor/schemas';
import { baseConfigShape, env, parseConfig } from '@wikimonitor/service-kit';
import { DEFAULT_TOPICS, groupMembershipConfigShape, kafkaConfigShape } from '@wikimonitor/kafka';
import { telemetryConfigShape } from '@wikimonitor/telemetry';

/**
 * The local stack's database (tools/stack), for development only: set NODE_ENV=production and
 * DATABASE_URL (or DATABASE_URL_FILE) must be given; this default is refused there.
 */
export const DEFAULT_DATABASE_URL = 'postgres://wikimonitor:wikimonitor@127.0.0.1:55432/wikimonitor';
export const DEFAULT_EVENT_STREAM_MAX_CLIENTS = 50;
export const DEFAULT_CHANGES_TOPICS = [DEFAULT_TOPICS.changesAll];
export const DEFAULT_GROUP_ID = 'dedup-persister';
/** Records per consume call and per database transaction; chosen by bench/dedup-persister (see README). */
export const DEFAULT_BATCH_SIZE = 2000;

/** A comma-separated topic list; `none` means no topic (an empty variable means "use the default"). */
const topicList = (def: string[]) =>
  z
    .string()
    .transform((v) => (v.trim().toLowerCase() === 'none' ? [] : v.split(',').map((s) => s.trim()).filter(Boolean)))
    .prefault(def.join(','));

export const configSchema = z.object({
  ...baseConfigShape,
  ...kafkaConfigShape,
  ...groupMembershipConfigShape,
  ...telemetryConfigShape,
  ...registryConfigShape,
  DATABASE_URL: env.string(DEFAULT_DATABASE_URL),
  /** TLS to PostgreSQL: disable, require (encrypted, unverified), verify-ca, verify-full (CA and host name). */
  DATABASE_SSL_MODE: env.enum(['disable', 'require', 'verify-ca', 'verify-full'], 'disable'),
  /** PEM file of the CA that signed PostgreSQL's certificate (verify-ca, verify-full); else Node's public CAs. */
  DATABASE_SSL_CA: env.optionalString(),
  NODE_ENV: env.optionalString(),
  /** Routed change topics (Avro WikiChange); several may overlap, meta.id dedups across them. `none` = none. */
  CHANGES_TOPICS: topicList(DEFAULT_CHANGES_TOPICS),
  /** Avro WikiAggregate topics. `none` = none. */
  AGGREGATES_TOPICS: topicList([DEFAULT_TOPICS.aggregates]),
  /** Avro WikiAlert topics. `none` = none. */
  ALERTS_TOPICS: topicList([DEFAULT_TOPICS.alerts]),
  /**
   * Avro BlueskyEvent topics, stored in bsky_events (dedup on id), e.g. bsky.events.all. Default none:
   * a persister of a Wikimedia-only deployment does not subscribe to topics nobody writes.
   */
  BLUESKY_TOPICS: topicList([]),
  DLQ_TOPIC: env.string(DEFAULT_TOPICS.dlq),
  CONSUMER_GROUP: env.string(DEFAULT_GROUP_ID),
  /** Create the dead-letter topic at start if it is missing (consumed topics belong to their producers and are never created here). */
  PROVISION_TOPICS: env.bool(true),
  TOPIC_REPLICATION_FACTOR: env.int(1, { min: 1 }),
  BATCH_SIZE: env.int(DEFAULT_BATCH_SIZE, { min: 1, max: 50_000 }),
  /**
   * How changes are written (chosen by bench/dedup-persister): copy = drop already-stored ids, COPY the
   * rest straight into the table; stage = COPY into a temporary table, then INSERT .. SELECT .. ON
   * CONFLICT DO NOTHING; insert = one INSERT .. SELECT FROM unnest(arrays) .. ON CONFLICT DO NOTHING.
   */
  WRITE_METHOD: env.enum(['copy', 'stage', 'insert'], 'stage'),
  /** Where a partition with no offset stored in PostgreSQL starts. */
  START_OFFSET: env.enum(['earliest', 'latest'], 'earliest'),
  /** Also commit offsets to Kafka after each database commit (for lag monitoring; PostgreSQL stays the source of truth). */
  COMMIT_TO_KAFKA: env.bool(true),
  /** Apply pending migrations at start (false: only check the schema version and refuse to run if it differs). */
  MIGRATE: env.bool(true),
  /** Directory of NNN_name.sql migrations (default: the app's migrations/ folder). */
  MIGRATIONS_DIR: env.optionalString(),
  DB_CONNECT_TIMEOUT_MS: env.int(5_000, { min: 100 }),
  /** Start-up attempts to reach PostgreSQL (migrations) before giving up. */
  DB_CONNECT_ATTEMPTS: env.int(10, { min: 1 }),
  /** Attempts for one batch's transaction while PostgreSQL is unreachable, with backoff; then the service stops (exit 1) without losing anything. */
  DB_RETRY_ATTEMPTS: env.int(40, { min: 1 }),
  DB_RETRY_INITIAL_MS: env.int(200, { min: 1 }),
  DB_RETRY_MAX_MS: env.int(5_000, { min: 1 }),
  /** Readiness probe period (SELECT 1) while idle. */
  DB_HEALTH_INTERVAL_MS: env.int(2_000, { min: 100 }),
  /** Connections of the persister's own pool (migrations, offsets on assignment, health probe); the writer has one more. */
  DB_POOL_SIZE: env.int(2, { min: 1, max: 20 }),
  /** Server-side statement timeout for history API queries (answered 503 when exceeded). */
  API_STATEMENT_TIMEOUT_MS: env.int(10_000, { min: 100 }),
  /** Connections of the history API's own pool: the most it ever holds. */
  API_POOL_SIZE: env.int(4, { min: 1, max: 100 }),
  /** History API queries waiting for a connection; more are answered 503 at once. */
  API_MAX_WAITING: env.int(32, { min: 0, max: 10_000 }),
  /** Concurrent live-page event streams (/api/analytics/events); more are answered 503 with Retry-After. */
  EVENT_STREAM_MAX_CLIENTS: env.int(DEFAULT_EVENT_STREAM_MAX_CLIENTS, { min: 1, max: 10_000 }),
})
  .refine((c) => c.NODE_ENV !== 'production' || c.DATABASE_URL !== DEFAULT_DATABASE_URL, {
    message: 'required in production (the default is the local stack\'s, with its well-known password); or DATABASE_URL_FILE',
    path: ['DATABASE_URL'],
  })
  .refine((c) => !/[?&]sslmode=/.test(c.DATABASE_URL) || c.DATABASE_SSL_MODE === 'disable', {
    message: 'sslmode is in DATABASE_URL and DATABASE_SSL_MODE is set too; use DATABASE_SSL_MODE alone',
    path: ['DATABASE_SSL_MODE'],
  })
  .refine((c) => c.CHANGES_TOPICS.length + c.AGGREGATES_TOPICS.length + c.ALERTS_TOPICS.length + c.BLUESKY_TOPICS.length > 0, { message: 'at least one topic to consume is needed', path: ['CHANGES_TOPICS'] })
  .refine(
    (c) => {
      const all = [...c.CHANGES_TOPICS, ...c.AGGREGATES_TOPICS, ...c.ALERTS_TOPICS, ...c.BLUESKY_TOPICS];
      return new Set(all).size === all.length;
    },
    { message: 'a topic is listed twice (each topic carries one record kind)', path: ['CHANGES_TOPICS'] },
  );

export type AppConfig = z.output<typeof configSchema>;

export function loadConfig(source: Record<string, string | undefined>): AppConfig {
  return parseConfig(configSchema, source, { name: 'dedup-persister' });
}
