import {
  type CommittedOffset,
  type GroupDetail,
  type LagClusterSnapshot,
  type LagHistory,
  type LastCommit,
  type PartitionRef,
  commitKey,
  firstRecordRequests,
  measuredPartitions,
} from '@wikimonitor/domain';
import type { GroupAdmin } from '@wikimonitor/kafka';
import type { Logger } from '@wikimonitor/service-kit';
import type { FirstRecordReader } from './first-records';

/** Where a lag monitor cycle gets its data from. */
export interface LagSources {
  admin: Pick<GroupAdmin, 'listGroups' | 'describeGroups' | 'fetchCommitted' | 'fetchPartitions' | 'fetchWatermarks'>;
  reader: Pick<FirstRecordReader, 'read'>;
  /** Commit times from `__consumer_offsets` (absent: inferred from offset changes). */
  commitLog?: { caughtUp(): boolean; lastCommit(group: string, topic: string, partition: number): LastCommit | undefined } | null;
  includeGroup: (groupId: string) => boolean;
  /** Topics to report rates and balance for even when no monitored group reads them. */
  extraTopics?: string[];
  /** Offset fetches in flight at once (one per group). */
  adminConcurrency: number;
  log: Logger;
  now?: () => number;
}

export interface GatherTimings {
  listGroups: number;
  describeGroups: number;
  fetchCommitted: number;
  fetchPartitions: number;
  fetchWatermarks: number;
  readRecords: number;
}

export interface GatheredSnapshot {
  snapshot: LagClusterSnapshot;
  /** Groups whose offsets could not be fetched this cycle (kept at their last known state by the evaluation). */
  failedGroups: string[];
  timings: GatherTimings;
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The I/O of one lag monitor cycle: groups, their members and committed offsets, the partitions and
 * end offsets of every topic they read, the first unconsumed record of each lagging partition (one
 * read per distinct partition and offset) and, once observed, commit times. `history` (what earlier
 * cycles saw) says where groups whose offsets cannot be fetched, or that vanished, were last seen.
 */
export async function gatherLagSnapshot(src: LagSources, history: LagHistory): Promise<GatheredSnapshot> {
  const now = src.now ?? Date.now;
  const timings: GatherTimings = { listGroups: 0, describeGroups: 0, fetchCommitted: 0, fetchPartitions: 0, fetchWatermarks: 0, readRecords: 0 };
  const timed = async <T>(key: keyof GatherTimings, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      timings[key] += performance.now() - t;
    }
  };

  const listed = (await timed('listGroups', () => src.admin.listGroups())).filter((g) => src.includeGroup(g.groupId));
  const ids = listed.map((g) => g.groupId);
  const described: GroupDetail[] = [];
  await timed('describeGroups', async () => {
    for (let i = 0; i < ids.length; i += 200) described.push(...(await src.admin.describeGroups(ids.slice(i, i + 200))));
  });
  const failedGroups: string[] = [];
  const committed = new Map<string, CommittedOffset[]>();
  await timed('fetchCommitted', () =>
    mapLimit(ids, src.adminConcurrency, async (id) => {
      try {
        committed.set(id, await src.admin.fetchCommitted(id));
      } catch (err) {
        failedGroups.push(id);
        src.log.warn({ group: id, err: (err as Error).message }, 'fetching committed offsets failed; keeping the last known ones');
      }
    }),
  );

  const measured = measuredPartitions({ listed, described, committed }, history);
  const topics = new Set<string>(src.extraTopics ?? []);
  for (const tps of measured.values()) for (const tp of tps.values()) topics.add(tp.topic);
  const partitions = await timed('fetchPartitions', () => src.admin.fetchPartitions([...topics].sort()));
  const all: PartitionRef[] = [];
  for (const [topic, pids] of partitions) for (const partition of pids) all.push({ topic, partition });
  const watermarks = await timed('fetchWatermarks', () => src.admin.fetchWatermarks(all));
  const at = now();
  const firstRecords = await timed('readRecords', () => src.reader.read(firstRecordRequests(measured, watermarks)));

  const commitsObserved = !!src.commitLog && src.commitLog.caughtUp();
  const lastCommits = new Map<string, LastCommit>();
  if (commitsObserved) {
    for (const [id, tps] of measured) {
      for (const tp of tps.values()) {
        const c = tp.committed === null ? undefined : src.commitLog?.lastCommit(id, tp.topic, tp.partition);
        if (c) lastCommits.set(commitKey(id, tp.topic, tp.partition), c);
      }
    }
  }
  return { snapshot: { at, listed, described, committed, partitions, watermarks, firstRecords, commitsObserved, lastCommits }, failedGroups, timings };
}
