import type { ChangeType } from '@wikimonitor/contracts';
import { ChangeTypeSymbols } from '@wikimonitor/contracts';
import { type AggregatableChange, type AggregationOutput, type OpenWindow, type WikiState, type WindowConfig, closeWindow, emptyWikiState, foldChange, windowStartOf } from './window';

/**
 * Two-stage aggregation: per-wiki windows that scale beyond one partition per wiki.
 *
 * With the input keyed by wiki, one partition carries all of a wiki's changes, and the busiest wiki
 * (Wikidata) caps the aggregator at one partition's throughput however many instances run. Here the
 * input is keyed by wiki:title (a wiki spreads over every partition) and aggregation runs in two
 * stages, each a transactional loop:
 *
 * 1. **Partial windows, per input partition.** Each partition has one event-time clock (watermark =
 *    newest event time in the partition - allowed lateness; a change whose window ended at or before
 *    the partition's watermark is late). When the watermark passes a window end, the partition's
 *    partial window of every wiki is sent (full editor and page counts: they merge exactly), keyed by
 *    wiki, followed by a progress record (the partition's closed-up-to instant) to every partition of
 *    the partial topic. Both go in the step's transaction, in that order.
 * 2. **Merge, per wiki.** A window (wiki, start) is complete once every input partition's progress
 *    has passed its end: its partials are summed (distinct editors from the union of editor counts,
 *    top pages from the summed page counts), emitted as one aggregate, and scored for spikes in window
 *    order per wiki, as the single-stage aggregator does.
 *
 * The result depends only on what each input partition holds, in its order: a recount reproduces it
 * (e2e/src/recount.ts, recountTwoStage). A partition that goes idle (processing time) closes its open
 * windows and reports progress "idle", which no longer holds the merge back; a partial that arrives
 * after its window was merged (possible only after such an idle close) cannot be added any more and
 * comes back as `late-partial`.
 */

/** Stage 1 state of one input partition. */
export interface PartitionPartials {
  /** Newest event time in the partition (null before the first change). */
  maxEventTime: number | null;
  /** Every window ending at or before this instant has been sent; changes in them are late. */
  closedUpTo: number | null;
  /** Open windows per wiki, oldest first. */
  windows: ReadonlyMap<string, readonly OpenWindow[]>;
}

export type PartialOutput =
  | { kind: 'partial'; wiki: string; window: OpenWindow }
  | { kind: 'late'; index: number; wiki: string; windowStart: number; watermark: number };

export interface PartialResult {
  state: PartitionPartials;
  /** Partials in (window start, wiki) order, and late changes. */
  outputs: PartialOutput[];
  /** The closed-up-to instant to report when it moved to a later window end (else null). */
  progress: number | null;
}

export function emptyPartitionPartials(): PartitionPartials {
  return { maxEventTime: null, closedUpTo: null, windows: new Map() };
}

function zeroTypeCounts(): Record<ChangeType, number> {
  const out = {} as Record<ChangeType, number>;
  for (const t of ChangeTypeSymbols) out[t] = 0;
  return out;
}

function cloneWindow(w: OpenWindow): OpenWindow {
  return { ...w, byType: { ...w.byType }, editors: new Map(w.editors), pages: new Map(w.pages) };
}

/** Adds `from` into `into` (mutating it): every field merges exactly. */
export function mergeWindowInto(into: OpenWindow, from: OpenWindow): void {
  into.total += from.total;
  for (const [t, n] of Object.entries(from.byType) as Array<[ChangeType, number]>) into.byType[t] = (into.byType[t] ?? 0) + n;
  into.bot += from.bot;
  into.human += from.human;
  into.bytesAdded += from.bytesAdded;
  into.bytesRemoved += from.bytesRemoved;
  if (from.firstEventTime < into.firstEventTime) into.firstEventTime = from.firstEventTime;
  if (from.lastEventTime > into.lastEventTime) into.lastEventTime = from.lastEventTime;
  for (const [k, n] of from.editors) into.editors.set(k, (into.editors.get(k) ?? 0) + n);
  for (const [k, n] of from.pages) into.pages.set(k, (into.pages.get(k) ?? 0) + n);
}

const byStartThenWiki = (a: { wiki: string; window: OpenWindow }, b: { wiki: string; window: OpenWindow }) =>
  a.window.start - b.window.start || (a.wiki < b.wiki ? -1 : a.wiki > b.wiki ? 1 : 0);

/** Removes and returns the windows ending at or before `upTo` (all when null) from a cloned map. */
function takeClosed(windows: Map<string, readonly OpenWindow[]>, upTo: number | null, sizeMs: number): Array<{ wiki: string; window: OpenWindow }> {
  const out: Array<{ wiki: string; window: OpenWindow }> = [];
  for (const [wiki, list] of windows) {
    if (!list.length || (upTo !== null && (list[0] as OpenWindow).start + sizeMs > upTo)) continue;
    const keep = upTo === null ? [] : list.filter((w) => w.start + sizeMs > upTo);
    for (const w of list) if (!keep.includes(w)) out.push({ wiki, window: w });
    if (keep.length) windows.set(wiki, keep);
    else windows.delete(wiki);
  }
  return out.sort(byStartThenWiki);
}

/**
 * Stage 1: folds one partition's changes, in log order, into its partial windows (the input state is
 * never modified). `index` of a late output is the change's position in `changes`.
 */
export function reducePartitionChanges(state: PartitionPartials, changes: ReadonlyArray<AggregatableChange>, cfg: Pick<WindowConfig, 'sizeMs' | 'allowedLatenessMs'>): PartialResult {
  const windows = new Map(state.windows);
  const cloned = new Set<string>();
  let maxEventTime = state.maxEventTime;
  let closedUpTo = state.closedUpTo;
  const outputs: PartialOutput[] = [];
  /** Earliest end among open windows (a sweep is due once the watermark reaches it). */
  let earliestEnd: number | null = null;
  for (const list of windows.values()) if (list.length && (earliestEnd === null || (list[0] as OpenWindow).start + cfg.sizeMs < earliestEnd)) earliestEnd = (list[0] as OpenWindow).start + cfg.sizeMs;

  changes.forEach((c, index) => {
    const start = windowStartOf(c.event_time, cfg.sizeMs);
    if (closedUpTo !== null && start + cfg.sizeMs <= closedUpTo) {
      outputs.push({ kind: 'late', index, wiki: c.wiki, windowStart: start, watermark: closedUpTo });
      return;
    }
    let l = windows.get(c.wiki) as OpenWindow[] | undefined;
    // Not yet copied in this call, or every window of the wiki just closed (the entry is gone).
    if (!l || !cloned.has(c.wiki)) {
      l = l ? l.map(cloneWindow) : [];
      windows.set(c.wiki, l);
      cloned.add(c.wiki);
    }
    let i = l.findIndex((w) => w.start >= start);
    if (i === -1 || (l[i] as OpenWindow).start !== start) {
      const w: OpenWindow = { start, total: 0, byType: zeroTypeCounts(), bot: 0, human: 0, bytesAdded: 0, bytesRemoved: 0, firstEventTime: c.event_time, lastEventTime: c.event_time, editors: new Map(), pages: new Map() };
      if (i === -1) i = l.push(w) - 1;
      else l.splice(i, 0, w);
    }
    foldChange(l[i] as OpenWindow, c);
    if (earliestEnd === null || start + cfg.sizeMs < earliestEnd) earliestEnd = start + cfg.sizeMs;

    if (maxEventTime === null || c.event_time > maxEventTime) maxEventTime = c.event_time;
    const watermark = maxEventTime - cfg.allowedLatenessMs;
    if (closedUpTo === null || watermark > closedUpTo) {
      if (earliestEnd !== null && earliestEnd <= watermark) {
        for (const { wiki, window } of takeClosed(windows, watermark, cfg.sizeMs)) outputs.push({ kind: 'partial', wiki, window });
        earliestEnd = null;
        for (const w of windows.values()) if (w.length && (earliestEnd === null || (w[0] as OpenWindow).start + cfg.sizeMs < earliestEnd)) earliestEnd = (w[0] as OpenWindow).start + cfg.sizeMs;
      }
      closedUpTo = watermark;
    }
  });
  const boundary = (t: number | null) => (t === null ? null : windowStartOf(t, cfg.sizeMs));
  const moved = closedUpTo !== null && boundary(closedUpTo) !== boundary(state.closedUpTo);
  return { state: { maxEventTime, closedUpTo, windows }, outputs, progress: moved ? closedUpTo : null };
}

/** Stage 1, the partition went quiet: every open window is sent; later changes in them are late. */
export function closeIdlePartition(state: PartitionPartials, cfg: Pick<WindowConfig, 'sizeMs'>): PartialResult {
  const windows = new Map(state.windows);
  const closed = takeClosed(windows, null, cfg.sizeMs);
  const lastEnd = closed.reduce<number | null>((m, c) => (m === null || c.window.start + cfg.sizeMs > m ? c.window.start + cfg.sizeMs : m), null);
  const closedUpTo = lastEnd !== null && (state.closedUpTo === null || lastEnd > state.closedUpTo) ? lastEnd : state.closedUpTo;
  return { state: { maxEventTime: state.maxEventTime, closedUpTo, windows }, outputs: closed.map(({ wiki, window }) => ({ kind: 'partial', wiki, window })), progress: closedUpTo };
}

/** What stage 2 reads: a partial window, or an input partition's progress. */
export type MergeInput =
  | { kind: 'partial'; sourcePartition: number; wiki: string; window: OpenWindow }
  /** `closedUpTo` null = the partition is idle: it no longer holds the merge back. */
  | { kind: 'progress'; sourcePartition: number; sources: number; closedUpTo: number | null };

/** Stage 2 state of one partial-topic partition. */
export interface MergeState {
  /** Input partitions of stage 1 (0 until the first progress record). */
  sources: number;
  /** Latest progress per input partition; null = idle. */
  progress: ReadonlyMap<number, number | null>;
  /** Every window ending at or before this instant has been merged and emitted. */
  frontier: number | null;
  /** Windows awaiting completion, per wiki, by start. */
  pending: ReadonlyMap<string, ReadonlyMap<number, OpenWindow>>;
  /** Per wiki: spike baseline and last scored window (the windows list is unused here). */
  wikis: ReadonlyMap<string, WikiState>;
}

export function emptyMergeState(): MergeState {
  return { sources: 0, progress: new Map(), frontier: null, pending: new Map(), wikis: new Map() };
}

export type MergeOutput = AggregationOutput | { kind: 'late-partial'; index: number; wiki: string; windowStart: number; frontier: number };

export interface MergeResult {
  state: MergeState;
  /** Per completed window, in (window start, wiki) order: its aggregate, then its alert if any. */
  outputs: MergeOutput[];
}

/** The instant every input partition has passed (null while one has reported nothing). */
function completeUpTo(sources: number, progress: ReadonlyMap<number, number | null>): number | null {
  if (!sources) return null;
  let min: number | null = Infinity;
  for (let p = 0; p < sources; p++) {
    if (!progress.has(p)) return null;
    const v = progress.get(p) as number | null;
    if (v !== null && v < (min as number)) min = v;
  }
  return min === Infinity ? null : min;
}

/** Stage 2: merges partials and progress records, in log order (the input state is never modified). */
export function reduceMerge(state: MergeState, inputs: ReadonlyArray<MergeInput>, cfg: WindowConfig, now: number): MergeResult {
  let sources = state.sources;
  let progress = state.progress as Map<number, number | null>;
  const pending = new Map(state.pending);
  const clonedWikis = new Set<string>();
  const wikis = new Map(state.wikis);
  let frontier = state.frontier;
  const outputs: MergeOutput[] = [];

  const emitUpTo = (upTo: number) => {
    const due: Array<{ wiki: string; window: OpenWindow }> = [];
    for (const [wiki, byStart] of pending) {
      const keep = new Map<number, OpenWindow>();
      for (const [start, w] of byStart) {
        if (start + cfg.sizeMs <= upTo) due.push({ wiki, window: w });
        else keep.set(start, w);
      }
      if (keep.size === byStart.size) continue;
      if (keep.size) pending.set(wiki, keep);
      else pending.delete(wiki);
    }
    for (const { wiki, window } of due.sort(byStartThenWiki)) {
      if (!clonedWikis.has(wiki)) {
        const prev = wikis.get(wiki);
        wikis.set(wiki, prev ? { ...prev, spike: { ...prev.spike }, windows: [] } : emptyWikiState(wiki));
        clonedWikis.add(wiki);
      }
      closeWindow(wikis.get(wiki) as WikiState, window, 'watermark', cfg, now, outputs as AggregationOutput[]);
    }
    frontier = upTo;
  };

  inputs.forEach((input, index) => {
    if (input.kind === 'progress') {
      if (input.sources > sources) sources = input.sources;
      // A new map only when progress arrives: an unchanged map is not written to the changelog again.
      if (progress === state.progress) progress = new Map(state.progress);
      progress.set(input.sourcePartition, input.closedUpTo);
      const complete = completeUpTo(sources, progress);
      if (complete !== null && (frontier === null || complete > frontier)) emitUpTo(complete);
      return;
    }
    const { wiki, window } = input;
    if (frontier !== null && window.start + cfg.sizeMs <= frontier) {
      outputs.push({ kind: 'late-partial', index, wiki, windowStart: window.start, frontier });
      return;
    }
    const byStart = new Map(pending.get(wiki) ?? []);
    const have = byStart.get(window.start);
    if (have) {
      const merged = cloneWindow(have);
      mergeWindowInto(merged, window);
      byStart.set(window.start, merged);
    } else byStart.set(window.start, cloneWindow(window));
    pending.set(wiki, byStart);
  });
  return { state: { sources, progress, frontier, pending, wikis }, outputs };
}
