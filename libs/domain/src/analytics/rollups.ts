import { sizeDelta } from '../recentchange/normalize';
import { LEVEL_MS, ROLLUP_LEVELS, type RollupLevel, floorTo } from './ranges';

/** The wiki of the rollup rows that sum every wiki. */
export const ALL_WIKIS = '*';
/** Entries kept in a rollup bucket's top lists (pages, editors). */
export const ROLLUP_TOP_N = 50;

/** A top-list entry: a page title or an editor, with its wiki in the all-wikis rows. */
export interface TopEntry {
  wiki?: string;
  name: string;
  count: number;
}

const CHANGE_TYPES = ['edit', 'new', 'log', 'categorize', 'external', 'unknown'] as const;
type CountsByType = Record<(typeof CHANGE_TYPES)[number], number>;

/** What a stored window contributes to the rollups. */
export interface WindowCounts {
  wiki: string;
  window_start: number;
  total: number;
  by_type: CountsByType;
  bot: number;
  human: number;
  bytes_added: number;
  bytes_removed: number;
  top_pages: ReadonlyArray<{ title: string; count: number }>;
}

/** A window as stored before this transaction (null: new) and as written by it. */
export interface WindowWrite {
  before: WindowCounts | null;
  after: WindowCounts;
}

/** One row of `window_rollups`. */
export interface WindowRollup {
  level: RollupLevel;
  wiki: string;
  bucket_start: number;
  windows: number;
  total: number;
  by_type: CountsByType;
  bot: number;
  human: number;
  bytes_added: number;
  bytes_removed: number;
  top_pages: TopEntry[];
}

export const rollupKey = (level: string, wiki: string, bucketStart: number): string => `${level}|${wiki}|${bucketStart}`;

/** The rollup rows a window lands in: its bucket at each level, for its wiki and for all wikis. */
export function rollupKeysOf(wiki: string, t: number): Array<{ level: RollupLevel; wiki: string; bucket_start: number }> {
  return ROLLUP_LEVELS.flatMap((level) => [wiki, ALL_WIKIS].map((w) => ({ level, wiki: w, bucket_start: floorTo(t, LEVEL_MS[level]) })));
}

export function emptyWindowRollup(level: RollupLevel, wiki: string, bucketStart: number): WindowRollup {
  return { level, wiki, bucket_start: bucketStart, windows: 0, total: 0, by_type: { edit: 0, new: 0, log: 0, categorize: 0, external: 0, unknown: 0 }, bot: 0, human: 0, bytes_added: 0, bytes_removed: 0, top_pages: [] };
}

const entryKey = (e: { wiki?: string; name: string }) => `${e.wiki ?? ''}\u0000${e.name}`;

/**
 * A top list with `delta` added (negative counts subtract), entries at zero or below dropped, the
 * `n` largest kept (count descending, then wiki and name). The lists are truncated, so a merged
 * list is approximate beyond its head: an entry dropped from one bucket's list loses that count.
 */
export function mergeTop(list: readonly TopEntry[], delta: ReadonlyMap<string, TopEntry>, n: number): TopEntry[] {
  const m = new Map<string, TopEntry>();
  for (const e of list) m.set(entryKey(e), { ...e });
  for (const [k, d] of delta) {
    const cur = m.get(k);
    if (cur) cur.count += d.count;
    else m.set(k, { ...d });
  }
  return [...m.values()]
    .filter((e) => e.count > 0)
    .sort((a, b) => b.count - a.count || (a.wiki ?? '').localeCompare(b.wiki ?? '') || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .slice(0, n);
}

function addTop(delta: Map<string, TopEntry>, e: TopEntry): void {
  const k = entryKey(e);
  const cur = delta.get(k);
  if (cur) cur.count += e.count;
  else delta.set(k, { ...e });
}

/**
 * Applies stored windows to their rollup rows: a new window adds its counts and one window; a window
 * whose counts changed (the aggregator re-emitted it) adds the difference; an unchanged window adds
 * nothing (the caller passes only windows the database reports as inserted or changed). `existing`
 * holds the current rows of every key the windows touch (missing = empty). Returns the new rows.
 */
export function applyWindowWrites(existing: ReadonlyMap<string, WindowRollup>, writes: readonly WindowWrite[], topN = ROLLUP_TOP_N): WindowRollup[] {
  const rows = new Map<string, WindowRollup>();
  const deltas = new Map<string, Map<string, TopEntry>>();
  for (const { before, after } of writes) {
    for (const side of [before, after]) {
      if (!side) continue;
      const sign = side === before ? -1 : 1;
      for (const { level, wiki, bucket_start } of rollupKeysOf(side.wiki, side.window_start)) {
        const k = rollupKey(level, wiki, bucket_start);
        let row = rows.get(k);
        if (!row) {
          const cur = existing.get(k);
          row = cur ? { ...cur, by_type: { ...cur.by_type } } : emptyWindowRollup(level, wiki, bucket_start);
          rows.set(k, row);
        }
        row.windows += sign;
        row.total += sign * side.total;
        for (const t of CHANGE_TYPES) row.by_type[t] += sign * side.by_type[t];
        row.bot += sign * side.bot;
        row.human += sign * side.human;
        row.bytes_added += sign * side.bytes_added;
        row.bytes_removed += sign * side.bytes_removed;
        const d = deltas.get(k) ?? new Map<string, TopEntry>();
        deltas.set(k, d);
        for (const p of side.top_pages) addTop(d, wiki === ALL_WIKIS ? { wiki: side.wiki, name: p.title, count: sign * p.count } : { name: p.title, count: sign * p.count });
      }
    }
  }
  for (const [k, row] of rows) row.top_pages = mergeTop(row.top_pages, deltas.get(k) ?? new Map(), topN);
  return [...rows.values()];
}

/** What a stored change contributes to the change rollups. */
export interface ChangeFacts {
  event_time: number;
  wiki: string;
  domain: string;
  namespace: number;
  type: string;
  bot: boolean;
  user: string;
  length_old: number | null;
  length_new: number | null;
}

/** One additive row of `change_rollups` (per wiki, bucket, namespace, type and bot flag). */
export interface ChangeRollupDelta {
  level: RollupLevel;
  wiki: string;
  bucket_start: number;
  domain: string;
  namespace: number;
  type: string;
  bot: boolean;
  changes: number;
  bytes_added: number;
  bytes_removed: number;
}

/** The additive change-rollup increments of newly stored changes, summed per row key. */
export function changeRollupDeltas(facts: readonly ChangeFacts[]): ChangeRollupDelta[] {
  // Minute rows first (one pass over the changes), then hours and days from the minute rows.
  const minutes = new Map<string, ChangeRollupDelta>();
  for (const c of facts) {
    const bucket = floorTo(c.event_time, LEVEL_MS.minute);
    const k = `${c.wiki}|${bucket}|${c.namespace}|${c.type}|${c.bot}`;
    let row = minutes.get(k);
    if (!row) {
      row = { level: 'minute', wiki: c.wiki, bucket_start: bucket, domain: c.domain, namespace: c.namespace, type: c.type, bot: c.bot, changes: 0, bytes_added: 0, bytes_removed: 0 };
      minutes.set(k, row);
    }
    const d = sizeDelta(c);
    row.changes++;
    if (d > 0) row.bytes_added += d;
    else row.bytes_removed -= d;
  }
  const out: ChangeRollupDelta[] = [...minutes.values()];
  for (const level of ['hour', 'day'] as const) {
    const rows = new Map<string, ChangeRollupDelta>();
    for (const m of minutes.values()) {
      const bucket = floorTo(m.bucket_start, LEVEL_MS[level]);
      const k = `${m.wiki}|${bucket}|${m.namespace}|${m.type}|${m.bot}`;
      const row = rows.get(k);
      if (row) {
        row.changes += m.changes;
        row.bytes_added += m.bytes_added;
        row.bytes_removed += m.bytes_removed;
      } else rows.set(k, { ...m, level, bucket_start: bucket });
    }
    out.push(...rows.values());
  }
  return out;
}

/** Levels of the editor rollups: minute rows would be nearly one per change, so edges are read from the changes. */
export const EDITOR_LEVELS: readonly RollupLevel[] = ['hour', 'day'];

/** One row of `editor_rollups`: changes in the bucket and its top editors. */
export interface EditorRollup {
  level: RollupLevel;
  wiki: string;
  bucket_start: number;
  changes: number;
  top_editors: TopEntry[];
}

/** The editor-rollup rows newly stored changes land in (their wiki and all wikis, hour and day). */
export function editorRollupKeys(facts: readonly ChangeFacts[]): Array<{ level: RollupLevel; wiki: string; bucket_start: number }> {
  const keys = new Map<string, { level: RollupLevel; wiki: string; bucket_start: number }>();
  for (const c of facts) {
    for (const level of EDITOR_LEVELS) {
      for (const wiki of [c.wiki, ALL_WIKIS]) {
        const bucket = floorTo(c.event_time, LEVEL_MS[level]);
        keys.set(rollupKey(level, wiki, bucket), { level, wiki, bucket_start: bucket });
      }
    }
  }
  return [...keys.values()];
}

/** Adds newly stored changes to their editor-rollup rows (`existing`: current rows by key). */
export function applyEditorChanges(existing: ReadonlyMap<string, EditorRollup>, facts: readonly ChangeFacts[], topN = ROLLUP_TOP_N): EditorRollup[] {
  // Changes per editor and hour first (an editor makes many changes a batch), then into the rows.
  const perEditor = new Map<string, { wiki: string; user: string; hour: number; n: number }>();
  for (const c of facts) {
    const hour = floorTo(c.event_time, LEVEL_MS.hour);
    const k = `${c.wiki}\u0000${c.user}\u0000${hour}`;
    const e = perEditor.get(k);
    if (e) e.n++;
    else perEditor.set(k, { wiki: c.wiki, user: c.user, hour, n: 1 });
  }
  const rows = new Map<string, EditorRollup>();
  const deltas = new Map<string, Map<string, TopEntry>>();
  for (const e of perEditor.values()) {
    for (const level of EDITOR_LEVELS) {
      const bucket = floorTo(e.hour, LEVEL_MS[level]);
      for (const wiki of [e.wiki, ALL_WIKIS]) {
        const k = rollupKey(level, wiki, bucket);
        let row = rows.get(k);
        if (!row) {
          const cur = existing.get(k);
          row = cur ? { ...cur } : { level, wiki, bucket_start: bucket, changes: 0, top_editors: [] };
          rows.set(k, row);
        }
        row.changes += e.n;
        let d = deltas.get(k);
        if (!d) {
          d = new Map<string, TopEntry>();
          deltas.set(k, d);
        }
        addTop(d, wiki === ALL_WIKIS ? { wiki: e.wiki, name: e.user, count: e.n } : { name: e.user, count: e.n });
      }
    }
  }
  for (const [k, row] of rows) row.top_editors = mergeTop(row.top_editors, deltas.get(k) ?? new Map(), topN);
  return [...rows.values()];
}

/** Merges the top lists of several buckets into the `n` largest (the range's top pages or editors). */
export function topOfRange(lists: ReadonlyArray<readonly TopEntry[]>, n: number): TopEntry[] {
  const d = new Map<string, TopEntry>();
  for (const l of lists) for (const e of l) addTop(d, e);
  return mergeTop([], d, n);
}
