import { KafkaConsumer, type Message } from '@confluentinc/kafka-javascript';
import { type KafkaConnection, createAdmin, rdkafkaBaseConfig } from '@wikimonitor/kafka';
import { uniqueName } from './names';

/**
 * Reads a whole topic (every partition, from the beginning to the current end) with
 * read_committed, without a consumer group commit. For asserting what a topic holds.
 */
export async function readTopic(conn: KafkaConnection, topic: string, isolation: 'read_committed' | 'read_uncommitted' = 'read_committed'): Promise<Message[]> {
  const admin = await createAdmin(conn);
  let partitions: number[];
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    partitions = (meta[0]?.partitions ?? []).map((p) => p.partitionId);
  } finally {
    await admin.disconnect();
  }
  const consumer = new KafkaConsumer({ ...rdkafkaBaseConfig(conn), 'group.id': uniqueName('reader'), 'enable.auto.commit': false, 'isolation.level': isolation }, { 'auto.offset.reset': 'earliest' });
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  try {
    const ends = new Map<number, number>();
    for (const p of partitions) {
      const w = await new Promise<{ lowOffset: number; highOffset: number }>((resolve, reject) =>
        consumer.queryWatermarkOffsets(topic, p, 10_000, (err, o) => (err ? reject(err) : resolve(o))),
      );
      if (w.highOffset > w.lowOffset) ends.set(p, w.highOffset);
    }
    if (!ends.size) return [];
    consumer.assign([...ends.keys()].map((partition) => ({ topic, partition, offset: 0 })));
    consumer.setDefaultConsumeTimeout(500);
    const out: Message[] = [];
    const pos = new Map<number, number>();
    const deadline = Date.now() + 120_000;
    let idle = 0;
    // With read_committed, transaction markers occupy offsets: stop at the end or after a quiet spell.
    // The consumer's position moves past markers and aborted records, so it shows the end is reached.
    const reached = (p: number, end: number) => (pos.get(p) ?? -1) >= end - 1 || (consumer.position([{ topic, partition: p }])[0]?.offset ?? 0) >= end;
    while ([...ends].some(([p, end]) => !reached(p, end)) && Date.now() < deadline && idle < 10) {
      const batch = await new Promise<Message[]>((resolve, reject) => consumer.consume(1000, (err, m) => (err ? reject(err) : resolve(m ?? []))));
      idle = batch.length ? 0 : idle + 1;
      for (const m of batch) {
        out.push(m);
        pos.set(m.partition, m.offset);
      }
    }
    return out;
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}
