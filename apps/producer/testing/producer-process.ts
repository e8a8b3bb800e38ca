import { type BlueskyEvent, BlueskyEventSchema, type WikiChange, WikiChangeSchema } from '@wikimonitor/contracts';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { type TestEnv, freePort, readTopic, scrapeMetric, startTsProcess, testConnection, uniqueName } from '@wikimonitor/testing';

export interface Topics {
  OUTPUT_TOPIC: string;
  DLQ_TOPIC: string;
  CHECKPOINT_TOPIC: string;
}

export function newTopics(): Topics {
  return { OUTPUT_TOPIC: uniqueName('it.raw'), DLQ_TOPIC: uniqueName('it.dlq'), CHECKPOINT_TOPIC: uniqueName('it.cp') };
}

/** The producer as a real process (tsx), on the given broker and stream; `metric` sums a metric's series. */
export async function startProducer(env: TestEnv, sseUrl: string, topics: Topics, extra: Record<string, string> = {}) {
  const port = await freePort();
  const proc = startTsProcess('producer', 'apps/producer/src/main.ts', {
    KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers,
    SCHEMA_REGISTRY_URL: env.registryUrl,
    SSE_URL: sseUrl,
    HTTP_PORT: String(port),
    SSE_RECONNECT_INITIAL_MS: '100',
    SSE_RECONNECT_MAX_MS: '2000',
    LOG_LEVEL: 'info',
    ...topics,
    ...extra,
  });
  await proc.waitReady(`http://127.0.0.1:${port}/healthz`);
  const metric = (name: string): Promise<number> => scrapeMetric(`http://127.0.0.1:${port}`, name);
  return { proc, port, metric };
}

/** meta.id of every record of a raw topic (read_committed), in topic order per partition. */
export async function idsIn(env: TestEnv, topic: string): Promise<string[]> {
  const codec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: env.registryUrl }), topic, schema: WikiChangeSchema });
  const messages = await readTopic(testConnection(env), topic);
  return Promise.all(messages.map(async (m) => (await codec.decode(m.value as Buffer)).id));
}

/** Copies of each expected id, and ids that were not expected. */
export function countCopies(expected: readonly string[], ids: readonly string[]) {
  const copies = new Map<string, number>();
  for (const id of ids) copies.set(id, (copies.get(id) ?? 0) + 1);
  const want = new Set(expected);
  return {
    total: ids.length,
    missing: expected.filter((id) => !copies.has(id)),
    duplicated: [...copies].filter(([, n]) => n > 1).map(([id, n]) => ({ id, n })),
    extraCopies: [...copies.values()].reduce((s, n) => s + n - 1, 0),
    unexpected: [...copies.keys()].filter((id) => !want.has(id)),
  };
}

/** The ids and kinds of every BlueskyEvent record of a topic (read_committed). */
export async function blueskyIdsIn(env: TestEnv, topic: string): Promise<Array<{ id: string; kind: string; did: string; key: string }>> {
  const codec = createAvroCodec<BlueskyEvent>({ client: createRegistryClient({ url: env.registryUrl }), topic, schema: BlueskyEventSchema });
  const messages = await readTopic(testConnection(env), topic);
  return Promise.all(
    messages.map(async (m) => {
      const e = await codec.decode(m.value as Buffer);
      return { id: e.id, kind: e.kind, did: e.did, key: m.key?.toString() ?? '' };
    }),
  );
}

/** The values of every record of a dead-letter topic (read_committed). */
export async function valuesIn(env: TestEnv, topic: string): Promise<string[]> {
  return (await readTopic(testConnection(env), topic)).map((m) => m.value?.toString() ?? '');
}
