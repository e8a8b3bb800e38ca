import type { StatusChange } from './alert';
import { type PartitionBalance, offsetRate, partitionBalance } from './balance';
import { type FirstUnconsumed, type LagNote, type PartitionLag, firstUnconsumedOffset, partitionLag, unknownEndLag } from './lag';
import { evaluatePartitionStatus, statusSeverity, worstStatus } from './status';
import { type StableOffsetTrack, trackStableOffset } from './transactions';
import type { ConsumerStatus, OffsetObservation, StatusRule } from './types';

// ------------------------------------------------------------------ what one cycle observes

export type { CommittedOffset, GroupDetail, GroupListing, GroupMember, PartitionRef, Watermark } from '@wikimonitor/contracts';
import type { CommittedOffset, GroupDetail, GroupListing, GroupMember, PartitionRef, Watermark } from '@wikimonitor/contracts';

/** A group's last offset commit of a partition, as the commit log (`__consumer_offsets`) shows it. */
export interface LastCommit {
  offset: number;
  at: number;
}

/** Read the first consumable record of a partition at or after `offset`, if it comes before `end`. */
export interface FirstRecordRequest extends PartitionRef {
  offset: number;
  end: number;
}

/** Key of a first-record request / answer. */
export const firstRecordKey = (r: { topic: string; partition: number; offset: number }) => `${r.topic}\u0000${r.partition}\u0000${r.offset}`;

/** Key of a topic-partition. */
export const partitionRefKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** Key of a group's commit of a partition in {@link LagClusterSnapshot.lastCommits}. */
export const commitKey = (group: string, topic: string, partition: number) => `${group}\u0000${topic}\u0000${partition}`;

/** Everything one monitor cycle gathered from the cluster; the input of {@link evaluateCycle}. */
export interface LagClusterSnapshot {
  /** When the end offsets were fetched (epoch ms). */
  at: number;
  /** Groups the broker lists (already filtered to the monitored ones). */
  listed: GroupListing[];
  described: GroupDetail[];
  /** Committed offsets of each group whose fetch succeeded this cycle (failed groups are absent). */
  committed: Map<string, CommittedOffset[]>;
  /** Partition ids per existing topic. */
  partitions: Map<string, number[]>;
  watermarks: Watermark[];
  /** Answers to {@link firstRecordRequests} by {@link firstRecordKey}: null = nothing consumable before the end; absent = not read. */
  firstRecords: Map<string, FirstUnconsumed | null>;
  /** True when every commit is seen (the commit log caught up). */
  commitsObserved: boolean;
  /** Last commits by {@link commitKey} (only meaningful when `commitsObserved`). */
  lastCommits: Map<string, LastCommit>;
}

// ------------------------------------------------------------------ what a cycle reports

export interface PartitionView {
  topic: string;
  partition: number;
  committedOffset: number | null;
  /** Log start offset; null when the partition's offsets could not be listed this cycle. */
  lowWatermark: number | null;
  /** The end lag is measured to (last stable offset under read_committed, else the high watermark); null when unknown. */
  highWatermark: number | null;
  /** Last stable offset (the end a read_committed consumer reaches); null when unknown. */
  lastStableOffset: number | null;
  /** High watermark (the end a read_uncommitted consumer reaches, records of open transactions included); null when unknown. */
  logHighWatermark: number | null;
  lag: number | null;
  lagSeconds: number | null;
  note: LagNote | null;
  /** The record lag seconds was measured from (its offset and timestamp). */
  firstUnconsumed: FirstUnconsumed | null;
  /** Records deleted by retention before the group read them (log start - committed), else 0. */
  messagesLost: number;
  /** When the partition's last stable offset got stuck (a transaction left open), else null. */
  stuckTransactionSince: number | null;
  status: ConsumerStatus;
  rule: StatusRule;
  lastCommitAt: number | null;
  /** The member the partition is assigned to (from the group description); null when unassigned. */
  owner: PartitionOwner | null;
  /** Messages per second the group consumed here over the window. */
  consumeRate: number;
}

/** The group member a partition is assigned to. */
export interface PartitionOwner {
  memberId: string;
  clientId: string;
  host: string;
}

export interface TopicLag {
  topic: string;
  status: ConsumerStatus;
  /** Null when the lag of one of its partitions is unknown. */
  lag: number | null;
  maxLagSeconds: number | null;
  consumeRate: number;
  partitions: number;
}

export interface GroupSummary {
  groupId: string;
  state: string;
  memberCount: number;
  /** The broker no longer lists the group (offsets expired or deleted); still reported, lag still growing. */
  gone: boolean;
  status: ConsumerStatus;
  statusSince: number;
  /** Sum over partitions; null (unknown, never 0) when the lag of any partition is unknown. */
  totalLag: number | null;
  /** Largest lag in messages over its partitions; null (unknown, never 0) when the lag of any partition is unknown. */
  maxLag: number | null;
  /** Partitions whose lag could not be measured (no commit, or offsets not listed). */
  unknownLagPartitions: number;
  /** Records deleted by retention before the group read them, over its partitions. */
  messagesLost: number;
  /** No active member, but committed offsets: nobody is consuming (e.g. every instance crashed). */
  memberless: boolean;
  /** Partitions it reads whose last stable offset is stuck (`topic/partition`). */
  stuckPartitions: string[];
  /**
   * Since when the group's committed offsets could not be fetched (its figures are the last known
   * ones); null while they are. Past a window, or at once when nothing is known of it, UNKNOWN.
   */
  offsetsUnavailableSince: number | null;
  maxLagSeconds: number | null;
  consumeRate: number;
  topics: string[];
  /** The same figures per topic the group reads. */
  byTopic: TopicLag[];
  partitionCount: number;
  observedAt: number;
  lastSeenAt: number;
}

export interface HistoryPoint {
  at: number;
  totalLag: number | null;
  maxLagSeconds: number | null;
  consumeRate: number;
  status: ConsumerStatus;
}

export interface GroupDetailView extends GroupSummary {
  members: Array<{ memberId: string; clientId: string; host: string; partitions: string[] }>;
  partitions: PartitionView[];
  history: HistoryPoint[];
  window: { cycles: number; ms: number };
}

export interface TopicView {
  topic: string;
  produceRate: number;
  balance: Omit<PartitionBalance, 'hottest'> & { hottestPartition: number | null };
  /** `low` (log start) and `high` (the end lag is measured to) are null when the partition's offsets could not be listed this cycle. */
  partitions: Array<{ partition: number; low: number | null; high: number | null; lastStable: number | null; highWatermark: number | null; rate: number; stuckTransactionSince: number | null }>;
}

/** A partition whose last stable offset is stuck while its high watermark grows: a transaction left open. */
export interface StuckTransaction extends PartitionRef {
  lastStable: number;
  highWatermark: number;
  since: number;
}

/** One cycle's report (the monitor adds how long the cycle took). */
export interface LagReport {
  cycle: number;
  observedAt: number;
  window: { cycles: number; ms: number };
  commitTimes: 'observed' | 'inferred';
  groups: GroupSummary[];
  topics: TopicView[];
  /** Partitions of the reported topics whose last stable offset is stuck. */
  stuckTransactions: StuckTransaction[];
}

// ------------------------------------------------------------------ what is carried between cycles

export interface LagPartitionState extends PartitionRef {
  committed: number | null;
  window: OffsetObservation[];
  /** First cycle time the current committed offset was seen: a lower bound of the last commit. */
  offsetSince: number;
  view: PartitionView;
}

export interface LagGroupState {
  groupId: string;
  state: string;
  members: GroupMember[];
  gone: boolean;
  lastSeenAt: number;
  /** The last status reported as a change (alerted); null before the first. */
  status: ConsumerStatus | null;
  statusSince: number;
  /** Since when the group has been UNKNOWN without that being reported yet (null: it is not). */
  unknownSince: number | null;
  partitions: Map<string, LagPartitionState>;
  history: HistoryPoint[];
  summary: GroupSummary;
}

/** The monitor's memory: groups (including stopped and vanished ones) and topic end offsets over the window. */
export interface LagHistory {
  cycle: number;
  groups: Map<string, LagGroupState>;
  topics: Map<string, Array<{ at: number; highs: Map<number, number> }>>;
  /** Last stable offset tracks by {@link partitionRefKey}. */
  transactions: Map<string, StableOffsetTrack>;
}

export interface LagSettings {
  windowCycles: number;
  intervalMs: number;
  historyCycles: number;
  /** How long a group the broker stopped listing is still reported. */
  goneRetentionMs: number;
  /** How long a last stable offset may stay put while the high watermark grows before the partition is STUCK_TRANSACTION (ms). */
  stuckTransactionMs: number;
}

export interface CycleEvaluation {
  history: LagHistory;
  report: LagReport;
  changes: StatusChange[];
}

export const emptyLagHistory = (): LagHistory => ({ cycle: 0, groups: new Map(), topics: new Map(), transactions: new Map() });

/** A partition a group is measured in, with its committed offset (null: assigned, never committed). */
export interface MeasuredPartition extends PartitionRef {
  committed: number | null;
}

const bounded = <T>(list: T[], item: T, max: number): T[] => [...list, item].slice(-max);

/**
 * Which partitions each group is measured in: committed ones and assigned ones when its offsets
 * were fetched this cycle, else (fetch failed, or group gone) the last known ones.
 */
export function measuredPartitions(snapshot: Pick<LagClusterSnapshot, 'listed' | 'described' | 'committed'>, history: LagHistory): Map<string, Map<string, MeasuredPartition>> {
  const described = new Map(snapshot.described.map((d) => [d.groupId, d]));
  const out = new Map<string, Map<string, MeasuredPartition>>();
  for (const id of new Set([...snapshot.listed.map((g) => g.groupId), ...history.groups.keys()])) {
    const tps = new Map<string, MeasuredPartition>();
    const fresh = snapshot.committed.get(id);
    if (fresh) {
      for (const c of fresh) tps.set(partitionRefKey(c.topic, c.partition), { topic: c.topic, partition: c.partition, committed: c.offset });
      for (const m of described.get(id)?.members ?? []) {
        for (const a of m.assignment) if (!tps.has(partitionRefKey(a.topic, a.partition))) tps.set(partitionRefKey(a.topic, a.partition), { topic: a.topic, partition: a.partition, committed: null });
      }
    } else {
      for (const p of history.groups.get(id)?.partitions.values() ?? []) tps.set(partitionRefKey(p.topic, p.partition), { topic: p.topic, partition: p.partition, committed: p.committed });
    }
    out.set(id, tps);
  }
  return out;
}

/** The first unconsumed record to read for every lagging measured partition, one per distinct (partition, offset). */
export function firstRecordRequests(measured: Map<string, Map<string, MeasuredPartition>>, watermarks: Watermark[]): FirstRecordRequest[] {
  const marks = new Map(watermarks.map((w) => [partitionRefKey(w.topic, w.partition), w]));
  const requests = new Map<string, FirstRecordRequest>();
  for (const tps of measured.values()) {
    for (const tp of tps.values()) {
      const w = marks.get(partitionRefKey(tp.topic, tp.partition));
      if (!w) continue;
      const start = firstUnconsumedOffset({ committed: tp.committed, low: w.low, high: w.high });
      if (start === null) continue;
      const r = { topic: tp.topic, partition: tp.partition, offset: start, end: w.high };
      requests.set(firstRecordKey(r), r);
    }
  }
  return [...requests.values()];
}

function summarize(views: PartitionView[]): { status: ConsumerStatus; totalLag: number | null; maxLag: number | null; unknownLagPartitions: number; messagesLost: number; maxLagSeconds: number | null; consumeRate: number } {
  const status = worstStatus(views.map((v) => v.status));
  const unknownLagPartitions = views.filter((v) => v.lag === null).length;
  // Unknown is unknown: a sum that skipped it would read as "less lag" (or 0).
  const totalLag = unknownLagPartitions ? null : views.reduce((s, v) => s + (v.lag ?? 0), 0);
  const maxLag = unknownLagPartitions ? null : views.reduce((m, v) => Math.max(m, v.lag ?? 0), 0);
  // The largest of the partitions' lag seconds is unknown as soon as one of them is.
  const seconds = views.map((v) => v.lagSeconds);
  const maxLagSeconds = seconds.some((s) => s === null) ? null : seconds.length ? Math.max(...(seconds as number[])) : 0;
  const consumeRate = views.reduce((s, v) => s + v.consumeRate, 0);
  const messagesLost = views.reduce((s, v) => s + v.messagesLost, 0);
  return { status, totalLag, maxLag, unknownLagPartitions, messagesLost, maxLagSeconds, consumeRate };
}

/**
 * One monitor cycle's evaluation, without I/O: from what the cluster showed (`snapshot`) and what
 * earlier cycles saw (`history`), each group's partitions in messages and seconds behind, their
 * status over the sliding window, the status changes, and production rate and balance per topic.
 * Groups that stop, empty or vanish stay in the history, so their lag keeps growing. `history` is
 * not modified; the next cycle's history is returned.
 */
export function evaluateCycle(snapshot: LagClusterSnapshot, history: LagHistory, settings: LagSettings): CycleEvaluation {
  const at = snapshot.at;
  const windowMs = settings.windowCycles * settings.intervalMs;
  const cycle = history.cycle + 1;
  const listedState = new Map(snapshot.listed.map((g) => [g.groupId, g.state]));
  const described = new Map(snapshot.described.map((d) => [d.groupId, d]));
  const marks = new Map(snapshot.watermarks.map((w) => [partitionRefKey(w.topic, w.partition), w]));
  const measured = measuredPartitions(snapshot, history);
  const groups = new Map<string, LagGroupState>();
  const changes: StatusChange[] = [];

  // Last stable offsets that stay put while the high watermark grows: transactions left open.
  const transactions = new Map<string, StableOffsetTrack>();
  const stuckSince = new Map<string, number>();
  const stuckTransactions: StuckTransaction[] = [];
  for (const w of snapshot.watermarks) {
    const key = partitionRefKey(w.topic, w.partition);
    const verdict = trackStableOffset(history.transactions.get(key), { at, lastStable: w.lastStable, highWatermark: w.highWatermark }, settings.stuckTransactionMs);
    transactions.set(key, verdict.track);
    if (verdict.stuckSince !== null) {
      stuckSince.set(key, verdict.stuckSince);
      stuckTransactions.push({ topic: w.topic, partition: w.partition, lastStable: w.lastStable, highWatermark: w.highWatermark, since: verdict.stuckSince });
    }
  }
  const partitionExists = (topic: string, partition: number) => snapshot.partitions.get(topic)?.includes(partition) ?? false;

  for (const [id, tps] of measured) {
    const isListed = listedState.has(id);
    const prev = history.groups.get(id);
    let state: string;
    let members: GroupMember[];
    let lastSeenAt = prev?.lastSeenAt ?? at;
    if (isListed) {
      const d = described.get(id);
      state = d?.state ?? listedState.get(id) ?? 'UNKNOWN';
      members = d?.members ?? [];
      lastSeenAt = at;
    } else {
      if (at - lastSeenAt > settings.goneRetentionMs) continue; // forgotten
      state = 'GONE';
      members = [];
    }
    const gone = !isListed;
    const owners = new Map<string, PartitionOwner>();
    for (const m of members) for (const a of m.assignment) owners.set(partitionRefKey(a.topic, a.partition), { memberId: m.memberId, clientId: m.clientId, host: m.host });
    const fetchedNow = isListed && snapshot.committed.has(id);

    const partitions = new Map<string, LagPartitionState>();
    for (const [key, tp] of tps) {
      const w = marks.get(key);
      // A deleted topic (or a partition it no longer has) leaves nothing to measure against; an
      // existing partition whose offsets could not be listed is measured as unknown, not dropped.
      if (!w && !partitionExists(tp.topic, tp.partition)) continue;
      const before = prev?.partitions.get(key);
      const moved = !before || before.committed !== tp.committed;
      const offsetSince = moved && before ? at : (before?.offsetSince ?? at);
      let first: FirstUnconsumed | null | undefined;
      let lag: PartitionLag;
      if (w) {
        const position = { committed: tp.committed, low: w.low, high: w.high };
        const start = firstUnconsumedOffset(position);
        first = start === null ? undefined : snapshot.firstRecords.get(firstRecordKey({ topic: tp.topic, partition: tp.partition, offset: start }));
        lag = partitionLag(position, first, at);
      } else lag = unknownEndLag();
      let window = before?.window ?? [];
      if (tp.committed !== null && lag.lag !== null && (fetchedNow || gone)) window = bounded(window, { at, offset: tp.committed, lag: lag.lag }, settings.windowCycles);
      const logged = snapshot.commitsObserved && tp.committed !== null ? snapshot.lastCommits.get(commitKey(id, tp.topic, tp.partition)) : undefined;
      const lastCommitAt = tp.committed === null ? null : (logged?.at ?? offsetSince);
      const stuckFrom = stuckSince.get(key) ?? null;
      const verdict = evaluatePartitionStatus({
        committed: tp.committed,
        window,
        windowCycles: settings.windowCycles,
        windowMs,
        now: at,
        lastCommitAt,
        commitsObserved: !!logged,
        endKnown: !!w,
        nothingToRead: tp.committed === null && lag.lag === 0,
        messagesLost: lag.messagesLost,
        stuckTransaction: stuckFrom !== null,
      });
      const firstObs = window[0];
      const lastObs = window[window.length - 1];
      const view: PartitionView = {
        topic: tp.topic,
        partition: tp.partition,
        committedOffset: tp.committed,
        lowWatermark: w?.low ?? null,
        highWatermark: w?.high ?? null,
        lastStableOffset: w?.lastStable ?? null,
        logHighWatermark: w?.highWatermark ?? null,
        lag: lag.lag,
        lagSeconds: lag.lagSeconds,
        note: lag.note,
        firstUnconsumed: tp.committed === null ? null : (first ?? null),
        messagesLost: lag.messagesLost,
        stuckTransactionSince: stuckFrom,
        status: verdict.status,
        rule: verdict.rule,
        lastCommitAt,
        owner: owners.get(key) ?? null,
        consumeRate: firstObs && lastObs ? offsetRate({ at: firstObs.at, value: firstObs.offset }, { at: lastObs.at, value: lastObs.offset }) : 0,
      };
      partitions.set(key, { topic: tp.topic, partition: tp.partition, committed: tp.committed, window, offsetSince, view });
    }

    const views = [...partitions.values()].map((p) => p.view);
    const figures = summarize(views);
    const { status: partitionsStatus, unknownLagPartitions, messagesLost, maxLagSeconds, consumeRate } = figures;
    // Offsets not fetched this cycle: the partitions keep their last known figures for a while; a
    // group known by nothing else, or unfetched for longer than the window, is UNKNOWN (never a stale OK).
    const offsetsUnavailableSince = isListed && !fetchedNow ? (prev?.summary.offsetsUnavailableSince ?? at) : null;
    const nothingKnown = offsetsUnavailableSince !== null && views.length === 0;
    const offsetsLost = nothingKnown || (offsetsUnavailableSince !== null && at - offsetsUnavailableSince >= windowMs);
    const totalLag = nothingKnown ? null : figures.totalLag;
    const maxLag = nothingKnown ? null : figures.maxLag;
    // Committed offsets and nobody to move them: not OK, whatever the lag (every instance crashed,
    // or a job that finished); STOP, DATA_LOST and the like still win.
    const memberless = members.length === 0 && views.some((v) => v.committedOffset !== null);
    const status: ConsumerStatus = offsetsLost ? 'UNKNOWN' : worstStatus([partitionsStatus, memberless ? 'INACTIVE' : 'OK']);
    const stuckPartitions = views.filter((v) => v.stuckTransactionSince !== null).map((v) => `${v.topic}/${v.partition}`);
    const byTopic: TopicLag[] = [...new Set(views.map((v) => v.topic))].sort().map((topic) => {
      const of = views.filter((v) => v.topic === topic);
      const t = summarize(of);
      return { topic, status: t.status, lag: t.totalLag, maxLagSeconds: t.maxLagSeconds, consumeRate: t.consumeRate, partitions: of.length };
    });
    let groupStatus = prev?.status ?? null;
    let statusSince = prev?.statusSince ?? at;
    // UNKNOWN from the partitions (a group assigned before its first commit, an end not listed
    // once) is shown at once but reported only when it lasted a window: every group starts with
    // a moment before its first commit, and an alert pair UNKNOWN -> OK for each was noise.
    // Offsets unfetched for a window (offsetsLost) already waited one, or know nothing at all.
    const unknownSince = status === 'UNKNOWN' ? (prev?.unknownSince ?? at) : null;
    const deferred = status === 'UNKNOWN' && !offsetsLost && groupStatus !== 'UNKNOWN' && at - (unknownSince ?? at) < windowMs;
    if (status !== groupStatus && (fetchedNow || gone || offsetsLost) && !deferred) {
      const worst = views.reduce<PartitionView | undefined>((a, v) => (!a || statusSeverity(v.status) > statusSeverity(a.status) || (v.status === a.status && (v.lag ?? 0) > (a.lag ?? 0)) ? v : a), undefined);
      changes.push({
        group: id,
        previous: groupStatus,
        status,
        at,
        windowStart: at - windowMs,
        windowMs,
        totalLag,
        maxLagSeconds,
        messagesLost,
        unknownLagPartitions,
        memberless,
        worst: worst
          ? {
              topic: worst.topic,
              partition: worst.partition,
              status: worst.status,
              rule: worst.rule,
              committedOffset: worst.committedOffset,
              lowWatermark: worst.lowWatermark,
              lastStableOffset: worst.lastStableOffset,
              logHighWatermark: worst.logHighWatermark,
              messagesLost: worst.messagesLost,
              stuckTransactionSince: worst.stuckTransactionSince,
            }
          : undefined,
      });
      groupStatus = status;
      statusSince = status === 'UNKNOWN' ? (unknownSince ?? at) : at;
    }
    // What the API and dashboard show: the current UNKNOWN even while its report waits.
    const shown = deferred ? status : (groupStatus ?? status);
    const shownSince = deferred ? (unknownSince ?? at) : statusSince;
    groups.set(id, {
      groupId: id,
      state,
      members,
      gone,
      lastSeenAt,
      status: groupStatus,
      statusSince,
      unknownSince: groupStatus === 'UNKNOWN' ? null : unknownSince,
      partitions,
      history: bounded(prev?.history ?? [], { at, totalLag, maxLagSeconds, consumeRate, status: shown }, settings.historyCycles),
      summary: {
        groupId: id,
        state,
        memberCount: members.length,
        gone,
        status: shown,
        statusSince: shownSince,
        totalLag,
        maxLag,
        unknownLagPartitions,
        messagesLost,
        memberless,
        stuckPartitions,
        offsetsUnavailableSince,
        maxLagSeconds,
        consumeRate,
        topics: byTopic.map((t) => t.topic),
        byTopic,
        partitionCount: views.length,
        observedAt: at,
        lastSeenAt,
      },
    });
  }

  // Production rate and balance per topic, over the same window.
  const topics = new Map<string, Array<{ at: number; highs: Map<number, number> }>>();
  const topicViews: TopicView[] = [];
  for (const [topic, ids] of snapshot.partitions) {
    const highs = new Map<number, number>();
    for (const p of ids) {
      const w = marks.get(partitionRefKey(topic, p));
      if (w) highs.set(p, w.high);
    }
    const hist = bounded(history.topics.get(topic) ?? [], { at, highs }, settings.windowCycles);
    topics.set(topic, hist);
    const oldest = hist[0] as (typeof hist)[number];
    const partitions = ids.map((p) => {
      const w = marks.get(partitionRefKey(topic, p));
      const from = oldest.highs.get(p);
      const rate = w && from !== undefined ? offsetRate({ at: oldest.at, value: from }, { at, value: w.high }) : 0;
      return { partition: p, low: w?.low ?? null, high: w?.high ?? null, lastStable: w?.lastStable ?? null, highWatermark: w?.highWatermark ?? null, rate, stuckTransactionSince: stuckSince.get(partitionRefKey(topic, p)) ?? null };
    });
    const { hottest, ...balance } = partitionBalance(partitions.map((p) => p.rate));
    topicViews.push({ topic, produceRate: balance.totalRate, balance: { ...balance, hottestPartition: hottest >= 0 ? (partitions[hottest]?.partition ?? null) : null }, partitions });
  }

  const summaries = [...groups.values()].map((g) => g.summary);
  // Unknown lag sorts above any known lag: it may be anything.
  const lagRank = (g: GroupSummary) => g.totalLag ?? Number.POSITIVE_INFINITY;
  summaries.sort((a, b) => statusSeverity(b.status) - statusSeverity(a.status) || (lagRank(b) === lagRank(a) ? 0 : lagRank(b) > lagRank(a) ? 1 : -1) || a.groupId.localeCompare(b.groupId));
  return {
    history: { cycle, groups, topics, transactions },
    changes,
    report: {
      cycle,
      observedAt: at,
      window: { cycles: settings.windowCycles, ms: windowMs },
      commitTimes: snapshot.commitsObserved ? 'observed' : 'inferred',
      groups: summaries,
      topics: topicViews.sort((a, b) => a.topic.localeCompare(b.topic)),
      stuckTransactions,
    },
  };
}

/** A group's detail (members, partitions, history) from the history a cycle returned. */
export function groupDetail(history: LagHistory, groupId: string, settings: Pick<LagSettings, 'windowCycles' | 'intervalMs'>): GroupDetailView | undefined {
  const g = history.groups.get(groupId);
  if (!g) return undefined;
  return {
    ...g.summary,
    members: g.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, host: m.host, partitions: m.assignment.map((a) => `${a.topic}/${a.partition}`) })),
    partitions: [...g.partitions.values()].map((p) => p.view).sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition),
    history: [...g.history],
    window: { cycles: settings.windowCycles, ms: settings.windowCycles * settings.intervalMs },
  };
}
