import { randomBytes } from 'node:crypto';
import { type EofEvent, KafkaConsumer, type LibrdKafkaError, type Message, type Metadata } from '@confluentinc/kafka-javascript';
import { type Lifecycle, type Logger, WikiMonitorError, sleep } from '@wikimonitor/service-kit';
import { type KafkaConnection, rdkafkaBaseConfig } from './config';
import { connectClient } from './connect';

/** Where a read of one partition starts and ends. */
export interface PartitionRange {
  topic: string;
  partition: number;
  /**
   * First offset to read: a number, the partition's log start / current end, or the first record
   * whose timestamp is at or after `timestamp` (epoch ms; the end when there is none).
   */
  from: number | 'beginning' | 'end' | { timestamp: number };
  /** Offset to stop before (exclusive). Default: the partition's high watermark when the read starts. */
  to?: number;
}

/** How the read of one partition ended. */
export type ReadOutcome = 'end' | 'stopped' | 'timeout';

/** Return `'stop'` to end the read of that message's partition (the rest go on). */
export type OnMessage = (m: Message) => void | 'stop';

export interface ReadOptions {
  /** Give up after this long (default 120 s). */
  timeoutMs?: number;
  /** On timeout: throw a retriable TIMEOUT error (default), or report the partitions as 'timeout'. */
  onTimeout?: 'throw' | 'report';
}

export interface TailOptions {
  signal: AbortSignal;
  /** Called once, when every partition was read up to the end it had when the tail started. */
  onCaughtUp?: () => void;
}

export interface PartitionReaderOptions {
  connection: KafkaConnection;
  log: Logger;
  /** Shown in the client id and logs, e.g. `checkpoint`, `changelog`. */
  name: string;
  isolation?: 'read_committed' | 'read_uncommitted';
  /** `small`: tiny fetches for reading single records (lag timestamps); `bulk` (default): whole logs. */
  fetch?: 'small' | 'bulk';
  /** Extra librdkafka properties (tuning only). */
  overrides?: Record<string, string | number | boolean>;
}

export interface PartitionReader extends Lifecycle {
  watermarks(topic: string, partition: number): Promise<{ low: number; high: number }>;
  /** Partition ids of a topic ([] when the topic does not exist). */
  partitions(topic: string): Promise<number[]>;
  /**
   * Reads each range from `from` to `to` (default: its current high watermark). Under read_committed
   * the end is reached when the consumer's position passes it (transaction markers and aborted
   * records occupy offsets but are never delivered). One read at a time per reader.
   */
  read(ranges: PartitionRange[], onMessage: OnMessage, opts?: ReadOptions): Promise<Map<string, ReadOutcome>>;
  /** Reads the ranges and keeps following them until the signal aborts (no end offset). */
  tail(ranges: Array<Omit<PartitionRange, 'to'>>, onMessage: (m: Message) => void, opts: TailOptions): Promise<void>;
}

/** Key of a topic-partition in the maps the reader returns. */
export const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

const OFFSET_END = -1;

/**
 * A group-less consumer for reading partitions by offset (assign, never subscribe or commit): the
 * one place that reads a topic to its end (checkpoints, state changelogs, dead letters, tests) or
 * follows it (the commit log, probes).
 */
export function createPartitionReader(opts: PartitionReaderOptions): PartitionReader {
  const { log } = opts;
  const small = opts.fetch === 'small';
  const consumer = new KafkaConsumer(
    {
      ...rdkafkaBaseConfig({ ...opts.connection, clientId: `${opts.connection.clientId}-${opts.name}` }),
      // Required by librdkafka even for assign(); never joins or commits.
      'group.id': `${opts.connection.clientId}-${opts.name}-${randomBytes(4).toString('hex')}`,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'enable.partition.eof': true,
      'isolation.level': opts.isolation ?? 'read_committed',
      'fetch.wait.max.ms': small ? 50 : 100,
      // Fetch again at once after a round: the default backs off a second when the queue is full.
      'fetch.queue.backoff.ms': 0,
      ...(small ? { 'max.partition.fetch.bytes': 65_536, 'fetch.max.bytes': 4_194_304, 'queued.max.messages.kbytes': 4096 } : {}),
      ...opts.overrides,
    },
    { 'auto.offset.reset': 'earliest' },
  ) as KafkaConsumer & { setDefaultIsTimeoutOnlyForFirstMessage(v: boolean): void };
  consumer.on('event.error', (err: LibrdKafkaError) => log.debug({ code: err.code, err: err.message, reader: opts.name }, 'partition reader client error (librdkafka retries)'));
  const eofListeners = new Set<(e: EofEvent) => void>();
  consumer.on('partition.eof', (e) => eofListeners.forEach((l) => l(e)));

  let connected = false;
  let queue: Promise<unknown> = Promise.resolve();
  const fail = (what: string) => (err: LibrdKafkaError) => new WikiMonitorError('KAFKA_CONSUME_FAILED', `${opts.name}: ${what}: ${err.message}`, { cause: err, retriable: true });

  /** One call at a time: assignments of concurrent reads would overwrite each other. */
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  }

  function requireConnected(): void {
    if (!connected) throw new WikiMonitorError('KAFKA_CONSUME_FAILED', `${opts.name}: partition reader not started`, { retriable: true });
  }

  const watermarks = (topic: string, partition: number) =>
    new Promise<{ low: number; high: number }>((resolve, reject) =>
      consumer.queryWatermarkOffsets(topic, partition, 10_000, (err, w) => (err ? reject(fail(`watermarks of ${topic}[${partition}]`)(err)) : resolve({ low: w.lowOffset, high: w.highOffset }))),
    );

  const consume = () => new Promise<Message[]>((resolve, reject) => consumer.consume(1000, (err, m) => (err ? reject(fail('consume')(err)) : resolve(m ?? []))));
  const position = (topic: string, partition: number) => consumer.position([{ topic, partition }])[0]?.offset ?? -1;

  /** The first offset whose record timestamp is at or after `timestamp`; the high watermark when none is. */
  const offsetForTime = (topic: string, partition: number, timestamp: number, high: number) =>
    new Promise<number>((resolve, reject) =>
      consumer.offsetsForTimes([{ topic, partition, offset: timestamp }], 10_000, (err, r) => {
        if (err) return reject(fail(`offset of ${topic}[${partition}] at ${new Date(timestamp).toISOString()}`)(err));
        const offset = r.find((x) => x.topic === topic && x.partition === partition)?.offset ?? -1;
        resolve(offset >= 0 ? offset : high);
      }),
    );

  async function resolveRange(r: PartitionRange, withEnd: boolean): Promise<{ topic: string; partition: number; start: number; end: number }> {
    // Always asked: a start below the log start (retention moved it) begins at the log start, and
    // an empty partition is at its end at once (only an EOF would come, with no position to compare).
    const w = await watermarks(r.topic, r.partition);
    const from = typeof r.from === 'object' ? await offsetForTime(r.topic, r.partition, r.from.timestamp, w.high) : r.from;
    const start = from === 'beginning' ? w.low : from === 'end' ? w.high : Math.max(from, w.low);
    return { topic: r.topic, partition: r.partition, start, end: withEnd ? (r.to ?? w.high) : Number.MAX_SAFE_INTEGER };
  }

  async function read(ranges: PartitionRange[], onMessage: OnMessage, ropts: ReadOptions = {}): Promise<Map<string, ReadOutcome>> {
    requireConnected();
    const out = new Map<string, ReadOutcome>();
    const pending = new Map<string, { topic: string; partition: number; start: number; end: number }>();
    for (const r of ranges) {
      const rr = await resolveRange(r, true);
      const key = partitionKey(r.topic, r.partition);
      if (rr.start >= rr.end) out.set(key, 'end');
      else pending.set(key, rr);
    }
    if (!pending.size) return out;
    const settle = (key: string, outcome: ReadOutcome) => {
      const r = pending.get(key);
      if (!r) return;
      pending.delete(key);
      out.set(key, outcome);
      consumer.pause([{ topic: r.topic, partition: r.partition }]);
    };
    // End-of-partition events are emitted while a consume call runs, before its messages are handed
    // over: note them, and decide only after that call's messages were looked at.
    const atEnd = new Set<string>();
    const onEof = (e: EofEvent) => atEnd.add(partitionKey(e.topic, e.partition));
    eofListeners.add(onEof);
    const assigned = [...pending.values()];
    consumer.assign(assigned.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.start })));
    const deadline = Date.now() + (ropts.timeoutMs ?? 120_000);
    try {
      while (pending.size && Date.now() < deadline) {
        for (const m of await consume()) {
          const key = partitionKey(m.topic, m.partition);
          const r = pending.get(key);
          if (!r || m.offset < r.start) continue;
          if (m.offset >= r.end) {
            settle(key, 'end');
            continue;
          }
          if (onMessage(m) === 'stop') settle(key, 'stopped');
          else if (m.offset + 1 >= r.end) settle(key, 'end');
        }
        for (const key of atEnd) {
          const r = pending.get(key);
          // Only this assignment's own position at (or past) the end counts; an event left over
          // from an earlier read of the same partition does not.
          if (r && position(r.topic, r.partition) >= r.end) settle(key, 'end');
        }
        atEnd.clear();
      }
    } finally {
      eofListeners.delete(onEof);
      // Pause state outlives the assignment in librdkafka: resume so the next read can fetch.
      consumer.resume(assigned.map((r) => ({ topic: r.topic, partition: r.partition })));
      consumer.unassign();
    }
    if (pending.size) {
      const late = [...pending.values()].map((r) => `${r.topic}[${r.partition}] at ${position(r.topic, r.partition)} of ${r.end}`);
      if ((ropts.onTimeout ?? 'throw') === 'throw') throw new WikiMonitorError('TIMEOUT', `${opts.name}: reading ${late.join(', ')} timed out`, { retriable: true });
      for (const key of pending.keys()) out.set(key, 'timeout');
    }
    return out;
  }

  async function tail(ranges: Array<Omit<PartitionRange, 'to'>>, onMessage: (m: Message) => void, topts: TailOptions): Promise<void> {
    requireConnected();
    const resolved = await Promise.all(ranges.map(async (r) => ({ ...(await resolveRange(r, false)), ...(topts.onCaughtUp ? { end: (await watermarks(r.topic, r.partition)).high } : {}) })));
    const behind = new Map(resolved.filter((r) => r.start < r.end).map((r) => [partitionKey(r.topic, r.partition), r]));
    let caughtUp = false;
    const checkCaughtUp = () => {
      if (caughtUp || behind.size) return;
      caughtUp = true;
      topts.onCaughtUp?.();
    };
    const atEnd = new Set<string>();
    const onEof = (e: EofEvent) => atEnd.add(partitionKey(e.topic, e.partition));
    eofListeners.add(onEof);
    // From 'end', the broker resolves the position itself: under read_committed that is the last
    // stable offset, so records of transactions still open now are delivered once they commit.
    const startOf = (r: (typeof resolved)[number], i: number) => ((ranges[i] as Omit<PartitionRange, 'to'>).from === 'end' ? OFFSET_END : r.start);
    consumer.assign(resolved.map((r, i) => ({ topic: r.topic, partition: r.partition, offset: startOf(r, i) })));
    try {
      checkCaughtUp();
      while (!topts.signal.aborted) {
        let batch: Message[];
        try {
          batch = await consume();
        } catch (err) {
          log.warn({ reader: opts.name, err: (err as Error).message }, 'tail consume failed, retrying');
          await sleep(500, topts.signal);
          continue;
        }
        for (const m of batch) {
          onMessage(m);
          const key = partitionKey(m.topic, m.partition);
          const r = behind.get(key);
          if (r && m.offset + 1 >= r.end) behind.delete(key);
        }
        for (const key of atEnd) {
          const r = behind.get(key);
          if (r && position(r.topic, r.partition) >= r.end) behind.delete(key);
        }
        atEnd.clear();
        checkCaughtUp();
      }
    } finally {
      eofListeners.delete(onEof);
      consumer.unassign();
    }
  }

  return {
    name: `partition-reader(${opts.name})`,
    async start() {
      await connectClient(consumer, opts.connection, log, opts.name);
      consumer.setDefaultConsumeTimeout(small ? 100 : 200);
      // Wait only for a round's first record, not the timeout for each further one.
      consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
      connected = true;
    },
    watermarks: (topic, partition) =>
      exclusive(async () => {
        requireConnected();
        return watermarks(topic, partition);
      }),
    partitions: (topic) =>
      exclusive(async () => {
        requireConnected();
        const meta = await new Promise<Metadata>((resolve, reject) => consumer.getMetadata({ topic, timeout: 10_000 }, (err, m) => (err ? reject(fail(`metadata of ${topic}`)(err)) : resolve(m))));
        return (meta.topics.find((t) => t.name === topic)?.partitions ?? []).map((p) => p.id).sort((a, b) => a - b);
      }),
    read: (ranges, onMessage, ropts) => exclusive(() => read(ranges, onMessage, ropts)),
    tail: (ranges, onMessage, topts) => exclusive(() => tail(ranges, onMessage, topts)),
    async close() {
      await queue;
      if (!connected) return;
      connected = false;
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    },
    isLive: () => true,
    isReady: () => connected,
  };
}

export interface ReadToEndOptions extends Omit<PartitionReaderOptions, 'name'> {
  name?: string;
  /** Every partition of these topics (from `from`), and/or explicit ranges. */
  topics?: string[];
  /** Where the partitions of `topics` are read from (default their log start). */
  from?: PartitionRange['from'];
  ranges?: PartitionRange[];
  timeoutMs?: number;
}

/**
 * Reads partitions to their current end with a short-lived reader and returns what they hold, in
 * offset order per partition (`onMessage` may return 'stop' to end a partition early).
 */
export async function readToEnd(opts: ReadToEndOptions, onMessage?: OnMessage): Promise<Message[]> {
  const reader = createPartitionReader({ ...opts, name: opts.name ?? 'read-to-end' });
  const out: Message[] = [];
  await reader.start();
  try {
    const ranges: PartitionRange[] = [...(opts.ranges ?? [])];
    for (const topic of opts.topics ?? []) for (const partition of await reader.partitions(topic)) ranges.push({ topic, partition, from: opts.from ?? 'beginning' });
    await reader.read(ranges, onMessage ?? ((m) => void out.push(m)), { timeoutMs: opts.timeoutMs });
    return out;
  } finally {
    await reader.close();
  }
}
