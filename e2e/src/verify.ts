import avro from 'avsc';
import { Client } from 'pg';
import { type WikiAggregate, type WikiAlert, type WikiChange, type WikiChangeEnriched, WikiAggregateSchema, WikiAlertSchema, WikiChangeEnrichedSchema, WikiChangeSchema } from '@wikimonitor/contracts';
import { WIKI_AGGREGATES, recordFromRow } from '@wikimonitor/domain';
import { type ParsedDeadLetter, headersFromMessage, parseDeadLetter } from '@wikimonitor/kafka';
import { readTopic } from '@wikimonitor/testing';
import type { ContentFields } from './checks';
import { type KafkaTarget, connection } from './pipeline';

// Records are decoded with the repository's own schemas (every app writes them): verification does
// not depend on the registry, which some scenarios restart.
const changeType = avro.Type.forSchema(WikiChangeSchema as unknown as avro.Schema);
const alertType = avro.Type.forSchema(WikiAlertSchema as unknown as avro.Schema);
const aggregateType = avro.Type.forSchema(WikiAggregateSchema as unknown as avro.Schema);
const enrichedType = avro.Type.forSchema(WikiChangeEnrichedSchema as unknown as avro.Schema);

function decodeConfluent<T>(type: avro.Type, buf: Buffer | null | undefined): T | undefined {
  if (!buf || buf.length < 6 || buf[0] !== 0) return undefined;
  try {
    return type.fromBuffer(buf.subarray(5)) as T;
  } catch {
    return undefined;
  }
}

async function withDb<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Rows in wiki_changes (0 before the persister has migrated). */
export async function countStoredChanges(databaseUrl: string): Promise<number> {
  return withDb(databaseUrl, async (c) => {
    const r = await c.query<{ n: string }>(`SELECT count(*) AS n FROM wiki_changes`).catch(() => ({ rows: [{ n: '0' }] }));
    return Number(r.rows[0]?.n ?? 0);
  });
}

export async function storedChangeIds(databaseUrl: string): Promise<string[]> {
  return withDb(databaseUrl, async (c) => (await c.query<{ id: string }>('SELECT id FROM wiki_changes')).rows.map((r) => r.id));
}

export async function storedAggregates(databaseUrl: string): Promise<WikiAggregate[]> {
  return withDb(databaseUrl, async (c) => {
    const { rows } = await c.query<Record<string, unknown>>(`SELECT * FROM ${WIKI_AGGREGATES.name}`);
    return rows.map((r) => recordFromRow(WIKI_AGGREGATES, r) as unknown as WikiAggregate);
  });
}

export interface StoredLatency {
  receivedMs: number;
  eventMs: number;
  persistedMs: number;
}

/** Per stored change: producer receipt, event time and the row's insert-transaction time (persisted_at). */
export async function storedLatencies(databaseUrl: string): Promise<StoredLatency[]> {
  return withDb(databaseUrl, async (c) => {
    const { rows } = await c.query<{ r: string; e: string; p: string }>(
      `SELECT (extract(epoch from received_time) * 1000)::float8 AS r, (extract(epoch from event_time) * 1000)::float8 AS e, (extract(epoch from persisted_at) * 1000)::float8 AS p FROM wiki_changes`,
    );
    return rows.map((x) => ({ receivedMs: Number(x.r), eventMs: Number(x.e), persistedMs: Number(x.p) }));
  });
}

export interface TopicChanges {
  /** Decoded changes in log order (partition by partition, by offset). */
  changes: WikiChange[];
  /** The partition of each of `changes`. */
  partitions?: number[];
  /** Records that do not decode as WikiChange (poison). */
  undecodable: number;
}

/** Reads a WikiChange topic completely with read_committed. */
export async function readChanges(target: KafkaTarget, topic: string): Promise<TopicChanges> {
  const messages = await readTopic(connection(target), topic, 'read_committed');
  messages.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const changes: WikiChange[] = [];
  const partitions: number[] = [];
  let undecodable = 0;
  for (const m of messages) {
    const c = decodeConfluent<WikiChange>(changeType, m.value);
    if (c) {
      changes.push(c);
      partitions.push(m.partition);
    } else undecodable++;
  }
  return { changes, partitions, undecodable };
}

export async function readDeadLetters(target: KafkaTarget, topic: string): Promise<ParsedDeadLetter[]> {
  const messages = await readTopic(connection(target), topic, 'read_committed');
  return messages.map((m) => parseDeadLetter(m.key ?? null, m.value ?? null, headersFromMessage(m.headers)));
}

export async function readAlerts(target: KafkaTarget, topic: string): Promise<WikiAlert[]> {
  const messages = await readTopic(connection(target), topic, 'read_committed');
  return messages.map((m) => decodeConfluent<WikiAlert>(alertType, m.value)).filter((a): a is WikiAlert => a !== undefined);
}

/** Aggregates as written to the aggregates topic, every copy, in log order (partition by partition). */
export async function readAggregates(target: KafkaTarget, topic: string): Promise<{ aggregates: WikiAggregate[]; undecodable: number }> {
  const messages = await readTopic(connection(target), topic, 'read_committed');
  messages.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const aggregates: WikiAggregate[] = [];
  let undecodable = 0;
  for (const m of messages) {
    const a = decodeConfluent<WikiAggregate>(aggregateType, m.value);
    if (a) aggregates.push(a);
    else undecodable++;
  }
  return { aggregates, undecodable };
}

/** What identifies each stored change apart from its meta.id (the rowDuplicates check). */
export async function storedContentRows(databaseUrl: string): Promise<ContentFields[]> {
  return withDb(databaseUrl, async (c) => {
    const { rows } = await c.query<{ wiki: string; type: string; title: string; user_name: string; rc_id: string | null; log_id: string | null; revision_new: string | null }>(
      'SELECT wiki, type, title, user_name, rc_id, log_id, revision_new FROM wiki_changes',
    );
    const num = (v: string | null) => (v === null ? null : Number(v));
    return rows.map((r) => ({ wiki: r.wiki, type: r.type as ContentFields['type'], title: r.title, user: r.user_name, rc_id: num(r.rc_id), log_id: num(r.log_id), revision_new: num(r.revision_new) }));
  });
}

export interface GroupState {
  groupId: string;
  status: string;
  totalLag: number;
  /** The largest lag in seconds of its partitions (null while unknown). */
  maxLagSeconds: number | null;
  /** When lag-monitor's cycle observed it (epoch ms). */
  observedAt: number;
}

/** The monitored groups as lag-monitor reports them (undefined while it warms up or is down). */
export async function lagMonitorGroups(lagMonitorUrl: string): Promise<GroupState[] | undefined> {
  try {
    const res = await fetch(`${lagMonitorUrl}/api/groups`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { observedAt: number; groups: GroupState[] };
    return body.groups.map((g) => ({ groupId: g.groupId, status: g.status, totalLag: g.totalLag, maxLagSeconds: g.maxLagSeconds ?? null, observedAt: body.observedAt }));
  } catch {
    return undefined;
  }
}

/** The enricher's output: the meta.ids of the enriched records, and how many did not decode. */
export async function readEnriched(target: KafkaTarget, topic: string): Promise<{ ids: string[]; undecodable: number }> {
  const messages = await readTopic(connection(target), topic, 'read_committed');
  const ids: string[] = [];
  let undecodable = 0;
  for (const m of messages) {
    const e = decodeConfluent<WikiChangeEnriched>(enrichedType, m.value);
    if (e) ids.push(e.change.id);
    else undecodable++;
  }
  return { ids, undecodable };
}

/** The enricher's error topic: the meta.id of each original record ('' when it does not decode) and the failure table reason. */
export async function readEnrichErrors(target: KafkaTarget, topic: string): Promise<Array<{ id: string; reason: string; attempts: number }>> {
  const letters = await readDeadLetters(target, topic);
  return letters.map((l) => ({ id: decodeConfluent<WikiChange>(changeType, l.value)?.id ?? '', reason: String(l.headers?.['dlq.enrich.reason'] ?? ''), attempts: l.attempts }));
}
