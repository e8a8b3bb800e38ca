import { z } from 'zod';
import { DEFAULT_TOPICS, kafkaConfigShape } from '@wikimonitor/kafka';
import { registryConfigShape } from '@wikimonitor/schemas';
import { baseConfigShape, env, parseConfig } from '@wikimonitor/service-kit';
import { DEFAULT_OFFSET_HOMES, DEFAULT_REPLAY } from './ops';

export const DEFAULT_ADMIN_TIMEOUT_MS = 10_000;

/** The ops CLI needs only the connection and a few bounds. */
export const cliConfigSchema = z.object({
  ...kafkaConfigShape,
  LOG_LEVEL: baseConfigShape.LOG_LEVEL,
  ADMIN_TIMEOUT_MS: env.int(DEFAULT_ADMIN_TIMEOUT_MS, { min: 100 }),
  DLQ_TOPIC: env.string(DEFAULT_TOPICS.dlq),
  /** Where replayed producer dead letters go (the producer's RAW_TOPIC) unless they name a target topic. */
  RAW_TOPIC: env.string(DEFAULT_TOPICS.raw),
  /** replay-dlq: the compacted topic of replay markers (one per replayed dead letter, in the replay's transaction). */
  DLQ_REPLAYED_TOPIC: env.string(DEFAULT_TOPICS.dlqReplayed),
  /** replay-dlq: its transactional id; two replays with the same id fence each other. */
  REPLAY_TRANSACTIONAL_ID: env.string(DEFAULT_REPLAY.transactionalId),
  /** Replication factor of the marker topic when replay-dlq creates it. */
  TOPIC_REPLICATION_FACTOR: env.int(DEFAULT_REPLAY.replicationFactor, { min: 1 }),
  /**
   * reset-offsets: the dedup-persister's database (its offsets table consumer_offsets). Unset: a
   * persister group is refused, since resetting its Kafka offsets alone would have no effect.
   */
  DATABASE_URL: env.optionalString(),
  /** reset-offsets: groups whose offsets live in PostgreSQL (the persister's CONSUMER_GROUP); any group with rows there counts too. */
  POSTGRES_OFFSET_GROUPS: env.list([...DEFAULT_OFFSET_HOMES.postgresGroups]),
  /** reset-offsets: groups with window state in a changelog (the aggregator's GROUP_ID): backward resets refused. */
  CHANGELOG_STATE_GROUPS: env.list([...DEFAULT_OFFSET_HOMES.changelogGroups]),
  /** The registry is contacted only to replay producer dead letters (Avro-encoded like the producer's records). */
  ...registryConfigShape,
});

export type CliConfig = z.output<typeof cliConfigSchema>;

export function loadCliConfig(source: Record<string, string | undefined>): CliConfig {
  return parseConfig(cliConfigSchema, source, { name: 'the ops CLI' });
}
