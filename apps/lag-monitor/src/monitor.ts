import {
  type ConsumerStatus,
  type FirstUnconsumed,
  type LagNote,
  type OffsetObservation,
  type PartitionBalance,
  type StatusChange,
  type StatusRule,
  evaluatePartitionStatus,
  firstUnconsumedOffset,
  offsetRate,
  partitionBalance,
  partitionLag,
  statusSeverity,
  worstStatus,
} from '@wikimonitor/domain';
import type { Logger } from '@wikimonitor/service-kit';
import type { CommitLog } from './commit-log';
import type { CommittedOffset, GroupDetail, GroupMember, LagAdmin, TopicPartition, Watermark } from './lag-admin';
import { type RecordRequest, type RecordTimestampReader, requestKey } from './record-reader';

export interface PartitionView {
  topic: string;
  partition: number;
  committedOffset: number | null;
  lowWatermark: number;
  highWatermark: number;
  lag: number | null;
  lagSeconds: number | null;
  note: LagNote | null;
  /** The record lag seconds was measured from (its offset and timestamp). */
  firstUnconsumed: FirstUnconsumed | null;
  status: ConsumerStatus;
  rule: StatusRule;
  lastCommitAt: number | null;
  owner: { clientId: string; host: string } | null;
  /** Messages per second the group consumed here over the window. */
  consumeRate: number;
}

export interface GroupSummary {
  groupId: string;
  state: string;
  memberCount: number;
  /** The broker no longer lists the group (offsets expired or deleted); still reported, lag still growing. */
  gone: boolean;
  status: ConsumerStatus;
  statusSince: number;
  totalLag: number;
  maxLagSeconds: number | null;
  consumeRate: number;
  topics: string[];
  /** The same figures per topic the group reads. */
  byTopic: TopicLag[];
  partitionCount: number;
  observedAt: number;
  lastSeenAt: number;
}

export interface TopicLag {
  topic: string;
  status: ConsumerStatus;
  lag: number;
  maxLagSeconds: number | null;
  consumeRate: number;
  partitions: number;
}

function summarize(views: PartitionView[]): { status: ConsumerStatus; totalLag: number; maxLagSeconds: number | null; consumeRate: number } {
  const status = worstStatus(views.map((v) => v.status));
  const totalLag = views.reduce((s, v) => s + (v.lag ?? 0), 0);
  const known = views.map((v) => v.lagSeconds).filter((s): s is number => s !== null);
  const maxLagSeconds = known.length ? Math.max(...known) : totalLag === 0 ? 0 : null;
  const consumeRate = views.reduce((s, v) => s + v.consumeRate, 0);
  return { status, totalLag, maxLagSeconds, consumeRate };
}

export interface HistoryPoint {
  at: number;
  totalLag: number;
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
  partitions: Array<{ partition: number; low: number; high: number; rate: number }>;
}

export interface Snapshot {
  cycle: number;
  observedAt: number;
  cycleMs: number;
  window: { cycles: number; ms: number };
  commitTimes: 'observed' | 'inferred';
  groups: GroupSummary[];
  topics: TopicView[];
}

export interface CycleTimings {
  listGroups: number;
  describeGroups: number;
  fetchCommitted: number;
  fetchPartitions: number;
  fetchWatermarks: number;
  readRecords: number;
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

export interface MonitorOptions {
  admin: Pick<LagAdmin, 'listGroups' | 'describeGroups' | 'fetchCommitted' | 'fetchPartitions' | 'fetchWatermarks'>;
  reader: Pick<RecordTimestampReader, 'read'>;
  commitLog?: Pick<CommitLog, 'lastCommit' | 'caughtUp'> | null;
  includeGroup: (groupId: string) => boolean;
  /** Topics to report rates and balance for even when no monitored group reads them. */
  extraTopics?: string[];
  windowCycles: number;
  intervalMs: number;
  historyCycles: number;
  goneRetentionMs: number;
  adminConcurrency: number;
  log: Logger;
  now?: () => number;
}

export interface LagMonitor {
  runCycle(): Promise<CycleResult>;
  snapshot(): Snapshot | undefined;
  group(groupId: string): GroupDetailView | undefined;
  /** Every partition view of every group (for metrics). */
  partitions(): Array<{ groupId: string; view: PartitionView }>;
}

interface PartitionState {
  topic: string;
  partition: number;
  committed: number | null;
  window: OffsetObservation[];
  /** First cycle time the current committed offset was seen: a lower bound of the last commit. */
  offsetSince: number;
  view?: PartitionView;
}

interface GroupState {
  groupId: string;
  state: string;
  members: GroupMember[];
  gone: boolean;
  lastSeenAt: number;
  status: ConsumerStatus | null;
  statusSince: number;
  partitions: Map<string, PartitionState>;
  history: HistoryPoint[];
  summary?: GroupSummary;
}

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

/**
 * The monitor's state and one cycle of it: which groups exist, where each is in each partition,
 * how far behind in messages and in seconds, and each partition's and group's status over the
 * sliding window. Groups that stop, empty or vanish stay in the state, so their lag keeps growing.
 */
export function createLagMonitor(opts: MonitorOptions): LagMonitor {
  const now = opts.now ?? Date.now;
  const windowMs = opts.windowCycles * opts.intervalMs;
  const groups = new Map<string, GroupState>();
  const topicHistory = new Map<string, Array<{ at: number; highs: Map<number, number> }>>();
  let last: Snapshot | undefined;
  let cycle = 0;

  async function timed<T>(timings: CycleTimings, key: keyof CycleTimings, fn: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      timings[key] += performance.now() - t;
    }
  }

  async function runCycle(): Promise<CycleResult> {
    const started = performance.now();
    const timings: CycleTimings = { listGroups: 0, describeGroups: 0, fetchCommitted: 0, fetchPartitions: 0, fetchWatermarks: 0, readRecords: 0, evaluate: 0, total: 0 };
    cycle++;

    const listed = (await timed(timings, 'listGroups', () => opts.admin.listGroups())).filter((g) => opts.includeGroup(g.groupId));
    const listedIds = listed.map((g) => g.groupId);
    const listedState = new Map(listed.map((g) => [g.groupId, g.state]));
    const described = new Map<string, GroupDetail>();
    await timed(timings, 'describeGroups', async () => {
      for (let i = 0; i < listedIds.length; i += 200) {
        for (const d of await opts.admin.describeGroups(listedIds.slice(i, i + 200))) described.set(d.groupId, d);
      }
    });
    const failedGroups: string[] = [];
    const committed = new Map<string, CommittedOffset[]>();
    await timed(timings, 'fetchCommitted', () =>
      mapLimit(listedIds, opts.adminConcurrency, async (id) => {
        try {
          committed.set(id, await opts.admin.fetchCommitted(id));
        } catch (err) {
          failedGroups.push(id);
          opts.log.warn({ group: id, err: (err as Error).message }, 'fetching committed offsets failed; keeping the last known ones');
        }
      }),
    );

    // Which partitions each group is in: committed ones, assigned ones, and (failed or gone) the last known.
    const wanted = new Map<string, Map<string, TopicPartition & { committed: number | null }>>();
    for (const id of new Set([...listedIds, ...groups.keys()])) {
      const tps = new Map<string, TopicPartition & { committed: number | null }>();
      const fresh = committed.get(id);
      if (fresh) {
        for (const c of fresh) tps.set(tpKey(c.topic, c.partition), { topic: c.topic, partition: c.partition, committed: c.offset });
        for (const m of described.get(id)?.members ?? []) {
          for (const a of m.assignment) if (!tps.has(tpKey(a.topic, a.partition))) tps.set(tpKey(a.topic, a.partition), { ...a, committed: null });
        }
      } else {
        for (const p of groups.get(id)?.partitions.values() ?? []) tps.set(tpKey(p.topic, p.partition), { topic: p.topic, partition: p.partition, committed: p.committed });
      }
      wanted.set(id, tps);
    }
    const topics = new Set<string>(opts.extraTopics ?? []);
    for (const tps of wanted.values()) for (const tp of tps.values()) topics.add(tp.topic);
    const partitionIds = await timed(timings, 'fetchPartitions', () => opts.admin.fetchPartitions([...topics].sort()));
    const allTps: TopicPartition[] = [];
    for (const [topic, ids] of partitionIds) for (const partition of ids) allTps.push({ topic, partition });
    const marks = new Map<string, Watermark>();
    for (const w of await timed(timings, 'fetchWatermarks', () => opts.admin.fetchWatermarks(allTps))) marks.set(tpKey(w.topic, w.partition), w);
    const at = now();

    // The first unconsumed record of every lagging partition, one read per distinct (partition, offset).
    const requests = new Map<string, RecordRequest>();
    for (const tps of wanted.values()) {
      for (const tp of tps.values()) {
        const w = marks.get(tpKey(tp.topic, tp.partition));
        if (!w) continue;
        const start = firstUnconsumedOffset({ committed: tp.committed, low: w.low, high: w.high });
        const r = { topic: tp.topic, partition: tp.partition, offset: start ?? -1, end: w.high };
        if (start !== null) requests.set(requestKey(r), r);
      }
    }
    const firsts = await timed(timings, 'readRecords', () => opts.reader.read([...requests.values()]));

    const evalStarted = performance.now();
    const commitsObserved = !!opts.commitLog && opts.commitLog.caughtUp();
    const changes: StatusChange[] = [];
    for (const [id, tps] of wanted) {
      const isListed = listedState.has(id);
      let g = groups.get(id);
      if (!g) {
        g = { groupId: id, state: 'UNKNOWN', members: [], gone: false, lastSeenAt: at, status: null, statusSince: at, partitions: new Map(), history: [] };
        groups.set(id, g);
      }
      if (isListed) {
        const d = described.get(id);
        g.state = d?.state ?? listedState.get(id) ?? 'UNKNOWN';
        g.members = d?.members ?? [];
        g.gone = false;
        g.lastSeenAt = at;
      } else {
        if (at - g.lastSeenAt > opts.goneRetentionMs) {
          groups.delete(id);
          continue;
        }
        g.gone = true;
        g.state = 'GONE';
        g.members = [];
      }
      const owners = new Map<string, { clientId: string; host: string }>();
      for (const m of g.members) for (const a of m.assignment) owners.set(tpKey(a.topic, a.partition), { clientId: m.clientId, host: m.host });
      const fetchedNow = isListed && committed.has(id);

      const next = new Map<string, PartitionState>();
      for (const [key, tp] of tps) {
        const w = marks.get(key);
        if (!w) continue; // topic deleted or partition unknown: nothing to measure against
        const ps: PartitionState = g.partitions.get(key) ?? { topic: tp.topic, partition: tp.partition, committed: tp.committed, window: [], offsetSince: at };
        if (ps.committed !== tp.committed) {
          ps.committed = tp.committed;
          ps.offsetSince = at;
        }
        const position = { committed: tp.committed, low: w.low, high: w.high };
        const start = firstUnconsumedOffset(position);
        const first = start === null ? undefined : firsts.get(requestKey({ topic: tp.topic, partition: tp.partition, offset: start }));
        const lag = partitionLag(position, first, at);
        if (tp.committed !== null && lag.lag !== null && (fetchedNow || g.gone)) {
          pushBounded(ps.window, { at, offset: tp.committed, lag: lag.lag }, opts.windowCycles);
        }
        const logged = commitsObserved && tp.committed !== null ? opts.commitLog?.lastCommit(id, tp.topic, tp.partition) : undefined;
        const lastCommitAt = tp.committed === null ? null : (logged?.at ?? ps.offsetSince);
        const verdict =
          tp.committed === null
            ? { status: 'OK' as const, rule: 'no-data' as const }
            : evaluatePartitionStatus({ window: ps.window, windowCycles: opts.windowCycles, windowMs, now: at, lastCommitAt, commitsObserved: !!logged });
        const firstObs = ps.window[0];
        const lastObs = ps.window[ps.window.length - 1];
        ps.view = {
          topic: tp.topic,
          partition: tp.partition,
          committedOffset: tp.committed,
          lowWatermark: w.low,
          highWatermark: w.high,
          lag: lag.lag,
          lagSeconds: lag.lagSeconds,
          note: lag.note,
          firstUnconsumed: first ?? null,
          status: verdict.status,
          rule: verdict.rule,
          lastCommitAt,
          owner: owners.get(key) ?? null,
          consumeRate: firstObs && lastObs ? offsetRate({ at: firstObs.at, value: firstObs.offset }, { at: lastObs.at, value: lastObs.offset }) : 0,
        };
        next.set(key, ps);
      }
      g.partitions = next;

      const views = [...next.values()].map((p) => p.view as PartitionView);
      const { status, totalLag, maxLagSeconds, consumeRate } = summarize(views);
      const byTopic: TopicLag[] = [...new Set(views.map((v) => v.topic))].sort().map((topic) => {
        const of = views.filter((v) => v.topic === topic);
        const t = summarize(of);
        return { topic, status: t.status, lag: t.totalLag, maxLagSeconds: t.maxLagSeconds, consumeRate: t.consumeRate, partitions: of.length };
      });
      if (status !== g.status && (fetchedNow || g.gone)) {
        const worst = views.reduce<PartitionView | undefined>((a, v) => (!a || statusSeverity(v.status) > statusSeverity(a.status) || (v.status === a.status && (v.lag ?? 0) > (a.lag ?? 0)) ? v : a), undefined);
        changes.push({
          group: id,
          previous: g.status,
          status,
          at,
          windowStart: at - windowMs,
          windowMs,
          totalLag,
          maxLagSeconds,
          worst: worst ? { topic: worst.topic, partition: worst.partition, status: worst.status, rule: worst.rule } : undefined,
        });
        g.status = status;
        g.statusSince = at;
      }
      pushBounded(g.history, { at, totalLag, maxLagSeconds, consumeRate, status: g.status ?? status }, opts.historyCycles);
      g.summary = {
        groupId: id,
        state: g.state,
        memberCount: g.members.length,
        gone: g.gone,
        status: g.status ?? status,
        statusSince: g.statusSince,
        totalLag,
        maxLagSeconds,
        consumeRate,
        topics: byTopic.map((t) => t.topic),
        byTopic,
        partitionCount: views.length,
        observedAt: at,
        lastSeenAt: g.lastSeenAt,
      };
    }

    // Production rate and balance per topic, over the same window.
    const topicViews: TopicView[] = [];
    for (const [topic, ids] of partitionIds) {
      const highs = new Map<number, number>();
      for (const p of ids) {
        const w = marks.get(tpKey(topic, p));
        if (w) highs.set(p, w.high);
      }
      const hist = topicHistory.get(topic) ?? [];
      pushBounded(hist, { at, highs }, opts.windowCycles);
      topicHistory.set(topic, hist);
      const oldest = hist[0] as (typeof hist)[number];
      const partitions = ids.map((p) => {
        const w = marks.get(tpKey(topic, p));
        const from = oldest.highs.get(p);
        const rate = w && from !== undefined ? offsetRate({ at: oldest.at, value: from }, { at, value: w.high }) : 0;
        return { partition: p, low: w?.low ?? 0, high: w?.high ?? 0, rate };
      });
      const { hottest, ...balance } = partitionBalance(partitions.map((p) => p.rate));
      topicViews.push({ topic, produceRate: balance.totalRate, balance: { ...balance, hottestPartition: hottest >= 0 ? (partitions[hottest]?.partition ?? null) : null }, partitions });
    }
    for (const topic of topicHistory.keys()) if (!partitionIds.has(topic)) topicHistory.delete(topic);

    const summaries = [...groups.values()].map((g) => g.summary).filter((s): s is GroupSummary => !!s);
    summaries.sort((a, b) => statusSeverity(b.status) - statusSeverity(a.status) || b.totalLag - a.totalLag || a.groupId.localeCompare(b.groupId));
    timings.evaluate = performance.now() - evalStarted;
    timings.total = performance.now() - started;
    last = {
      cycle,
      observedAt: at,
      cycleMs: timings.total,
      window: { cycles: opts.windowCycles, ms: windowMs },
      commitTimes: commitsObserved ? 'observed' : 'inferred',
      groups: summaries,
      topics: topicViews.sort((a, b) => a.topic.localeCompare(b.topic)),
    };
    return { snapshot: last, changes, timings, failedGroups };
  }

  return {
    runCycle,
    snapshot: () => last,
    group(groupId) {
      const g = groups.get(groupId);
      if (!g?.summary) return undefined;
      return {
        ...g.summary,
        members: g.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, host: m.host, partitions: m.assignment.map((a) => `${a.topic}/${a.partition}`) })),
        partitions: [...g.partitions.values()].map((p) => p.view as PartitionView).sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition),
        history: [...g.history],
        window: { cycles: opts.windowCycles, ms: windowMs },
      };
    },
    partitions() {
      const out: Array<{ groupId: string; view: PartitionView }> = [];
      for (const g of groups.values()) for (const p of g.partitions.values()) if (p.view) out.push({ groupId: g.groupId, view: p.view });
      return out;
    },
  };
}
