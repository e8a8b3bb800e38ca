import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WikiAggregate } from '@wikimonitor/contracts';
import { type SqlValue, aggregateRow, changeRow, normalizeRecentChange } from '@wikimonitor/domain';
import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, loadRecordedEvents } from '@wikimonitor/testing';
import pg from 'pg';
import { defaultMigrationsDir, loadMigrations, migrate } from './migrate';
import { SQL, type WriteMethod, createPgStore } from './store';
import { type TestDatabase, createTestDatabase } from '../testing/test-support';

const log = createLogger('test', 'silent');
const at = (offset: number) => ({ topic: 'wiki.changes.all', partition: 0, offset });
const rows: SqlValue[][] = loadRecordedEvents().map((r, i) => {
  const n = normalizeRecentChange(r.json, { receivedTime: 1_772_121_000_000 + i, sseId: null });
  if (n.kind !== 'change') throw new Error('recorded event did not normalize');
  return changeRow(n.change, at(i));
});

async function waitForLockWait(client: pg.Client, dbName: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await client.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'dedup-persister-writer' AND wait_event_type = 'Lock'`, [dbName]);
    if (r.rowCount) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('the writer never waited for the other transaction');
}

describe('PostgreSQL store and migrations (real database)', () => {
  const dbs: TestDatabase[] = [];
  const clients: pg.Client[] = [];
  const fresh = async () => {
    const db = await createTestDatabase((await getTestEnv()).databaseUrl);
    dbs.push(db);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    clients.push(client);
    return { db, client };
  };
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end()));
    await Promise.all(dbs.map((d) => d.drop()));
  });

  it('migrate should apply the migrations once, then find the schema up to date', async () => {
    const { client } = await fresh();
    const migrations = loadMigrations(defaultMigrationsDir());
    expect(await migrate(client, migrations, log, { apply: true })).toEqual({ from: 0, to: migrations.length, applied: migrations.map((m) => m.version) });
    expect(await migrate(client, migrations, log, { apply: true })).toEqual({ from: migrations.length, to: migrations.length, applied: [] });
    const tables = (await client.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.t);
    expect(tables).toEqual(['bsky_events', 'change_rollups', 'change_signals', 'consumer_offsets', 'editor_rollups', 'schema_migrations', 'wiki_aggregates', 'wiki_alerts', 'wiki_changes', 'window_rollups']);
  });

  it('migrate should refuse a database whose schema is newer than the app knows', async () => {
    const { client } = await fresh();
    const migrations = loadMigrations(defaultMigrationsDir());
    await migrate(client, migrations, log, { apply: true });
    await client.query(`INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'from_the_future', 'x')`);
    await expect(migrate(client, migrations, log, { apply: true })).rejects.toMatchObject({ code: 'DB_SCHEMA_TOO_NEW', retriable: false });
  });

  it('migrate should refuse an applied migration that was edited, and a behind schema when MIGRATE=false', async () => {
    const { client } = await fresh();
    await expect(migrate(client, loadMigrations(defaultMigrationsDir()), log, { apply: false })).rejects.toThrow(/MIGRATE=false/);
    const dir = mkdtempSync(join(tmpdir(), 'dp-migrations-'));
    const original = readFileSync(join(defaultMigrationsDir(), '001_initial.sql'), 'utf8');
    writeFileSync(join(dir, '001_initial.sql'), original);
    await migrate(client, loadMigrations(dir), log, { apply: true });
    writeFileSync(join(dir, '001_initial.sql'), `${original}\n-- edited\n`);
    await expect(migrate(client, loadMigrations(dir), log, { apply: true })).rejects.toThrow(/changed after it was applied/);
  });

  it('store should write every recorded change once with each write method, byte-identical, with its offsets', async () => {
    const digests: string[] = [];
    for (const method of ['copy', 'stage', 'insert'] as WriteMethod[]) {
      const { db, client } = await fresh();
      await migrate(client, loadMigrations(defaultMigrationsDir()), log, { apply: true });
      const pool = new pg.Pool({ connectionString: db.url, max: 1 });
      const store = createPgStore({ databaseUrl: db.url, groupId: 'g', method, connectTimeoutMs: 5000, log, pool });
      try {
        const half = Math.floor(rows.length / 2);
        const first = await store.write({ changes: rows.slice(0, half + 100), aggregates: [], alerts: [], offsets: [{ topic: 't', partition: 0, nextOffset: half + 100 }] });
        const second = await store.write({ changes: rows.slice(half), aggregates: [], alerts: [], offsets: [{ topic: 't', partition: 0, nextOffset: rows.length }] });
        expect(first.written.changes).toBe(half + 100);
        expect(second.written.changes).toBe(rows.length - half - 100); // the 100 overlapping rows are duplicates
        expect(await store.loadOffsets([{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }])).toEqual([{ topic: 't', partition: 0, nextOffset: rows.length }]);
        const count = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM wiki_changes');
        expect(count.rows[0]?.n).toBe(rows.length);
        const digest = await client.query<{ d: string }>(
          `SELECT md5(string_agg(row_to_json(t)::text, '|' ORDER BY id)) AS d FROM (SELECT ${'id, event_time, received_time, wiki, domain, stream, type, namespace, title, title_url, user_name, bot, minor, patrolled, length_old, length_new, revision_old, revision_new, comment, rc_id, server_name, request_id, schema_uri, log_id, log_type, log_action, log_action_comment, log_params, source_topic, source_partition, source_offset, sse_id, kafka_topic, kafka_partition, kafka_offset'} FROM wiki_changes) t`,
        );
        digests.push(digest.rows[0]?.d ?? '');
        // What went in is what comes out: spot-check a comment and a log_params value against the source rows.
        const sample = await client.query<{ comment: string; log_params: string | null }>('SELECT comment, log_params FROM wiki_changes WHERE id = $1', [rows[3]?.[0]]);
        expect(sample.rows[0]).toEqual({ comment: rows[3]?.[18], log_params: rows[3]?.[27] });
      } finally {
        await store.close();
        await pool.end();
      }
    }
    expect(new Set(digests).size).toBe(1);
    expect(digests).toHaveLength(3);
  });

  it('the default write path (stage) never plans a lookup into wiki_changes: even a planner pushed to sequential scans only scans the batch', async () => {
    const { client } = await fresh();
    await migrate(client, loadMigrations(defaultMigrationsDir()), log, { apply: true });
    type PlanNode = { 'Node Type': string; 'Relation Name'?: string; 'Conflict Arbiter Indexes'?: string[]; Plans?: PlanNode[] };
    const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];
    const plan = async (sql: string, values?: unknown[]) => {
      const r = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${sql}`, values);
      return nodes((r.rows[0]?.['QUERY PLAN'][0] as { Plan: PlanNode }).Plan);
    };
    await client.query('BEGIN');
    try {
      // The worst statistics can do: the planner prefers a sequential scan wherever it has a choice.
      await client.query('SET LOCAL enable_indexscan = off');
      await client.query('SET LOCAL enable_bitmapscan = off');
      await client.query('SET LOCAL enable_indexonlyscan = off');
      await client.query(SQL.createStage);
      const merge = await plan(SQL.mergeStage);
      const scans = merge.filter((n) => /Scan/.test(n['Node Type']));
      expect(scans.map((n) => n['Relation Name'])).toEqual(['stage_changes']);
      expect(merge.find((n) => n['Node Type'] === 'ModifyTable')?.['Conflict Arbiter Indexes']).toEqual(['wiki_changes_pkey']);
      // The copy method's probe is planned, and under the same planner it scans the whole table.
      const probe = await plan(SQL.storedIds, [['a', 'b']]);
      expect(probe.some((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'wiki_changes')).toBe(true);
    } finally {
      await client.query('ROLLBACK');
    }
  });

  it('store (copy) should fall back to the staging merge when another writer stores one of the ids during the COPY', async () => {
    const { db, client } = await fresh();
    await migrate(client, loadMigrations(defaultMigrationsDir()), log, { apply: true });
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const store = createPgStore({ databaseUrl: db.url, groupId: 'g', method: 'copy', connectTimeoutMs: 5000, log, pool });
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      // The other writer holds row 5 uncommitted: invisible to the probe, in the way of the COPY.
      await other.query('BEGIN');
      await other.query(`INSERT INTO wiki_changes SELECT * FROM jsonb_populate_record(NULL::wiki_changes, $1::jsonb)`, [
        JSON.stringify({ id: rows[5]?.[0], event_time: rows[5]?.[1], received_time: rows[5]?.[2], wiki: 'x', domain: 'x', type: 'edit', namespace: 0, title: 't', user_name: 'u', bot: false, comment: '', kafka_topic: 'other', kafka_partition: 0, kafka_offset: 0, persisted_at: new Date().toISOString() }),
      ]);
      const writing = store.write({ changes: rows.slice(0, 20), aggregates: [], alerts: [], offsets: [{ topic: 't', partition: 0, nextOffset: 20 }] });
      await waitForLockWait(client, db.name);
      await other.query('COMMIT');
      expect((await writing).written.changes).toBe(19);
      const r = await client.query<{ n: number; other: number }>(`SELECT count(*)::int AS n, count(*) FILTER (WHERE kafka_topic = 'other')::int AS other FROM wiki_changes`);
      expect(r.rows[0]).toEqual({ n: 20, other: 1 });
    } finally {
      await other.end();
      await store.close();
      await pool.end();
    }
  });

  it('store should find the row PostgreSQL refuses without writing anything', async () => {
    const { db, client } = await fresh();
    await migrate(client, loadMigrations(defaultMigrationsDir()), log, { apply: true });
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const store = createPgStore({ databaseUrl: db.url, groupId: 'g', method: 'copy', connectTimeoutMs: 5000, log, pool });
    try {
      const bad = [...(rows[1] as SqlValue[])];
      bad[3] = null; // wiki is NOT NULL
      const batch = { changes: [rows[0] as SqlValue[], bad, rows[2] as SqlValue[]], aggregates: [], alerts: [], offsets: [{ topic: 't', partition: 0, nextOffset: 3 }] };
      await expect(store.write(batch)).rejects.toMatchObject({ code: 'DB_FAILED', retriable: false, details: { class: 'data', sqlState: '23502' } });
      expect(await store.findRejects(batch)).toEqual([{ table: 'changes', index: 1, error: expect.objectContaining({ code: 'DB_FAILED' }) }]);
      expect((await client.query('SELECT 1 FROM wiki_changes')).rowCount).toBe(0);
      expect((await client.query('SELECT 1 FROM consumer_offsets')).rowCount).toBe(0);
      // The writer connection is still usable after a refused batch.
      expect((await store.write({ ...batch, changes: [rows[0] as SqlValue[], rows[2] as SqlValue[]] })).written.changes).toBe(2);
    } finally {
      await store.close();
      await pool.end();
    }
  });

  it('store should upsert a window aggregate: a repeat is a duplicate, changed counts replace the row', async () => {
    const { db, client } = await fresh();
    await migrate(client, loadMigrations(defaultMigrationsDir()), log, { apply: true });
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const store = createPgStore({ databaseUrl: db.url, groupId: 'g', method: 'copy', connectTimeoutMs: 5000, log, pool });
    const agg: WikiAggregate = {
      wiki: 'enwiki',
      window_start: 1_772_121_000_000,
      window_end: 1_772_121_060_000,
      total: 3,
      by_type: { edit: 2, new: 1, log: 0, categorize: 0, external: 0, unknown: 0 },
      bot: 1,
      human: 2,
      bytes_added: 120,
      bytes_removed: 7,
      distinct_editors: 2,
      top_pages: [{ title: 'Main Page', count: 2 }],
      first_event_time: 1_772_121_001_000,
      last_event_time: 1_772_121_059_000,
    };
    const write = (a: WikiAggregate, offset: number) => store.write({ changes: [], alerts: [], aggregates: [aggregateRow(a, at(offset))], offsets: [] });
    try {
      expect((await write(agg, 0)).written.aggregates).toBe(1);
      expect((await write(agg, 1)).written.aggregates).toBe(0);
      expect((await write({ ...agg, total: 4, by_type: { ...agg.by_type, edit: 3 } }, 2)).written.aggregates).toBe(1);
      const r = await client.query('SELECT total::int, count_edit::int, top_pages, kafka_offset::int FROM wiki_aggregates');
      expect(r.rows).toEqual([{ total: 4, count_edit: 3, top_pages: [{ title: 'Main Page', count: 2 }], kafka_offset: 2 }]);
    } finally {
      await store.close();
      await pool.end();
    }
  });
});
