import {
  classifyDbError,
  diffUrl,
  type LinkableChange,
  type AggregatesQuery,
  type AlertsQuery,
  type ChangesBucket,
  type ChangesQuery,
  type ParamResult,
  type StoredWindow,
  bucketSpan,
  encodeCursor,
  mergeBuckets,
  parseAggregatesQuery,
  parseAlertsQuery,
  parseChangesQuery,
  recordFromRow,
  WIKI_AGGREGATES,
  WIKI_ALERTS,
  WIKI_CHANGES,
} from '@wikimonitor/domain';
import type { Logger } from '@wikimonitor/service-kit';
import type { Express, NextFunction, Request, Response } from 'express';
import type { Pool } from 'pg';

type Row = Record<string, unknown>;

/** A stored change as the API returns it (the WikiChange field names, ISO times, persisted_at, and the link to it on its wiki). */
const changeOut = (r: Row) => {
  const c = recordFromRow(WIKI_CHANGES, r, { times: 'iso', withDefaults: true });
  return { ...c, diff_url: diffUrl(c as unknown as LinkableChange) };
};

/** A stored alert as the API returns it (the WikiAlert field names, ISO times). */
const alertOut = (r: Row) => recordFromRow(WIKI_ALERTS, r, { times: 'iso' });

/** Builds a parameterized WHERE clause: values only ever travel as $n parameters. */
class Where {
  readonly parts: string[] = [];
  readonly values: unknown[] = [];
  add(sqlWithPlaceholder: (p: string) => string, value: unknown): this {
    this.values.push(value);
    this.parts.push(sqlWithPlaceholder(`$${this.values.length}`));
    return this;
  }
  addPair(sql: (a: string, b: string) => string, a: unknown, b: unknown): this {
    this.values.push(a, b);
    this.parts.push(sql(`$${this.values.length - 1}`, `$${this.values.length}`));
    return this;
  }
  sql(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

export async function queryChanges(pool: Pool, q: ChangesQuery) {
  const w = new Where();
  if (q.wiki !== undefined) w.add((p) => `wiki = ${p}`, q.wiki);
  if (q.types) w.add((p) => `type = ANY(${p}::text[])`, q.types);
  if (q.user !== undefined) w.add((p) => `user_name = ${p}`, q.user);
  if (q.bot !== undefined) w.add((p) => `bot = ${p}`, q.bot);
  if (q.namespaces) w.add((p) => `namespace = ANY(${p}::int4[])`, q.namespaces);
  if (q.from !== undefined) w.add((p) => `event_time >= ${p}`, new Date(q.from));
  if (q.to !== undefined) w.add((p) => `event_time < ${p}`, new Date(q.to));
  if (q.cursor) w.addPair((a, b) => `(event_time, id) < (${a}, ${b})`, new Date(q.cursor.time), q.cursor.id);
  w.values.push(q.limit + 1);
  const res = await pool.query<Row>(`SELECT * FROM wiki_changes ${w.sql()} ORDER BY event_time DESC, id DESC LIMIT $${w.values.length}`, w.values);
  const page = res.rows.slice(0, q.limit);
  const last = page[page.length - 1];
  const next = res.rows.length > q.limit && last ? encodeCursor({ time: (last['event_time'] as Date).getTime(), id: String(last['id']) }) : null;
  return { items: page.map(changeOut), next, limit: q.limit };
}

export async function queryAlerts(pool: Pool, q: AlertsQuery) {
  const w = new Where();
  if (q.kinds) w.add((p) => `kind = ANY(${p}::text[])`, q.kinds);
  if (q.severities) w.add((p) => `severity = ANY(${p}::text[])`, q.severities);
  if (q.subject !== undefined) w.add((p) => `subject = ${p}`, q.subject);
  if (q.from !== undefined) w.add((p) => `created_at >= ${p}`, new Date(q.from));
  if (q.to !== undefined) w.add((p) => `created_at < ${p}`, new Date(q.to));
  if (q.cursor) w.addPair((a, b) => `(created_at, id) < (${a}, ${b})`, new Date(q.cursor.time), q.cursor.id);
  w.values.push(q.limit + 1);
  const res = await pool.query<Row>(`SELECT * FROM wiki_alerts ${w.sql()} ORDER BY created_at DESC, id DESC LIMIT $${w.values.length}`, w.values);
  const page = res.rows.slice(0, q.limit);
  const last = page[page.length - 1];
  const next = res.rows.length > q.limit && last ? encodeCursor({ time: (last['created_at'] as Date).getTime(), id: String(last['id']) }) : null;
  return { items: page.map(alertOut), next, limit: q.limit };
}

const BUCKET_EXPR = `(floor(extract(epoch FROM event_time) * 1000 / $2::int8) * $2::int8)::int8`;

/**
 * Per-wiki activity in buckets: stored windows up to the newest stored window's end, and exact
 * counts from the stored changes after it (the windows the aggregator has not closed yet).
 */
export async function queryAggregates(pool: Pool, q: AggregatesQuery) {
  const span = bucketSpan(q.from, q.to, q.bucketMs);
  const covered = await pool.query<{ until: Date | null }>('SELECT max(window_end) AS until FROM wiki_aggregates WHERE wiki = $1', [q.wiki]);
  const coveredUntil = covered.rows[0]?.until?.getTime() ?? null;
  const windowsRes = await pool.query<Row>(
    'SELECT * FROM wiki_aggregates WHERE wiki = $1 AND window_start >= $2 AND window_start < $3 ORDER BY window_start',
    [q.wiki, new Date(span.start), new Date(span.end)],
  );
  const windows = windowsRes.rows.map((r) => recordFromRow(WIKI_AGGREGATES, r) as unknown as StoredWindow);
  const liveFrom = Math.max(span.start, coveredUntil ?? span.start);
  const changes: ChangesBucket[] = [];
  if (liveFrom < span.end) {
    const args = [q.wiki, q.bucketMs, new Date(liveFrom), new Date(span.end)];
    const where = 'wiki = $1 AND event_time >= $3 AND event_time < $4';
    const counts = await pool.query<Row>(
      `SELECT ${BUCKET_EXPR} AS b, count(*) AS total,
         count(*) FILTER (WHERE type = 'edit') AS edit, count(*) FILTER (WHERE type = 'new') AS new_,
         count(*) FILTER (WHERE type = 'log') AS log, count(*) FILTER (WHERE type = 'categorize') AS categorize,
         count(*) FILTER (WHERE type = 'external') AS external, count(*) FILTER (WHERE type = 'unknown') AS unknown,
         count(*) FILTER (WHERE bot) AS bot, count(*) FILTER (WHERE NOT bot) AS human,
         coalesce(sum(greatest(coalesce(length_new, 0) - coalesce(length_old, 0), 0)), 0)::int8 AS bytes_added,
         coalesce(sum(greatest(coalesce(length_old, 0) - coalesce(length_new, 0), 0)), 0)::int8 AS bytes_removed,
         count(DISTINCT user_name) AS distinct_editors
       FROM wiki_changes WHERE ${where} GROUP BY 1 ORDER BY 1`,
      args,
    );
    const top = new Map<number, Array<{ title: string; count: number }>>();
    if (q.top > 0) {
      const pages = await pool.query<{ b: string; title: string; n: string }>(
        `SELECT b, title, n FROM (
           SELECT b, title, count(*)::int8 AS n, row_number() OVER (PARTITION BY b ORDER BY count(*) DESC, title COLLATE "C") AS rk
           FROM (SELECT ${BUCKET_EXPR} AS b, title FROM wiki_changes WHERE ${where}) s GROUP BY b, title
         ) t WHERE rk <= $5 ORDER BY b, rk`,
        [...args, q.top],
      );
      for (const p of pages.rows) {
        const b = Number(p.b);
        const l = top.get(b) ?? [];
        l.push({ title: p.title, count: Number(p.n) });
        top.set(b, l);
      }
    }
    for (const r of counts.rows) {
      const b = Number(r['b']);
      changes.push({
        bucket_start: b,
        total: Number(r['total']),
        by_type: {
          edit: Number(r['edit']),
          new: Number(r['new_']),
          log: Number(r['log']),
          categorize: Number(r['categorize']),
          external: Number(r['external']),
          unknown: Number(r['unknown']),
        },
        bot: Number(r['bot']),
        human: Number(r['human']),
        bytes_added: Number(r['bytes_added']),
        bytes_removed: Number(r['bytes_removed']),
        distinct_editors: Number(r['distinct_editors']),
        top_pages: top.get(b) ?? [],
      });
    }
  }
  const buckets = mergeBuckets({ from: q.from, to: q.to, bucketMs: q.bucketMs, topN: q.top, windows, changes });
  return {
    wiki: q.wiki,
    bucket: q.bucket,
    from: new Date(span.start).toISOString(),
    to: new Date(span.end).toISOString(),
    covered_until: coveredUntil === null ? null : new Date(coveredUntil).toISOString(),
    buckets: buckets.map((b) => ({ ...b, start: new Date(b.start).toISOString(), end: new Date(b.end).toISOString() })),
  };
}

/** SQLSTATE of a statement cancelled by statement_timeout. */
const QUERY_CANCELED = '57014';

/** A failed query's answer: 503 when trying again may help (database down, busy, timed out), else the error handler (500, no details). */
function queryFailed(res: Response, next: NextFunction, err: unknown, dbUp: () => boolean): void {
  const code = (err as { code?: unknown }).code;
  if (code === QUERY_CANCELED) res.status(503).json({ error: 'timeout', message: 'the query took too long; narrow the time range or lower the limit' });
  else if ((typeof code === 'string' && classifyDbError(code) === 'retriable') || !dbUp()) res.status(503).json({ error: 'unavailable', message: 'the database is not reachable; try again' });
  else next(err);
}

/**
 * Whether another query would exceed the bound: every connection of the pool in use and `maxWaiting`
 * queries already queued for one (0: no queue at all).
 */
export function poolBusy(pool: Pick<Pool, 'waitingCount' | 'idleCount' | 'totalCount'>, size: number, maxWaiting: number): boolean {
  return pool.idleCount === 0 && pool.totalCount >= size && pool.waitingCount >= maxWaiting;
}

/**
 * Answers 503 (Retry-After) when the API pool's queue is full: the queue is bounded, so a flood
 * costs each caller a fast refusal instead of memory and latency for all. Checked after the
 * parameters, so a bad request is a 400 whatever the load.
 */
function refusedWhenBusy(res: Response, busy: (() => boolean) | undefined): boolean {
  if (!busy?.()) return false;
  res.status(503).set('Retry-After', '1').json({ error: 'busy', message: 'too many queries in progress; try again' });
  return true;
}

/** Answers 400 naming the parameter, or runs the query; unexpected failures go to the error handler (500, no details). */
export function endpoint<Q>(parse: (raw: Record<string, unknown>) => ParamResult<Q>, run: (q: Q) => Promise<unknown>, dbUp: () => boolean, busy?: () => boolean) {
  return (req: Request, res: Response, next: NextFunction) => {
    const parsed = parse(req.query as Record<string, unknown>);
    if (!parsed.ok) {
      res.status(400).json({ error: 'bad_request', parameter: parsed.param, message: parsed.message });
      return;
    }
    if (refusedWhenBusy(res, busy)) return;
    // The database being down is the client's 503 (try again), not an internal error.
    run(parsed.value).then(
      (body) => res.json(body),
      (err: unknown) => queryFailed(res, next, err, dbUp),
    );
  };
}

/** The history API routes (GET /api/changes, /api/changes/:id, /api/aggregates, /api/alerts). */
export function historyRoutes(opts: { pool: Pool; log: Logger; dbUp: () => boolean; busy?: () => boolean; now?: () => number }) {
  const { pool, log, dbUp, busy } = opts;
  const now = opts.now ?? Date.now;
  return (app: Express) => {
    app.get('/api/changes', endpoint(parseChangesQuery, (q) => queryChanges(pool, q), dbUp, busy));
    app.get('/api/changes/:id', (req, res, next) => {
      const id = req.params['id'] ?? '';
      if (id.length > 255 || Object.keys(req.query).length) {
        res.status(400).json({ error: 'bad_request', parameter: id.length > 255 ? 'id' : Object.keys(req.query)[0], message: id.length > 255 ? 'id: must be at most 255 characters' : 'unknown parameter' });
        return;
      }
      if (refusedWhenBusy(res, busy)) return;
      pool
        .query<Row>('SELECT * FROM wiki_changes WHERE id = $1', [id])
        .then((r) => {
          const row = r.rows[0];
          if (row) res.json(changeOut(row));
          else res.status(404).json({ error: 'not_found', message: 'no change with this id' });
        }, (err: unknown) => queryFailed(res, next, err, dbUp));
    });
    app.get('/api/aggregates', endpoint((raw) => parseAggregatesQuery(raw, now()), (q) => queryAggregates(pool, q), dbUp, busy));
    app.get('/api/alerts', endpoint(parseAlertsQuery, (q) => queryAlerts(pool, q), dbUp, busy));
    app.use('/api', (_req, res) => {
      res.status(404).json({ error: 'not_found', message: 'unknown endpoint; see apps/dedup-persister/README.md' });
    });
    log.debug('history API mounted');
  };
}
