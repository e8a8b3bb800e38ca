import { randomBytes } from 'node:crypto';
import { type KafkaConnection, createProducer, provisionTopics } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import type { Logger } from '@wikimonitor/service-kit';
import pg from 'pg';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh, empty database on the server of `baseUrl` (tests run in parallel, each on its own
 * database). Test support only; used by the specs and the benchmark.
 */
export async function createTestDatabase(baseUrl: string, prefix = 'dp_test'): Promise<TestDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return {
    name,
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Test support: publishes records as Avro (registering the schema under `<topic>-value`), keyed by `key`, and waits for every ack. */
export async function produceAvro<T>(opts: {
  connection: KafkaConnection;
  registryUrl: string;
  topic: string;
  schema: object;
  records: T[];
  key: (r: T) => string;
  log: Logger;
  /** Raw values to publish after the Avro ones (e.g. corrupt bytes). */
  raw?: Buffer[];
}): Promise<void> {
  const codec = createAvroCodec<T>({ client: createRegistryClient({ url: opts.registryUrl }), topic: opts.topic, schema: opts.schema, log: opts.log });
  await codec.init();
  const producer = createProducer({ connection: opts.connection, log: opts.log });
  await producer.start();
  try {
    await Promise.all(opts.records.map((r) => producer.send({ topic: opts.topic, key: opts.key(r), value: codec.encode(r) })));
    await Promise.all((opts.raw ?? []).map((value) => producer.send({ topic: opts.topic, key: 'raw', value })));
  } finally {
    await producer.close();
  }
}

/** Test support: creates topics on the broker. */
export async function createTopics(connection: KafkaConnection, topics: string[], partitions: number): Promise<void> {
  await provisionTopics(connection, topics.map((topic) => ({ topic, partitions, replicationFactor: 1 })));
}

/** Test support: sum of stored next offsets of a group (= records consumed when offsets start at 0). */
export async function storedOffsetsTotal(client: pg.ClientBase, group: string): Promise<number> {
  return (await client.query<{ n: number }>('SELECT coalesce(sum(next_offset), 0)::int AS n FROM consumer_offsets WHERE consumer_group = $1', [group])).rows[0]?.n ?? 0;
}

/** Test support: every stored change id, sorted. */
export async function storedChangeIds(client: pg.ClientBase): Promise<string[]> {
  return (await client.query<{ id: string }>('SELECT id FROM wiki_changes ORDER BY id')).rows.map((r) => r.id);
}

/** Test support: rows whose Kafka position is not covered by the stored offsets (must always be 0). */
export async function rowsBeyondStoredOffsets(client: pg.ClientBase, group: string): Promise<number> {
  const r = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM wiki_changes w
     LEFT JOIN consumer_offsets o ON o.consumer_group = $1 AND o.topic = w.kafka_topic AND o.partition = w.kafka_partition
     WHERE o.next_offset IS NULL OR w.kafka_offset >= o.next_offset`,
    [group],
  );
  return r.rows[0]?.n ?? 0;
}

export interface WaitingWriter {
  /** The table the writer's open transaction waits for. */
  waitingFor: string;
  /** Tables it has already written in that transaction. */
  writing: string[];
}

/**
 * Test support: holds an exclusive lock on consumer_offsets, so the persister's next batch inserts
 * its rows and then waits inside its open transaction (it writes rows first, offsets last).
 * `waitingWriter()` tells when that has happened; `release()` commits the blocker.
 */
export async function blockOffsetCommits(url: string): Promise<{ waitingWriter(): Promise<WaitingWriter | undefined>; release(): Promise<void> }> {
  const blocker = new pg.Client({ connectionString: url });
  blocker.on('error', () => undefined); // the server may go away under it (restart tests)
  await blocker.connect();
  await blocker.query('BEGIN');
  await blocker.query('LOCK TABLE consumer_offsets IN EXCLUSIVE MODE');
  let released = false;
  return {
    async waitingWriter() {
      // pg_locks, not pg_stat_activity.query: the latter can show an earlier statement for re-executed prepared statements.
      const r = await blocker.query<{ relation: string; granted: boolean; mode: string }>(
        `SELECT l.relation::regclass::text AS relation, l.granted, l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE a.datname = current_database() AND a.application_name = 'dedup-persister-writer' AND l.locktype = 'relation'`,
      );
      const waiting = r.rows.find((l) => !l.granted);
      if (!waiting) return undefined;
      return { waitingFor: waiting.relation, writing: r.rows.filter((l) => l.granted && l.mode === 'RowExclusiveLock').map((l) => l.relation) };
    },
    async release() {
      if (released) return;
      released = true;
      await blocker.query('COMMIT').catch(() => undefined);
      await blocker.end().catch(() => undefined);
    },
  };
}
