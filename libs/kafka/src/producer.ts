import { Producer, type KafkaConsumer, type LibrdKafkaError, type DeliveryReport } from '@confluentinc/kafka-javascript';
import { type Lifecycle, type Logger, WikiMonitorError, sleep } from '@wikimonitor/service-kit';
import { type KafkaConnection, rdkafkaBaseConfig } from './config';
import { connectClient } from './connect';
import { type Headers, headersToMessage } from './headers';

export interface OutgoingRecord {
  topic: string;
  key?: Buffer | string | null;
  value: Buffer | null;
  headers?: Headers;
  partition?: number;
  timestamp?: number;
}

export interface Delivery {
  topic: string;
  partition: number;
  offset: number;
}

export interface ProducerOptions {
  connection: KafkaConnection;
  log: Logger;
  /** Transactional id: set for exactly-once consume-transform-produce. */
  transactionalId?: string;
  /** Extra librdkafka properties (tuning); safety settings below cannot be weakened. */
  overrides?: Record<string, string | number | boolean>;
}

export type DeliveryCallback = (err: WikiMonitorError | null, delivery?: Delivery) => void;

export interface KafkaProducer extends Lifecycle {
  /** Resolves when the broker acknowledged the record (acks=all), rejects with a coded error. */
  send(record: OutgoingRecord): Promise<Delivery>;
  /** The same without a promise per record, for hot paths: `done` runs once, with the ack or the error. */
  produce(record: OutgoingRecord, done: DeliveryCallback): void;
  /** Records handed to librdkafka and not yet acknowledged. */
  inFlight(): number;
  flush(timeoutMs?: number): Promise<void>;
  beginTransaction(): Promise<void>;
  /** Sends consumed offsets (already +1: the next offset to read) within the open transaction. */
  sendOffsetsToTransaction(offsets: Array<{ topic: string; partition: number; offset: number }>, consumer: KafkaConsumer): Promise<void>;
  commitTransaction(): Promise<void>;
  abortTransaction(): Promise<void>;
}

/** Safety defaults: nothing is acknowledged until every in-sync replica has it, and retries never duplicate. */
export const PRODUCER_SAFETY = {
  acks: 'all',
  'enable.idempotence': true,
  'max.in.flight.requests.per.connection': 5,
} as const;

/** Throughput defaults, chosen by bench/producer (see bench/README.md). */
export const PRODUCER_TUNING = {
  'linger.ms': 20,
  'batch.num.messages': 10_000,
  'batch.size': 1_000_000,
  'compression.type': 'lz4',
  'queue.buffering.max.messages': 200_000,
  'queue.buffering.max.kbytes': 262_144,
  // A broker outage longer than this fails the delivery (retriable); the caller re-sends.
  'message.timeout.ms': 120_000,
} as const;

const QUEUE_FULL = -184;
const RETRIABLE_CODES = new Set([-185 /* timed out */, -192 /* msg timed out */, -195 /* transport */, -187 /* all brokers down */, 7 /* request timed out */, 6 /* not leader */, 3 /* unknown topic or partition (metadata lag) */, 19 /* not enough replicas */, 20]);

function cb<T = void>(fn: (done: (err: LibrdKafkaError | null | undefined, value?: T) => void) => void, code: 'KAFKA_TRANSACTION_FAILED' | 'KAFKA_PRODUCE_FAILED'): Promise<T> {
  return new Promise<T>((resolve, reject) =>
    fn((err, value) => (err ? reject(new WikiMonitorError(code, err.message, { cause: err, retriable: (err as { isRetriable?: boolean }).isRetriable === true || RETRIABLE_CODES.has(err.code) })) : resolve(value as T))),
  );
}

/** Creates an idempotent (acks=all) producer with promise-per-record delivery on the fast callback API. */
export function createProducer(opts: ProducerOptions): KafkaProducer {
  const { log } = opts;
  const conf: Record<string, string | number | boolean> = {
    ...rdkafkaBaseConfig(opts.connection),
    ...PRODUCER_TUNING,
    ...opts.overrides,
    ...PRODUCER_SAFETY,
    dr_cb: true,
  };
  if (opts.transactionalId) {
    conf['transactional.id'] = opts.transactionalId;
    conf['transaction.timeout.ms'] = 60_000;
    // librdkafka refuses a transactional producer whose message.timeout.ms exceeds transaction.timeout.ms.
    conf['message.timeout.ms'] = Math.min(Number(conf['message.timeout.ms'] ?? 60_000), 60_000);
  }
  const producer = new Producer(conf);
  let connected = false;
  let closed: Promise<void> | undefined;
  let inFlight = 0;
  let fatal: { message: string } | undefined;

  producer.on('delivery-report', (err: LibrdKafkaError | null, report: DeliveryReport) => {
    inFlight--;
    const done = report.opaque as DeliveryCallback;
    if (err) {
      const retriable = RETRIABLE_CODES.has(err.code) || (err as { isRetriable?: boolean }).isRetriable === true;
      done(new WikiMonitorError('KAFKA_PRODUCE_FAILED', `delivery to ${report.topic} failed: ${err.message}`, { cause: err, retriable }));
    } else {
      done(null, { topic: report.topic, partition: report.partition, offset: report.offset });
    }
  });

  function produce(record: OutgoingRecord, done: DeliveryCallback, tries = 0): void {
    if (fatal) return done(new WikiMonitorError('KAFKA_PRODUCE_FAILED', `producer is in a fatal state: ${fatal.message}`));
    if (!connected) return done(new WikiMonitorError('KAFKA_PRODUCE_FAILED', 'producer not started', { retriable: true }));
    try {
      producer.produce(record.topic, record.partition ?? null, record.value, record.key ?? null, record.timestamp ?? null, done, headersToMessage(record.headers));
      inFlight++;
    } catch (err) {
      const e = err as LibrdKafkaError;
      // librdkafka's local queue is full: wait for deliveries to drain it, then try again.
      if (e.code === QUEUE_FULL && tries < 1000) {
        setTimeout(() => produce(record, done, tries + 1), 5);
        return;
      }
      done(new WikiMonitorError('KAFKA_PRODUCE_FAILED', `produce to ${record.topic} failed: ${e.message}`, { cause: err, retriable: e.code === QUEUE_FULL }));
    }
  }
  producer.on('event.error', (err: LibrdKafkaError) => {
    if ((err as { isFatal?: boolean }).isFatal) {
      fatal = err;
      log.error({ code: err.code, err: err.message }, 'producer fatal error');
    } else {
      log.warn({ code: err.code, err: err.message }, 'producer error (librdkafka retries)');
    }
  });


  const self: KafkaProducer = {
    name: `kafka-producer${opts.transactionalId ? `(${opts.transactionalId})` : ''}`,
    async start() {
      await connectClient(producer, opts.connection, log, 'producer');
      producer.setPollInBackground(true);
      connected = true;
      if (opts.transactionalId) await cb((done) => producer.initTransactions(30_000, done), 'KAFKA_TRANSACTION_FAILED');
    },
    send(record) {
      return new Promise<Delivery>((resolve, reject) => produce(record, (err, d) => (err ? reject(err) : resolve(d as Delivery))));
    },
    produce,
    inFlight: () => inFlight,
    flush: (timeoutMs = 30_000) => cb((done) => producer.flush(timeoutMs, done), 'KAFKA_PRODUCE_FAILED'),
    beginTransaction: () => cb((done) => producer.beginTransaction(done), 'KAFKA_TRANSACTION_FAILED'),
    sendOffsetsToTransaction: (offsets, consumer) => cb((done) => producer.sendOffsetsToTransaction(offsets, consumer, 30_000, done), 'KAFKA_TRANSACTION_FAILED'),
    commitTransaction: () => cb((done) => producer.commitTransaction(60_000, done), 'KAFKA_TRANSACTION_FAILED'),
    abortTransaction: () => cb((done) => producer.abortTransaction(60_000, done), 'KAFKA_TRANSACTION_FAILED'),
    close() {
      closed ??= (async () => {
        if (!connected) return;
        try {
          // Wait for every outstanding delivery so callers see their acks before we disconnect.
          for (let i = 0; inFlight > 0 && i < 600; i++) {
            await cb((done) => producer.flush(100, done), 'KAFKA_PRODUCE_FAILED').catch(() => undefined);
            if (inFlight > 0) await sleep(10);
          }
        } finally {
          connected = false;
          await new Promise<void>((resolve) => producer.disconnect(10_000, () => resolve()));
        }
      })();
      return closed;
    },
    isLive: () => !fatal,
    isReady: () => connected && !fatal,
  };
  return self;
}
