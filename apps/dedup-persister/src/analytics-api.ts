import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { WikiAggregate, WikiAlert, WikiChange } from '@wikimonitor/contracts';
import {
  ALL_WIKIS,
  EDITOR_LEVELS,
  LEVEL_MS,
  ROLLUP_TOP_N,
  type BlueskyCountsQuery,
  type BreakdownQuery,
  type RangeTile,
  type SeriesQuery,
  type StoredSignal,
  type SuspiciousQuery,
  type TopEntry,
  DEFAULT_REVERT_BURST,
  LARGE_REMOVAL_BYTES,
  diffUrl,
  findLargeRemovals,
  findRevertBursts,
  floorTo,
  parseBlueskyCountsQuery,
  parseBreakdownQuery,
  parseSeriesQuery,
  parseSuspiciousQuery,
  stepFor,
  tileRange,
  topOfRange,
} from '@wikimonitor/domain';
import { type Logger, createEventStreams } from '@wikimonitor/service-kit';
import express, { type Express, type Request, type Response } from 'express';
import type { Pool } from 'pg';
import { endpoint } from './api';

type Row = Record<string, unknown>;
const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
const iso = (t: number) => new Date(t).toISOString();

/** `(level = $a AND bucket_start >= $b AND bucket_start < $c) OR ...` for the rollup tiles of a range. */
function tilesWhere(tiles: RangeTile[], values: unknown[]): string {
  const parts = tiles.map((t) => {
    values.push(t.level, iso(t.from), iso(t.to));
    const n = values.length;
    return `(level = $${n - 2} AND bucket_start >= $${n - 1} AND bucket_start < $${n})`;
  });
  return parts.length ? `(${parts.join(' OR ')})` : 'false';
}

/**
 * Bluesky events stored in bsky_events over the range, per subject (`<collection>:<operation>`, or
 * the kind for identity/account events), per kind and per operation, and the distinct accounts.
 * Counted from the rows (one per event id), so a redelivered event never counts twice.
 */
export async function queryBlueskyCounts(pool: Pool, q: BlueskyCountsQuery) {
  const range = [iso(q.from), iso(q.to)];
  const [subjects, totals] = await Promise.all([
    pool.query<Row>(
      `SELECT kind, collection, operation, count(*) AS n FROM bsky_events WHERE event_time >= $1 AND event_time < $2 GROUP BY kind, collection, operation ORDER BY n DESC, kind, collection, operation`,
      range,
    ),
    pool.query<Row>(`SELECT count(*) AS n, count(DISTINCT did) AS accounts FROM bsky_events WHERE event_time >= $1 AND event_time < $2`, range),
  ]);
  const byKind: Record<string, number> = { commit: 0, identity: 0, account: 0 };
  const byOperation: Record<string, number> = { create: 0, update: 0, delete: 0 };
  const bySubject = subjects.rows.map((r) => {
    const kind = String(r['kind']);
    const collection = (r['collection'] as string | null) ?? null;
    const operation = (r['operation'] as string | null) ?? null;
    const count = num(r['n']);
    byKind[kind] = (byKind[kind] ?? 0) + count;
    if (operation) byOperation[operation] = (byOperation[operation] ?? 0) + count;
    return { subject: collection && operation ? `${collection}:${operation}` : kind, kind, collection, operation, count };
  });
  const t = totals.rows[0] ?? {};
  return { from: iso(q.from), to: iso(q.to), total: num(t['n']), distinct_accounts: num(t['accounts']), by_kind: byKind, by_operation: byOperation, by_subject: bySubject.slice(0, q.top) };
}

/** Edits per bucket over the range, for all wikis (or one) and the busiest wikis, from the window rollups. */
export async function querySeries(pool: Pool, q: SeriesQuery) {
  const step = stepFor(q.to - q.from);
  const stepMs = LEVEL_MS[step];
  const start = floorTo(q.from, stepMs);
  const count = Math.ceil((q.to - start) / stepMs);
  const times = Array.from({ length: count }, (_, i) => start + i * stepMs);
  const key = q.wiki ?? ALL_WIKIS;
  let top: string[] = [];
  if (!q.wiki && q.wikis > 0) {
    const values: unknown[] = [];
    const where = tilesWhere(tileRange(q.from, q.to), values);
    values.push(q.wikis);
    const r = await pool.query<{ wiki: string }>(`SELECT wiki FROM window_rollups WHERE wiki <> '*' AND ${where} GROUP BY wiki ORDER BY sum(total) DESC, wiki LIMIT $${values.length}`, values);
    top = r.rows.map((x) => x.wiki);
  }
  const res = await pool.query<Row>(
    `SELECT wiki, bucket_start, total, bot, human, count_new, bytes_added, bytes_removed FROM window_rollups WHERE level = $1 AND wiki = ANY($2::text[]) AND bucket_start >= $3 AND bucket_start < $4`,
    [step, [key, ...top], iso(start), iso(q.to)],
  );
  const idx = (t: Date) => Math.round((t.getTime() - start) / stepMs);
  const zeros = () => new Array<number>(count).fill(0);
  const main = { total: zeros(), bot: zeros(), human: zeros(), new_pages: zeros(), bytes_added: zeros(), bytes_removed: zeros() };
  const perWiki = new Map(top.map((w) => [w, zeros()]));
  for (const r of res.rows) {
    const i = idx(r['bucket_start'] as Date);
    if (i < 0 || i >= count) continue;
    if (r['wiki'] === key) {
      main.total[i] = num(r['total']);
      main.bot[i] = num(r['bot']);
      main.human[i] = num(r['human']);
      main.new_pages[i] = num(r['count_new']);
      main.bytes_added[i] = num(r['bytes_added']);
      main.bytes_removed[i] = num(r['bytes_removed']);
    }
    const w = perWiki.get(String(r['wiki']));
    if (w) w[i] = num(r['total']);
  }
  const covered = await pool.query<{ until: Date | null }>(`SELECT max(window_end) AS until FROM wiki_aggregates`);
  return {
    from: iso(q.from),
    to: iso(q.to),
    range: q.range ?? null,
    wiki: q.wiki ?? null,
    step,
    step_ms: stepMs,
    times,
    series: main,
    wikis: top.map((w) => ({ wiki: w, total: perWiki.get(w) ?? [] })),
    covered_until: covered.rows[0]?.until ? (covered.rows[0].until as Date).toISOString() : null,
  };
}

const entries = (l: TopEntry[], field: 'title' | 'user') => l.map((e) => ({ ...(e.wiki ? { wiki: e.wiki } : {}), [field]: e.name, count: e.count }));

/** Totals, breakdowns and top lists of a range, from the rollups (minute edges of top editors from the changes). */
export async function queryBreakdown(pool: Pool, q: BreakdownQuery) {
  const key = q.wiki ?? ALL_WIKIS;
  const tiles = tileRange(q.from, q.to);
  const wv: unknown[] = [key];
  const wWhere = tilesWhere(tiles, wv);
  const windowsQ = pool.query<Row>(
    `SELECT coalesce(sum(windows), 0) AS windows, coalesce(sum(total), 0) AS total, coalesce(sum(count_edit), 0) AS edit, coalesce(sum(count_new), 0) AS new,
            coalesce(sum(count_log), 0) AS log, coalesce(sum(count_categorize), 0) AS categorize, coalesce(sum(count_external), 0) AS external,
            coalesce(sum(count_unknown), 0) AS unknown, coalesce(sum(bot), 0) AS bot, coalesce(sum(human), 0) AS human,
            coalesce(sum(bytes_added), 0) AS bytes_added, coalesce(sum(bytes_removed), 0) AS bytes_removed, coalesce(jsonb_agg(top_pages), '[]') AS tops
     FROM window_rollups WHERE wiki = $1 AND ${wWhere}`,
    wv,
  );
  const tv: unknown[] = [];
  const tWhere = tilesWhere(tiles, tv);
  tv.push(q.top);
  const wikisQ = q.wiki
    ? Promise.resolve({ rows: [] as Row[] })
    : pool.query<Row>(`SELECT wiki, sum(total) AS total FROM window_rollups WHERE wiki <> '*' AND ${tWhere} GROUP BY wiki ORDER BY 2 DESC, wiki LIMIT $${tv.length}`, tv);
  const cv: unknown[] = [];
  const cWhere = tilesWhere(tiles, cv);
  if (q.wiki) cv.push(q.wiki);
  const wikiCond = q.wiki ? ` AND wiki = $${cv.length}` : '';
  const changesQ = pool.query<Row>(
    `SELECT namespace, type, bot, domain, sum(changes) AS changes, sum(bytes_added) AS bytes_added, sum(bytes_removed) AS bytes_removed
     FROM change_rollups WHERE ${cWhere}${wikiCond} GROUP BY namespace, type, bot, domain`,
    cv,
  );
  const eTiles = tileRange(q.from, q.to, EDITOR_LEVELS);
  const ev: unknown[] = [key];
  const eWhere = tilesWhere(eTiles.filter((t) => t.level !== 'raw'), ev);
  const editorsQ = pool.query<{ top_editors: TopEntry[] }>(`SELECT top_editors FROM editor_rollups WHERE wiki = $1 AND ${eWhere}`, ev);
  const raw = eTiles.filter((t) => t.level === 'raw');
  const rawQ = Promise.all(
    raw.map((t) => {
      const values: unknown[] = [iso(t.from), iso(t.to), ROLLUP_TOP_N];
      if (q.wiki) values.push(q.wiki);
      return pool.query<{ wiki: string; user_name: string; n: string }>(
        `SELECT wiki, user_name, count(*) AS n FROM wiki_changes WHERE event_time >= $1 AND event_time < $2${q.wiki ? ' AND wiki = $4' : ''} GROUP BY wiki, user_name ORDER BY n DESC, wiki, user_name LIMIT $3`,
        values,
      );
    }),
  );
  const [w, wikis, ch, ed, rawEd] = await Promise.all([windowsQ, wikisQ, changesQ, editorsQ, rawQ]);
  const t = w.rows[0] ?? {};
  const byNamespace = new Map<number, number>();
  const newByDomain = new Map<string, number>();
  let changesTotal = 0;
  for (const r of ch.rows) {
    const n = num(r['changes']);
    changesTotal += n;
    byNamespace.set(Number(r['namespace']), (byNamespace.get(Number(r['namespace'])) ?? 0) + n);
    if (r['type'] === 'new') newByDomain.set(String(r['domain']), (newByDomain.get(String(r['domain'])) ?? 0) + n);
  }
  const rawLists = rawEd.map((r) => r.rows.map((x) => ({ ...(q.wiki ? {} : { wiki: x.wiki }), name: x.user_name, count: Number(x.n) })));
  const sorted = (m: Map<string | number, number>, n: number) => [...m].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0]))).slice(0, n);
  return {
    from: iso(q.from),
    to: iso(q.to),
    range: q.range ?? null,
    wiki: q.wiki ?? null,
    windows: num(t['windows']),
    total: num(t['total']),
    by_type: { edit: num(t['edit']), new: num(t['new']), log: num(t['log']), categorize: num(t['categorize']), external: num(t['external']), unknown: num(t['unknown']) },
    bot: num(t['bot']),
    human: num(t['human']),
    bytes_added: num(t['bytes_added']),
    bytes_removed: num(t['bytes_removed']),
    top_wikis: wikis.rows.map((r) => ({ wiki: String(r['wiki']), count: num(r['total']) })),
    top_pages: entries(topOfRange(((t['tops'] as TopEntry[][] | undefined) ?? []), q.top), 'title'),
    top_editors: entries(topOfRange([...ed.rows.map((r) => r.top_editors), ...rawLists], q.top), 'user'),
    changes: changesTotal,
    by_namespace: sorted(byNamespace as Map<string | number, number>, 50).map(([namespace, count]) => ({ namespace: Number(namespace), count })),
    new_pages_by_domain: sorted(newByDomain as Map<string | number, number>, q.top).map(([domain, count]) => ({ domain: String(domain), count })),
    approximate: ['top_pages', 'top_editors'],
  };
}

/** The heuristics over the signals stored in the range, plus the alerts raised in it. */
export async function querySuspicious(pool: Pool, q: SuspiciousQuery) {
  const values: unknown[] = [iso(q.from), iso(q.to)];
  if (q.wiki) values.push(q.wiki);
  const r = await pool.query<Row>(
    `SELECT * FROM change_signals WHERE event_time >= $1 AND event_time < $2${q.wiki ? ' AND wiki = $3' : ''} ORDER BY event_time DESC LIMIT 20000`,
    values,
  );
  const signals: StoredSignal[] = r.rows.map((x) => ({
    id: String(x['id']),
    kind: x['kind'] as StoredSignal['kind'],
    event_time: (x['event_time'] as Date).getTime(),
    wiki: String(x['wiki']),
    user: String(x['user_name']),
    title: String(x['title']),
    bytes_delta: x['bytes_delta'] === null ? null : Number(x['bytes_delta']),
    diff_url: diffUrl({ type: String(x['type']), domain: String(x['domain']), server_name: x['server_name'] as string | null, title: String(x['title']), revision_old: x['revision_old'] === null ? null : Number(x['revision_old']), revision_new: x['revision_new'] === null ? null : Number(x['revision_new']) }),
  }));
  const alerts = await pool.query<Row>(
    `SELECT id, kind, subject, severity, observed, expected, score, window_start, window_end, message, created_at FROM wiki_alerts
     WHERE coalesce(window_start, created_at) >= $1 AND coalesce(window_start, created_at) < $2${q.wiki ? ' AND subject = $3' : ''} ORDER BY coalesce(window_start, created_at) DESC LIMIT ${q.limit}`,
    values,
  );
  const findings = [...findRevertBursts(signals), ...findLargeRemovals(signals)].slice(0, q.limit);
  return {
    from: iso(q.from),
    to: iso(q.to),
    rules: {
      revert_burst: `at least ${DEFAULT_REVERT_BURST.minReverts} reverts (edit summary reads as a revert, undo or rollback) by one editor on one wiki within ${DEFAULT_REVERT_BURST.withinMs / 60_000} minutes`,
      large_removal: `a non-bot edit removing at least ${LARGE_REMOVAL_BYTES} bytes by an IP address or a temporary account`,
      note: 'Simple rules over stored changes, not machine learning: they point at something worth a look, not at wrongdoing.',
    },
    findings: findings.map((f) => ({ ...f, from: iso(f.from), to: iso(f.to), changes: f.changes.map((c) => ({ ...c, event_time: iso(c.event_time) })) })),
    alerts: alerts.rows.map((a) => ({ ...a, window_start: a['window_start'] ? (a['window_start'] as Date).toISOString() : null, window_end: a['window_end'] ? (a['window_end'] as Date).toISOString() : null, created_at: (a['created_at'] as Date).toISOString() })),
  };
}

/** What the persister committed, pushed to live pages (server-sent events). */
export interface Committed {
  changes: WikiChange[];
  aggregates: WikiAggregate[];
  alerts: WikiAlert[];
  /** Bluesky events stored by the batch (the page refreshes its Bluesky panel). */
  bsky?: readonly unknown[];
}

/** Changes per batch sent to live pages (the page shows the newest; the rest is in the history API). */
const LIVE_CHANGES = 100;

export interface AnalyticsHub {
  publish(c: Committed): void;
  clients(): number;
  close(): void;
}

export function createAnalyticsHub(opts: { maxClients: number }): AnalyticsHub & { attach(req: Request, res: Response): void } {
  const streams = createEventStreams({ maxClients: opts.maxClients });
  const send = (event: string, data: unknown) => streams.send(event, data);
  return {
    attach(req, res) {
      streams.open(req, res);
    },
    publish(c) {
      if (!streams.clients()) return;
      for (const a of c.aggregates) send('window', { wiki: a.wiki, window_start: iso(a.window_start), window_end: iso(a.window_end), total: a.total, bot: a.bot, human: a.human });
      if (c.bsky?.length) send('bluesky', { stored: c.bsky.length });
      for (const a of c.alerts) send('alert', { id: a.id, kind: a.kind, subject: a.subject, severity: a.severity, observed: a.observed, expected: a.expected, message: a.message, window_start: a.window_start === null ? null : iso(a.window_start), window_end: a.window_end === null ? null : iso(a.window_end), created_at: iso(a.created_at) });
      if (c.changes.length) {
        send(
          'changes',
          c.changes.slice(-LIVE_CHANGES).map((x) => ({ id: x.id, event_time: iso(x.event_time), wiki: x.wiki, domain: x.domain, type: x.type, namespace: x.namespace, title: x.title, user: x.user, bot: x.bot, length_old: x.length_old, length_new: x.length_new, comment: x.comment.slice(0, 300), diff_url: diffUrl(x) })),
        );
      }
    },
    clients: () => streams.clients(),
    close: () => streams.close(),
  };
}

/** The page's files (bundled by build-extras.mjs beside main.js); absent when running from the sources unbuilt. */
export function defaultPageDir(): string | undefined {
  for (const dir of [join(__dirname, 'analytics'), join(__dirname, '..', '..', '..', 'dist', 'apps', 'dedup-persister', 'analytics')]) if (existsSync(join(dir, 'index.html'))) return dir;
  return undefined;
}

/** The OpenAPI description of the history and analytics API (copied beside main.js by the build). */
export function openApiPath(): string | undefined {
  return [join(__dirname, 'openapi.json'), join(__dirname, '..', 'openapi.json')].find((p) => existsSync(p));
}


/** GET /analytics/ (the page), /api/analytics/{series,breakdown,suspicious,events}, /api/openapi.json. */
export function analyticsRoutes(opts: { pool: Pool; log: Logger; dbUp: () => boolean; busy?: () => boolean; hub: ReturnType<typeof createAnalyticsHub>; now?: () => number; pageDir?: string }) {
  const { pool, dbUp, busy, hub } = opts;
  const now = opts.now ?? Date.now;
  return (app: Express) => {
    app.get('/api/analytics/series', endpoint((raw) => parseSeriesQuery(raw, now()), (q) => querySeries(pool, q), dbUp, busy));
    app.get('/api/analytics/breakdown', endpoint((raw) => parseBreakdownQuery(raw, now()), (q) => queryBreakdown(pool, q), dbUp, busy));
    app.get('/api/analytics/bluesky', endpoint((raw) => parseBlueskyCountsQuery(raw, now()), (q) => queryBlueskyCounts(pool, q), dbUp, busy));
    app.get('/api/analytics/suspicious', endpoint((raw) => parseSuspiciousQuery(raw, now()), (q) => querySuspicious(pool, q), dbUp, busy));
    app.get('/api/analytics/events', (req, res) => {
      if (Object.keys(req.query).length) {
        res.status(400).json({ error: 'bad_request', parameter: Object.keys(req.query)[0], message: 'unknown parameter (this endpoint takes none)' });
        return;
      }
      hub.attach(req, res);
    });
    const spec = openApiPath();
    if (spec) app.get('/api/openapi.json', (_req, res) => res.sendFile(spec));
    const dir = opts.pageDir ?? defaultPageDir();
    if (dir) {
      app.get('/', (_req, res) => res.redirect('/analytics/'));
      app.use('/analytics', express.static(dir, { index: 'index.html', maxAge: 0 }));
    } else opts.log.warn('analytics page files not found (run nx build dedup-persister); serving the API only');
  };
}
