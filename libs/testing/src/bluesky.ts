import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BlueskyEvent, BlueskyOperation } from '@wikimonitor/contracts';
import { type KafkaConnection, createAdmin, createProducer, ensureTopics } from '@wikimonitor/kafka';
import type { Logger } from '@wikimonitor/service-kit';
import { recordingsDir } from './recorded';

/** One line of data/recordings/bluesky-jetstream/ (real Jetstream events, current and 2024 format). */
export interface RecordedBlueskyEvent {
  file: string;
  text: string;
  json: Record<string, unknown>;
}

/** Every recorded Jetstream event, files in name order, each file in its recorded order (duplicates included). */
export function loadBlueskyRecordings(dir = join(recordingsDir(), 'bluesky-jetstream')): RecordedBlueskyEvent[] {
  const out: RecordedBlueskyEvent[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()) {
    for (const text of readFileSync(join(dir, file), 'utf8').split('\n').filter((l) => l.trim() !== '')) out.push({ file, text, json: JSON.parse(text) as Record<string, unknown> });
  }
  return out;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * TEST SUPPORT ONLY, until the producer's normalizeJetstreamEvent (libs/domain/src/bluesky/, issue 19's
 * source half) is merged: a minimal Jetstream JSON -> BlueskyEvent conversion following
 * schemas/bluesky-event.avsc, so the downstream apps' tests can feed bsky.raw.events records made
 * from the real recordings. record_json is re-serialized here (the real normalizer keeps the bytes).
 * Replace its uses with the real normalizer at merge.
 */
export function blueskyEventForTests(json: Obj, receivedTime = Date.UTC(2026, 11, 1)): BlueskyEvent {
  const did = String(json['did']);
  const timeUs = Number(json['time_us']);
  const early = 'type' in json && !('kind' in json);
  const kind = early ? ({ com: 'commit', id: 'identity', acc: 'account' } as const)[String(json['type']) as 'com' | 'id' | 'acc'] : (json['kind'] as BlueskyEvent['kind']);
  const body = obj(json[kind]) ?? obj(json['payload']) ?? {};
  const base = { did, time_us: timeUs, event_time: Math.floor(timeUs / 1000), received_time: receivedTime, kind, early_format: early, commit: null, identity: null, account: null };
  if (kind === 'identity') return { ...base, id: `${did}#identity#${body['seq']}`, identity: { handle: str(body['handle']), seq: Number(body['seq']), time: String(body['time']) } };
  if (kind === 'account') return { ...base, id: `${did}#account#${body['seq']}`, account: { active: body['active'] === true, status: str(body['status']), seq: Number(body['seq']), time: String(body['time']) } };
  const op = (str(body['operation']) ?? ({ c: 'create', u: 'update', d: 'delete' } as Record<string, string>)[String(body['type'])]) as BlueskyOperation;
  const collection = String(body['collection']);
  const rkey = String(body['rkey']);
  const rev = String(body['rev']);
  const record = obj(body['record']);
  const embed = obj(record?.['embed']);
  const reply = obj(record?.['reply']);
  const post =
    collection === 'app.bsky.feed.post' && record
      ? {
          text: str(record['text']) ?? '',
          langs: Array.isArray(record['langs']) ? record['langs'].filter((l): l is string => typeof l === 'string') : [],
          created_at: str(record['createdAt']),
          reply_root_uri: str(obj(reply?.['root'])?.['uri']),
          reply_parent_uri: str(obj(reply?.['parent'])?.['uri']),
          quote_uri: str(obj(embed?.['record'])?.['uri']) ?? str(obj(obj(embed?.['record'])?.['record'])?.['uri']),
        }
      : null;
  return {
    ...base,
    id: `at://${did}/${collection}/${rkey}#${rev}`,
    commit: { rev, operation: op, collection, rkey, cid: str(body['cid']), record_json: record ? JSON.stringify(record) : null, post },
  };
}

/**
 * The recordings as BlueskyEvent records (test-only conversion above). `recorded`: files in name
 * order; `oldest-file-first`: files ordered by their earliest event (a replay in time order), each
 * file keeping its recorded (relay, not time) order.
 */
export function recordedBlueskyEvents(order: 'recorded' | 'oldest-file-first' = 'recorded'): BlueskyEvent[] {
  const byFile = new Map<string, BlueskyEvent[]>();
  for (const r of loadBlueskyRecordings()) byFile.set(r.file, [...(byFile.get(r.file) ?? []), blueskyEventForTests(r.json)]);
  const files = [...byFile.values()];
  if (order === 'oldest-file-first') files.sort((a, b) => Math.min(...a.map((e) => e.event_time)) - Math.min(...b.map((e) => e.event_time)));
  return files.flat();
}

/**
 * Writes events as the producer's Jetstream mode does (Avro BlueskyEvent, key did, event time as the
 * record timestamp) to `topic`, created with `partitions` and no time-based retention (the recorded
 * events are months old). Returns per partition the offset of the last record written.
 */
export async function produceBlueskyEvents(opts: {
  connection: KafkaConnection;
  /** The topic's Avro encoder, registered (libs/schemas' createAvroCodec with BlueskyEventSchema, initialized). */
  codec: { encode(e: BlueskyEvent): Buffer };
  topic: string;
  partitions: number;
  events: readonly BlueskyEvent[];
  log: Logger;
  /** The record key (default the DID, as on bsky.raw.events). */
  key?: (e: BlueskyEvent) => string;
}): Promise<{ lastOffsets: Map<number, number> }> {
  const admin = await createAdmin(opts.connection);
  try {
    await ensureTopics(admin, [{ topic: opts.topic, partitions: opts.partitions, replicationFactor: 1, configs: { 'retention.ms': '-1' } }]);
  } finally {
    await admin.disconnect();
  }
  const { codec } = opts;
  const producer = createProducer({ connection: opts.connection, log: opts.log });
  await producer.start();
  try {
    const lastOffsets = new Map<number, number>();
    // One at a time: records of one DID keep their recorded order in its partition.
    for (const e of opts.events) {
      const d = await producer.send({ topic: opts.topic, key: opts.key ? opts.key(e) : e.did, value: codec.encode(e), timestamp: e.event_time });
      lastOffsets.set(d.partition, Math.max(lastOffsets.get(d.partition) ?? -1, d.offset));
    }
    return { lastOffsets };
  } finally {
    await producer.close();
  }
}
