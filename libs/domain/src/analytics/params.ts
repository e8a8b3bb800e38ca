import { BadParam, type ParamResult, checkRange, queryReader, runParams } from '../persistence/query-params';
import { MAX_RANGE_MS, RANGE_PRESETS, type RangePreset } from './ranges';

/** A resolved time range: a preset ending now, or explicit `from` and `to`. */
export interface AnalyticsRange {
  from: number;
  to: number;
  /** The preset asked for, if any. */
  range?: RangePreset;
}

export interface SeriesQuery extends AnalyticsRange {
  wiki?: string;
  /** How many of the busiest wikis get their own series (0..10). */
  wikis: number;
}

export interface BreakdownQuery extends AnalyticsRange {
  wiki?: string;
  top: number;
}

export interface SuspiciousQuery extends AnalyticsRange {
  wiki?: string;
  limit: number;
}

/** GET /api/analytics/bluesky: Bluesky events counted per collection/operation (or kind) over a range. */
export interface BlueskyCountsQuery extends AnalyticsRange {
  top: number;
}

export const ANALYTICS_LIMITS = { defaultWikis: 5, maxWikis: 10, defaultTop: 10, maxTop: 50, defaultFindings: 50, maxFindings: 500, defaultRange: '1h' as RangePreset } as const;

type Reader = ReturnType<typeof queryReader>;

function readRange(r: Reader, now: number): AnalyticsRange {
  const preset = r.one('range');
  const from = r.time('from');
  const to = r.time('to');
  if (preset !== undefined) {
    if (!Object.prototype.hasOwnProperty.call(RANGE_PRESETS, preset)) throw new BadParam('range', `must be one of ${Object.keys(RANGE_PRESETS).join(', ')}`);
    if (from !== undefined || to !== undefined) throw new BadParam('range', 'give either range or from/to, not both');
    const p = preset as RangePreset;
    return { from: now - RANGE_PRESETS[p], to: now, range: p };
  }
  if (from === undefined) {
    if (to !== undefined) throw new BadParam('from', 'is required with to');
    const p = ANALYTICS_LIMITS.defaultRange;
    return { from: now - RANGE_PRESETS[p], to: now, range: p };
  }
  const end = to ?? now;
  checkRange(from, end);
  if (end - from > MAX_RANGE_MS) throw new BadParam('from', `the range must be at most ${MAX_RANGE_MS / 86_400_000} days`);
  return { from, to: end };
}

/** GET /api/analytics/series: range | from/to, wiki, wikis. */
export function parseSeriesQuery(raw: Record<string, unknown>, now: number): ParamResult<SeriesQuery> {
  return runParams(() => {
    const r = queryReader(raw, ['range', 'from', 'to', 'wiki', 'wikis']);
    const q: SeriesQuery = { ...readRange(r, now), wikis: r.int('wikis', ANALYTICS_LIMITS.defaultWikis, 0, ANALYTICS_LIMITS.maxWikis, false) };
    const wiki = r.wiki('wiki');
    if (wiki !== undefined) q.wiki = wiki;
    return q;
  });
}

/** GET /api/analytics/breakdown: range | from/to, wiki, top. */
export function parseBreakdownQuery(raw: Record<string, unknown>, now: number): ParamResult<BreakdownQuery> {
  return runParams(() => {
    const r = queryReader(raw, ['range', 'from', 'to', 'wiki', 'top']);
    const q: BreakdownQuery = { ...readRange(r, now), top: r.int('top', ANALYTICS_LIMITS.defaultTop, 1, ANALYTICS_LIMITS.maxTop, false) };
    const wiki = r.wiki('wiki');
    if (wiki !== undefined) q.wiki = wiki;
    return q;
  });
}

/** GET /api/analytics/suspicious: range | from/to, wiki, limit. */
export function parseSuspiciousQuery(raw: Record<string, unknown>, now: number): ParamResult<SuspiciousQuery> {
  return runParams(() => {
    const r = queryReader(raw, ['range', 'from', 'to', 'wiki', 'limit']);
    const q: SuspiciousQuery = { ...readRange(r, now), limit: r.int('limit', ANALYTICS_LIMITS.defaultFindings, 1, ANALYTICS_LIMITS.maxFindings, false) };
    const wiki = r.wiki('wiki');
    if (wiki !== undefined) q.wiki = wiki;
    return q;
  });
}

/** GET /api/analytics/bluesky: range | from/to, top (subjects listed, busiest first). */
export function parseBlueskyCountsQuery(raw: Record<string, unknown>, now: number): ParamResult<BlueskyCountsQuery> {
  return runParams(() => {
    const r = queryReader(raw, ['range', 'from', 'to', 'top']);
    return { ...readRange(r, now), top: r.int('top', ANALYTICS_LIMITS.maxTop, 1, ANALYTICS_LIMITS.maxTop, false) };
  });
}
