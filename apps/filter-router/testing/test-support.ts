// Helpers shared by the filter-router's integration tests and bench (never imported by main.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type WikiChange, WikiChangeSchema } from '@wikimonitor/contracts';
import { type RoutingRules, changeKey, routeChange } from '@wikimonitor/domain';
import { type Headers, type KafkaConnection, type Message, createAdmin, createProducer, ensureTopics, headersFromMessage } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import type { Logger } from '@wikimonitor/service-kit';
import { type AppConfig, loadConfig } from '../src/config';
import defaultRules from '../rules/default-rules.json';

export interface TestRoutes {
  /** Path of the rule file written for the test. */
  file: string;
  /** Route name -> the test's own topic. */
  topics: Record<string, string>;
}

/** The default rules (or `rules`, e.g. the Bluesky ones) with every topic renamed `<prefix>.<topic>`, written to `<dir>/rules.json`. */
export function writeDefaultRulesWithPrefix(prefix: string, dir: string, rules: { routes: ReadonlyArray<{ name: string; topic: string }> } = defaultRules): TestRoutes {
  mkdirSync(dir, { recursive: true });
  const topics: Record<string, string> = {};
  const routes = rules.routes.map((r) => {
    topics[r.name] = `${prefix}.${r.topic}`;
    return { ...r, topic: topics[r.name] };
  });
  const file = join(dir, 'rules.json');
  writeFileSync(file, JSON.stringify({ ...rules, routes }, null, 2));
  return { file, topics };
}

/** Records that cannot be decoded as WikiChange, one per failure kind, for dead-letter checks. */
export function undecodableValues(validSchemaId: number): Array<{ name: string; value: Buffer }> {
  const unknownId = Buffer.alloc(12);
  unknownId.writeInt32BE(2_000_000_000, 1); // magic 0, a schema id no registry has
  const truncated = Buffer.from([0, 0, 0, 0, 0, 0x02]); // a real schema id, then a cut-off body
  truncated.writeInt32BE(validSchemaId, 1);
  return [
    { name: 'json-not-avro', value: Buffer.from('{"meta":{"id":"not-avro"}}') },
    { name: 'unknown-schema-id', value: unknownId },
    { name: 'truncated-avro', value: truncated },
  ];
}

export interface ProducedInput {
  /** Ids in production order. */
  ids: string[];
  /** Per partition: the offset of the last record written. */
  lastOffsets: Map<number, number>;
  /** Corrupt records written: name -> partition/offset. */
  corrupt: Array<{ name: string; partition: number; offset: number }>;
}

/**
 * Writes changes as the producer does (Avro WikiChange, key wiki:title, a traceparent header, event
 * time as the record timestamp) to `topic` (created with `partitions`), plus optional corrupt values.
 */
export async function produceChanges(opts: {
  connection: KafkaConnection;
  registryUrl: string;
  topic: string;
  partitions: number;
  changes: WikiChange[];
  withCorrupt?: boolean;
  log: Logger;
}): Promise<ProducedInput> {
  const admin = await createAdmin(opts.connection);
  try {
    // Records carry their event time (2018-2026): on a topic with the default 7-day retention the broker
    // would delete them at its next retention check (every 5 minutes).
    await ensureTopics(admin, [{ topic: opts.topic, partitions: opts.partitions, replicationFactor: 1, configs: { 'retention.ms': '-1' } }]);
  } finally {
    await admin.disconnect();
  }
  const codec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: opts.registryUrl }), topic: opts.topic, schema: WikiChangeSchema });
  await codec.init();
  const producer = createProducer({ connection: opts.connection, log: opts.log });
  await producer.start();
  try {
    const lastOffsets = new Map<number, number>();
    const note = (d: { partition: number; offset: number }) => lastOffsets.set(d.partition, Math.max(lastOffsets.get(d.partition) ?? -1, d.offset));
    const deliveries = await Promise.all(
      opts.changes.map((c, i) =>
        producer.send({
          topic: opts.topic,
          key: changeKey(c),
          value: codec.encode(c),
          headers: { traceparent: `00-${(i + 1).toString(16).padStart(32, '0')}-${'1'.padStart(16, '0')}-01` },
          timestamp: c.event_time,
        }),
      ),
    );
    deliveries.forEach(note);
    const corrupt: ProducedInput['corrupt'] = [];
    if (opts.withCorrupt) {
      for (const { name, value } of undecodableValues(codec.schemaId())) {
        const d = await producer.send({ topic: opts.topic, key: `corrupt:${name}`, value, headers: { 'test.corrupt': name } });
        note(d);
        corrupt.push({ name, partition: d.partition, offset: d.offset });
      }
    }
    return { ids: opts.changes.map((c) => c.id), lastOffsets, corrupt };
  } finally {
    await producer.close();
  }
}

/** The group's committed offsets on `topic` (partition -> next offset), -1 where none. */
export async function committedOffsets(connection: KafkaConnection, groupId: string, topic: string): Promise<Map<number, number>> {
  const admin = await createAdmin(connection);
  try {
    const res = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((res[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** True once the group has committed every partition of `topic` up to `lastOffsets` + 1. */
export async function caughtUp(connection: KafkaConnection, groupId: string, topic: string, lastOffsets: Map<number, number>): Promise<boolean> {
  const committed = await committedOffsets(connection, groupId, topic);
  return [...lastOffsets].every(([p, last]) => (committed.get(p) ?? -1) >= last + 1);
}

/** Route name -> ids the rules select, in input order. */
export function expectedRoutes(rules: RoutingRules, changes: WikiChange[]): Record<string, string[]> {
  const out: Record<string, string[]> = Object.fromEntries(rules.routes.map((r) => [r.name, [] as string[]]));
  for (const c of changes) for (const t of routeChange(rules, c)) out[t.route]?.push(c.id);
  return out;
}

/** Decodes routed records back (ids, keys, headers) for assertions. */
export async function decodeRouted(registryUrl: string, topic: string, messages: Message[]): Promise<Array<{ change: WikiChange; key: string | null; headers: Headers }>> {
  const codec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: registryUrl }), topic, schema: WikiChangeSchema });
  return Promise.all(
    messages.map(async (m) => ({ change: await codec.decode(m.value as Buffer), key: m.key === undefined || m.key === null ? null : m.key.toString(), headers: headersFromMessage(m.headers) })),
  );
}

/**
 * Creates a test's route topics and DLQ before the app does, without time-based retention: routed
 * records keep the recorded events' old timestamps, which the default 7-day retention would delete at
 * the broker's next check, possibly in the middle of a test.
 */
export async function createOutputTopics(connection: KafkaConnection, routes: TestRoutes, dlqTopic: string, partitions = 6): Promise<void> {
  const admin = await createAdmin(connection);
  try {
    const configs = { 'retention.ms': '-1' };
    await ensureTopics(admin, [...Object.values(routes.topics), dlqTopic].map((topic) => ({ topic, partitions, replicationFactor: 1, configs })));
  } finally {
    await admin.disconnect();
  }
}

/** Deletes every topic and (empty) consumer group whose name starts with `prefix` (tests clean up the shared broker). */
export async function deleteTopicsWithPrefix(connection: KafkaConnection, prefix: string): Promise<string[]> {
  const admin = await createAdmin(connection);
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length) await admin.deleteTopics({ topics });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
    return topics;
  } finally {
    await admin.disconnect();
  }
}

/** The app's environment for a test: its own input, DLQ, rules, group and transactional id. */
export function testEnvVars(opts: { bootstrapServers: string; registryUrl: string; prefix: string; rulesFile: string; extra?: Record<string, string> }): Record<string, string> {
  return {
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    KAFKA_BOOTSTRAP_SERVERS: opts.bootstrapServers,
    SCHEMA_REGISTRY_URL: opts.registryUrl,
    INPUT_TOPIC: `${opts.prefix}.raw`,
    DLQ_TOPIC: `${opts.prefix}.dlq`,
    ROUTES_FILE: opts.rulesFile,
    GROUP_ID: `${opts.prefix}.group`,
    TRANSACTIONAL_ID: `${opts.prefix}.tx`,
    RETRY_INITIAL_MS: '50',
    RETRY_MAX_MS: '1000',
    ...opts.extra,
  };
}

export function testAppConfig(opts: Parameters<typeof testEnvVars>[0]): AppConfig {
  return loadConfig(testEnvVars(opts));
}

// The filter-router's tests wait for stable topics with the shared helper.
export { waitForStableTopics } from '@wikimonitor/testing';
