import { WikiChangeSchema, type WikiChange } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { createLogger } from '@wikimonitor/service-kit';
import { type ServiceProcess, freePort, getTestEnv, loadRecordedEvents, startTsProcess, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import pg from 'pg';
import { blockOffsetCommits, createTestDatabase, createTopics, produceAvro, rowsBeyondStoredOffsets, storedChangeIds, storedOffsetsTotal } from '../testing/test-support';

const log = createLogger('test', 'silent');
const recorded: WikiChange[] = loadRecordedEvents().map((r, i) => {
  const n = normalizeRecentChange(r.json, { receivedTime: 1_772_121_000_000 + i, sseId: null });
  if (n.kind !== 'change') throw new Error('recorded event did not normalize');
  return n.change;
});
const expectedIds = [...new Set(recorded.map((c) => c.id))].sort();

describe('dedup-persister killed -9 in the middle of a batch', () => {
  it('dedup-persister should lose and duplicate nothing when killed -9 mid-batch and restarted', async () => {
    const env = await getTestEnv();
    const connection = testConnection(env);
    const db = await createTestDatabase(env.databaseUrl);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const topic = uniqueName('it.dp.crash.changes');
    const group = uniqueName('it.dp.crash-group');
    await createTopics(connection, [topic], 6);
    // Fed twice, with repeats inside the stream.
    const stream = [...recorded, ...recorded.filter((_, i) => i % 5 === 0), ...recorded];
    await produceAvro({ connection, registryUrl: env.registryUrl, topic, schema: WikiChangeSchema, records: stream, key: (x) => x.wiki, log });
    const port = await freePort();
    const childEnv = {
      KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers,
      SCHEMA_REGISTRY_URL: env.registryUrl,
      DATABASE_URL: db.url,
      CHANGES_TOPICS: topic,
      AGGREGATES_TOPICS: 'none',
      ALERTS_TOPICS: 'none',
      DLQ_TOPIC: uniqueName('it.dp.crash.dlq'),
      CONSUMER_GROUP: group,
      HTTP_PORT: String(port),
      BATCH_SIZE: '250',
      LOG_LEVEL: 'info',
    };
    let proc: ServiceProcess | undefined;
    try {
      proc = startTsProcess('dedup-persister', 'apps/dedup-persister/src/main.ts', childEnv);
      await proc.waitReady(`http://127.0.0.1:${port}/readyz`, 90_000);
      await waitFor(async () => (await storedOffsetsTotal(client, group)) > 0, 'a first committed batch', 60_000, 50);
      const blocker = await blockOffsetCommits(db.url);
      let committedBefore: number;
      try {
        // The batch's rows are inserted and its transaction waits to store offsets: kill it right there.
        expect(await waitFor(() => blocker.waitingWriter(), 'the writer to wait inside its transaction', 30_000, 50)).toEqual({ waitingFor: 'consumer_offsets', writing: expect.arrayContaining(['wiki_changes']) });
        committedBefore = await storedOffsetsTotal(client, group);
        proc.kill('SIGKILL');
        expect(await proc.exited()).toBeNull(); // killed by a signal, no exit code
      } finally {
        await blocker.release();
      }
      // The server notices the dead client and rolls its open transaction back.
      await waitFor(
        async () => (await client.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'dedup-persister-writer'`, [db.name])).rowCount === 0,
        'the killed writer session to end',
        30_000,
        100,
      );
      expect(await storedOffsetsTotal(client, group)).toBe(committedBefore);
      expect(committedBefore).toBeLessThan(stream.length);
      expect(await rowsBeyondStoredOffsets(client, group)).toBe(0); // nothing of the killed batch survived

      proc = startTsProcess('dedup-persister', 'apps/dedup-persister/src/main.ts', childEnv);
      await proc.waitReady(`http://127.0.0.1:${port}/readyz`, 90_000);
      await waitFor(async () => (await storedOffsetsTotal(client, group)) === stream.length, 'the whole stream after the restart', 90_000, 250);
      const ids = await storedChangeIds(client);
      expect(ids).toHaveLength(expectedIds.length);
      expect(ids).toEqual(expectedIds);
      proc.kill('SIGTERM');
      expect(await proc.exited()).toBe(0);
    } finally {
      proc?.kill('SIGKILL');
      await client.end();
      await db.drop();
    }
  });
});
