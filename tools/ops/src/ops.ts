import type { WikiChange } from '@wikimonitor/contracts';
import {
  DEFAULT_MAX_FUTURE_SKEW_MS,
  type GroupDetailView,
  type LagSettings,
  type OffsetHome,
  type OffsetHomeRules,
  type ResetPlanEntry,
  type ResetTarget,
  changeKey,
  emptyLagHistory,
  evaluateCycle,
  groupDetail,
  normalizeRecentChangeText,
  offsetHomeOf,
  planOffsetReset,
  resetPolicyRefusal,
  resetRefusal,
  resetWarnings,
} from '@wikimonitor/domain';
import {
  DEFAULT_TOPICS,
  DLQ_TRUNCATION_HEADERS,
  type GroupAdmin,
  type KafkaConnection,
  type Message,
  type OutgoingRecord,
  type ParsedDeadLetter,
  commitGroupOffsets,
  createGroupAdmin,
  createProducer,
  ensureTopics,
  headerString,
  headersFromMessage,
  parseDeadLetter,
  readToEnd,
  topicSpec,
  writeBatch,
} from '@wikimonitor/kafka';
import { createFirstRecordReader, gatherLagSnapshot } from '@wikimonitor/lag';
import { type Logger, WikiMonitorError, describeError } from '@wikimonitor/service-kit';
import type { PersisterOffsets } from './pg-offsets';

export interface OpsContext {
  connection: KafkaConnection;
  log: Logger;
  adminTimeoutMs: number;
  /**
   * The schema-registry Avro encoder of WikiChange records for a topic: replaying a producer dead
   * letter (raw JSON) produces the change Avro-encoded, as the producer would have.
   */
  changeEncoder?: (topic: string) => Promise<(change: WikiChange) => Buffer>;
  /** replay-dlq: how it marks what it replayed (default: DEFAULT_REPLAY). */
  replay?: Partial<ReplaySettings>;
  /** reset-offsets: the dedup-persister's offsets in PostgreSQL, when a database is configured. */
  persisterOffsets?: () => PersisterOffsets;
  /** reset-offsets: which groups keep their position elsewhere than in Kafka (default: DEFAULT_OFFSET_HOMES). */
  offsetHomes?: OffsetHomeRules;
}

/** The pipeline's default group ids: the persister's CONSUMER_GROUP and the aggregator's GROUP_ID. */
export const DEFAULT_OFFSET_HOMES: OffsetHomeRules = { postgresGroups: ['dedup-persister'], changelogGroups: ['aggregator'] };

export interface ReplaySettings {
  /** The compacted topic of replay markers, one per replayed dead letter, written in the replay's transaction. */
  markerTopic: string;
  /** The replay's transactional id: two replays with the same id fence each other. */
  transactionalId: string;
  /** Replication factor of the marker topic when replay-dlq creates it. */
  replicationFactor: number;
  /** Dead letters per transaction (each with its marker). */
  batchSize: number;
}

export const DEFAULT_REPLAY: ReplaySettings = { markerTopic: DEFAULT_TOPICS.dlqReplayed, transactionalId: 'wikimonitor-ops-replay', replicationFactor: 1, batchSize: 500 };

async function withAdmin<T>(ctx: OpsContext, isolation: 'read_committed' | 'read_uncommitted', fn: (admin: GroupAdmin) => Promise<T>): Promise<T> {
  const admin = await createGroupAdmin({ connection: ctx.connection, log: ctx.log, timeoutMs: ctx.adminTimeoutMs, isolation });
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

// ---------------------------------------------------------------- reset-offsets

export interface ResetOptions {
  group: string;
  /** Topics to reset; empty = every topic the group has a position on. */
  topics: string[];
  /** Partitions to reset (all when absent). */
  partitions?: number[];
  target: ResetTarget;
  /** Apply the plan (--execute); otherwise only plan, like kafka-consumer-groups.sh. */
  execute: boolean;
}

export interface ResetResult {
  group: string;
  state: string;
  members: number;
  /** Where the group's position lives and so what a reset moves (see OffsetHome in libs/domain). */
  home: OffsetHome;
  plan: ResetPlanEntry[];
  /** Why applying the plan is (or would be) refused: active members, or where the position lives. */
  refused: string | null;
  /** What an applied reset leaves for the operator to know. */
  warnings: string[];
  executed: boolean;
}

/**
 * Plans, and with `execute` applies, new positions for a group where they live: its Kafka committed
 * offsets, or for the dedup-persister the rows of its PostgreSQL offsets table (and its Kafka
 * offsets, kept for lag monitoring) in one transaction; a backward reset of the aggregator is
 * refused (its window state would count records twice). Only an inactive group can be reset: the
 * offsets are committed by a group-less client with the group's id, which the broker accepts only
 * while the group has no members (so a consumer joining meanwhile makes the commit fail, not race;
 * for the persister that failure rolls the PostgreSQL transaction back).
 */
export async function resetOffsets(ctx: OpsContext, opts: ResetOptions): Promise<ResetResult> {
  const pgOffsets = ctx.persisterOffsets?.();
  try {
    return await withAdmin(ctx, 'read_uncommitted', async (admin) => {
      const [desc] = await admin.describeGroups([opts.group]);
      const state = desc?.state ?? 'DEAD';
      const members = desc?.members.length ?? 0;
      const stored = pgOffsets ? await pgOffsets.load(opts.group) : null;
      const home = offsetHomeOf(opts.group, ctx.offsetHomes ?? DEFAULT_OFFSET_HOMES, stored ? stored.length : null);
      const fromPg = home === 'postgres' && stored !== null;
      const committed = fromPg ? stored.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.nextOffset })) : await admin.fetchCommitted(opts.group);
      const topics = opts.topics.length ? opts.topics : [...new Set(committed.map((c) => c.topic))].sort();
      if (!topics.length) throw new WikiMonitorError('INVALID_EVENT', `group '${opts.group}' has no committed offsets; name the topics with --topic`);
      const partitionsByTopic = await admin.fetchPartitions(topics);
      const missing = topics.filter((t) => !partitionsByTopic.has(t));
      if (missing.length) throw new WikiMonitorError('TOPIC_MISMATCH', `unknown topic(s): ${missing.join(', ')}`);
      const tps = [...partitionsByTopic].flatMap(([topic, ids]) => ids.filter((p) => !opts.partitions || opts.partitions.includes(p)).map((partition) => ({ topic, partition })));
      const marks = await admin.fetchWatermarks(tps);
      const byTime = new Map<string, number>();
      if (opts.target.kind === 'timestamp') {
        for (const topic of topics) {
          for (const o of await admin.offsetsForTimestamp(topic, opts.target.timestamp)) byTime.set(`${topic}/${o.partition}`, o.offset);
        }
      }
      const states = tps.map(({ topic, partition }) => {
        const w = marks.find((m) => m.topic === topic && m.partition === partition);
        if (!w) throw new WikiMonitorError('KAFKA_ADMIN_FAILED', `no offsets for ${topic}/${partition}`, { retriable: true });
        return {
          topic,
          partition,
          current: committed.find((c) => c.topic === topic && c.partition === partition)?.offset ?? null,
          low: w.low,
          high: w.high,
          offsetForTimestamp: byTime.get(`${topic}/${partition}`),
        };
      });
      const plan = planOffsetReset(states, opts.target);
      const refused = resetRefusal({ groupId: opts.group, state, members }) ?? resetPolicyRefusal({ groupId: opts.group, home, plan, postgresAvailable: fromPg });
      const result: ResetResult = { group: opts.group, state, members, home, plan, refused, warnings: resetWarnings(home, plan), executed: false };
      if (!opts.execute || refused) return result;

      const offsets = plan.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.target }));
      const commitToKafka = async () => {
        try {
          await commitGroupOffsets(ctx.connection, opts.group, offsets);
        } catch (err) {
          throw new WikiMonitorError('KAFKA_ADMIN_FAILED', `the broker rejected the new offsets (did a consumer join the group?): ${(err as Error).message}`, { cause: err });
        }
      };
      if (fromPg && pgOffsets) {
        await pgOffsets.write(opts.group, offsets.map((o) => ({ topic: o.topic, partition: o.partition, nextOffset: o.offset })), commitToKafka);
        const after = await pgOffsets.load(opts.group);
        const wrong = plan.filter((p) => after.find((a) => a.topic === p.topic && a.partition === p.partition)?.nextOffset !== p.target);
        if (wrong.length) throw new WikiMonitorError('DB_FAILED', `offsets not applied in PostgreSQL for ${wrong.map((w) => `${w.topic}/${w.partition}`).join(', ')}`);
      } else {
        await commitToKafka();
      }
      const after = await admin.fetchCommitted(opts.group);
      const wrong = plan.filter((p) => after.find((a) => a.topic === p.topic && a.partition === p.partition)?.offset !== p.target);
      if (wrong.length) throw new WikiMonitorError('KAFKA_ADMIN_FAILED', `offsets not applied for ${wrong.map((w) => `${w.topic}/${w.partition}`).join(', ')}`);
      return { ...result, executed: true };
    });
  } finally {
    await pgOffsets?.close();
  }
}

// ---------------------------------------------------------------- describe

/** One monitoring cycle restricted to the given groups (all when empty): lag in messages and seconds. */
export async function describeGroups(ctx: OpsContext, groupIds: string[]): Promise<GroupDetailView[]> {
  return withAdmin(ctx, 'read_committed', async (admin) => {
    const reader = createFirstRecordReader({ connection: ctx.connection, log: ctx.log, timeoutMs: 5_000, isolation: 'read_committed' });
    await reader.start();
    try {
      const wanted = new Set(groupIds);
      const settings: LagSettings = { windowCycles: 2, intervalMs: 1000, historyCycles: 2, goneRetentionMs: 0, stuckTransactionMs: 2_000 };
      const history = emptyLagHistory();
      const { snapshot } = await gatherLagSnapshot({ admin, reader, includeGroup: (g) => wanted.size === 0 || wanted.has(g), adminConcurrency: 8, log: ctx.log }, history);
      const { report, history: next } = evaluateCycle(snapshot, history, settings);
      return report.groups.map((g) => groupDetail(next, g.groupId, settings)).filter((g): g is GroupDetailView => !!g);
    } finally {
      await reader.close();
    }
  });
}

export interface TopicDescription {
  topic: string;
  partitions: Array<{ partition: number; leader: number; replicas: number[]; isr: number[]; low: number; high: number }>;
}

export async function describeTopics(ctx: OpsContext, topics: string[]): Promise<TopicDescription[]> {
  return withAdmin(ctx, 'read_uncommitted', async (admin) => {
    const names = topics.length ? topics : (await admin.admin.listTopics()).filter((t) => !t.startsWith('__')).sort();
    const meta = names.length ? await admin.admin.fetchTopicMetadata({ topics: names, timeout: ctx.adminTimeoutMs }) : [];
    const marks = await admin.fetchWatermarks(meta.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionId }))));
    return meta
      .map((t) => ({
        topic: t.name,
        partitions: t.partitions
          .map((p) => {
            const w = marks.find((m) => m.topic === t.name && m.partition === p.partitionId);
            return { partition: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr, low: w?.low ?? -1, high: w?.high ?? -1 };
          })
          .sort((a, b) => a.partition - b.partition),
      }))
      .sort((a, b) => a.topic.localeCompare(b.topic));
  });
}

// ---------------------------------------------------------------- replay-dlq

export interface ReplayOptions {
  dlqTopic: string;
  /** Only dead letters from this source topic. */
  sourceTopic?: string;
  /** Only dead letters written by this app. */
  app?: string;
  /** Only dead letters with this error code. */
  errorCode?: string;
  /** Send to this topic instead of each record's source topic. */
  toTopic?: string;
  /** Where producer dead letters (raw JSON from the SSE stream) go when they name no target topic (default wiki.raw.changes). */
  rawTopic?: string;
  /** Only dead letters written at or after this time (epoch ms). */
  since?: number;
  limit?: number;
  /** Replay dead letters already marked as replayed too (sends them again). */
  force?: boolean;
  dryRun: boolean;
}

export interface ReplayItem {
  dlqPartition: number;
  dlqOffset: number;
  destination: string;
  errorCode: string;
  app: string;
  key: string | null;
  sourcePartition?: number;
  sourceOffset?: number | string;
}

export interface ReplayResult {
  scanned: number;
  matched: ReplayItem[];
  /** Dead letters whose source is not a Kafka topic (e.g. an SSE URL) and no --to-topic was given. */
  skipped: number;
  /** Dead letters whose value was cut to fit the dead-letter topic: kept for diagnosis, never replayed. */
  truncated: number;
  /** Producer dead letters that are still invalid when normalized again (e.g. no meta.id): never replayed. */
  invalid: Array<{ dlqPartition: number; dlqOffset: number; code: string; reason: string }>;
  /** Dead letters already replayed (a marker on the marker topic), skipped unless `force`. */
  alreadyReplayed: number;
  replayed: number;
}

/** The app whose dead letters hold raw SSE events rather than Kafka records. */
const PRODUCER_APP = 'producer';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A producer dead letter normalized again, as the producer would: the change, or why it still cannot be published. */
function renormalize(dl: ParsedDeadLetter): { change: WikiChange } | { code: string; reason: string } {
  let text: string;
  try {
    text = utf8.decode(dl.value ?? Buffer.alloc(0));
  } catch {
    return { code: 'INVALID_UTF8', reason: 'value is not valid UTF-8' };
  }
  const sseId = headerString(dl.headers ?? {}, 'sse.id') ?? null;
  const n = normalizeRecentChangeText(text, { receivedTime: Date.now(), sseId, maxFutureSkewMs: DEFAULT_MAX_FUTURE_SKEW_MS });
  if (n.kind === 'change') return { change: n.change };
  if (n.kind === 'canary') return { code: 'CANARY', reason: 'a canary event (dropped by the producer, never published)' };
  return { code: n.code, reason: n.reason };
}

function matches(dl: ParsedDeadLetter, o: ReplayOptions): boolean {
  return (!o.sourceTopic || dl.sourceTopic === o.sourceTopic) && (!o.app || dl.app === o.app) && (!o.errorCode || dl.error.code === o.errorCode);
}

/** The key of a dead letter's replay marker: `<dlq topic>/<partition>/<offset>`. */
export const replayMarkerKey = (dlqTopic: string, partition: number, offset: number): string => `${dlqTopic}/${partition}/${offset}`;

/** The keys of the replay markers committed on `topic` (read_committed), none when it does not exist. */
async function readReplayMarkers(ctx: OpsContext, topic: string): Promise<Set<string>> {
  const exists = await withAdmin(ctx, 'read_committed', async (admin) => (await admin.fetchPartitions([topic])).has(topic));
  const keys = new Set<string>();
  if (!exists) return keys;
  await readToEnd({ connection: ctx.connection, log: ctx.log, name: 'replay-markers', topics: [topic], isolation: 'read_committed', timeoutMs: 120_000 }, (m) => {
    if (m.key) keys.add(m.key.toString());
  });
  return keys;
}

/**
 * Reads the dead-letter topic from its start (or `since`) up to its end at the time of the call,
 * and re-produces each matching record to its source topic exactly as it was first received:
 * same key, value bytes and original headers (the dlq.* headers are dropped).
 *
 * Exactly once per dead letter: the records are written by a transactional producer together with
 * one marker per dead letter on the compacted marker topic, in the same transaction; dead letters
 * with a committed marker are skipped (`alreadyReplayed`) unless `force`. The markers are read after
 * the producer's initialization, which fences an older replay with the same transactional id and
 * ends its open transaction: what it committed is then visible, and it can commit nothing more.
 */
export async function replayDeadLetters(ctx: OpsContext, opts: ReplayOptions): Promise<ReplayResult> {
  const partitions = await withAdmin(ctx, 'read_committed', async (admin) => {
    const ids = (await admin.fetchPartitions([opts.dlqTopic])).get(opts.dlqTopic);
    if (!ids) throw new WikiMonitorError('TOPIC_MISMATCH', `dead-letter topic ${opts.dlqTopic} does not exist`);
    const marks = await admin.fetchWatermarks(ids.map((partition) => ({ topic: opts.dlqTopic, partition })));
    let starts = new Map(marks.map((m) => [m.partition, m.low]));
    if (opts.since !== undefined) {
      const byTime = await admin.offsetsForTimestamp(opts.dlqTopic, opts.since);
      starts = new Map(byTime.map((o) => [o.partition, Math.max(o.offset, starts.get(o.partition) ?? 0)]));
    }
    return marks.map((m) => ({ partition: m.partition, start: Math.min(starts.get(m.partition) ?? m.low, m.high), end: m.high })).filter((p) => p.start < p.end);
  });
  const result: ReplayResult = { scanned: 0, matched: [], skipped: 0, truncated: 0, invalid: [], alreadyReplayed: 0, replayed: 0 };
  if (!partitions.length) return result;

  const letters: Array<{ m: Message; dl: ParsedDeadLetter }> = [];
  const full = () => opts.limit !== undefined && letters.length >= opts.limit;
  await readToEnd(
    {
      connection: ctx.connection,
      log: ctx.log,
      name: 'replay',
      ranges: partitions.map((p) => ({ topic: opts.dlqTopic, partition: p.partition, from: p.start, to: p.end })),
      timeoutMs: 120_000,
    },
    (m) => {
      if (full()) return 'stop';
      result.scanned++;
      const dl = parseDeadLetter(m.key ?? null, m.value, headersFromMessage(m.headers));
      if (matches(dl, opts)) letters.push({ m, dl });
      return full() ? 'stop' : undefined;
    },
  );

  const toSend: Array<{ item: ReplayItem; dl: ParsedDeadLetter; change?: WikiChange }> = [];
  for (const { m, dl } of letters) {
    if (headerString(dl.headers ?? {}, DLQ_TRUNCATION_HEADERS.truncated) === 'true') {
      result.truncated++;
      continue;
    }
    // The dead letter of an output that could not be written holds that output and names its topic:
    // replaying it there writes what is missing, where re-injecting the input would repeat its other outputs.
    const target = opts.toTopic ?? headerString(dl.headers ?? {}, DLQ_TRUNCATION_HEADERS.targetTopic);
    let destination = target ?? dl.sourceTopic;
    let change: WikiChange | undefined;
    if (dl.app === PRODUCER_APP) {
      // Raw JSON received from the stream (source = the SSE URL): normalized again and sent to the raw topic.
      const r = renormalize(dl);
      if ('code' in r) {
        result.invalid.push({ dlqPartition: m.partition, dlqOffset: m.offset, code: r.code, reason: r.reason });
        continue;
      }
      change = r.change;
      destination = target ?? opts.rawTopic ?? DEFAULT_TOPICS.raw;
    } else if (!destination || destination.includes('://')) {
      result.skipped++;
      continue;
    }
    const key = change ? changeKey(change) : dl.key === null || dl.key === undefined ? null : dl.key.toString();
    const item: ReplayItem = {
      dlqPartition: m.partition,
      dlqOffset: m.offset,
      destination,
      errorCode: dl.error.code,
      app: dl.app,
      key,
      sourcePartition: dl.sourcePartition,
      sourceOffset: dl.sourceOffset,
    };
    result.matched.push(item);
    toSend.push({ item, dl, change });
  }
  if (!toSend.length) return result;
  const settings: ReplaySettings = { ...DEFAULT_REPLAY, ...ctx.replay };
  const markerOf = (item: ReplayItem) => replayMarkerKey(opts.dlqTopic, item.dlqPartition, item.dlqOffset);
  const dropReplayed = (markers: Set<string>) => {
    if (opts.force) return;
    const fresh = toSend.filter((t) => !markers.has(markerOf(t.item)));
    result.alreadyReplayed = toSend.length - fresh.length;
    toSend.splice(0, toSend.length, ...fresh);
    result.matched = fresh.map((t) => t.item);
  };
  if (opts.dryRun) {
    dropReplayed(await readReplayMarkers(ctx, settings.markerTopic));
    return result;
  }

  const encoders = new Map<string, (change: WikiChange) => Buffer>();
  for (const { item, change } of toSend) {
    if (!change || encoders.has(item.destination)) continue;
    if (!ctx.changeEncoder) throw new WikiMonitorError('CONFIG_INVALID', 'replaying producer dead letters needs the schema registry (SCHEMA_REGISTRY_URL)');
    encoders.set(item.destination, await ctx.changeEncoder(item.destination));
  }
  const recordsOf = ({ item, dl, change }: (typeof toSend)[number], at: string): OutgoingRecord[] => [
    change ? { topic: item.destination, key: item.key, value: (encoders.get(item.destination) as (c: WikiChange) => Buffer)(change), headers: dl.originalHeaders } : { topic: item.destination, key: dl.key ?? null, value: dl.value, headers: dl.originalHeaders },
    { topic: settings.markerTopic, key: markerOf(item), value: Buffer.from(JSON.stringify({ at, topic: item.destination, app: item.app })) },
  ];

  await withAdmin(ctx, 'read_committed', (admin) => ensureTopics(admin.admin, [topicSpec('dlqReplayed', { replicationFactor: settings.replicationFactor, names: { dlqReplayed: settings.markerTopic } })], ctx.log));
  const producer = createProducer({ connection: { ...ctx.connection, clientId: `${ctx.connection.clientId}-replay` }, log: ctx.log, transactionalId: settings.transactionalId });
  await producer.start();
  try {
    // After the fencing initialization: every marker an earlier replay with this id will ever commit is visible now.
    dropReplayed(await readReplayMarkers(ctx, settings.markerTopic));
    const total = toSend.length;
    for (let i = 0; i < total; i += settings.batchSize) {
      const batch = toSend.slice(i, i + settings.batchSize);
      const at = new Date().toISOString();
      // In DLQ order per source partition: the producer keeps per-partition order for the same key.
      const w = await writeBatch({ producer, records: batch.flatMap((t) => recordsOf(t, at)), transactional: true, log: ctx.log });
      if (!w.ok) {
        const why = w.fatal ? ' (fenced by another replay with the same transactional id, or the producer failed)' : '';
        throw new WikiMonitorError('KAFKA_TRANSACTION_FAILED', `replayed ${result.replayed} of ${total}; the next ${batch.length} were not committed${why}: ${describeError(w.err).message}; run replay-dlq again: what was replayed is skipped`, { cause: w.err });
      }
      result.replayed += batch.length;
    }
  } finally {
    await producer.close();
  }
  return result;
}
