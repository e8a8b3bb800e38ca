import type { TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import type { Message } from './consumer';

/**
 * The offsets a transaction commits: per partition, the offset of its last record in the batch
 * PLUS ONE (the next record to read). Committing the last record's own offset makes every restart
 * re-process that record.
 */
export function nextOffsets(batch: readonly Message[]): TopicPartitionOffset[] {
  const next = new Map<string, TopicPartitionOffset>();
  for (const m of batch) {
    const k = `${m.topic}\u0000${m.partition}`;
    const cur = next.get(k);
    if (!cur || m.offset + 1 > cur.offset) next.set(k, { topic: m.topic, partition: m.partition, offset: m.offset + 1 });
  }
  return [...next.values()];
}
