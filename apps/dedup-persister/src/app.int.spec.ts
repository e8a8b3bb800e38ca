import { WikiAggregateSchema, WikiAlertSchema, WikiChangeSchema, type WikiAggregate, type WikiAlert, type WikiChange } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { createAdmin, headersFromMessage, parseDeadLetter } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, loadRecordedEvents, readTopic, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import pg from 'pg';
import { type DedupPersisterApp, createApp } from './app';
import { loadConfig } from './config';
import { blockOffsetCommits, createTestDatabase, createTopics, produceAvro, storedChangeIds, storedOffsetsTotal } from '../testing/test-support';

const log = createLogger('test', (process.env['DP_TEST_LOG_LEVEL'] as 'info' | undefined) ?? 'silent');
const recorded: WikiChange[] = loadRecordedEvents().map((r, i) => {
  const n = normalizeRecentChange(r.json, { receivedTime: 1_772_121_000_000 + i, sseId: null });
  if (n.kind !== 'change') throw new Error('recorded event did not normalize');
  return n.change;
});
const expectedIds = [...new Set(recorded.map((c) => c.id))].sort();

async function setup(prefix: string) {
  const env = await getTestEnv();
  const connection = testConnection(env);
  const db = await createTestDatabase(env.databaseUrl);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const topics = { changes: uniqueName(`${prefix}.changes`), aggregates: uniqueName(`${prefix}.aggregates`), alerts: uniqueName(`${prefix}.alerts`), dlq: uniqueName(`${prefix}.dlq`) };
  await createTopics(connection, [topics.changes, topics.aggregates, topics.alerts], 6);
  const group = uniqueName(`${prefix}-group`);
  const start = (extra: Record<string, string> = {}, onBatch?: Parameters<typeof createApp>[0]['onBatch']): DedupPersisterApp =>
    createApp({
      config: loadConfig({
        KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers,
        SCHEMA_REGISTRY_URL: env.registryUrl,
        DATABASE_URL: db.url,
        CHANGES_TOPICS: topics.changes,
        AGGREGATES_TOPICS: topics.aggregates,
        ALERTS_TOPICS: topics.alerts,
        DLQ_TOPIC: topics.dlq,
        CONSUMER_GROUP: group,
        HTTP_PORT: '0',
        LOG_LEVEL: process.env['DP_TEST_LOG_LEVEL'] ?? 'silent',
        DB_HEALTH_INTERVAL_MS: '200',
        ...extra,
      }),
      log,
      handleSignals: false,
      onBatch,
    });
  const storedOffsets = () => storedOffsetsTotal(client, group);
  const count = async (table = 'wiki_changes') => (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n ?? 0;
  const ids = () => storedChangeIds(client);
  const cleanup = async () => {
    await client.end();
    await db.drop();
  };
  return { env, connection, db, client, topics, group, start, storedOffsets, count, ids, cleanup };
}

describe('dedup-persister end to end (Kafka + Schema Registry + PostgreSQL)', () => {
  let ctx: Awaited<ReturnType<typeof setup>> | undefined;
  afterEach(async () => {
    await ctx?.cleanup();
    ctx = undefined;
  });

  it('dedup-persister should store each meta.id once when the events are fed twice with repeats inside the stream, with no batch observer set', async () => {
    ctx = await setup('it.dp.dedup');
    const c = ctx;
    // Pass 1: every recorded event, every 7th repeated at once (a producer retry) and 300 repeated
    // later with a new received_time (an SSE reconnect replay). Pass 2: everything again.
    const stream: WikiChange[] = [];
    recorded.forEach((ch, i) => {
      stream.push(ch);
      if (i % 7 === 0) stream.push(ch);
    });
    for (let i = 0; i < 300; i++) stream.push({ ...(recorded[(i * 13) % recorded.length] as WikiChange), received_time: 1_800_000_000_000 + i });
    stream.push(...recorded);
    const aggregate: WikiAggregate = {
      wiki: 'enwiki',
      window_start: Date.UTC(2026, 1, 26, 15, 49),
      window_end: Date.UTC(2026, 1, 26, 15, 50),
      total: 16,
      by_type: { edit: 6, new: 1, log: 1, categorize: 8, external: 0, unknown: 0 },
      bot: 2,
      human: 14,
      bytes_added: 1234,
      bytes_removed: 56,
      distinct_editors: 9,
      top_pages: [{ title: 'Main Page', count: 3 }],
      first_event_time: Date.UTC(2026, 1, 26, 15, 49, 36),
      last_event_time: Date.UTC(2026, 1, 26, 15, 49, 38),
    };
    const alert: WikiAlert = {
      id: 'spike:enwiki:1772120940000',
      kind: 'spike',
      source: 'aggregator',
      subject: 'enwiki',
      severity: 'warning',
      observed: 16,
      expected: 4,
      score: 6,
      window_start: aggregate.window_start,
      window_end: aggregate.window_end,
      status: null,
      previous_status: null,
      message: 'edit rate spike',
      created_at: aggregate.window_end,
    };
    const corrupt = [Buffer.from('not avro at all'), Buffer.from([0, 0, 0, 0, 1])];
    await produceAvro({ connection: c.connection, registryUrl: c.env.registryUrl, topic: c.topics.changes, schema: WikiChangeSchema, records: stream, key: (x) => x.wiki, log, raw: corrupt });
    await produceAvro({ connection: c.connection, registryUrl: c.env.registryUrl, topic: c.topics.aggregates, schema: WikiAggregateSchema, records: [aggregate, aggregate], key: (x) => x.wiki, log });
    await produceAvro({ connection: c.connection, registryUrl: c.env.registryUrl, topic: c.topics.alerts, schema: WikiAlertSchema, records: [alert, alert, alert], key: (x) => x.subject, log });
    const total = stream.length + corrupt.length + 2 + 3;

    // Started without an onBatch observer on purpose: regression for `onBatch?.(await persister.handle())`,
    // which skipped persisting altogether when no observer was given.
    const app = c.start();
    try {
      await waitFor(async () => (await c.storedOffsets()) === total, `stored offsets to reach ${total}`, 90_000, 250);
      expect(await c.count()).toBe(expectedIds.length);
      expect(await c.ids()).toEqual(expectedIds);
      expect(await c.count('wiki_aggregates')).toBe(1);
      expect(await c.count('wiki_alerts')).toBe(1);
      const metrics = await app.registry.getSingleMetricAsString('dedup_persister_rows_written_total');
      expect(metrics).toContain(`dedup_persister_rows_written_total{table="changes",service="dedup-persister"} ${expectedIds.length}`);
      const dups = await app.registry.getSingleMetricAsString('dedup_persister_duplicates_skipped_total');
      expect(dups).toContain(`dedup_persister_duplicates_skipped_total{table="changes",service="dedup-persister"} ${stream.length - expectedIds.length}`);
      expect(dups).toContain(`dedup_persister_duplicates_skipped_total{table="alerts",service="dedup-persister"} 2`);
      const dead = await readTopic(c.connection, c.topics.dlq);
      expect(dead).toHaveLength(2);
      const letters = dead.map((m) => parseDeadLetter(m.key, m.value, headersFromMessage(m.headers)));
      expect(letters.map((d) => [d.sourceTopic, d.error.code, d.app])).toEqual([
        [c.topics.changes, 'DESERIALIZE_FAILED', 'dedup-persister'],
        [c.topics.changes, 'DESERIALIZE_FAILED', 'dedup-persister'],
      ]);
      expect(letters.map((d) => d.value?.toString('hex')).sort()).toEqual(corrupt.map((b) => b.toString('hex')).sort());
      // Kafka's own commits follow the database (secondary, for lag monitoring).
      await waitFor(
        async () => {
          const admin = await createAdmin(c.connection);
          try {
            const offsets = await admin.fetchOffsets({ groupId: c.group, topics: [c.topics.changes, c.topics.aggregates, c.topics.alerts] });
            return offsets.flatMap((t) => t.partitions).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0) === total;
          } finally {
            await admin.disconnect();
          }
        },
        'Kafka commits to follow the stored offsets',
        30_000,
        500,
      );
      const base = `http://127.0.0.1:${app.port()}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect(await (await fetch(`${base}/metrics`)).text()).toContain('dedup_persister_db_up{service="dedup-persister"} 1');
      const gauge = await app.registry.getSingleMetricAsString('dedup_persister_committed_offset');
      expect(gauge).toMatch(new RegExp(`dedup_persister_committed_offset\\{topic="${c.topics.alerts.replace(/\./g, '\\.')}",partition="\\d",service="dedup-persister"\\} 3`));
    } finally {
      expect(await app.service.close()).toBe(0);
    }
  });

  it('dedup-persister should mirror the offsets stored in PostgreSQL to Kafka as soon as it is assigned, before any new record (Kafka offsets of the group behind those in PostgreSQL: written without COMMIT_TO_KAFKA, or a mirror commit refused while the partition moved)', async () => {
    ctx = await setup('it.dp.mirror');
    const c = ctx;
    await produceAvro({ connection: c.connection, registryUrl: c.env.registryUrl, topic: c.topics.changes, schema: WikiChangeSchema, records: recorded.slice(0, 300), key: (ch) => ch.wiki, log });
    const kafkaTotal = async () => {
      const admin = await createAdmin(c.connection);
      try {
        const offsets = await admin.fetchOffsets({ groupId: c.group, topics: [c.topics.changes] });
        return offsets.flatMap((t) => t.partitions).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      } finally {
        await admin.disconnect();
      }
    };
    // Stored in PostgreSQL only: the group's Kafka offsets stay where a refused mirror commit leaves them.
    const first = c.start({ COMMIT_TO_KAFKA: 'false' });
    try {
      await waitFor(async () => (await c.storedOffsets()) === 300, 'all 300 records stored', 60_000, 100);
    } finally {
      expect(await first.service.close()).toBe(0);
    }
    expect(await kafkaTotal()).toBe(0);
    // No new record arrives: only the assignment can bring Kafka's offsets to what PostgreSQL holds.
    const second = c.start();
    try {
      await waitFor(async () => (await kafkaTotal()) === 300, 'Kafka offsets equal to the stored ones', 30_000, 200);
    } finally {
      expect(await second.service.close()).toBe(0);
    }
  });

  it('dedup-persister should finish and commit the in-flight batch on shutdown, then resume exactly where it stopped', async () => {
    ctx = await setup('it.dp.shutdown');
    const c = ctx;
    await produceAvro({ connection: c.connection, registryUrl: c.env.registryUrl, topic: c.topics.changes, schema: WikiChangeSchema, records: recorded, key: (x) => x.wiki, log });
    const app = c.start({ BATCH_SIZE: '100' });
    let closed = false;
    try {
      await waitFor(async () => (await c.count()) > 0, 'a first committed batch', 60_000, 50);
      // Hold the offsets table: the next batch inserts its rows and then waits, uncommitted, in flight.
      const blocker = await blockOffsetCommits(c.db.url);
      const before = await c.storedOffsets();
      try {
        // The writer has inserted this batch's rows and waits to store its offsets: work in flight.
        expect(await waitFor(() => blocker.waitingWriter(), 'the writer to wait inside its transaction', 30_000, 50)).toEqual({ waitingFor: 'consumer_offsets', writing: expect.arrayContaining(['wiki_changes']) });
        const closing = app.service.close().then((code) => ((closed = true), code));
        await new Promise((r) => setTimeout(r, 500));
        expect(closed).toBe(false); // shutdown waits for the in-flight batch
        await blocker.release();
        expect(await closing).toBe(0);
      } finally {
        await blocker.release();
      }
      const after = await c.storedOffsets();
      expect(after).toBeGreaterThan(before); // the in-flight batch was committed, not dropped
      expect(after).toBeLessThan(recorded.length); // work remained when it stopped
      expect(await c.count()).toBe(after); // rows and offsets moved together
    } finally {
      if (!closed) await app.service.close();
    }
    const again = c.start({ BATCH_SIZE: '500' });
    try {
      await waitFor(async () => (await c.storedOffsets()) === recorded.length, 'the rest of the stream', 90_000, 250);
      expect(await c.ids()).toEqual(expectedIds);
    } finally {
      await again.service.close();
    }
  });
});
