import { type WikiChange, WikiChangeSchema } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { type KafkaConnection, type Message, createConsumerRunner, createGroupAdmin, createProducer, provisionTopics } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger } from '@wikimonitor/service-kit';
import { type ServiceProcess, type TestEnv, freePort, getTestEnv, loadRecordedEvents, startTsProcess, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import pg from 'pg';

// reset-offsets where a group's position is not (only) its Kafka committed offsets: the
// dedup-persister's PostgreSQL offsets and the aggregator's changelog-backed window state.

const log = createLogger('test', 'silent');
const N = 90;
const changes: WikiChange[] = loadRecordedEvents()
  .slice(0, N)
  .map((r, i) => {
    const n = normalizeRecentChange(r.json, { receivedTime: 1_772_121_000_000 + i, sseId: null });
    if (n.kind !== 'change') throw new Error('recorded event did not normalize');
    return n.change;
  });

const cliProcess =
  (env: TestEnv, extraEnv: Record<string, string>) =>
  async (...args: string[]): Promise<{ code: number | null; output: string }> => {
    const p = startTsProcess('ops-cli', 'tools/ops/src/main.ts', { KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers, LOG_LEVEL: 'warn', ...extraEnv }, args);
    return { code: await p.exited(), output: p.output() };
  };

async function createDatabase(baseUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = uniqueName('ops_reset').replace(/-/g, '_');
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`).finally(() => admin.end());
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => c.end());
    },
  };
}

async function produceChanges(conn: KafkaConnection, registryUrl: string, topic: string): Promise<void> {
  const codec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: registryUrl }), topic, schema: WikiChangeSchema, log });
  await codec.init();
  const producer = createProducer({ connection: conn, log });
  await producer.start();
  try {
    await Promise.all(changes.map((c) => producer.send({ topic, key: c.id, value: codec.encode(c) })));
  } finally {
    await producer.close();
  }
}

describe('ops CLI reset-offsets where the position lives', () => {
  it('reset-offsets should reset the dedup-persister in PostgreSQL (consumer_offsets) so it re-reads, plan only without --execute, and refuse while it runs or without DATABASE_URL', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.ops.reset.dp');
    const topic = `${prefix}.changes`;
    const group = `${prefix}-group`;
    await provisionTopics(conn, [{ topic, partitions: 3, replicationFactor: 1 }]);
    await produceChanges(conn, env.registryUrl, topic);
    const db = await createDatabase(env.databaseUrl);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const admin = await createGroupAdmin({ connection: conn, timeoutMs: 10_000, isolation: 'read_uncommitted' });
    const pgOffsets = async () => (await client.query<{ p: number; o: string }>('SELECT partition AS p, next_offset AS o FROM consumer_offsets WHERE consumer_group = $1 ORDER BY partition', [group])).rows.map((r) => Number(r.o));
    const kafkaOffsets = async () => (await admin.fetchCommitted(group)).sort((a, b) => a.partition - b.partition).map((c) => c.offset);
    const rows = async () => (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM wiki_changes')).rows[0]?.n ?? 0;
    // The persister's group is found by its rows in consumer_offsets, whatever its name.
    const cli = cliProcess(env, { DATABASE_URL: db.url });
    const port = await freePort();
    const start = () =>
      startTsProcess('dedup-persister', 'apps/dedup-persister/src/main.ts', {
        KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers,
        SCHEMA_REGISTRY_URL: env.registryUrl,
        DATABASE_URL: db.url,
        CHANGES_TOPICS: topic,
        AGGREGATES_TOPICS: 'none',
        ALERTS_TOPICS: 'none',
        DLQ_TOPIC: `${prefix}.dlq`,
        CONSUMER_GROUP: group,
        HTTP_PORT: String(port),
        LOG_LEVEL: 'info',
      });
    let proc: ServiceProcess | undefined;
    try {
      proc = start();
      await proc.waitReady(`http://127.0.0.1:${port}/readyz`, 90_000);
      await waitFor(async () => (await pgOffsets()).reduce((a, b) => a + b, 0) === N, 'every change stored');
      await waitFor(async () => (await kafkaOffsets()).reduce((a, b) => a + b, 0) === N, 'the secondary Kafka commit');
      const ends = await pgOffsets();
      expect(await rows()).toBe(new Set(changes.map((c) => c.id)).size);

      // Running: refused with the group's membership, PostgreSQL and Kafka untouched.
      const running = await cli('reset-offsets', '--group', group, '--to-earliest', '--execute');
      expect(running.code).toBe(3);
      expect(running.output).toContain(`refusing to reset offsets of group '${group}': it has 1 active member(s)`);
      expect(await pgOffsets()).toEqual(ends);

      proc.kill('SIGTERM');
      expect(await proc.exited()).toBe(0);
      proc = undefined;
      await waitFor(async () => (await admin.describeGroups([group]))[0]?.state === 'EMPTY', 'the group empty');

      // The plan reads the current position from PostgreSQL and changes nothing.
      const plan = await cli('reset-offsets', '--group', group, '--to-earliest');
      expect(plan.code).toBe(0);
      expect(plan.output).toContain('position in PostgreSQL table consumer_offsets (the dedup-persister)');
      for (const [p, end] of ends.entries()) expect(plan.output).toMatch(new RegExp(`${topic.replace(/\./g, '\\.')}\\s+${p}\\s+${end}\\s+0\\s+-${end}\\s`));
      expect(plan.output).toContain('plan only: nothing changed.');
      expect(await pgOffsets()).toEqual(ends);
      expect(await kafkaOffsets()).toEqual(ends);

      // Without the database the CLI cannot move it, and says so instead of resetting Kafka in vain.
      const noDb = await cliProcess(env, { DATABASE_URL: '', POSTGRES_OFFSET_GROUPS: group })('reset-offsets', '--group', group, '--to-earliest', '--execute');
      expect(noDb.code).toBe(3);
      expect(noDb.output).toContain('it keeps its offsets in PostgreSQL (table consumer_offsets), not in Kafka');
      expect(await kafkaOffsets()).toEqual(ends);

      const done = await cli('reset-offsets', '--group', group, '--to-earliest', '--execute');
      expect(done.code).toBe(0);
      expect(done.output).toContain(`committed new offsets for 3 partition(s) of group ${group} (PostgreSQL table consumer_offsets, and Kafka)`);
      expect(await pgOffsets()).toEqual([0, 0, 0]);
      expect(await kafkaOffsets()).toEqual([0, 0, 0]);

      // The persister really starts over: rows deleted meanwhile come back (a Kafka-only reset would
      // leave them gone, as the persister seeks to the offsets in PostgreSQL).
      await client.query('DELETE FROM wiki_changes');
      proc = start();
      await proc.waitReady(`http://127.0.0.1:${port}/readyz`, 90_000);
      await waitFor(async () => (await pgOffsets()).reduce((a, b) => a + b, 0) === N, 'every change stored again');
      expect(await pgOffsets()).toEqual(ends);
      expect(await rows()).toBe(new Set(changes.map((c) => c.id)).size);
      proc.kill('SIGTERM');
      expect(await proc.exited()).toBe(0);
      proc = undefined;
    } finally {
      proc?.kill('SIGKILL');
      await admin.close();
      await client.end();
      await db.drop();
    }
  });

  it("reset-offsets should refuse a backward reset of the aggregator's group (window state in its changelog) and apply a forward one", async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.ops.reset.agg');
    const topic = `${prefix}.in`;
    const group = `${prefix}-group`;
    await provisionTopics(conn, [{ topic, partitions: 2, replicationFactor: 1 }]);
    const producer = createProducer({ connection: conn, log });
    await producer.start();
    await Promise.all(Array.from({ length: 40 }, (_, i) => producer.send({ topic, key: `k${i}`, value: Buffer.from(`v${i}`) })));
    const admin = await createGroupAdmin({ connection: conn, timeoutMs: 10_000, isolation: 'read_uncommitted' });
    const committed = async () => (await admin.fetchCommitted(group)).sort((a, b) => a.partition - b.partition).map((c) => c.offset);
    // The group's offsets, committed by a consumer that read the first 40 records.
    const seen: Message[] = [];
    const runner = createConsumerRunner({ connection: conn, log, groupId: group, topics: [topic], offsets: 'kafka', handle: async (b) => void seen.push(...b) });
    try {
      await runner.start();
      await waitFor(async () => (await committed()).reduce((a, b) => a + b, 0) === 40, 'the first 40 committed');
      await runner.close();
      await waitFor(async () => (await admin.describeGroups([group]))[0]?.state === 'EMPTY', 'the group empty');
      const ends = await committed();
      await Promise.all(Array.from({ length: 20 }, (_, i) => producer.send({ topic, key: `k${i}`, value: Buffer.from(`later${i}`) })));
      // The group is the aggregator's (its GROUP_ID named in CHANGELOG_STATE_GROUPS).
      const cli = cliProcess(env, { CHANGELOG_STATE_GROUPS: group });

      const back = await cli('reset-offsets', '--group', group, '--topic', topic, '--shift-by=-5', '--execute');
      expect(back.code).toBe(3);
      expect(back.output).toContain(`refusing to reset offsets of group '${group}' backwards (${topic}/0 ${ends[0]} -> ${(ends[0] ?? 0) - 5}`);
      expect(back.output).toContain('its window state lives in a compacted changelog');
      expect(await committed()).toEqual(ends);
      // The plan of it is shown, with the refusal as a note, and exit 0: nothing was to change.
      const backPlan = await cli('reset-offsets', '--group', group, '--topic', topic, '--to-earliest');
      expect(backPlan.code).toBe(0);
      expect(backPlan.output).toContain('note: --execute would be refused');
      expect(await committed()).toEqual(ends);

      const forward = await cli('reset-offsets', '--group', group, '--topic', topic, '--to-latest', '--execute');
      expect(forward.code).toBe(0);
      expect(forward.output).toContain('note: 20 record(s) skipped are never counted');
      expect((await committed()).reduce((a, b) => a + b, 0)).toBe(60);

      const unknown = await cli('reset-offsets', '--group', group, '--to-latest', '--excute');
      expect(unknown.code).toBe(2);
      expect(unknown.output).toContain('unknown flag --excute (did you mean --execute?)');
    } finally {
      await producer.close();
      await admin.close();
    }
  });
});
