import { z } from 'zod';
import { registryConfigShape } from '@wikimonitor/schemas';
import { baseConfigShape, env, parseConfig } from '@wikimonitor/service-kit';
import { DEFAULT_TOPICS, TOPOLOGY, kafkaConfigShape } from '@wikimonitor/kafka';
import { telemetryConfigShape } from '@wikimonitor/telemetry';

export const DEFAULT_STREAM_URL = 'https://stream.wikimedia.org/v2/stream/recentchange';
export const DEFAULT_CHECKPOINT_TOPIC = DEFAULT_TOPICS.checkpoints;
export const DEFAULT_MAX_IN_FLIGHT = 5_000;
export const DEFAULT_COMMIT_INTERVAL_MS = 100;
export const DEFAULT_COMMIT_MAX_EVENTS = 2_000;
export const DEFAULT_RESUME_MARGIN_MS = 10_000;
export const DEFAULT_POSITION_MAX_IDS = 10_000;
export const DEFAULT_MAX_RECORD_BYTES = 900_000;
export const DEFAULT_JETSTREAM_URL = 'wss://jetstream2.us-east.bsky.network/subscribe';
export const SOURCES = ['eventstreams', 'jetstream'] as const;

export const producerConfigSchema = z.object({
  ...baseConfigShape,
  ...kafkaConfigShape,
  ...telemetryConfigShape,
  ...registryConfigShape,
  /** Which firehose this producer reads: Wikimedia EventStreams (SSE, WikiChange) or Bluesky Jetstream (WebSocket, BlueskyEvent). */
  SOURCE: env.enum([...SOURCES], 'eventstreams'),
  /** Jetstream subscribe URL (SOURCE=jetstream). */
  JETSTREAM_URL: env.url(DEFAULT_JETSTREAM_URL),
  /** Comma-separated NSIDs or prefixes (app.bsky.feed.*); empty = every collection. Identity and account events come regardless. */
  JETSTREAM_WANTED_COLLECTIONS: env.list([]),
  /** Comma-separated DIDs; empty = every repository. */
  JETSTREAM_WANTED_DIDS: env.list([]),
  /** Path of Jetstream's zstd dictionary: with it the producer asks for compress=true; without it the stream is uncompressed JSON. */
  JETSTREAM_ZSTD_DICTIONARY: env.optionalString(),
  /** Reconnect when no message arrived for this long (a stalled stream whose peer still answers pings). */
  JETSTREAM_IDLE_TIMEOUT_MS: env.int(30_000, { min: 100 }),
  /** WebSocket ping interval; a ping unanswered at the next one ends the connection. */
  JETSTREAM_PING_INTERVAL_MS: env.int(15_000, { min: 100 }),
  /** Bluesky records' topic (SOURCE=jetstream). */
  BSKY_OUTPUT_TOPIC: env.string(DEFAULT_TOPICS.bskyRaw),
  /** EventStreams URL (any stream of recentchange shape). */
  SSE_URL: env.url(DEFAULT_STREAM_URL),
  /** First start only (no checkpoint yet): ISO-8601 or epoch ms passed as `since`. */
  SSE_SINCE: env.optionalString(),
  /** Reconnect when no byte arrived for this long (a silently stalled connection). Jetstream: JETSTREAM_IDLE_TIMEOUT_MS. */
  SSE_IDLE_TIMEOUT_MS: env.int(60_000, { min: 1000 }),
  /** Reconnect backoff (full jitter) of either source. */
  SSE_RECONNECT_INITIAL_MS: env.int(1_000, { min: 10 }),
  SSE_RECONNECT_MAX_MS: env.int(60_000, { min: 100 }),
  /** Wikimedia's User-Agent policy asks for a way to contact the operator. */
  USER_AGENT_CONTACT: env.string('https://github.com/wikimonitor/wikimonitor; ops@wikimonitor.invalid'),
  OUTPUT_TOPIC: env.string(DEFAULT_TOPICS.raw),
  DLQ_TOPIC: env.string(DEFAULT_TOPICS.dlq),
  CHECKPOINT_TOPIC: env.string(DEFAULT_CHECKPOINT_TOPIC),
  /** Key of this producer's position in the checkpoint topic (default: the stream URL). */
  CHECKPOINT_KEY: env.optionalString(),
  /** Exactly once: the records and the source position in one Kafka transaction (false: at-least-once, same code without transactions). */
  PRODUCER_EXACTLY_ONCE: env.bool(true),
  /** transactional.id (default derived from the checkpoint key: stable across restarts, one live instance per key). */
  PRODUCER_TRANSACTIONAL_ID: env.optionalString(),
  /** How often a transaction (records + position) commits. */
  COMMIT_INTERVAL_MS: env.int(DEFAULT_COMMIT_INTERVAL_MS, { min: 10 }),
  /** A transaction commits earlier when it holds this many events. */
  COMMIT_MAX_EVENTS: env.int(DEFAULT_COMMIT_MAX_EVENTS, { min: 1 }),
  /** Overlap of every resume: each upstream partition's timestamp (Jetstream: the cursor) moved back by this (must exceed the upstream's timestamp disorder). */
  RESUME_MARGIN_MS: env.int(DEFAULT_RESUME_MARGIN_MS, { min: 0 }),
  /** Bound of the ids kept with the position for the overlap filter (oldest dropped first). */
  POSITION_MAX_IDS: env.int(DEFAULT_POSITION_MAX_IDS, { min: 1 }),
  /** An encoded record (key + value + headers) above this is dead-lettered before the send (the broker's limit is ~1 MiB). */
  MAX_RECORD_BYTES: env.int(DEFAULT_MAX_RECORD_BYTES, { min: 1024 }),
  /** Resume from the checkpoint on start (false = start at the stream's live end or SSE_SINCE). */
  RESUME: env.bool(true),
  /** Events read from the stream and not yet committed; reading pauses at this bound. */
  MAX_IN_FLIGHT: env.int(DEFAULT_MAX_IN_FLIGHT, { min: 1 }),
  PROVISION_TOPICS: env.bool(true),
  TOPIC_PARTITIONS: env.int(TOPOLOGY.raw.partitions, { min: 1 }),
  TOPIC_REPLICATION_FACTOR: env.int(1, { min: 1 }),
  /** librdkafka tuning, chosen by bench/producer. */
  PRODUCER_LINGER_MS: env.int(20, { min: 0 }),
  PRODUCER_COMPRESSION: env.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd'], 'lz4'),
  PRODUCER_BATCH_MESSAGES: env.int(10_000, { min: 1 }),
});

export type ProducerConfig = z.output<typeof producerConfigSchema>;

export function loadConfig(source: Record<string, string | undefined>): ProducerConfig {
  return parseConfig(producerConfigSchema, source, { name: 'producer' });
}
