// In-memory stand-in for the broker side of a monitor cycle (admin calls and first-record reads),
// for unit tests of the monitor, the app wiring and the API without Kafka. Test-only.
import {
  type CommittedOffset,
  type FirstRecordRequest as RecordRequest,
  type FirstUnconsumed,
  type GroupDetail,
  type GroupListing,
  type GroupMember,
  type PartitionRef as TopicPartition,
  type Watermark,
  firstRecordKey as requestKey,
} from '@wikimonitor/domain';
import type { GroupAdmin } from '@wikimonitor/kafka';
import type { FirstRecordReader, FirstRecordStats as ReaderStats } from '@wikimonitor/lag';

interface FakeTopic {
  low: number[];
  /** First offset of a transaction left open, per partition (pins the last stable offset there). */
  openTxn: Array<number | undefined>;
  /** Record timestamps per partition, by offset. */
  records: number[][];
}

interface FakeGroup {
  state: string;
  members: GroupMember[];
  committed: Map<string, number>;
}

export interface FakeCluster {
  admin: Pick<GroupAdmin, 'listGroups' | 'describeGroups' | 'fetchCommitted' | 'fetchPartitions' | 'fetchWatermarks' | 'close'>;
  reader: FirstRecordReader;
  createTopic(topic: string, partitions: number): void;
  produce(topic: string, partition: number, count: number, timestamp: number): void;
  deleteRecords(topic: string, partition: number, before: number): void;
  /** Pins the partition's last stable offset at `offset` (a transaction left open there), or releases it. */
  setOpenTransaction(topic: string, partition: number, offset: number | undefined): void;
  /** While set, every listGroups call fails (the cluster unreachable). */
  failing: { on: boolean };
  commit(group: string, topic: string, partition: number, offset: number): void;
  setMembers(group: string, members: GroupMember[]): void;
  removeGroup(group: string): void;
  failOffsetsOf: Set<string>;
  calls: string[];
  requests: RecordRequest[][];
}

export function createFakeCluster(): FakeCluster {
  const topics = new Map<string, FakeTopic>();
  const groups = new Map<string, FakeGroup>();
  const failOffsetsOf = new Set<string>();
  const failing = { on: false };
  const calls: string[] = [];
  const requests: RecordRequest[][] = [];
  const stats: ReaderStats = { hits: 0, reads: 0, timeouts: 0 };
  const group = (id: string) => {
    let g = groups.get(id);
    if (!g) {
      g = { state: 'EMPTY', members: [], committed: new Map() };
      groups.set(id, g);
    }
    return g;
  };
  const topic = (name: string) => {
    const t = topics.get(name);
    if (!t) throw new Error(`no topic ${name}`);
    return t;
  };

  return {
    failOffsetsOf,
    failing,
    calls,
    requests,
    createTopic(name, partitions) {
      topics.set(name, { low: new Array(partitions).fill(0), openTxn: new Array(partitions).fill(undefined), records: Array.from({ length: partitions }, () => []) });
    },
    produce(name, partition, count, timestamp) {
      const recs = topic(name).records[partition] as number[];
      for (let i = 0; i < count; i++) recs.push(timestamp);
    },
    deleteRecords(name, partition, before) {
      topic(name).low[partition] = before;
    },
    setOpenTransaction(name, partition, offset) {
      topic(name).openTxn[partition] = offset;
    },
    commit(id, t, p, offset) {
      group(id).committed.set(`${t}/${p}`, offset);
    },
    setMembers(id, members) {
      const g = group(id);
      g.members = members;
      g.state = members.length ? 'STABLE' : 'EMPTY';
    },
    removeGroup(id) {
      groups.delete(id);
    },
    admin: {
      async listGroups(): Promise<GroupListing[]> {
        calls.push('listGroups');
        if (failing.on) throw new Error('broker unreachable');
        return [...groups].map(([groupId, g]) => ({ groupId, state: g.state, protocolType: 'consumer' }));
      },
      async describeGroups(ids): Promise<GroupDetail[]> {
        calls.push('describeGroups');
        return ids.map((id) => ({ groupId: id, state: groups.get(id)?.state ?? 'DEAD', members: groups.get(id)?.members ?? [] }));
      },
      async fetchCommitted(id): Promise<CommittedOffset[]> {
        calls.push(`fetchCommitted:${id}`);
        if (failOffsetsOf.has(id)) throw new Error('coordinator not available');
        return [...(groups.get(id)?.committed ?? [])].map(([tp, offset]) => {
          const [t, p] = tp.split('/');
          return { topic: t as string, partition: Number(p), offset };
        });
      },
      async fetchPartitions(names) {
        calls.push('fetchPartitions');
        const out = new Map<string, number[]>();
        for (const n of names) {
          const t = topics.get(n);
          if (t) out.set(n, t.records.map((_, i) => i));
        }
        return out;
      },
      async fetchWatermarks(tps: TopicPartition[]): Promise<Watermark[]> {
        calls.push('fetchWatermarks');
        return tps.map(({ topic: n, partition }) => {
          const t = topic(n);
          const highWatermark = (t.records[partition] ?? []).length;
          const lastStable = t.openTxn[partition] ?? highWatermark;
          // read_committed: the end lag is measured to is the last stable offset.
          return { topic: n, partition, low: t.low[partition] ?? 0, high: lastStable, lastStable, highWatermark };
        });
      },
      close: async () => undefined,
    },
    reader: {
      name: 'fake-reader',
      start: async () => undefined,
      close: async () => undefined,
      isLive: () => true,
      isReady: () => true,
      stats: () => ({ ...stats }),
      async read(reqs) {
        requests.push(reqs);
        const out = new Map<string, FirstUnconsumed | null>();
        for (const r of reqs) {
          stats.reads++;
          const ts = topics.get(r.topic)?.records[r.partition]?.[r.offset];
          out.set(requestKey(r), ts === undefined || r.offset >= r.end ? null : { offset: r.offset, timestamp: ts });
        }
        return out;
      },
    },
  };
}
