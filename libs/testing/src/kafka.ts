import { type KafkaConnection, type Message, createAdmin, readToEnd } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';

/**
 * Reads a whole topic (every partition, from the beginning to the current end) with
 * read_committed by default, without a consumer group. For asserting what a topic holds.
 */
export async function readTopic(conn: KafkaConnection, topic: string, isolation: 'read_committed' | 'read_uncommitted' = 'read_committed'): Promise<Message[]> {
  return readToEnd({ connection: conn, log: createLogger('read-topic', 'silent'), name: 'read-topic', topics: [topic], isolation, timeoutMs: 120_000 });
}

/**
 * Waits until no transaction is pending on `topics` (last stable offset = high watermark on every
 * partition). A commit returns before the coordinator has written its markers to every partition, and
 * a read_committed reader started in that gap would stop at the old last stable offset.
 */
export async function waitForStableTopics(connection: KafkaConnection, topics: string[], timeoutMs = 60_000): Promise<void> {
  const admin = await createAdmin(connection);
  try {
    const deadline = Date.now() + timeoutMs;
    for (const topic of topics) {
      for (;;) {
        const [stable, high] = await Promise.all([admin.fetchTopicOffsets(topic, { isolationLevel: 1 }), admin.fetchTopicOffsets(topic, { isolationLevel: 0 })]);
        const end = (rows: typeof high) => new Map(rows.map((r) => [r.partition, Number(r.offset)]));
        const [s, h] = [end(stable), end(high)];
        if ([...h].every(([p, o]) => s.get(p) === o)) break;
        if (Date.now() > deadline) throw new Error(`topic ${topic} still has a pending transaction after ${timeoutMs} ms: stable ${JSON.stringify([...s])}, high ${JSON.stringify([...h])}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await admin.disconnect();
  }
}
