import type { ChangeType, WikiAggregate, WikiAlert, WikiChange } from '@wikimonitor/contracts';
import { ChangeTypeSymbols } from '@wikimonitor/contracts';
import { sizeDelta } from '../recentchange/normalize';
import { type SpikeConfig, type SpikeState, EMPTY_SPIKE_STATE, detectSpike, skipEmptyWindows } from './spike';

/**
 * Tumbling event-time windows per wiki with a per-wiki watermark.
 *
 * Each wiki has its own event-time clock: watermark(wiki) = newest event time seen for that wiki
 * minus the allowed lateness. A window [start, start + size) closes when the watermark reaches its
 * end; an event whose window has already closed is late (reported, never counted). Because the
 * clock is per wiki, a wiki's aggregates depend only on its own events in their log order (one
 * wiki = one key = one partition), not on partition count, co-located wikis or replica count, so a
 * batch recount can reproduce them exactly. Pure: no I/O, time comes in as arguments.
 */

/** The WikiChange fields aggregation reads. */
export type AggregatableChange = Pick<WikiChange, 'wiki' | 'event_time' | 'type' | 'bot' | 'user' | 'title' | 'length_old' | 'length_new'>;

export interface WindowConfig {
  /** Tumbling window size in ms (windows are aligned to the epoch). */
  sizeMs: number;
  /** How far behind a wiki's newest event time an event may be and still be counted. */
  allowedLatenessMs: number;
  /** Entries in `top_pages`. */
  topPages: number;
  spike: SpikeConfig;
  /** `source` of raised alerts. */
  alertSource: string;
}

export interface OpenWindow {
  start: number;
  total: number;
  byType: Record<ChangeType, number>;
  bot: number;
  human: number;
  bytesAdded: number;
  bytesRemoved: number;
  firstEventTime: number;
  lastEventTime: number;
  editors: Map<string, number>;
  pages: Map<string, number>;
}

export interface WikiState {
  wiki: string;
  /** Newest event time seen for this wiki: drives its watermark (null before the first event). */
  maxEventTime: number | null;
  /** Every window ending at or before this instant is closed; events in them are late. */
  closedUpTo: number | null;
  /** End of the newest window folded into the spike baseline. */
  lastScoredEnd: number | null;
  /** Open windows, oldest first. */
  windows: OpenWindow[];
  spike: SpikeState;
}

export type WindowCloseReason = 'watermark' | 'idle';

export type AggregationOutput =
  | { kind: 'aggregate'; aggregate: WikiAggregate; reason: WindowCloseReason }
  | { kind: 'alert'; alert: WikiAlert }
  /** `index` is the change's position in the reduced batch. */
  | { kind: 'late'; index: number; wiki: string; windowStart: number; watermark: number };

export interface ReduceResult {
  /** New states of the wikis the call touched (inputs are never modified). */
  states: Map<string, WikiState>;
  /** In order: per wiki, aggregates in window order, each followed by its alert if any. */
  outputs: AggregationOutput[];
}

/** Start of the tumbling window holding `t`. */
export function windowStartOf(t: number, sizeMs: number): number {
  return t - (((t % sizeMs) + sizeMs) % sizeMs);
}

export function emptyWikiState(wiki: string): WikiState {
  return { wiki, maxEventTime: null, closedUpTo: null, lastScoredEnd: null, windows: [], spike: { ...EMPTY_SPIKE_STATE } };
}

export function cloneWikiState(s: WikiState): WikiState {
  return {
    ...s,
    spike: { ...s.spike },
    windows: s.windows.map((w) => ({ ...w, byType: { ...w.byType }, editors: new Map(w.editors), pages: new Map(w.pages) })),
  };
}

function zeroTypeCounts(): Record<ChangeType, number> {
  const out = {} as Record<ChangeType, number>;
  for (const t of ChangeTypeSymbols) out[t] = 0;
  return out;
}

function openWindow(start: number, t: number): OpenWindow {
  return { start, total: 0, byType: zeroTypeCounts(), bot: 0, human: 0, bytesAdded: 0, bytesRemoved: 0, firstEventTime: t, lastEventTime: t, editors: new Map(), pages: new Map() };
}

/** Titles by count descending, then title ascending (code-unit order, locale independent). */
export function topEntries(counts: ReadonlyMap<string, number>, n: number): Array<{ title: string; count: number }> {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, n)
    .map(([title, count]) => ({ title, count }));
}

export function toAggregate(wiki: string, w: OpenWindow, cfg: Pick<WindowConfig, 'sizeMs' | 'topPages'>): WikiAggregate {
  return {
    wiki,
    window_start: w.start,
    window_end: w.start + cfg.sizeMs,
    total: w.total,
    by_type: { ...w.byType },
    bot: w.bot,
    human: w.human,
    bytes_added: w.bytesAdded,
    bytes_removed: w.bytesRemoved,
    distinct_editors: w.editors.size,
    top_pages: topEntries(w.pages, cfg.topPages),
    first_event_time: w.firstEventTime,
    last_event_time: w.lastEventTime,
  };
}

/** Emits a closed window of `s` (its aggregate, then a spike alert if it starts a spike episode), updating the wiki's spike baseline. */
export function closeWindow(s: WikiState, w: OpenWindow, reason: WindowCloseReason, cfg: WindowConfig, now: number, out: AggregationOutput[]): void {
  const end = w.start + cfg.sizeMs;
  const empty = s.lastScoredEnd === null ? 0 : Math.round((w.start - s.lastScoredEnd) / cfg.sizeMs);
  const verdict = detectSpike(skipEmptyWindows(s.spike, empty, cfg.spike), w.total, cfg.spike);
  s.spike = verdict.next;
  s.lastScoredEnd = end;
  out.push({ kind: 'aggregate', aggregate: toAggregate(s.wiki, w, cfg), reason });
  if (verdict.raise) {
    out.push({
      kind: 'alert',
      alert: {
        id: `spike:${s.wiki}:${w.start}`,
        kind: 'spike',
        source: cfg.alertSource,
        subject: s.wiki,
        severity: verdict.severity,
        observed: w.total,
        expected: verdict.expected,
        score: verdict.score,
        window_start: w.start,
        window_end: end,
        status: null,
        previous_status: null,
        message: `${s.wiki}: ${w.total} changes in ${cfg.sizeMs / 1000}s window, expected ${verdict.expected.toFixed(1)} (score ${verdict.score.toFixed(1)})`,
        created_at: now,
      },
    });
  }
}

/** Counts one change into a window (mutating it). */
export function foldChange(w: OpenWindow, c: AggregatableChange): void {
  w.total++;
  w.byType[c.type] = (w.byType[c.type] ?? 0) + 1;
  if (c.bot) w.bot++;
  else w.human++;
  const delta = sizeDelta(c);
  if (delta > 0) w.bytesAdded += delta;
  else w.bytesRemoved -= delta;
  if (c.event_time < w.firstEventTime) w.firstEventTime = c.event_time;
  if (c.event_time > w.lastEventTime) w.lastEventTime = c.event_time;
  w.editors.set(c.user, (w.editors.get(c.user) ?? 0) + 1);
  w.pages.set(c.title, (w.pages.get(c.title) ?? 0) + 1);
}

/** Closes the windows that end at or before `upTo` (all of them when upTo is null), oldest first. */
function closeUpTo(s: WikiState, upTo: number | null, reason: WindowCloseReason, cfg: WindowConfig, now: number, out: AggregationOutput[]): void {
  while (s.windows.length) {
    const w = s.windows[0] as OpenWindow;
    if (upTo !== null && w.start + cfg.sizeMs > upTo) break;
    s.windows.shift();
    closeWindow(s, w, reason, cfg, now, out);
  }
}

/** Folds one change into a wiki's state (mutating it). Returns the late marker when it was late. */
function applyChange(s: WikiState, c: AggregatableChange, index: number, cfg: WindowConfig, now: number, out: AggregationOutput[]): void {
  const start = windowStartOf(c.event_time, cfg.sizeMs);
  if (s.closedUpTo !== null && start + cfg.sizeMs <= s.closedUpTo) {
    out.push({ kind: 'late', index, wiki: s.wiki, windowStart: start, watermark: s.closedUpTo });
    return;
  }
  let i = s.windows.findIndex((w) => w.start >= start);
  if (i === -1 || (s.windows[i] as OpenWindow).start !== start) {
    const w = openWindow(start, c.event_time);
    if (i === -1) i = s.windows.push(w) - 1;
    else s.windows.splice(i, 0, w);
  }
  foldChange(s.windows[i] as OpenWindow, c);

  if (s.maxEventTime === null || c.event_time > s.maxEventTime) s.maxEventTime = c.event_time;
  const watermark = s.maxEventTime - cfg.allowedLatenessMs;
  closeUpTo(s, watermark, 'watermark', cfg, now, out);
  if (s.closedUpTo === null || watermark > s.closedUpTo) s.closedUpTo = watermark;
}

function touch(states: ReadonlyMap<string, WikiState>, touched: Map<string, WikiState>, wiki: string): WikiState {
  let s = touched.get(wiki);
  if (!s) {
    const prev = states.get(wiki);
    s = prev ? cloneWikiState(prev) : emptyWikiState(wiki);
    touched.set(wiki, s);
  }
  return s;
}

/**
 * Folds changes, in log order, into per-wiki window state. Windows whose end the wiki's watermark
 * reached are closed and emitted (with a spike alert when the closed window starts a spike episode);
 * changes in already closed windows come back as `late`. `now` stamps alerts' created_at only.
 */
export function reduceChanges(states: ReadonlyMap<string, WikiState>, changes: ReadonlyArray<AggregatableChange>, cfg: WindowConfig, now: number): ReduceResult {
  const touched = new Map<string, WikiState>();
  const outputs: AggregationOutput[] = [];
  changes.forEach((c, index) => applyChange(touch(states, touched, c.wiki), c, index, cfg, now, outputs));
  return { states: touched, outputs };
}

/**
 * Closes every open window of the given wikis (they went quiet: no change for a while in processing
 * time), so a wiki's last windows are emitted without waiting for its next change. Later changes
 * in those windows are late.
 */
export function closeIdleWikis(states: ReadonlyMap<string, WikiState>, wikis: Iterable<string>, cfg: WindowConfig, now: number): ReduceResult {
  const touched = new Map<string, WikiState>();
  const outputs: AggregationOutput[] = [];
  for (const wiki of wikis) {
    const prev = states.get(wiki);
    if (!prev?.windows.length) continue;
    const s = touch(states, touched, wiki);
    const lastEnd = (s.windows[s.windows.length - 1] as OpenWindow).start + cfg.sizeMs;
    closeUpTo(s, null, 'idle', cfg, now, outputs);
    if (s.closedUpTo === null || lastEnd > s.closedUpTo) s.closedUpTo = lastEnd;
  }
  return { states: touched, outputs };
}

/**
 * A wiki state restored from the changelog is not trusted beyond `limit` (wall clock + allowed
 * clock skew): one written before the event-time guard existed may carry a watermark moved by an
 * event dated in the future, which would make every later event of the wiki late. Windows starting
 * after `limit` are dropped (they only hold such events); a newest event time beyond it becomes the
 * newest event time of the windows kept (null when none is kept), a last scored window end beyond
 * it becomes null, and a closed-up-to instant beyond it becomes the later of the (trusted) end of
 * the last emitted window and the rebuilt watermark: changes in windows already emitted stay late
 * (each window is emitted once), later ones are counted again. Returns the state itself when
 * nothing is beyond.
 */
export function distrustFutureState(s: WikiState, limit: number, cfg: Pick<WindowConfig, 'allowedLatenessMs'>): { state: WikiState; distrusted: boolean } {
  const beyond = (t: number | null) => t !== null && t > limit;
  if (!beyond(s.maxEventTime) && !beyond(s.closedUpTo) && !beyond(s.lastScoredEnd) && !s.windows.some((w) => w.start > limit)) return { state: s, distrusted: false };
  const next = cloneWikiState(s);
  next.windows = next.windows.filter((w) => w.start <= limit);
  const kept = next.windows.reduce<number | null>((max, w) => (max === null || w.lastEventTime > max ? w.lastEventTime : max), null);
  const newest = kept === null ? null : Math.min(kept, limit);
  if (beyond(next.maxEventTime)) next.maxEventTime = newest;
  if (beyond(next.lastScoredEnd)) next.lastScoredEnd = null;
  if (beyond(next.closedUpTo)) {
    const candidates = [next.lastScoredEnd, next.maxEventTime === null ? null : next.maxEventTime - cfg.allowedLatenessMs].filter((t): t is number => t !== null);
    next.closedUpTo = candidates.length ? Math.max(...candidates) : null;
  }
  return { state: next, distrusted: true };
}
