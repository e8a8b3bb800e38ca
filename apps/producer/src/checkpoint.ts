import { type KafkaConnection, type KafkaProducer, createPartitionReader } from '@wikimonitor/kafka';
import { type Logger, createLogger } from '@wikimonitor/service-kit';

export interface Checkpoint {
  /** EventStreams id of the newest event such that it and all before it are in Kafka. */
  lastEventId: string;
  url: string;
  /** Events completed by the writing process (diagnostics only). */
  events: number;
  at: string;
}

export interface CheckpointStore {
  load(): Promise<Checkpoint | undefined>;
  save(cp: Checkpoint): Promise<void>;
}

/** How far back from the end of the (compacted) checkpoint topic a start-up read looks first. */
const TAIL_WINDOW = 5_000;

/**
 * The resume position lives in Kafka, in a compacted single-partition topic keyed by stream, so it
 * survives the pod and is written with the same durability (acks=all) as the events themselves.
 */
export function createKafkaCheckpointStore(opts: { connection: KafkaConnection; producer: KafkaProducer; log?: Logger; topic: string; key: string }): CheckpointStore {
  return {
    async save(cp) {
      await opts.producer.send({ topic: opts.topic, key: opts.key, value: Buffer.from(JSON.stringify(cp)), partition: 0 });
    },
    async load() {
      const reader = createPartitionReader({ connection: opts.connection, log: opts.log ?? createLogger('checkpoint', 'silent'), name: 'checkpoint' });
      await reader.start();
      try {
        const { low, high } = await reader.watermarks(opts.topic, 0);
        if (high <= low) return undefined;
        const readFrom = async (from: number): Promise<Checkpoint | undefined> => {
          let found: Checkpoint | undefined;
          await reader.read([{ topic: opts.topic, partition: 0, from, to: high }], (m) => {
            if (m.key?.toString() === opts.key && m.value) found = JSON.parse(m.value.toString()) as Checkpoint;
          }, { timeoutMs: 60_000 });
          return found;
        };
        const tailStart = Math.max(low, high - TAIL_WINDOW);
        return (await readFrom(tailStart)) ?? (tailStart > low ? await readFrom(low) : undefined);
      } finally {
        await reader.close();
      }
    },
  };
}
