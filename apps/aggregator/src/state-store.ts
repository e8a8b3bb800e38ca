import { type EofEvent, KafkaConsumer, type LibrdKafkaError, type Message } from '@confluentinc/kafka-javascript';
import { type WikiState, decodeWikiState } from '@wikimonitor/domain';
import { type KafkaConnection, rdkafkaBaseConfig } from '@wikimonitor/kafka';
import { type Lifecycle, type Logger, WikiMonitorError, retry } from '@wikimonitor/service-kit';

/** Where the window state of the assigned input partitions comes from on assignment. */
export interface StateStore extends Lifecycle {
  /** Latest state per wiki of each changelog partition (= input partition), read with read_committed to its end. */
  restore(partitions: number[]): Promise<Map<number, Map<string, WikiState>>>;
  /** The group's committed offsets (next offset to read) of input partitions; null where none. */
  committed(topic: string, partitions: number[]): Promise<Map<number, number | null>>;
}

const RESTORE_TIMEOUT_MS = 180_000; // > transaction.timeout.ms: a dead writer's open transaction ends first

/**
 * Reads the compacted changelog with a group-less assignment (the consumer carries the group id only
 * to read its committed offsets; it never subscribes, so it never joins the group).
 */
export function createChangelogStore(opts: { connection: KafkaConnection; topic: string; groupId: string; log: Logger }): StateStore {
  const { log } = opts;
  let connected = false;
  const consumer = new KafkaConsumer(
    {
      ...rdkafkaBaseConfig({ ...opts.connection, clientId: `${opts.connection.clientId}-restore` }),
      'group.id': opts.groupId,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'isolation.level': 'read_committed',
      'enable.partition.eof': true,
      'fetch.wait.max.ms': 50,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  consumer.on('event.error', (err: LibrdKafkaError) => log.warn({ code: err.code, err: err.message }, 'restore consumer error (librdkafka retries)'));

  const fail = (what: string) => (err: LibrdKafkaError) => new WikiMonitorError('KAFKA_CONSUME_FAILED', `${what}: ${err.message}`, { cause: err, retriable: true });

  const watermarks = (partition: number) =>
    new Promise<{ lowOffset: number; highOffset: number }>((resolve, reject) =>
      consumer.queryWatermarkOffsets(opts.topic, partition, 10_000, (err, w) => (err ? reject(fail(`changelog ${opts.topic}[${partition}] watermarks`)(err)) : resolve(w))),
    );

  return {
    name: `changelog-store(${opts.topic})`,
    async start() {
      await retry(
        () =>
          new Promise<void>((resolve, reject) =>
            consumer.connect({ timeout: 10_000 }, (err) =>
              err ? reject(new WikiMonitorError('DEPENDENCY_UNAVAILABLE', `Kafka unreachable: ${err.message}`, { retriable: true, cause: err })) : resolve(),
            ),
          ),
        { attempts: opts.connection.connectAttempts, initialMs: 500, maxMs: 10_000 },
      );
      consumer.setDefaultConsumeTimeout(200);
      connected = true;
    },
    async close() {
      if (!connected) return;
      connected = false;
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    },
    isLive: () => true,
    isReady: () => connected,

    async restore(partitions) {
      const out = new Map<number, Map<string, WikiState>>(partitions.map((p) => [p, new Map()]));
      const ends = new Map<number, number>();
      for (const p of partitions) {
        const w = await watermarks(p);
        if (w.highOffset > w.lowOffset) ends.set(p, w.highOffset);
      }
      if (!ends.size) return out;
      const done = new Set<number>();
      const onEof = (e: EofEvent) => {
        const end = ends.get(e.partition);
        if (e.topic === opts.topic && end !== undefined && e.offset >= end) done.add(e.partition);
      };
      consumer.on('partition.eof', onEof);
      consumer.assign([...ends.keys()].map((partition) => ({ topic: opts.topic, partition, offset: -2 /* beginning */ })));
      try {
        const deadline = Date.now() + RESTORE_TIMEOUT_MS;
        while (done.size < ends.size) {
          if (Date.now() > deadline) {
            throw new WikiMonitorError('TIMEOUT', `restoring ${opts.topic} partitions ${[...ends.keys()].filter((p) => !done.has(p)).join(',')} timed out`, { retriable: true });
          }
          const batch = await new Promise<Message[]>((resolve, reject) => consumer.consume(1000, (err, m) => (err ? reject(fail('changelog read')(err)) : resolve(m ?? []))));
          for (const m of batch) {
            const states = out.get(m.partition);
            const key = m.key?.toString();
            if (!states || key === undefined) continue;
            if (m.value === null) states.delete(key);
            else states.set(key, decodeWikiState(m.value.toString('utf8')));
            if (m.offset + 1 >= (ends.get(m.partition) ?? Infinity)) done.add(m.partition);
          }
        }
      } finally {
        consumer.removeListener('partition.eof', onEof);
        consumer.unassign();
      }
      return out;
    },

    committed(topic, partitions) {
      return new Promise((resolve, reject) =>
        consumer.committed(
          partitions.map((partition) => ({ topic, partition })),
          10_000,
          (err, tps) => (err ? reject(fail('reading committed offsets')(err)) : resolve(new Map(tps.map((t) => [t.partition, t.offset >= 0 ? t.offset : null])))),
        ),
      );
    },
  };
}
