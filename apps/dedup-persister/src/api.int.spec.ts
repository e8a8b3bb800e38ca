import type { WikiAlert, WikiChange } from '@wikimonitor/contracts';
import { alertRow, changeRow, normalizeRecentChange } from '@wikimonitor/domain';
import { type HttpServer, createHttpServer, createLogger, createMetricsRegistry } from '@wikimonitor/service-kit';
import { getTestEnv, loadRecordedEvents, waitFor } from '@wikimonitor/testing';
import pg from 'pg';
import { historyRoutes, poolBusy } from './api';
import { createApiPool } from './db';
import { defaultMigrationsDir, loadMigrations, migrate } from './migrate';
import { createPgStore } from './store';
import { type TestDatabase, createTestDatabase } from '../testing/test-support';

const log = createLogger('test', 'silent');
const changes: WikiChange[] = loadRecordedEvents().map((r, i) => {
  const n = normalizeRecentChange(r.json, { receivedTime: 1_772_121_000_000 + i, sseId: null });
  if (n.kind !== 'change') throw new Error('recorded event did not normalize');
  return n.change;
});
const newestFirst = (a: WikiChange, b: WikiChange) => b.event_time - a.event_time || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

const alert = (i: number, kind: WikiAlert['kind'], subject: string, severity: WikiAlert['severity']): WikiAlert => ({
  id: `${kind}:${subject}:${i}`,
  kind,
  source: kind === 'spike' ? 'aggregator' : 'lag-monitor',
  subject,
  severity,
  observed: 100 + i,
  expected: 10,
  score: 9,
  window_start: kind === 'spike' ? 1_520_439_360_000 + i * 60_000 : null,
  window_end: kind === 'spike' ? 1_520_439_420_000 + i * 60_000 : null,
  status: kind === 'consumer_status' ? 'STALL' : null,
  previous_status: kind === 'consumer_status' ? 'OK' : null,
  message: `alert ${i}`,
  created_at: 1_772_121_000_000 + i * 1000,
});
const alerts = [alert(0, 'spike', 'wikidatawiki', 'warning'), alert(1, 'spike', 'enwiki', 'critical'), alert(2, 'consumer_status', 'aggregator', 'warning'), alert(3, 'spike', 'wikidatawiki', 'info'), alert(4, 'spike', 'wikidatawiki', 'critical')];

describe('history API (real database)', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let pool: pg.Pool;
  let http: HttpServer;
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${http.port()}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    db = await createTestDatabase((await getTestEnv()).databaseUrl);
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await migrate(client, loadMigrations(defaultMigrationsDir()), log, { apply: true });
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    const store = createPgStore({ databaseUrl: db.url, groupId: 'g', method: 'copy', connectTimeoutMs: 5000, log, pool });
    const at = (offset: number) => ({ topic: 'seed', partition: 0, offset });
    await store.write({ changes: changes.map((c, i) => changeRow(c, at(i))), alerts: alerts.map((a, i) => alertRow(a, at(i))), aggregates: [], offsets: [] });
    await store.close();
    // Stored windows for wikidatawiki up to 16:18 on 2018-03-07, built from the same changes; the
    // 16:16 window is marked (+1000) so the answer shows which source each bucket came from.
    await client.query(`
      INSERT INTO wiki_aggregates (wiki, window_start, window_end, total, count_edit, count_new, count_log, count_categorize, count_external, count_unknown,
        bot, human, bytes_added, bytes_removed, distinct_editors, top_pages, first_event_time, last_event_time, kafka_topic, kafka_partition, kafka_offset)
      SELECT wiki, date_trunc('minute', event_time), date_trunc('minute', event_time) + interval '1 minute', count(*),
        count(*) FILTER (WHERE type = 'edit'), count(*) FILTER (WHERE type = 'new'), count(*) FILTER (WHERE type = 'log'),
        count(*) FILTER (WHERE type = 'categorize'), count(*) FILTER (WHERE type = 'external'), count(*) FILTER (WHERE type = 'unknown'),
        count(*) FILTER (WHERE bot), count(*) FILTER (WHERE NOT bot), 0, 0, count(DISTINCT user_name), '[{"title":"Q1","count":1}]'::jsonb,
        min(event_time), max(event_time), 'seed', 0, 0
      FROM wiki_changes WHERE wiki = 'wikidatawiki' AND event_time >= '2018-03-07T16:00:00Z' AND event_time < '2018-03-07T16:18:00Z' GROUP BY 1, 2`);
    await client.query(`UPDATE wiki_aggregates SET total = total + 1000 WHERE window_start = '2018-03-07T16:16:00Z'`);
    http = createHttpServer({ port: 0, host: '127.0.0.1', registry: createMetricsRegistry('test'), log, isLive: () => true, isReady: () => true, routes: historyRoutes({ pool, log, dbUp: () => true }) });
    await http.start();
  });

  afterAll(async () => {
    await http?.close();
    await pool?.end();
    await client?.end();
    await db?.drop();
  });

  it('GET /api/changes should page through one wiki newest first, every change exactly once', async () => {
    const expected = changes.filter((c) => c.wiki === 'wikidatawiki').sort(newestFirst);
    const seen: Array<{ id: string; event_time: string }> = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { status, body }: { status: number; body: Record<string, unknown> } = await get(`/api/changes?wiki=wikidatawiki&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
      expect(status).toBe(200);
      const items = body['items'] as Array<{ id: string; event_time: string }>;
      expect(items.length).toBeLessThanOrEqual(500);
      seen.push(...items);
      cursor = body['next'] as string | null;
      pages++;
    } while (cursor && pages < 100);
    expect(pages).toBe(Math.ceil(expected.length / 500));
    expect(seen.map((c) => c.id)).toEqual(expected.map((c) => c.id));
  });

  it('GET /api/changes should filter by type, bot, user and time range like the recorded data says', async () => {
    const cases: Array<[string, (c: WikiChange) => boolean]> = [
      ['type=log&bot=false', (c) => c.type === 'log' && !c.bot],
      ['type=new,log&wiki=wikidatawiki', (c) => (c.type === 'new' || c.type === 'log') && c.wiki === 'wikidatawiki'],
      ['bot=true&wiki=enwiki', (c) => c.bot && c.wiki === 'enwiki'],
      [`user=${encodeURIComponent(changes[3]?.user ?? '')}`, (c) => c.user === changes[3]?.user],
      ['from=2026-02-26T15:49:37Z&to=2026-02-26T15:49:38Z', (c) => c.event_time >= Date.UTC(2026, 1, 26, 15, 49, 37) && c.event_time < Date.UTC(2026, 1, 26, 15, 49, 38)],
      ['from=1690617100000&to=2023-07-29T08:00:00Z&type=edit', (c) => c.type === 'edit' && c.event_time >= 1690617100000 && c.event_time < Date.UTC(2023, 6, 29, 8)],
    ];
    for (const [query, predicate] of cases) {
      const expected = changes.filter(predicate).sort(newestFirst).slice(0, 1000);
      expect(expected.length).toBeGreaterThan(0);
      const { status, body } = await get(`/api/changes?${query}&limit=1000`);
      expect({ query, status }).toEqual({ query, status: 200 });
      expect({ query, ids: (body['items'] as Array<{ id: string }>).map((c) => c.id) }).toEqual({ query, ids: expected.map((c) => c.id) });
    }
  });

  it('GET /api/changes/:id should return one stored change, and 404 for an unknown id', async () => {
    const c = changes[10] as WikiChange;
    const { status, body } = await get(`/api/changes/${encodeURIComponent(c.id)}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: c.id,
      wiki: c.wiki,
      title: c.title,
      user: c.user,
      bot: c.bot,
      type: c.type,
      event_time: new Date(c.event_time).toISOString(),
      length_old: c.length_old,
      length_new: c.length_new,
      revision_new: c.revision_new,
      rc_id: c.rc_id,
      comment: c.comment,
    });
    expect((await get('/api/changes/00000000-0000-0000-0000-000000000000')).status).toBe(404);
  });

  it('GET /api/aggregates should combine stored windows with counts from the newer changes', async () => {
    const { status, body } = await get('/api/aggregates?wiki=wikidatawiki&from=2018-03-07T16:15:00Z&to=2018-03-07T16:23:00Z&bucket=1m&top=3');
    expect(status).toBe(200);
    expect(body['covered_until']).toBe('2018-03-07T16:18:00.000Z');
    const buckets = body['buckets'] as Array<{ start: string; total: number; source: string; top_pages: Array<{ title: string; count: number }> }>;
    const perMinute = new Map<string, number>();
    for (const c of changes.filter((x) => x.wiki === 'wikidatawiki')) {
      const k = new Date(Math.floor(c.event_time / 60_000) * 60_000).toISOString();
      perMinute.set(k, (perMinute.get(k) ?? 0) + 1);
    }
    expect(buckets.map((b) => [b.start, b.source, b.total])).toEqual(
      ['16:15', '16:16', '16:17', '16:18', '16:19', '16:20', '16:21', '16:22'].map((m) => {
        const start = `2018-03-07T${m}:00.000Z`;
        const n = perMinute.get(start) ?? 0;
        if (m < '16:18') return [start, n ? 'windows' : 'none', m === '16:16' ? n + 1000 : n];
        return [start, n ? 'changes' : 'none', n];
      }),
    );
    // Buckets from changes carry exact top pages: most changed first, then title, at most `top`.
    const live = buckets.find((b) => b.source === 'changes');
    if (!live) throw new Error('no bucket from changes');
    const counts = new Map<string, number>();
    for (const ch of changes.filter((x) => x.wiki === 'wikidatawiki' && new Date(Math.floor(x.event_time / 60_000) * 60_000).toISOString() === live.start)) {
      counts.set(ch.title, (counts.get(ch.title) ?? 0) + 1);
    }
    const expectedTop = [...counts]
      .map(([title, count]) => ({ title, count }))
      .sort((a, b) => b.count - a.count || (a.title < b.title ? -1 : a.title > b.title ? 1 : 0))
      .slice(0, 3);
    expect(expectedTop.length).toBeGreaterThan(0);
    expect(live.top_pages).toEqual(expectedTop);
  });

  it('GET /api/alerts should filter and page alerts newest first', async () => {
    const all = await get('/api/alerts?limit=2');
    expect((all.body['items'] as WikiAlert[]).map((a) => a.id)).toEqual(['spike:wikidatawiki:4', 'spike:wikidatawiki:3']);
    const next = await get(`/api/alerts?limit=2&cursor=${all.body['next'] as string}`);
    expect((next.body['items'] as WikiAlert[]).map((a) => a.id)).toEqual(['consumer_status:aggregator:2', 'spike:enwiki:1']);
    const filtered = await get('/api/alerts?kind=spike&subject=wikidatawiki&severity=warning,critical');
    expect((filtered.body['items'] as WikiAlert[]).map((a) => a.id)).toEqual(['spike:wikidatawiki:4', 'spike:wikidatawiki:0']);
    expect(filtered.body['next']).toBeNull();
    const item = (filtered.body['items'] as Array<Record<string, unknown>>)[1];
    expect(item).toMatchObject({ kind: 'spike', window_start: '2018-03-07T16:16:00.000Z', created_at: new Date(1_772_121_000_000).toISOString() });
  });

  it.each([
    ['/api/changes?limit=0', 'limit'],
    ['/api/changes?limit=abc', 'limit'],
    ['/api/changes?wiki=EN%20WIKI', 'wiki'],
    ['/api/changes?type=vandalism', 'type'],
    ['/api/changes?bot=maybe', 'bot'],
    ['/api/changes?from=yesterday', 'from'],
    ['/api/changes?from=2026-02-27&to=2026-02-26', 'from'],
    ['/api/changes?cursor=%%%', 'cursor'],
    ['/api/changes?wiki=enwiki&wiki=dewiki', 'wiki'],
    ['/api/changes?colour=red', 'colour'],
    ['/api/aggregates', 'wiki'],
    ['/api/aggregates?wiki=enwiki&bucket=2m', 'bucket'],
    ['/api/aggregates?wiki=enwiki&bucket=1m&from=2020-01-01&to=2021-01-01', 'bucket'],
    ['/api/aggregates?wiki=enwiki&top=-1', 'top'],
    ['/api/alerts?severity=apocalyptic', 'severity'],
    ['/api/alerts?kind=spike&limit=1e3', 'limit'],
  ])('GET %s should answer 400 naming %s', async (path, param) => {
    const { status, body } = await get(path);
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'bad_request', parameter: param });
    expect(String(body['message'])).toContain(param);
  });

  it('GET /api/changes should treat SQL in a parameter as a plain value', async () => {
    const { status, body } = await get(`/api/changes?user=${encodeURIComponent("x' OR '1'='1'; DROP TABLE wiki_changes; --")}`);
    expect(status).toBe(200);
    expect(body['items']).toEqual([]);
    expect((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM wiki_changes')).rows[0]?.n).toBe(changes.length);
  });

  it('GET /api/changes should cap a large limit at the maximum and say so', async () => {
    const { status, body } = await get('/api/changes?limit=50000');
    expect(status).toBe(200);
    expect(body['limit']).toBe(1000);
    expect((body['items'] as unknown[]).length).toBe(1000);
  });

  it('history API should answer 503 timeout when a query outlives API_STATEMENT_TIMEOUT_MS, and 503 busy beyond its queue, never 500', async () => {
    // A transaction holding an exclusive lock makes every read of wiki_changes wait: the server's
    // statement_timeout ends the wait, and the pool (1 connection, no queue) refuses the next request at once.
    const apiPool = createApiPool({ databaseUrl: db.url, poolSize: 1, connectTimeoutMs: 5_000, statementTimeoutMs: 1_000, log });
    const server = createHttpServer({
      port: 0,
      host: '127.0.0.1',
      registry: createMetricsRegistry('test'),
      log,
      isLive: () => true,
      isReady: () => true,
      routes: historyRoutes({ pool: apiPool, log, dbUp: () => true, busy: () => poolBusy(apiPool, 1, 0) }),
    });
    await server.start();
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE wiki_changes IN ACCESS EXCLUSIVE MODE');
      const url = `http://127.0.0.1:${server.port()}/api/changes?limit=5`;
      const first = fetch(url);
      // The first request holds the only connection, waiting for the lock.
      await waitFor(async () => {
        // Asked on another connection: inside the locker's transaction pg_stat_activity would stay its first snapshot.
        const r = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'dedup-persister-api' AND wait_event_type = 'Lock'`);
        return r.rows[0]?.n === 1;
      }, 'the first query to wait for the lock', 10_000, 20);
      const second = await fetch(url);
      expect({ status: second.status, body: await second.json() }).toEqual({ status: 503, body: { error: 'busy', message: 'too many queries in progress; try again' } });
      expect(second.headers.get('retry-after')).toBe('1');
      const res = await first;
      expect({ status: res.status, body: await res.json() }).toEqual({ status: 503, body: { error: 'timeout', message: 'the query took too long; narrow the time range or lower the limit' } });
      // A bad request is still a 400, whatever the load.
      expect((await fetch(`http://127.0.0.1:${server.port()}/api/changes?limit=zero`)).status).toBe(400);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
      await server.close();
      await apiPool.end();
    }
  });
});
