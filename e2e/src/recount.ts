import type { WikiAggregate, WikiChange } from '@wikimonitor/contracts';

/** The fields of a change that an aggregate depends on. */
export type CountedChange = Pick<WikiChange, 'id' | 'wiki' | 'event_time' | 'type' | 'bot' | 'user' | 'title' | 'length_old' | 'length_new'>;

export interface RecountOptions {
  windowMs: number;
  latenessMs: number;
  topPages: number;
}

export interface Recount {
  /** Windows the per-wiki watermark has closed by the end of the input: what the aggregator must have emitted. */
  closed: WikiAggregate[];
  /** Windows still open at the end (their wiki's watermark has not passed them): not emitted yet. */
  open: WikiAggregate[];
  /** Ids of changes that arrived after their window had closed (the late topic's content). */
  lateIds: string[];
}

/**
 * The offline recount the chaos suite compares the aggregator with. Written from the aggregator's
 * README, not from its code: per wiki, in log order, a change is late when its window ends at or
 * before (newest earlier event time of that wiki - lateness); a window is closed (emitted) once
 * (newest event time of its wiki - lateness) reaches its end. Idle closing (processing time) is not
 * modelled: the suite runs the aggregator with an idle timeout longer than any run, so only the
 * watermark closes windows and the result depends on the input alone.
 */
export function recountAggregates(changes: Iterable<CountedChange>, opts: RecountOptions): Recount {
  const { windowMs, latenessMs } = opts;
  const newest = new Map<string, number>();
  const lateIds: string[] = [];
  const windows = new Map<string, CountedChange[]>();
  for (const c of changes) {
    const start = Math.floor(c.event_time / windowMs) * windowMs;
    const seen = newest.get(c.wiki);
    if (seen !== undefined && start + windowMs <= seen - latenessMs) {
      lateIds.push(c.id);
      continue;
    }
    newest.set(c.wiki, seen === undefined ? c.event_time : Math.max(seen, c.event_time));
    const key = `${c.wiki}\u0000${start}`;
    let list = windows.get(key);
    if (!list) windows.set(key, (list = []));
    list.push(c);
  }
  const closed: WikiAggregate[] = [];
  const open: WikiAggregate[] = [];
  for (const [key, list] of windows) {
    const [wiki, startText] = key.split('\u0000') as [string, string];
    const start = Number(startText);
    const agg = summarize(wiki, start, windowMs, list, opts.topPages);
    const watermark = (newest.get(wiki) ?? -Infinity) - latenessMs;
    (start + windowMs <= watermark ? closed : open).push(agg);
  }
  return { closed: sortAggregates(closed), open: sortAggregates(open), lateIds: lateIds.sort() };
}

/**
 * The recount of two-stage aggregation (the aggregator's AGGREGATION_MODE=two-stage, its README),
 * written from the rule, not from the code: `partitions[p]` is input partition p's changes in log
 * order. Per partition, a change is late when its window ends at or before (newest earlier event time
 * in that partition - lateness). A window of a wiki sums the non-late changes of every partition, and
 * is closed (emitted) once every partition's (newest event time - lateness) reached its end; a
 * partition without any change holds every window open. Idle closing is not modelled (as above).
 */
export function recountTwoStage(partitions: ReadonlyArray<Iterable<CountedChange>>, opts: RecountOptions): Recount {
  const { windowMs, latenessMs } = opts;
  const lateIds: string[] = [];
  const windows = new Map<string, CountedChange[]>();
  let complete = Infinity;
  for (const changes of partitions) {
    let newest: number | undefined;
    for (const c of changes) {
      const start = Math.floor(c.event_time / windowMs) * windowMs;
      if (newest !== undefined && start + windowMs <= newest - latenessMs) {
        lateIds.push(c.id);
        continue;
      }
      newest = newest === undefined ? c.event_time : Math.max(newest, c.event_time);
      const key = `${c.wiki}\u0000${start}`;
      let list = windows.get(key);
      if (!list) windows.set(key, (list = []));
      list.push(c);
    }
    complete = Math.min(complete, newest === undefined ? -Infinity : newest - latenessMs);
  }
  const closed: WikiAggregate[] = [];
  const open: WikiAggregate[] = [];
  for (const [key, list] of windows) {
    const [wiki, startText] = key.split('\u0000') as [string, string];
    const start = Number(startText);
    (start + windowMs <= complete ? closed : open).push(summarize(wiki, start, windowMs, list, opts.topPages));
  }
  return { closed: sortAggregates(closed), open: sortAggregates(open), lateIds: lateIds.sort() };
}

function summarize(wiki: string, start: number, windowMs: number, list: CountedChange[], topPages: number): WikiAggregate {
  let bytesAdded = 0;
  let bytesRemoved = 0;
  const byType = { edit: 0, new: 0, log: 0, categorize: 0, external: 0, unknown: 0 };
  const pages = new Map<string, number>();
  let bot = 0;
  for (const c of list) {
    const delta = (c.length_new ?? 0) - (c.length_old ?? 0);
    if (delta > 0) bytesAdded += delta;
    else bytesRemoved -= delta;
    byType[c.type] += 1;
    if (c.bot) bot++;
    pages.set(c.title, (pages.get(c.title) ?? 0) + 1);
  }
  const top = [...pages.entries()]
    .map(([title, count]) => ({ title, count }))
    .sort((a, b) => b.count - a.count || (a.title < b.title ? -1 : a.title > b.title ? 1 : 0))
    .slice(0, topPages);
  return {
    wiki,
    window_start: start,
    window_end: start + windowMs,
    total: list.length,
    by_type: byType,
    bot,
    human: list.length - bot,
    bytes_added: bytesAdded,
    bytes_removed: bytesRemoved,
    distinct_editors: new Set(list.map((c) => c.user)).size,
    top_pages: top,
    first_event_time: Math.min(...list.map((c) => c.event_time)),
    last_event_time: Math.max(...list.map((c) => c.event_time)),
  };
}

export function aggregateKey(a: Pick<WikiAggregate, 'wiki' | 'window_start'>): string {
  return `${a.wiki}@${a.window_start}`;
}

export function sortAggregates(list: WikiAggregate[]): WikiAggregate[] {
  return [...list].sort((a, b) => (a.wiki < b.wiki ? -1 : a.wiki > b.wiki ? 1 : a.window_start - b.window_start));
}

export interface AggregateDiff {
  /** Windows in both with every field equal. */
  equal: number;
  missing: string[];
  unexpected: string[];
  /** Windows in both whose fields differ: key and the first differing field. */
  different: Array<{ key: string; field: string; expected: unknown; actual: unknown }>;
}

/** Compares stored aggregates with the recount, field by field. */
export function diffAggregates(expected: WikiAggregate[], actual: WikiAggregate[]): AggregateDiff {
  const want = new Map(expected.map((a) => [aggregateKey(a), a]));
  const got = new Map(actual.map((a) => [aggregateKey(a), a]));
  const diff: AggregateDiff = { equal: 0, missing: [], unexpected: [], different: [] };
  for (const [key, e] of want) {
    const a = got.get(key);
    if (!a) {
      diff.missing.push(key);
      continue;
    }
    const field = (Object.keys(e) as Array<keyof WikiAggregate>).find((f) => JSON.stringify(e[f]) !== JSON.stringify(a[f]));
    if (field) diff.different.push({ key, field, expected: e[field], actual: a[field] });
    else diff.equal++;
  }
  for (const key of got.keys()) if (!want.has(key)) diff.unexpected.push(key);
  return diff;
}
