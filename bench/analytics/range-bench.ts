// Analytics range queries: the page's API calls (series, breakdown, suspicious) over the rollups,
// beside a plain GROUP BY over the raw wiki_changes table answering the same question, in the same
// run, on >= 10 million change rows expanded from the real recordings (ids and times spread over 30
// days) and their one-minute windows, in a database of its own on the local stack.
//   TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/analytics/range-bench.ts [--rows 10000000] [--samples 40] [--raw-samples 5] [--short]
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WikiChange } from '@wikimonitor/contracts';
import { CHANGE_COLUMNS, RANGE_PRESETS, changeRow, copyTextLine, normalizeRecentChange, stepFor } from '@wikimonitor/domain';
import { createLogger } from '@wikimonitor/service-kit';
import { loadRecordedEvents } from '@wikimonitor/testing';
import express from 'express';
import pg from 'pg';
import { analyticsRoutes, createAnalyticsHub } from '../../apps/dedup-persister/src/analytics-api';
import { historyRoutes } from '../../apps/dedup-persister/src/api';
import { defaultMigrationsDir, loadMigrations, migrate } from '../../apps/dedup-persister/src/migrate';
import { copyFrom } from '../../apps/dedup-persister/src/pg-copy';
import { createTestDatabase } from '../../apps/dedup-persister/testing/test-support';
import { benchArgs, machine, progress, stackEnv, table, writeReport } from '../lib/bench-kit';

const ARGS = benchArgs(
  `Usage: TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/analytics/range-bench.ts [options]
The analytics page's API calls over the rollups beside a plain GROUP BY over the raw changes, on the local stack.
  --rows N          change rows to load, expanded from the recordings over --days (default 10000000)
  --days N          days the rows are spread over, ending now (default 30)
  --samples N       timed calls per API call and range (default 40)
  --raw-samples N   timed plain GROUP BY queries per call and range (default 5; they take seconds at 30 days)
  --short           a quick check that the benchmark works (20000 rows, 3 samples, 2 raw samples); writes analytics-short.md|json
  --keep-db         keep the database afterwards (its name is printed)`,
  {
    rows: { type: 'string', int: { min: 1000 }, default: '10000000' },
    days: { type: 'string', int: { min: 1, max: 400 }, default: '30' },
    samples: { type: 'string', int: { min: 1 }, default: '40' },
    'raw-samples': { type: 'string', int: { min: 1 }, default: '5' },
    short: { type: 'boolean' },
    'keep-db': { type: 'boolean' },
  },
);
const SHORT = ARGS.short === true;
const ROWS = SHORT ? 20_000 : ARGS.rows;
const DAYS = ARGS.days;
const SAMPLES = SHORT ? 3 : ARGS.samples;
const RAW_SAMPLES = SHORT ? 2 : ARGS['raw-samples'];
const TARGET_P95_MS = 200;
const RANGES = ['1h', '24h', '30d'] as const;
const log = createLogger('bench', 'warn');

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
};
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

async function load(url: string, now: number): Promise<Record<string, number>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const times: Record<string, number> = {};
  try {
    const all = loadMigrations(defaultMigrationsDir());
    await migrate(c, all.filter((m) => m.version === 1), log, { apply: true });
    const base: WikiChange[] = loadRecordedEvents().flatMap((e) => {
      const n = normalizeRecentChange(e.json, { receivedTime: now, sseId: null });
      return n.kind === 'change' ? [n.change] : [];
    });
    const span = DAYS * 86_400_000;
    const start = now - span;
    progress(`loading ${ROWS.toLocaleString('en')} changes (${base.length} recorded events, each copy with fresh ids) over ${DAYS} days with COPY`);
    let t0 = performance.now();
    const CHUNK = 50_000;
    for (let from = 0; from < ROWS; from += CHUNK) {
      const lines: string[] = [];
      for (let k = from; k < Math.min(ROWS, from + CHUNK); k++) {
        const src = base[k % base.length] as WikiChange;
        const copy = Math.floor(k / base.length);
        lines.push(copyTextLine(changeRow({ ...src, id: `${src.id}#${copy}`, event_time: start + Math.floor((k * span) / ROWS) }, { topic: 'bench', partition: 0, offset: k })));
      }
      await copyFrom(c, `COPY wiki_changes (${CHANGE_COLUMNS.join(', ')}) FROM STDIN`, lines);
      if ((from / CHUNK) % 20 === 0) progress(`  ${(from + lines.length).toLocaleString('en')} rows`);
    }
    times['copy_changes_s'] = (performance.now() - t0) / 1000;
    progress('one-minute windows per wiki from the changes (what the aggregator emits for them)');
    t0 = performance.now();
    await c.query(`
      INSERT INTO wiki_aggregates
      SELECT wiki, m, m + interval '1 minute', count(*), count(*) FILTER (WHERE type = 'edit'), count(*) FILTER (WHERE type = 'new'), count(*) FILTER (WHERE type = 'log'),
             count(*) FILTER (WHERE type = 'categorize'), count(*) FILTER (WHERE type = 'external'), count(*) FILTER (WHERE type = 'unknown'),
             count(*) FILTER (WHERE bot), count(*) FILTER (WHERE NOT bot),
             coalesce(sum(greatest(coalesce(length_new, 0) - coalesce(length_old, 0), 0)), 0), coalesce(sum(greatest(coalesce(length_old, 0) - coalesce(length_new, 0), 0)), 0),
             count(DISTINCT user_name), '[]'::jsonb, min(event_time), max(event_time), 'bench', 0, 0, now()
      FROM (SELECT *, date_trunc('minute', event_time, 'UTC') AS m FROM wiki_changes) s GROUP BY wiki, m`);
    await c.query(`
      UPDATE wiki_aggregates a SET top_pages = t.top FROM (
        SELECT wiki, m, jsonb_agg(jsonb_build_object('title', title, 'count', n) ORDER BY n DESC, title) AS top FROM (
          SELECT wiki, m, title, n, row_number() OVER (PARTITION BY wiki, m ORDER BY n DESC, title) AS rk
          FROM (SELECT wiki, date_trunc('minute', event_time, 'UTC') AS m, title, count(*) AS n FROM wiki_changes GROUP BY 1, 2, 3) g
        ) r WHERE rk <= 10 GROUP BY wiki, m
      ) t WHERE a.wiki = t.wiki AND a.window_start = t.m`);
    times['windows_s'] = (performance.now() - t0) / 1000;
    progress('migration 002: rollups and signals backfilled from the stored rows');
    t0 = performance.now();
    await migrate(c, all, log, { apply: true });
    times['migration_002_backfill_s'] = (performance.now() - t0) / 1000;
    await c.query('VACUUM ANALYZE');
    for (const t of ['wiki_changes', 'wiki_aggregates', 'window_rollups', 'change_rollups', 'editor_rollups', 'change_signals']) {
      times[`rows_${t}`] = Number((await c.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
    }
  } finally {
    await c.end();
  }
  return times;
}

/** What the page asks of the API for a range, and the plain GROUP BY over the raw changes that answers the same. */
function calls(range: (typeof RANGES)[number], now: number) {
  const from = new Date(now - RANGE_PRESETS[range]).toISOString();
  const to = new Date(now).toISOString();
  const step = stepFor(RANGE_PRESETS[range]);
  const where = `event_time >= '${from}' AND event_time < '${to}'`;
  return [
    {
      call: 'series',
      path: `/api/analytics/series?from=${from}&to=${to}`,
      raw: [
        `SELECT date_trunc('${step}', event_time, 'UTC') AS b, count(*), count(*) FILTER (WHERE bot), count(*) FILTER (WHERE NOT bot), count(*) FILTER (WHERE type = 'new'),
           sum(greatest(coalesce(length_new, 0) - coalesce(length_old, 0), 0)), sum(greatest(coalesce(length_old, 0) - coalesce(length_new, 0), 0)) FROM wiki_changes WHERE ${where} GROUP BY 1`,
        `SELECT wiki, date_trunc('${step}', event_time, 'UTC'), count(*) FROM wiki_changes WHERE ${where} AND wiki IN (SELECT wiki FROM wiki_changes WHERE ${where} GROUP BY wiki ORDER BY count(*) DESC LIMIT 5) GROUP BY 1, 2`,
      ],
    },
    {
      call: 'breakdown',
      path: `/api/analytics/breakdown?from=${from}&to=${to}`,
      raw: [
        `SELECT type, bot, namespace, domain, count(*), sum(greatest(coalesce(length_new, 0) - coalesce(length_old, 0), 0)), sum(greatest(coalesce(length_old, 0) - coalesce(length_new, 0), 0)) FROM wiki_changes WHERE ${where} GROUP BY 1, 2, 3, 4`,
        `SELECT wiki, count(*) FROM wiki_changes WHERE ${where} GROUP BY 1 ORDER BY 2 DESC LIMIT 10`,
        `SELECT wiki, title, count(*) FROM wiki_changes WHERE ${where} GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10`,
        `SELECT wiki, user_name, count(*) FROM wiki_changes WHERE ${where} GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10`,
      ],
    },
    {
      call: 'suspicious',
      path: `/api/analytics/suspicious?from=${from}&to=${to}`,
      raw: [
        `SELECT id, user_name, wiki, event_time, comment FROM wiki_changes WHERE ${where} AND type = 'edit' AND comment ~* '\\y(revert(?:ed|ing)?|undid|undo|rollback|rv|rvv)\\y'`,
        `SELECT id FROM wiki_changes WHERE ${where} AND NOT bot AND length_old - length_new >= 2000 AND (user_name ~ '^(?:\\d{1,3}\\.){3}\\d{1,3}$' OR user_name ~* '^[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}$' OR user_name ~ '^~\\d{4}-')`,
      ],
    },
  ];
}

async function main() {
  const env = { ...stackEnv(), ...process.env } as Record<string, string>;
  const db = await createTestDatabase(env['DATABASE_URL'] ?? 'postgres://wikimonitor:wikimonitor@127.0.0.1:55432/wikimonitor', 'bench_analytics');
  progress(`database ${db.name}`);
  const now = Date.now();
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const server = createServer();
  try {
    const loadTimes = await load(db.url, now);
    const app = express();
    analyticsRoutes({ pool, log, dbUp: () => true, hub: createAnalyticsHub({ maxClients: 10 }), now: () => now })(app);
    historyRoutes({ pool, log, dbUp: () => true })(app);
    server.on('request', app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const raw = new pg.Client({ connectionString: db.url });
    await raw.connect();
    const results: Array<Record<string, string | number>> = [];
    for (const range of RANGES) {
      for (const c of calls(range, now)) {
        const res = await fetch(base + c.path);
        if (!res.ok) throw new Error(`${c.path}: ${res.status} ${await res.text()}`);
        const api: number[] = [];
        for (let i = 0; i < SAMPLES; i++) {
          const t0 = performance.now();
          const r = await fetch(base + c.path);
          await r.arrayBuffer();
          api.push(performance.now() - t0);
        }
        const plain: number[] = [];
        for (let i = 0; i < RAW_SAMPLES; i++) {
          const t0 = performance.now();
          for (const q of c.raw) await raw.query(q);
          plain.push(performance.now() - t0);
        }
        const row = {
          range,
          call: c.call,
          api_p50_ms: Number(ms(quantile(api, 0.5))),
          api_p95_ms: Number(ms(quantile(api, 0.95))),
          raw_p50_ms: Number(ms(quantile(plain, 0.5))),
          raw_p95_ms: Number(ms(quantile(plain, 0.95))),
          ratio_p50: Number((quantile(plain, 0.5) / quantile(api, 0.5)).toFixed(1)),
          target_met: quantile(api, 0.95) < TARGET_P95_MS ? 'yes' : 'no',
        };
        results.push(row);
        progress(`${range} ${c.call}: API p50 ${row.api_p50_ms} ms p95 ${row.api_p95_ms} ms; plain GROUP BY p50 ${row.raw_p50_ms} ms p95 ${row.raw_p95_ms} ms (${row.ratio_p50}x)`);
      }
    }
    await raw.end();
    const name = SHORT ? 'analytics-short' : 'analytics';
    const md = [
      `# Analytics range queries: rollups vs a plain GROUP BY (${ROWS.toLocaleString('en')} changes over ${DAYS} days)`,
      '',
      `bench/analytics/range-bench.ts${SHORT ? ' --short' : ''}: ${ROWS.toLocaleString('en')} change rows expanded from the ${'recorded events'} in data/recordings (each copy with fresh ids, times spread evenly over the ${DAYS} days ending at the run),`,
      `their one-minute windows per wiki, loaded with COPY into a database of its own; the rollups and signals come from migration 002's backfill (what the writer maintains row by row).`,
      `API = the page's HTTP call (Express + pg pool, in-process, ${SAMPLES} timed calls after one warm-up); plain GROUP BY = the same question asked of wiki_changes directly (${RAW_SAMPLES} timed runs, one connection).`,
      `Target: API p95 < ${TARGET_P95_MS} ms for every range. Ratio = plain GROUP BY p50 / API p50.`,
      '',
      table([['range', 'call', 'API p50 ms', 'API p95 ms', 'plain GROUP BY p50 ms', 'plain GROUP BY p95 ms', 'ratio (p50)', `p95 < ${TARGET_P95_MS} ms`], ...results.map((r) => [r['range'], r['call'], r['api_p50_ms'], r['api_p95_ms'], r['raw_p50_ms'], r['raw_p95_ms'], `${r['ratio_p50']}x`, r['target_met']] as Array<string | number>)]),
      '',
      '## Load',
      '',
      table([['step', 'value'], ...Object.entries(loadTimes).map(([k, v]) => [k, k.endsWith('_s') ? v.toFixed(1) : v.toLocaleString('en')])]),
      '',
      `Machine: ${JSON.stringify(machine())}`,
      '',
    ].join('\n');
    writeReport(name, { rows: ROWS, days: DAYS, samples: SAMPLES, rawSamples: RAW_SAMPLES, targetP95Ms: TARGET_P95_MS, load: loadTimes, results, machine: machine() }, md);
    console.log(md);
    const missed = results.filter((r) => r['target_met'] !== 'yes');
    if (missed.length && !SHORT) progress(`target missed for: ${missed.map((r) => `${r['range']} ${r['call']}`).join(', ')}`);
  } finally {
    server.close();
    await pool.end();
    if (ARGS['keep-db']) progress(`kept database ${db.name}`);
    else await db.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
