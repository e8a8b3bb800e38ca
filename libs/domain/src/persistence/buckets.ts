import type { PageCount } from '@wikimonitor/contracts';

/** Bucket sizes the history API offers (label -> milliseconds). */
export const BUCKET_SIZES = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '30m': 1_800_000,
  '1h': 3_600_000,
  '3h': 10_800_000,
  '6h': 21_600_000,
  '12h': 43_200_000,
  '1d': 86_400_000,
} as const;
export type BucketLabel = keyof typeof BUCKET_SIZES;

/** Start of the epoch-aligned bucket holding `t`. */
export function bucketStart(t: number, sizeMs: number): number {
  return Math.floor(t / sizeMs) * sizeMs;
}

/** Whole buckets touching [from, to): first start, end of the last, and how many. */
export function bucketSpan(from: number, to: number, sizeMs: number): { start: number; end: number; count: number } {
  const start = bucketStart(from, sizeMs);
  const end = Math.max(start + sizeMs, Math.ceil(to / sizeMs) * sizeMs);
  return { start, end, count: Math.round((end - start) / sizeMs) };
}

/** Counts of one time span of one wiki: a stored window, a bucket computed from changes, or a merged bucket. */
export interface SpanCounts {
  total: number;
  /** Changes by type (edit, new, log, categorize, external, unknown). */
  by_type: Record<string, number>;
  bot: number;
  human: number;
  bytes_added: number;
  bytes_removed: number;
  distinct_editors: number;
  top_pages: PageCount[];
}

/** A window aggregate as stored (from wiki.aggregates). */
export interface StoredWindow extends SpanCounts {
  window_start: number;
  window_end: number;
}

/** Exact counts computed from stored changes for one bucket (only changes at or after `coveredUntil`). */
export interface ChangesBucket extends SpanCounts {
  bucket_start: number;
}

export interface MergedBucket extends SpanCounts {
  start: number;
  end: number;
  /** Where the counts came from: stored windows, recent changes, both, or nothing. */
  source: 'windows' | 'changes' | 'both' | 'none';
  windows: number;
  /**
   * Distinct editors cannot be added across spans: exact when the bucket is one window or only
   * changes; otherwise the largest part's count (a lower bound).
   */
  distinct_editors_exact: boolean;
}

const empty = (): SpanCounts => ({ total: 0, by_type: {}, bot: 0, human: 0, bytes_added: 0, bytes_removed: 0, distinct_editors: 0, top_pages: [] });

/**
 * The real-time plus historical view: stored windows cover time up to `coveredUntil` (the newest
 * stored window's end); counts after it come from the changes themselves. Each window is placed in
 * the bucket of its start; windows at or after `coveredUntil` cannot exist, and changes before it
 * are never passed in, so nothing is counted twice. Top pages are merged by summing counts.
 */
export function mergeBuckets(input: {
  from: number;
  to: number;
  bucketMs: number;
  topN: number;
  windows: readonly StoredWindow[];
  changes: readonly ChangesBucket[];
}): MergedBucket[] {
  const { start, count } = bucketSpan(input.from, input.to, input.bucketMs);
  const buckets: Array<{ counts: SpanCounts; windows: number; fromChanges: boolean; pages: Map<string, number>; parts: number }> = [];
  for (let i = 0; i < count; i++) buckets.push({ counts: empty(), windows: 0, fromChanges: false, pages: new Map(), parts: 0 });
  const slot = (t: number) => {
    const i = Math.floor((t - start) / input.bucketMs);
    return i >= 0 && i < count ? buckets[i] : undefined;
  };
  const add = (b: (typeof buckets)[number], s: SpanCounts) => {
    const c = b.counts;
    c.total += s.total;
    for (const [k, v] of Object.entries(s.by_type)) c.by_type[k] = (c.by_type[k] ?? 0) + v;
    c.bot += s.bot;
    c.human += s.human;
    c.bytes_added += s.bytes_added;
    c.bytes_removed += s.bytes_removed;
    c.distinct_editors = Math.max(c.distinct_editors, s.distinct_editors);
    for (const p of s.top_pages) b.pages.set(p.title, (b.pages.get(p.title) ?? 0) + p.count);
    b.parts++;
  };
  for (const w of input.windows) {
    const b = slot(w.window_start);
    if (!b) continue;
    add(b, w);
    b.windows++;
  }
  for (const r of input.changes) {
    const b = slot(r.bucket_start);
    if (!b) continue;
    add(b, r);
    b.fromChanges = true;
  }
  return buckets.map((b, i) => {
    const s = start + i * input.bucketMs;
    const top_pages = [...b.pages]
      .map(([title, n]) => ({ title, count: n }))
      .sort((x, y) => y.count - x.count || (x.title < y.title ? -1 : x.title > y.title ? 1 : 0))
      .slice(0, input.topN);
    const source: MergedBucket['source'] = b.windows && b.fromChanges ? 'both' : b.windows ? 'windows' : b.fromChanges ? 'changes' : 'none';
    return { ...b.counts, top_pages, start: s, end: s + input.bucketMs, source, windows: b.windows, distinct_editors_exact: b.parts <= 1 };
  });
}
