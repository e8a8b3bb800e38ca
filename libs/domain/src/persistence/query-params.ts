import { AlertKindSymbols, AlertSeveritySymbols, ChangeTypeSymbols, type AlertKind, type AlertSeverity, type ChangeType } from '@wikimonitor/contracts';
import { BUCKET_SIZES, type BucketLabel, bucketSpan } from './buckets';

/** Caps and defaults of the history API. */
export const API_LIMITS = {
  defaultLimit: 100,
  maxLimit: 1000,
  maxBuckets: 1440,
  maxTextLength: 255,
  defaultTopPages: 10,
  maxTopPages: 50,
  /** Aggregates without `from`: this long before `to`. */
  defaultAggregateRangeMs: 3_600_000,
} as const;

/** A parsed query, or the parameter that was wrong and why (the API answers 400 with both). */
export type ParamResult<T> = { ok: true; value: T } | { ok: false; param: string; message: string };

/** Position after the last item of a page (newest-first order: time, then id). */
export interface Cursor {
  time: number;
  id: string;
}

export interface ChangesQuery {
  wiki?: string;
  types?: ChangeType[];
  user?: string;
  bot?: boolean;
  /** Namespace numbers (0 = articles). */
  namespaces?: number[];
  from?: number;
  to?: number;
  limit: number;
  cursor?: Cursor;
}

export interface AggregatesQuery {
  wiki: string;
  from: number;
  to: number;
  bucket: BucketLabel;
  bucketMs: number;
  top: number;
}

export interface AlertsQuery {
  kinds?: AlertKind[];
  severities?: AlertSeverity[];
  subject?: string;
  from?: number;
  to?: number;
  limit: number;
  cursor?: Cursor;
}

/** A parameter the API refuses (400 naming it). */
export class BadParam extends Error {
  constructor(
    readonly param: string,
    readonly reason: string,
  ) {
    super(`${param}: ${reason}`);
  }
}

const WIKI_RE = /^[a-z0-9_-]{1,64}$/;
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;
const MAX_TIME = 8_640_000_000_000_000;

type Raw = Record<string, unknown>;

/** Reads query parameters: unknown or repeated ones, and bad values, throw BadParam. */
export function queryReader(raw: Raw, allowed: readonly string[]) {
  for (const k of Object.keys(raw)) {
    if (!allowed.includes(k)) throw new BadParam(k, `unknown parameter (allowed: ${allowed.join(', ')})`);
  }
  const one = (name: string): string | undefined => {
    const v = raw[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new BadParam(name, 'must be given once, as a plain value');
    if (v === '') throw new BadParam(name, 'must not be empty');
    return v;
  };
  return {
    one,
    wiki(name: string): string | undefined {
      const v = one(name);
      if (v !== undefined && !WIKI_RE.test(v)) throw new BadParam(name, 'must be a wiki database name such as enwiki (lowercase letters, digits, _ or -, at most 64)');
      return v;
    },
    text(name: string): string | undefined {
      const v = one(name);
      if (v === undefined) return undefined;
      if (v.length > API_LIMITS.maxTextLength) throw new BadParam(name, `must be at most ${API_LIMITS.maxTextLength} characters`);
      if (CONTROL_RE.test(v)) throw new BadParam(name, 'must not contain control characters');
      return v;
    },
    bool(name: string): boolean | undefined {
      const v = one(name);
      if (v === undefined) return undefined;
      if (v !== 'true' && v !== 'false') throw new BadParam(name, 'must be true or false');
      return v === 'true';
    },
    time(name: string): number | undefined {
      const v = one(name);
      return v === undefined ? undefined : parseTime(name, v);
    },
    ints(name: string, min: number, max: number): number[] | undefined {
      const v = one(name);
      if (v === undefined) return undefined;
      const parts = v.split(',');
      for (const p of parts) {
        if (!/^-?\d{1,9}$/.test(p) || Number(p) < min || Number(p) > max) throw new BadParam(name, `must be one or more integers from ${min} to ${max} (comma-separated); got ${JSON.stringify(p.slice(0, 40))}`);
      }
      return [...new Set(parts.map(Number))];
    },
    int(name: string, def: number, min: number, max: number, cap: boolean): number {
      const v = one(name);
      if (v === undefined) return def;
      if (!/^\d{1,9}$/.test(v)) throw new BadParam(name, `must be an integer from ${min} to ${max}`);
      const n = Number(v);
      if (n < min || (!cap && n > max)) throw new BadParam(name, `must be an integer from ${min} to ${max}`);
      return Math.min(n, max);
    },
    list<T extends string>(name: string, symbols: readonly T[]): T[] | undefined {
      const v = one(name);
      if (v === undefined) return undefined;
      const parts = v.split(',');
      for (const p of parts) {
        if (!(symbols as readonly string[]).includes(p)) throw new BadParam(name, `must be one or more of ${symbols.join(', ')} (comma-separated); got ${JSON.stringify(p.slice(0, 40))}`);
      }
      return [...new Set(parts)] as T[];
    },
    cursor(name: string): Cursor | undefined {
      const v = one(name);
      if (v === undefined) return undefined;
      const c = decodeCursor(v);
      if (!c) throw new BadParam(name, 'is not a cursor returned by this API');
      return c;
    },
  };
}

function parseTime(name: string, v: string): number {
  let t: number;
  if (/^\d{1,16}$/.test(v)) t = Number(v);
  else if (ISO_RE.test(v)) t = Date.parse(v);
  else t = NaN;
  if (!Number.isFinite(t) || t > MAX_TIME) {
    throw new BadParam(name, 'must be an ISO-8601 date or date-time with a zone (e.g. 2026-02-26T15:49:36Z) or epoch milliseconds');
  }
  return t;
}

export function checkRange(from: number | undefined, to: number | undefined): void {
  if (from !== undefined && to !== undefined && from >= to) throw new BadParam('from', 'must be before to');
}

/** Runs a parser, turning BadParam into the 400 answer's `{ ok: false, param, message }`. */
export function runParams<T>(fn: () => T): ParamResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof BadParam) return { ok: false, param: err.param, message: err.message };
    throw err;
  }
}

/** Opaque page cursor: base64url of `time:id` (UTF-8). */
export function encodeCursor(c: Cursor): string {
  const bytes = new TextEncoder().encode(`${c.time}:${c.id}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeCursor(s: string): Cursor | null {
  if (s.length > 1000 || !/^[A-Za-z0-9_-]+$/.test(s)) return null;
  let decoded: string;
  try {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0)));
  } catch {
    return null;
  }
  const m = /^(\d{1,16}):(.+)$/s.exec(decoded);
  if (!m) return null;
  const time = Number(m[1]);
  if (!Number.isFinite(time) || time > MAX_TIME) return null;
  return { time, id: m[2] as string };
}

/** GET /api/changes: wiki, type (list), user, bot, from, to (on event time), limit (capped), cursor. */
export function parseChangesQuery(raw: Raw): ParamResult<ChangesQuery> {
  return runParams(() => {
    const r = queryReader(raw, ['wiki', 'type', 'user', 'bot', 'namespace', 'from', 'to', 'limit', 'cursor']);
    const q: ChangesQuery = { limit: r.int('limit', API_LIMITS.defaultLimit, 1, API_LIMITS.maxLimit, true) };
    const wiki = r.wiki('wiki');
    if (wiki !== undefined) q.wiki = wiki;
    const types = r.list('type', ChangeTypeSymbols);
    if (types) q.types = types;
    const user = r.text('user');
    if (user !== undefined) q.user = user;
    const bot = r.bool('bot');
    if (bot !== undefined) q.bot = bot;
    const namespaces = r.ints('namespace', -2, 100_000);
    if (namespaces) q.namespaces = namespaces;
    const from = r.time('from');
    const to = r.time('to');
    checkRange(from, to);
    if (from !== undefined) q.from = from;
    if (to !== undefined) q.to = to;
    const cursor = r.cursor('cursor');
    if (cursor) q.cursor = cursor;
    return q;
  });
}

/** GET /api/aggregates: wiki (required), from/to (default: the hour before now), bucket, top. */
export function parseAggregatesQuery(raw: Raw, now: number): ParamResult<AggregatesQuery> {
  return runParams(() => {
    const r = queryReader(raw, ['wiki', 'from', 'to', 'bucket', 'top']);
    const wiki = r.wiki('wiki');
    if (wiki === undefined) throw new BadParam('wiki', 'is required');
    const to = r.time('to') ?? now;
    const from = r.time('from') ?? to - API_LIMITS.defaultAggregateRangeMs;
    checkRange(from, to);
    const label = r.one('bucket') ?? '1m';
    if (!Object.prototype.hasOwnProperty.call(BUCKET_SIZES, label)) throw new BadParam('bucket', `must be one of ${Object.keys(BUCKET_SIZES).join(', ')}`);
    const bucket = label as BucketLabel;
    const bucketMs = BUCKET_SIZES[bucket];
    const { count } = bucketSpan(from, to, bucketMs);
    if (count > API_LIMITS.maxBuckets) {
      throw new BadParam('bucket', `gives ${count} buckets over this range; at most ${API_LIMITS.maxBuckets} (use a larger bucket or a shorter range)`);
    }
    const top = r.int('top', API_LIMITS.defaultTopPages, 0, API_LIMITS.maxTopPages, true);
    return { wiki, from, to, bucket, bucketMs, top };
  });
}

/** GET /api/alerts: kind (list), severity (list), subject, from/to (on created_at), limit (capped), cursor. */
export function parseAlertsQuery(raw: Raw): ParamResult<AlertsQuery> {
  return runParams(() => {
    const r = queryReader(raw, ['kind', 'severity', 'subject', 'from', 'to', 'limit', 'cursor']);
    const q: AlertsQuery = { limit: r.int('limit', API_LIMITS.defaultLimit, 1, API_LIMITS.maxLimit, true) };
    const kinds = r.list('kind', AlertKindSymbols);
    if (kinds) q.kinds = kinds;
    const severities = r.list('severity', AlertSeveritySymbols);
    if (severities) q.severities = severities;
    const subject = r.text('subject');
    if (subject !== undefined) q.subject = subject;
    const from = r.time('from');
    const to = r.time('to');
    checkRange(from, to);
    if (from !== undefined) q.from = from;
    if (to !== undefined) q.to = to;
    const cursor = r.cursor('cursor');
    if (cursor) q.cursor = cursor;
    return q;
  });
}
