import { AdminClient, type IAdminClient, IsolationLevel, KafkaConsumer, type LibrdKafkaError, type ListOffsetsResult, OffsetSpec, type TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import { type Logger, WikiMonitorError } from '@wikimonitor/service-kit';
import { type KafkaAdmin, createAdmin } from './admin';
import { type KafkaConnection, rdkafkaBaseConfig } from './config';
import { connectClient } from './connect';
import type { NativeGuardVerdict } from './native-guard';
import type { CommittedOffset, GroupDetail, GroupListing, PartitionRef, Watermark } from '@wikimonitor/contracts';

type TopicMetadata = Awaited<ReturnType<KafkaAdmin['fetchTopicMetadata']>>;

/**
 * Consumer-group and offset queries, behind a narrow interface so a lag monitor cycle can be driven
 * by a fake in unit tests and a benchmark can time the bare calls.
 */
export interface GroupAdmin {
  listGroups(): Promise<GroupListing[]>;
  describeGroups(groupIds: string[]): Promise<GroupDetail[]>;
  /** Committed offsets of every partition the group has committed. */
  fetchCommitted(groupId: string): Promise<CommittedOffset[]>;
  /** Partition ids per topic; topics that do not exist are left out. */
  fetchPartitions(topics: string[]): Promise<Map<string, number[]>>;
  /**
   * Log start and end offsets of many partitions in three batched requests: the log start, the last
   * stable offset and the high watermark (`high` is the one of the admin's isolation level). A
   * partition whose offsets could not be listed is left out.
   */
  fetchWatermarks(partitions: PartitionRef[]): Promise<Watermark[]>;
  /** Per partition of a topic, the offset of the first record at or after `timestamp` (the end when none), under the admin's isolation. */
  offsetsForTimestamp(topic: string, timestamp: number): Promise<Array<{ partition: number; offset: number }>>;
  /**
   * Deletes the records of a partition below `before` (the log start moves there), as retention
   * would: for tooling and for tests of what a monitor reports about records deleted unread.
   */
  deleteRecordsBefore(topic: string, partitions: Array<{ partition: number; before: number }>): Promise<void>;
  /** The KafkaJS-compatible admin, for tooling (topic listing and metadata). */
  readonly admin: KafkaAdmin;
  /**
   * With `guardDescribeGroups`: whether the native describeGroups proved safe (native-guard.ts). When
   * it crashes, describeGroups returns no descriptions (members unknown) instead of calling it.
   */
  readonly describeGroupsGuard?: NativeGuardVerdict;
  close(): Promise<void>;
}

const GROUP_STATES = ['UNKNOWN', 'PREPARING_REBALANCE', 'COMPLETING_REBALANCE', 'STABLE', 'DEAD', 'EMPTY'] as const;

/** librdkafka reports group states as numbers; the API and the CLI show names. */
export function groupStateName(state: number | string): string {
  return typeof state === 'string' ? state.toUpperCase() : (GROUP_STATES[state] ?? 'UNKNOWN');
}

export interface GroupAdminOptions {
  connection: KafkaConnection;
  log?: Logger;
  timeoutMs: number;
  /** read_committed: the end offset is the last stable offset (what a read_committed consumer can reach). */
  isolation: 'read_committed' | 'read_uncommitted';
  /**
   * Check first that the addon's describeGroups does not crash the process on an errored group (an
   * unpatched addon does, during every broker outage): long-running monitors pass describeGroupsVerdict
   * (native-guard.ts), which asks a child process once.
   */
  guardDescribeGroups?: () => Promise<NativeGuardVerdict>;
}

function adminError(what: string, err: unknown): WikiMonitorError {
  return new WikiMonitorError('KAFKA_ADMIN_FAILED', `${what}: ${(err as Error).message}`, { cause: err, retriable: true });
}

/** Per-partition ListOffsets errors of a client whose leader metadata is out of date. */
const STALE_LEADER_CODES = new Set([
  6, // NOT_LEADER_OR_FOLLOWER
  74, // FENCED_LEADER_EPOCH
  75, // UNKNOWN_LEADER_EPOCH
]);

/**
 * Group and offset queries over the KafkaJS-compatible admin (libs/kafka), plus librdkafka's own
 * ListOffsets for watermarks: one request per leader for all partitions of all topics, where the
 * KafkaJS `fetchTopicOffsets` costs a metadata and two ListOffsets round trips per topic.
 */
export async function createGroupAdmin(opts: GroupAdminOptions): Promise<GroupAdmin> {
  const guard = opts.guardDescribeGroups ? await opts.guardDescribeGroups() : undefined;
  if (guard && !guard.safe) opts.log?.error({ code: 'KAFKA_NATIVE_UNSAFE', detail: guard.detail }, 'describeGroups disabled: group members and assignments are unknown');
  const admin = await createAdmin(opts.connection, opts.log);
  const createRaw = () => AdminClient.create({ ...rdkafkaBaseConfig({ ...opts.connection, clientId: `${opts.connection.clientId}-offsets` }) });
  let raw: IAdminClient;
  try {
    raw = createRaw();
  } catch (err) {
    await admin.disconnect();
    throw adminError('creating the offsets admin client', err);
  }
  const timeout = opts.timeoutMs;
  const isolationLevel = opts.isolation === 'read_committed' ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED;

  const listOffsets = (partitions: PartitionRef[], spec: OffsetSpec, level: IsolationLevel = isolationLevel, client: IAdminClient = raw) =>
    new Promise<ListOffsetsResult[]>((resolve, reject) =>
      client.listOffsets(
        partitions.map((p) => ({ topic: p.topic, partition: p.partition, offset: spec })),
        { timeout, isolationLevel: level },
        (err, result) => (err ? reject(adminError('listing offsets', err)) : resolve(result)),
      ),
    );

  let renewedAt = 0;
  /** Replaced clients, disconnected once a request still on them has timed out (or at close). */
  const retired = new Set<IAdminClient>();
  /**
   * Replaces the offsets client `used` (unless another call already did). The three calls of a cycle
   * run at once: only the first to see the stale client replaces it, and the old one is closed only
   * after any request still on it has timed out. False when no new client could be made.
   */
  const renew = (used: IAdminClient, why: Record<string, unknown>, msg: string): boolean => {
    if (raw !== used || closed) return true;
    // While the broker is down every call fails: one new client per request timeout, not one per call.
    if (Date.now() - renewedAt < timeout) return false;
    renewedAt = Date.now();
    opts.log?.warn(why, msg);
    try {
      raw = createRaw();
    } catch (err) {
      opts.log?.warn({ err: (err as Error).message }, 'new offsets client failed; keeping the old one');
      return false;
    }
    retired.add(used);
    setTimeout(() => {
      if (retired.delete(used)) used.disconnect();
    }, timeout + 1_000).unref();
    return true;
  };

  /**
   * The end offsets under one isolation level, retried once on a new client when the client's view
   * of the cluster is stale. After a broker restart the offsets client kept asking the old leader
   * epoch and got FENCED_LEADER_EPOCH for some partitions on every cycle (chaos broker-restart), or
   * failed the whole request with "Local: No such entry" on every cycle for minutes after a long
   * outage (chaos broker-outage-long: lag-monitor stale until it was stopped), while a new client's
   * metadata is current.
   */
  const listOffsetsFresh = async (partitions: PartitionRef[], spec: OffsetSpec, level?: IsolationLevel): Promise<ListOffsetsResult[]> => {
    const used = raw;
    let first: ListOffsetsResult[];
    try {
      first = await listOffsets(partitions, spec, level, used);
    } catch (err) {
      if (!renew(used, { err: (err as Error).message }, 'listing offsets failed: retrying on a new offsets client')) throw err;
      return listOffsets(partitions, spec, level);
    }
    const stale = first.filter((r) => r.error && STALE_LEADER_CODES.has(r.error.code));
    if (!stale.length) return first;
    if (!renew(used, { partitions: stale.length, code: stale[0]?.error?.code, err: stale[0]?.error?.message }, 'offsets answered with a stale leader: retrying them on a new offsets client')) return first;
    const again = new Map((await listOffsets(stale, spec, level)).map((r) => [`${r.topic}\u0000${r.partition}`, r]));
    return first.map((r) => again.get(`${r.topic}\u0000${r.partition}`) ?? r);
  };

  const metadataOf = async (topics: string[]): Promise<TopicMetadata> => {
    try {
      return await admin.fetchTopicMetadata({ topics, timeout });
    } catch (err) {
      if (topics.length === 1) {
        opts.log?.debug({ topic: topics[0], err: (err as Error).message }, 'topic metadata unavailable');
        return [];
      }
      // One missing topic fails the whole request: ask per topic so the others still count.
      const each = await Promise.all(topics.map((t) => metadataOf([t])));
      return each.flat();
    }
  };

  let closed: Promise<void> | undefined;
  return {
    admin,
    async listGroups() {
      try {
        const res = await admin.listGroups({ timeout });
        return res.groups.map((g) => ({ groupId: g.groupId, state: groupStateName(g.state), protocolType: g.protocolType }));
      } catch (err) {
        throw adminError('listing groups', err);
      }
    },
    describeGroupsGuard: guard,
    async describeGroups(groupIds) {
      if (!groupIds.length || (guard && !guard.safe)) return [];
      try {
        const res = await admin.describeGroups(groupIds, { timeout });
        return res.groups.map((g) => ({
          groupId: g.groupId,
          state: groupStateName(g.state),
          error: g.error ? g.error.message : undefined,
          members: g.members.map((m) => ({
            memberId: m.memberId,
            clientId: m.clientId,
            host: m.clientHost,
            assignment: (m.assignment?.topicPartitions ?? []).map((tp) => ({ topic: tp.topic, partition: tp.partition })),
          })),
        }));
      } catch (err) {
        throw adminError('describing groups', err);
      }
    },
    async fetchCommitted(groupId) {
      try {
        const res = await admin.fetchOffsets({ groupId, timeout });
        return res.flatMap((t) => t.partitions.filter((p) => !p.error && Number(p.offset) >= 0).map((p) => ({ topic: t.topic, partition: p.partition, offset: Number(p.offset) })));
      } catch (err) {
        throw adminError(`fetching offsets of ${groupId}`, err);
      }
    },
    async fetchPartitions(topics) {
      const out = new Map<string, number[]>();
      if (!topics.length) return out;
      for (const t of await metadataOf(topics)) out.set(t.name, t.partitions.map((p) => p.partitionId).sort((a, b) => a - b));
      return out;
    },
    async offsetsForTimestamp(topic, timestamp) {
      try {
        const res = await admin.fetchTopicOffsetsByTimestamp(topic, timestamp, { timeout, isolationLevel });
        return res.map((o) => ({ partition: o.partition, offset: Number(o.offset) }));
      } catch (err) {
        throw adminError(`offsets of ${topic} at ${new Date(timestamp).toISOString()}`, err);
      }
    },
    async fetchWatermarks(partitions) {
      if (!partitions.length) return [];
      // The end under both isolation levels: a last stable offset that stays put while the high
      // watermark grows is a transaction left open (a hung or crashed transactional producer).
      const [stables, hwms, lows] = await Promise.all([
        listOffsetsFresh(partitions, OffsetSpec.LATEST, IsolationLevel.READ_COMMITTED),
        listOffsetsFresh(partitions, OffsetSpec.LATEST, IsolationLevel.READ_UNCOMMITTED),
        listOffsetsFresh(partitions, OffsetSpec.EARLIEST),
      ]);
      const byKey = (rs: ListOffsetsResult[]) => new Map(rs.filter((r) => !r.error).map((r) => [`${r.topic}\u0000${r.partition}`, r.offset]));
      const lowOf = byKey(lows);
      const hwmOf = byKey(hwms);
      const out: Watermark[] = [];
      for (const s of stables) {
        const key = `${s.topic}\u0000${s.partition}`;
        const low = lowOf.get(key);
        const highWatermark = hwmOf.get(key);
        if (s.error || low === undefined || highWatermark === undefined) continue;
        out.push({ topic: s.topic, partition: s.partition, low, high: opts.isolation === 'read_committed' ? s.offset : highWatermark, lastStable: s.offset, highWatermark });
      }
      return out;
    },
    async deleteRecordsBefore(topic, parts) {
      try {
        await admin.deleteTopicRecords({ topic, partitions: parts.map((p) => ({ partition: p.partition, offset: String(p.before) })), timeout });
      } catch (err) {
        throw adminError(`deleting records of ${topic}`, err);
      }
    },
    close() {
      closed ??= (async () => {
        raw.disconnect();
        for (const old of retired) old.disconnect();
        retired.clear();
        await admin.disconnect();
      })();
      return closed;
    },
  };
}

/**
 * Commits offsets for a consumer group from a group-less client using the group's id (for offset
 * resets and benchmarks). The broker accepts it only while the group has no active members, so a
 * consumer joining meanwhile makes it fail rather than race.
 */
export async function commitGroupOffsets(connection: KafkaConnection, groupId: string, offsets: Array<PartitionRef & { offset: number }>): Promise<void> {
  const consumer = new KafkaConsumer(
    { ...rdkafkaBaseConfig({ ...connection, clientId: `${connection.clientId}-commit` }), 'group.id': groupId, 'enable.auto.commit': false, 'enable.auto.offset.store': false },
    {},
  ) as KafkaConsumer & { commitCb(offsets: TopicPartitionOffset[], cb: (err: LibrdKafkaError | null) => void): void };
  await connectClient(consumer, connection, undefined, `offset commit of ${groupId}`);
  try {
    await new Promise<void>((resolve, reject) =>
      consumer.commitCb(
        offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })),
        (err) => (err ? reject(new WikiMonitorError('KAFKA_ADMIN_FAILED', `committing offsets of group ${groupId}: ${err.message}`, { cause: err })) : resolve()),
      ),
    );
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}
