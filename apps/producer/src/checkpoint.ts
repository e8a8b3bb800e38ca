import { KafkaConsumer, type Message } from '@confluentinc/kafka-javascript';
import { type KafkaConnection, type KafkaProducer, rdkafkaBaseConfig } from '@wikimonitor/kafka';
import { WikiMonitorError } from '@wikimonitor/service-kit';

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
export function createKafkaCheckpointStore(opts: { connection: KafkaConnection; producer: KafkaProducer; topic: string; key: string }): CheckpointStore {
  return {
    async save(cp) {
      await opts.producer.send({ topic: opts.topic, key: opts.key, value: Buffer.from(JSON.stringify(cp)), partition: 0 });
    },
    async load() {
      const consumer = new KafkaConsumer(
        { ...rdkafkaBaseConfig(opts.connection), 'group.id': `${opts.connection.clientId}-checkpoint-reader`, 'enable.auto.commit': false, 'isolation.level': 'read_committed' },
        { 'auto.offset.reset': 'earliest' },
      );
      await new Promise<void>((resolve, reject) =>
        consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(new WikiMonitorError('DEPENDENCY_UNAVAILABLE', `checkpoint read: ${err.message}`, { retriable: true })) : resolve())),
      );
      try {
        const { lowOffset, highOffset } = await new Promise<{ lowOffset: number; highOffset: number }>((resolve, reject) =>
          consumer.queryWatermarkOffsets(opts.topic, 0, 10_000, (err, w) => (err ? reject(new WikiMonitorError('KAFKA_CONSUME_FAILED', `checkpoint watermarks: ${err.message}`, { retriable: true })) : resolve(w))),
        );
        if (highOffset <= lowOffset) return undefined;
        const readFrom = async (start: number): Promise<Checkpoint | undefined> => {
          consumer.assign([{ topic: opts.topic, partition: 0, offset: start }]);
          let found: Checkpoint | undefined;
          let position = start;
          const deadline = Date.now() + 60_000;
          while (position < highOffset) {
            if (Date.now() > deadline) throw new WikiMonitorError('TIMEOUT', 'reading the checkpoint topic timed out', { retriable: true });
            const batch = await new Promise<Message[]>((resolve, reject) => consumer.consume(1000, (err, m) => (err ? reject(err) : resolve(m ?? []))));
            for (const m of batch) {
              position = m.offset + 1;
              if (m.key?.toString() === opts.key && m.value) found = JSON.parse(m.value.toString()) as Checkpoint;
            }
          }
          consumer.unassign();
          return found;
        };
        const tailStart = Math.max(lowOffset, highOffset - TAIL_WINDOW);
        return (await readFrom(tailStart)) ?? (tailStart > lowOffset ? await readFrom(lowOffset) : undefined);
      } finally {
        await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
      }
    },
  };
}
