import { type KafkaConnection, type OutgoingRecord, createPartitionReader } from '@wikimonitor/kafka';
import { type Logger, createLogger } from '@wikimonitor/service-kit';
import type { PositionRecord, StoredCheckpoint } from './position';

export interface CheckpointStore<P = PositionRecord, S = StoredCheckpoint> {
  /** The newest committed checkpoint of this key (read_committed), either format. */
  load(): Promise<S | undefined>;
  /** The record carrying a position, sent inside the transaction of the events it covers. */
  record(position: P): OutgoingRecord;
}

/**
 * How far back from the end of the (compacted) checkpoint topic a start-up read looks, widening
 * until the key is found: a position record holds up to POSITION_MAX_IDS ids, so the tail is read first.
 */
const TAIL_WINDOWS = [64, 4_096];

/**
 * The resume position lives in Kafka, in a compacted single-partition topic keyed by stream. It is
 * written in the same transaction as the events it covers and read back with read_committed, so
 * the position and the records can never disagree.
 */
export function createKafkaCheckpointStore<P = PositionRecord, S = StoredCheckpoint>(opts: { connection: KafkaConnection; log?: Logger; topic: string; key: string }): CheckpointStore<P, S> {
  return {
    record: (position) => ({ topic: opts.topic, key: opts.key, value: Buffer.from(JSON.stringify(position)), partition: 0 }),
    async load() {
      const reader = createPartitionReader({ connection: opts.connection, log: opts.log ?? createLogger('checkpoint', 'silent'), name: 'checkpoint', isolation: 'read_committed' });
      await reader.start();
      try {
        const { low, high } = await reader.watermarks(opts.topic, 0);
        if (high <= low) return undefined;
        const readFrom = async (from: number): Promise<S | undefined> => {
          let found: S | undefined;
          await reader.read([{ topic: opts.topic, partition: 0, from, to: high }], (m) => {
            if (m.key?.toString() === opts.key && m.value) found = JSON.parse(m.value.toString()) as S;
          }, { timeoutMs: 60_000 });
          return found;
        };
        for (const window of [...TAIL_WINDOWS, Infinity]) {
          const from = Math.max(low, high - window);
          const found = await readFrom(from);
          if (found || from === low) return found;
        }
        return undefined;
      } finally {
        await reader.close();
      }
    },
  };
}
