import { type KafkaConnection, type Message, readToEnd } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';

/**
 * Reads a whole topic (every partition, from the beginning to the current end) with
 * read_committed by default, without a consumer group. For asserting what a topic holds.
 */
export async function readTopic(conn: KafkaConnection, topic: string, isolation: 'read_committed' | 'read_uncommitted' = 'read_committed'): Promise<Message[]> {
  return readToEnd({ connection: conn, log: createLogger('read-topic', 'silent'), name: 'read-topic', topics: [topic], isolation, timeoutMs: 120_000 });
}
