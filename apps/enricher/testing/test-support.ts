import type { WikiChange } from '@wikimonitor/contracts';
import { WikiChangeSchema } from '@wikimonitor/contracts';
import { type KafkaConnection, createAdmin, createProducer, ensureTopics } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { type Logger } from '@wikimonitor/service-kit';
import { type AppConfig, loadConfig } from '../src/config';

export const pageOf = (c: WikiChange) => `${c.wiki}:${c.title}`;

/** Writes the changes to a new 6-partition input topic, keyed by page, in order; their positions by change id. */
export async function produceChanges(conn: KafkaConnection, registryUrl: string, topic: string, changes: readonly WikiChange[], log: Logger): Promise<Map<string, { partition: number; offset: number }>> {
  const admin = await createAdmin(conn);
  try {
    // The records keep the recorded events' (old) timestamps: no time-based retention.
    await ensureTopics(admin, [{ topic, partitions: 6, replicationFactor: 1, configs: { 'retention.ms': '-1' } }]);
  } finally {
    await admin.disconnect();
  }
  const codec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: registryUrl }), topic, schema: WikiChangeSchema });
  await codec.init();
  const producer = createProducer({ connection: conn, log });
  await producer.start();
  const positions = new Map<string, { partition: number; offset: number }>();
  try {
    // Idempotent producer: the order per partition is the order sent.
    const deliveries = await Promise.all(changes.map((c) => producer.send({ topic, key: pageOf(c), value: codec.encode(c), timestamp: c.event_time })));
    deliveries.forEach((d, i) => positions.set((changes[i] as WikiChange).id, { partition: d.partition, offset: d.offset }));
  } finally {
    await producer.close();
  }
  return positions;
}

/** The enricher's configuration for a test: its own topics and group under `prefix`, the stand-in at `apiPort`, short retries. */
export function testConfig(opts: { bootstrapServers: string; registryUrl: string; prefix: string; apiPort: number; maxAttempts: number; extra?: Record<string, string> }): AppConfig {
  const { prefix } = opts;
  return loadConfig({
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    KAFKA_BOOTSTRAP_SERVERS: opts.bootstrapServers,
    SCHEMA_REGISTRY_URL: opts.registryUrl,
    INPUT_TOPIC: `${prefix}.in`,
    OUTPUT_TOPIC: `${prefix}.enriched`,
    ERROR_TOPIC: `${prefix}.error`,
    DLQ_TOPIC: `${prefix}.dlq`,
    PARKED_TOPIC: `${prefix}.parked`,
    GROUP_ID: `${prefix}.group`,
    TRANSACTIONAL_ID: `${prefix}.tx`,
    API_URL: `http://127.0.0.1:${opts.apiPort}/{domain}/w/api.php`,
    USER_AGENT: 'WikiMonitor-enricher-tests/1.0 (https://example.org/wikimonitor; tests@example.org)',
    API_READ_TIMEOUT_MS: '1000',
    API_RATE_LIMIT: '200',
    API_CONCURRENCY_PER_WIKI: '4',
    RETRY_MAX_ATTEMPTS: String(opts.maxAttempts),
    RETRY_INITIAL_MS: '50',
    RETRY_MAX_MS: '400',
    RETRY_AFTER_MAX_MS: '2000',
    TICK_MS: '50',
    BATCH_SIZE: '300',
    ...opts.extra,
  });
}

/**
 * Creates the output topics before the app, without time retention: enriched records keep their
 * input's (recorded, old) timestamps, which the default 7-day retention would delete at the broker's
 * next check.
 */
export async function createOutputTopics(conn: KafkaConnection, config: AppConfig): Promise<void> {
  const admin = await createAdmin(conn);
  try {
    const topics: Array<[string, number]> = [
      [config.OUTPUT_TOPIC, config.TOPIC_PARTITIONS],
      [config.ERROR_TOPIC, config.ERROR_TOPIC_PARTITIONS],
      [config.DLQ_TOPIC, config.DLQ_PARTITIONS],
    ];
    await ensureTopics(admin, topics.map(([topic, partitions]) => ({ topic, partitions, replicationFactor: 1, configs: { 'retention.ms': '-1' } })));
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopicsWithPrefix(conn: KafkaConnection, prefix: string): Promise<void> {
  const admin = await createAdmin(conn);
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length) await admin.deleteTopics({ topics });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}
