import type { TopicPartitionOffset } from '@confluentinc/kafka-javascript';

/**
 * The offsets to commit for consumed records: per partition, the highest offset seen PLUS ONE (the
 * next record to read), whatever the order; sorted by topic and partition. Committing the last
 * record's own offset makes every restart re-process that record. Every record counts, including
 * dead-lettered and skipped ones, so none of them is read again. The one implementation of the rule:
 * the consumer runner, the transactional loop and the persister's database offsets use it.
 */
export function nextOffsets(positions: Iterable<{ topic: string; partition: number; offset: number }>): TopicPartitionOffset[] {
  const next = new Map<string, TopicPartitionOffset>();
  for (const m of positions) {
    const k = `${m.topic}\u0000${m.partition}`;
    const cur = next.get(k);
    if (!cur || m.offset + 1 > cur.offset) next.set(k, { topic: m.topic, partition: m.partition, offset: m.offset + 1 });
  }
  return [...next.values()].sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}
