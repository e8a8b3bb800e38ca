import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BlueskyEvent } from '@wikimonitor/contracts';
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

/**
 * The recordings as BlueskyEvent records, normalized by `toEvent`: the producer's normalizer
 * (libs/domain jetstreamEventOrThrow; passed in because libs/domain's tests use this library). `recorded`: files in name
 * order; `oldest-file-first`: files ordered by their earliest event (a replay in time order), each
 * file keeping its recorded (relay, not time) order.
 */
export function recordedBlueskyEvents(toEvent: (text: string) => BlueskyEvent, order: 'recorded' | 'oldest-file-first' = 'recorded'): BlueskyEvent[] {
  const byFile = new Map<string, BlueskyEvent[]>();
  for (const r of loadBlueskyRecordings()) byFile.set(r.file, [...(byFile.get(r.file) ?? []), toEvent(r.text)]);
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
