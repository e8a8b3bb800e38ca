import { jetstreamEventOrThrow } from '@wikimonitor/domain';
import { type BlueskyEvent, BlueskyEventSchema } from '@wikimonitor/contracts';
import { blueskySubject } from '@wikimonitor/domain';
import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, recordedBlueskyEvents, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import pg from 'pg';
import { createApp } from './app';
import { loadConfig } from './config';
import { createTestDatabase, createTopics, produceAvro, storedOffsetsTotal } from '../testing/test-support';

const log = createLogger('test', 'silent');
// The real Jetstream recordings (186 lines; the 2024-format file repeats some events under one id).
const recorded: BlueskyEvent[] = recordedBlueskyEvents(jetstreamEventOrThrow);
const unique = new Map(recorded.map((e) => [e.id, e]));

describe('dedup-persister BLUESKY_TOPICS (Kafka + Schema Registry + PostgreSQL)', () => {
  it('every recorded Bluesky event should be stored once in bsky_events, a duplicate delivery too, and the analytics API should count them per collection/operation', async () => {
    const env = await getTestEnv();
    const connection = testConnection(env);
    const db = await createTestDatabase(env.databaseUrl, 'dp_bsky');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const prefix = uniqueName('it.dp.bsky');
    const topic = `${prefix}.events`;
    const group = `${prefix}.group`;
    await createTopics(connection, [topic], 3);
    const app = createApp({
      config: loadConfig({
        KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers,
        SCHEMA_REGISTRY_URL: env.registryUrl,
        DATABASE_URL: db.url,
        CHANGES_TOPICS: 'none',
        AGGREGATES_TOPICS: 'none',
        ALERTS_TOPICS: 'none',
        BLUESKY_TOPICS: topic,
        DLQ_TOPIC: `${prefix}.dlq`,
        CONSUMER_GROUP: group,
        HTTP_PORT: '0',
        LOG_LEVEL: 'silent',
        BATCH_SIZE: '50',
      }),
      log,
      handleSignals: false,
    });
    try {
      await waitFor(() => app.service.isReady(), 'persister ready', 60_000);
      // Every recorded line, then a duplicate delivery of the first 40 (a producer retry after an
      // unknown commit outcome, or a replay), in later batches than the originals.
      const stream = [...recorded, ...recorded.slice(0, 40)];
      await produceAvro({ connection, registryUrl: env.registryUrl, topic, schema: BlueskyEventSchema, records: stream, key: (e) => e.did, log });
      await waitFor(async () => (await storedOffsetsTotal(client, group)) >= stream.length, 'every delivery consumed', 90_000, 250);

      const rows = (await client.query<{ id: string; kind: string; collection: string | null; operation: string | null; post_langs: string[] | null; handle: string | null; account_status: string | null; seq: string | null }>(
        'SELECT id, kind, collection, operation, post_langs, handle, account_status, seq FROM bsky_events ORDER BY id',
      )).rows;
      expect(rows.map((r) => r.id)).toEqual([...unique.keys()].sort());
      expect(rows).toHaveLength(182);
      // Identity and account events: no commit columns, their sequence number kept.
      for (const r of rows.filter((x) => x.kind !== 'commit')) {
        expect(r).toMatchObject({ collection: null, operation: null });
        expect(r.seq).not.toBeNull();
      }
      expect(rows.filter((r) => r.account_status === 'takendown').length).toBeGreaterThan(0);
      expect(rows.find((r) => r.collection === 'app.bsky.feed.post' && r.operation === 'create' && r.post_langs?.includes('ja'))).toBeDefined();

      // The API's ranges are at most 400 days: the recordings of 2026 (2024 and 2025 ones are outside).
      const [from, to] = [Date.UTC(2026, 0, 1), Date.UTC(2026, 11, 1)];
      const res = await fetch(`http://127.0.0.1:${app.port()}/api/analytics/bluesky?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { total: number; distinct_accounts: number; by_kind: Record<string, number>; by_operation: Record<string, number>; by_subject: Array<{ subject: string; count: number }> };
      const inRange = [...unique.values()].filter((e) => e.event_time >= from && e.event_time < to);
      const expected = new Map<string, number>();
      for (const e of inRange) expected.set(blueskySubject(e), (expected.get(blueskySubject(e)) ?? 0) + 1);
      expect(body.total).toBe(inRange.length);
      expect(body.total).toBe(162);
      expect(body.distinct_accounts).toBe(new Set(inRange.map((e) => e.did)).size);
      expect(Object.fromEntries(body.by_subject.map((s) => [s.subject, s.count]))).toEqual(Object.fromEntries(expected));
      expect(body.by_kind).toEqual({ commit: inRange.filter((e) => e.kind === 'commit').length, identity: 2, account: 2 });
      expect((await fetch(`http://127.0.0.1:${app.port()}/api/analytics/bluesky?top=0`)).status).toBe(400);
    } finally {
      expect(await app.service.close()).toBe(0);
      await client.end();
      await db.drop();
    }
  });
});
