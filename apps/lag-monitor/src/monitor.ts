import {
  type CycleHealth,
  type CycleHealthSettings,
  type GroupDetailView,
  type LagHistory,
  type LagReport,
  type LagSettings,
  type PartitionView,
  type StatusChange,
  type StreamPrefix,
  type StreamSummary,
  cycleHealth,
  emptyLagHistory,
  evaluateCycle,
  groupDetail,
  initialCycleHealth,
  recordCycle,
  summarizeStreams,
} from '@wikimonitor/domain';
import { type GatherTimings, type LagSources, gatherLagSnapshot } from '@wikimonitor/lag';
import { WikiMonitorError } from '@wikimonitor/service-kit';

/** What the API may say of a failed cycle: its error code, never the message (hosts, internals: those go to the log). */
function cycleErrorCode(err: unknown): string {
  return err instanceof WikiMonitorError ? err.code : 'CYCLE_FAILED';
}

export type { CycleHealth, GroupDetailView, GroupSummary, HistoryPoint, PartitionView, TopicLag, TopicView } from '@wikimonitor/domain';

/** One cycle's report as the API serves it. */
export interface Snapshot extends LagReport {
  cycleMs: number;
  /** Per source stream (STREAMS: Wikimedia `wiki.`, Bluesky `bsky.`): records, rates and lag of its groups. */
  streams: StreamSummary[];
}

export interface CycleTimings extends GatherTimings {
  evaluate: number;
  total: number;
}

export interface CycleResult {
  snapshot: Snapshot;
  changes: StatusChange[];
  timings: CycleTimings;
  /** Groups whose offsets could not be fetched this cycle (kept at their last known state). */
  failedGroups: string[];
}

export interface MonitorOptions extends LagSources, LagSettings {
  health: CycleHealthSettings;
  /** The source streams the dashboard sums up, by topic prefix (default none). */
  streams?: readonly StreamPrefix[];
}

export interface LagMonitor {
  runCycle(): Promise<CycleResult>;
  snapshot(): Snapshot | undefined;
  group(groupId: string): GroupDetailView | undefined;
  /** Every partition view of every group (for metrics). */
  partitions(): Array<{ groupId: string; view: PartitionView }>;
  /** Whether the last report is current (stale after a failed cycle) and whether the monitor is ready, now. */
  health(): CycleHealth;
}

/**
 * The monitor's state and its cycle: gather a snapshot of the cluster (libs/kafka), evaluate it
 * against the history (pure, libs/domain), keep the new history. Groups that stop, empty or vanish
 * stay in the history, so their lag keeps growing.
 */
export function createLagMonitor(opts: MonitorOptions): LagMonitor {
  const now = opts.now ?? Date.now;
  let history: LagHistory = emptyLagHistory();
  let last: Snapshot | undefined;
  let healthState = initialCycleHealth();

  async function runCycle(): Promise<CycleResult> {
    const started = performance.now();
    let gathered: Awaited<ReturnType<typeof gatherLagSnapshot>>;
    try {
      gathered = await gatherLagSnapshot(opts, history);
    } catch (err) {
      // The last report stays served, marked stale by the health state (never silently current).
      healthState = recordCycle(healthState, { at: now(), error: cycleErrorCode(err) });
      throw err;
    }
    const evalStarted = performance.now();
    const evaluation = evaluateCycle(gathered.snapshot, history, opts);
    history = evaluation.history;
    const timings: CycleTimings = { ...gathered.timings, evaluate: performance.now() - evalStarted, total: performance.now() - started };
    last = { ...evaluation.report, cycleMs: timings.total, streams: summarizeStreams(evaluation.report, opts.streams ?? []) };
    healthState = recordCycle(healthState, { at: now() });
    return { snapshot: last, changes: evaluation.changes, timings, failedGroups: gathered.failedGroups };
  }

  return {
    runCycle,
    health: () => cycleHealth(healthState, now(), opts.health),
    snapshot: () => last,
    group: (groupId) => groupDetail(history, groupId, opts),
    partitions() {
      const out: Array<{ groupId: string; view: PartitionView }> = [];
      for (const g of history.groups.values()) for (const p of g.partitions.values()) out.push({ groupId: g.groupId, view: p.view });
      return out;
    },
  };
}
