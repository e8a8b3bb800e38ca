import type { WikiAggregate, WikiChange } from '@wikimonitor/contracts';
import { AGGREGATE_COLUMNS, CHANGE_COLUMNS, LARGE_REMOVAL_BYTES, REVERT_COMMENT_RE, aggregateRow, changeRow, normalizeRecentChange } from '@wikimonitor/domain';
import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, loadRecordedEvents } from '@wikimonitor/testing';
import pg from 'pg';
import { defaultMigrationsDir, loadMigrations, migrate } from './migrate';
import { type WriteMethod, createPgStore } from './store';
import { type TestDatabase, createTestDatabase } from '../testing/test-support';

const log = createLogger('test', 'silent');
const at = (offset: number) => ({ topic: 'wiki.x', partition: 0, offset });
const changes: WikiChange[] = loadRecordedEvents().map((r, i) => {
  const n = normalizeRecentChange(r.json, { receivedTime: 1_772_121_000_000 + i, sseId: null });
  if (n.kind !== 'change') throw new Error('recorded event did not normalize');
  return n.change;
});
const agg = (over: Partial<WikiAggregate> = {}): WikiAggregate => ({
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
  ...over,
});

/** Every window rollup row as text, beside what a plain GROUP BY over the stored windows gives. */
const WINDOW_ROLLUPS = `SELECT level, wiki, bucket_start, windows::int, total::int, count_edit::int, bot::int, bytes_added::int FROM window_rollups ORDER BY 1, 2, 3`;
const WINDOW_GROUP_BY = `SELECT l.level, w.wiki, date_trunc(l.level, a.window_start, 'UTC') AS bucket_start, count(*)::int AS windows, sum(total)::int AS total, sum(count_edit)::int AS count_edit, sum(a.bot)::int AS bot, sum(bytes_added)::int AS bytes_added
  FROM wiki_aggregates a CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) l(level) CROSS JOIN LATERAL (VALUES (a.wiki), ('*')) w(wiki) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`;
const CHANGE_ROLLUPS = `SELECT level, bucket_start, wiki, namespace, type, bot, changes::int, bytes_added::int, bytes_removed::int FROM change_rollups ORDER BY 1, 2, 3, 4, 5, 6`;
const CHANGE_GROUP_BY = `SELECT l.level, date_trunc(l.level, event_time, 'UTC') AS bucket_start, wiki, namespace, type, bot, count(*)::int AS changes,
    sum(greatest(coalesce(length_new, 0) - coalesce(length_old, 0), 0))::int AS bytes_added, sum(greatest(coalesce(length_old, 0) - coalesce(length_new, 0), 0))::int AS bytes_removed
  FROM wiki_changes CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) l(level) GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6`;
const EDITOR_TOTALS = `SELECT level, wiki, bucket_start, changes::int FROM editor_rollups ORDER BY 1, 2, 3`;
const EDITOR_GROUP_BY = `SELECT l.level, w.wiki, date_trunc(l.level, event_time, 'UTC') AS bucket_start, count(*)::int AS changes
  FROM wiki_changes c CROSS JOIN (VALUES ('hour'), ('day')) l(level) CROSS JOIN LATERAL (VALUES (c.wiki), ('*')) w(wiki) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`;

describe('analytics rollups (real database)', () => {
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

  async function withStore(method: WriteMethod, fn: (store: ReturnType<typeof createPgStore>, client: pg.Client) => Promise<void>) {
    const { db, client } = await fresh();
    await migrate(client, loadMigrations(defaultMigrationsDir()), log, { apply: true });
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const store = createPgStore({ databaseUrl: db.url, groupId: 'g', method, connectTimeoutMs: 5000, log, pool });
    try {
      await fn(store, client);
    } finally {
      await store.close();
      await pool.end();
    }
  }

  it('window rollups should count a redelivered window once and a re-emitted window by its difference', async () => {
    await withStore('copy', async (store, client) => {
      const write = (a: WikiAggregate[], offset: number) => store.write({ changes: [], alerts: [], aggregates: a.map((x, i) => aggregateRow(x, at(offset + i))), offsets: [{ topic: 'wiki.x', partition: 0, nextOffset: offset + a.length }] });
      const second = agg({ window_start: 1_772_121_060_000, window_end: 1_772_121_120_000, total: 5, top_pages: [{ title: 'Other', count: 5 }] });
      const dewiki = agg({ wiki: 'dewiki', total: 7 });
      await write([agg(), second, dewiki], 0);
      const afterFirst = (await client.query(WINDOW_ROLLUPS)).rows;
      expect(afterFirst).toEqual((await client.query(WINDOW_GROUP_BY)).rows);
      const hourAll = afterFirst.find((r) => r.level === 'hour' && r.wiki === '*');
      expect(hourAll).toMatchObject({ windows: 3, total: 15 });

      // The same windows delivered again (a re-read after a crash, a producer retry): nothing moves.
      await write([agg(), second, dewiki], 3);
      expect((await client.query(WINDOW_ROLLUPS)).rows).toEqual(afterFirst);

      // The aggregator re-emits the first window with more changes: the rollups move by the difference.
      await write([agg({ total: 10, by_type: { edit: 9, new: 1, log: 0, categorize: 0, external: 0, unknown: 0 }, top_pages: [{ title: 'Main Page', count: 9 }] })], 6);
      const rolled = (await client.query(WINDOW_ROLLUPS)).rows;
      expect(rolled).toEqual((await client.query(WINDOW_GROUP_BY)).rows);
      expect(rolled.find((r) => r.level === 'hour' && r.wiki === '*')).toMatchObject({ windows: 3, total: 22 });
      const day = await client.query(`SELECT top_pages FROM window_rollups WHERE level = 'day' AND wiki = '*'`);
      expect(day.rows[0].top_pages).toEqual([
        { wiki: 'enwiki', name: 'Main Page', count: 9 },
        { wiki: 'dewiki', name: 'Main Page', count: 2 },
        { wiki: 'enwiki', name: 'Other', count: 5 },
      ].sort((a, b) => b.count - a.count));
    });
  });

  it.each(['copy', 'stage', 'insert'] as const)('change rollups (%s) should add each stored change once, redelivered batches included', async (method) => {
    await withStore(method, async (store, client) => {
      const rowsOf = (list: WikiChange[], offset: number) => list.map((c, i) => changeRow(c, at(offset + i)));
      const half = Math.floor(changes.length / 2);
      await store.write({ changes: rowsOf(changes.slice(0, half), 0), aggregates: [], alerts: [], offsets: [] });
      // The second batch repeats the first half (a redelivery) and brings the rest.
      await store.write({ changes: rowsOf(changes, half), aggregates: [], alerts: [], offsets: [] });
      await store.write({ changes: rowsOf(changes.slice(0, 100), 0), aggregates: [], alerts: [], offsets: [] });
      const stored = (await client.query('SELECT count(*)::int AS n FROM wiki_changes')).rows[0].n;
      expect(stored).toBe(new Set(changes.map((c) => c.id)).size);
      expect((await client.query(CHANGE_ROLLUPS)).rows).toEqual((await client.query(CHANGE_GROUP_BY)).rows);
      expect((await client.query(EDITOR_TOTALS)).rows).toEqual((await client.query(EDITOR_GROUP_BY)).rows);
      const total = (await client.query(`SELECT sum(changes)::int AS n FROM change_rollups WHERE level = 'day'`)).rows[0].n;
      expect(total).toBe(stored);
    });
  });

  it('migration 002 should roll up the rows stored before it, as the writer would', async () => {
    const { client } = await fresh();
    const all = loadMigrations(defaultMigrationsDir());
    await migrate(client, all.filter((m) => m.version === 1), log, { apply: true });
    const ins = async (sql: string, rows: unknown[][]) => {
      for (const r of rows) await client.query(sql, r);
    };
    // v1 rows, written as v1 wrote them (through the same row builders).
    const place = (n: number) => Array.from({ length: n }, (_, i) => `$${i + 1}`).join(', ');
    await ins(`INSERT INTO wiki_changes (${CHANGE_COLUMNS.join(', ')}) VALUES (${place(CHANGE_COLUMNS.length)}) ON CONFLICT DO NOTHING`, changes.slice(0, 300).map((c, i) => changeRow(c, at(i))));
    await ins(`INSERT INTO wiki_aggregates (${AGGREGATE_COLUMNS.join(', ')}) VALUES (${place(AGGREGATE_COLUMNS.length)})`, [aggregateRow(agg(), at(0)), aggregateRow(agg({ wiki: 'dewiki' }), at(1))]);
    await migrate(client, all, log, { apply: true });
    expect((await client.query(WINDOW_ROLLUPS)).rows).toEqual((await client.query(WINDOW_GROUP_BY)).rows);
    expect((await client.query(CHANGE_ROLLUPS)).rows).toEqual((await client.query(CHANGE_GROUP_BY)).rows);
    expect((await client.query(EDITOR_TOTALS)).rows).toEqual((await client.query(EDITOR_GROUP_BY)).rows);
    expect((await client.query(`SELECT top_pages FROM window_rollups WHERE level = 'minute' AND wiki = 'enwiki'`)).rows[0].top_pages).toEqual([{ name: 'Main Page', count: 2 }]);
  });

  it('rollups should lose nothing when two persister instances add to the same all-wikis rows at once', async () => {
    const { db, client } = await fresh();
    await migrate(client, loadMigrations(defaultMigrationsDir()), log, { apply: true });
    const pools = [new pg.Pool({ connectionString: db.url, max: 1 }), new pg.Pool({ connectionString: db.url, max: 1 })];
    const stores = pools.map((pool) => createPgStore({ databaseUrl: db.url, groupId: 'g', method: 'copy', connectTimeoutMs: 5000, log, pool }));
    try {
      // Instance 0 owns enwiki, instance 1 dewiki; each round both write a new minute's window (a new '*' row) and changes.
      for (let round = 0; round < 15; round++) {
        const start = 1_772_121_000_000 + round * 60_000;
        await Promise.all(
          stores.map((store, i) => {
            const wiki = i === 0 ? 'enwiki' : 'dewiki';
            const mine = changes.slice(round * 20 + i * 10, round * 20 + i * 10 + 10).map((c) => ({ ...c, wiki, event_time: start + 1_000 }));
            return store.write({
              changes: mine.map((c, k) => changeRow(c, at(k))),
              aggregates: [aggregateRow(agg({ wiki, window_start: start, window_end: start + 60_000, total: 10 + i }), at(round))],
              alerts: [],
              offsets: [],
            });
          }),
        );
      }
      expect((await client.query(WINDOW_ROLLUPS)).rows).toEqual((await client.query(WINDOW_GROUP_BY)).rows);
      expect((await client.query(EDITOR_TOTALS)).rows).toEqual((await client.query(EDITOR_GROUP_BY)).rows);
      expect((await client.query(`SELECT total::int FROM window_rollups WHERE level = 'day' AND wiki = '*'`)).rows).toEqual([{ total: 15 * 21 }]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it("migration 002's signal rules should be the domain's (REVERT_COMMENT_RE, LARGE_REMOVAL_BYTES)", () => {
    const sql = loadMigrations(defaultMigrationsDir()).find((m) => m.version === 2)?.sql ?? '';
    const alternatives = /\((revert[^)]*\)[^)]*)\)/.exec(REVERT_COMMENT_RE.source)?.[1];
    expect(alternatives).toBeDefined();
    expect(sql).toContain(`'\\y(${alternatives})\\y'`);
    expect(sql).toContain(`length_old - length_new >= ${LARGE_REMOVAL_BYTES}`);
  });
});
