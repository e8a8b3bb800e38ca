import { randomBytes } from 'node:crypto';
import { type EofEvent, KafkaConsumer, type LibrdKafkaError, type Message } from '@confluentinc/kafka-javascript';
import type { FirstUnconsumed } from '@wikimonitor/domain';
import { type KafkaConnection, rdkafkaBaseConfig } from '@wikimonitor/kafka';
import { type Lifecycle, type Logger, WikiMonitorError, retry } from '@wikimonitor/service-kit';

/** Read the first consumable record of a partition at or after `offset`, if it comes before `end`. */
export interface RecordRequest {
  topic: string;
  partition: number;
  offset: number;
  end: number;
}

export function requestKey(r: { topic: string; partition: number; offset: number }): string {
  return `${r.topic}\u0000${r.partition}\u0000${r.offset}`;
}

export interface ReaderStats {
  /** Answers served from the cache (a group that does not move costs no read). */
  hits: number;
  /** Partitions actually read from the broker. */
  reads: number;
  /** Reads that did not finish within the timeout. */
  timeouts: number;
}

export interface RecordTimestampReader extends Lifecycle {
  /**
   * The first unconsumed record for each request: a record, null when nothing consumable lies
   * before `end` (transaction markers, aborted records), absent when it could not be read in time.
   */
  read(requests: RecordRequest[]): Promise<Map<string, FirstUnconsumed | null>>;
  stats(): ReaderStats;
}

export interface RecordReaderOptions {
  connection: KafkaConnection;
  log: Logger;
  timeoutMs: number;
  isolation: 'read_committed' | 'read_uncommitted';
}

type CacheEntry = { first: FirstUnconsumed; used: number } | { first: null; end: number; used: number };

/**
 * Reads record timestamps at given offsets with a group-less consumer (assign, never subscribe or
 * commit). Answers are cached per (partition, offset): a record at an offset never changes, and a
 * "nothing before end" answer holds while the end does not move. Entries unused for two reads are
 * dropped, which bounds the cache by the number of lagging partitions.
 */
export function createRecordReader(opts: RecordReaderOptions): RecordTimestampReader {
  const { log } = opts;
  const consumer = new KafkaConsumer(
    {
      ...rdkafkaBaseConfig({ ...opts.connection, clientId: `${opts.connection.clientId}-reader` }),
      // Required by librdkafka even for assign(); never joins or commits.
      'group.id': `lag-monitor-reader-${randomBytes(4).toString('hex')}`,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'enable.partition.eof': true,
      'isolation.level': opts.isolation,
      // One record per partition is all we need: keep fetches small.
      'fetch.wait.max.ms': 50,
      'max.partition.fetch.bytes': 65_536,
      'fetch.max.bytes': 4_194_304,
      'queued.max.messages.kbytes': 4096,
      // Fetch again at once after a round: the default backs off a second when the queue is full.
      'fetch.queue.backoff.ms': 0,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  const cache = new Map<string, CacheEntry>();
  const stats: ReaderStats = { hits: 0, reads: 0, timeouts: 0 };
  let generation = 0;
  let connected = false;
  let queue: Promise<unknown> = Promise.resolve();
  const eofListeners = new Set<(e: EofEvent) => void>();
  consumer.on('partition.eof', (e) => eofListeners.forEach((l) => l(e)));
  consumer.on('event.error', (err: LibrdKafkaError) => log.debug({ code: err.code, err: err.message }, 'record reader client error (librdkafka retries)'));

  const consume = () => new Promise<Message[]>((resolve, reject) => consumer.consume(1000, (err, msgs) => (err ? reject(err) : resolve(msgs ?? []))));

  /** One assignment round: at most one request per partition. */
  async function readRound(round: RecordRequest[], out: Map<string, FirstUnconsumed | null>): Promise<void> {
    const pending = new Map<string, RecordRequest>(round.map((r) => [`${r.topic}\u0000${r.partition}`, r]));
    const settle = (tp: string, first: FirstUnconsumed | null) => {
      const r = pending.get(tp);
      if (!r) return;
      pending.delete(tp);
      out.set(requestKey(r), first);
      cache.set(requestKey(r), first ? { first, used: generation } : { first: null, end: r.end, used: generation });
      consumer.pause([{ topic: r.topic, partition: r.partition }]);
    };
    // End-of-partition events are emitted while a consume call runs, before its messages are handed
    // over: note them and decide only after the call's messages were looked at.
    const atEnd = new Set<string>();
    const onEof = (e: EofEvent) => atEnd.add(`${e.topic}\u0000${e.partition}`);
    const settleEnded = () => {
      for (const tp of atEnd) {
        const r = pending.get(tp);
        if (!r) continue;
        // Only this assignment's own position at (or past) the end means "nothing left to read";
        // an event left over from an earlier round of the same partition does not.
        const position = consumer.position([{ topic: r.topic, partition: r.partition }])[0]?.offset ?? -1;
        if (position >= r.end) {
          log.debug({ topic: r.topic, partition: r.partition, offset: r.offset, end: r.end, position }, 'nothing consumable before the end');
          settle(tp, null);
        }
      }
      atEnd.clear();
    };
    eofListeners.add(onEof);
    consumer.assign(round.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.offset })));
    const deadline = Date.now() + opts.timeoutMs;
    try {
      while (pending.size && Date.now() < deadline) {
        for (const m of await consume()) {
          const tp = `${m.topic}\u0000${m.partition}`;
          const r = pending.get(tp);
          if (!r || m.offset < r.offset) continue;
          settle(tp, m.offset < r.end ? { offset: m.offset, timestamp: m.timestamp ?? 0 } : null);
        }
        settleEnded();
      }
    } finally {
      eofListeners.delete(onEof);
      stats.timeouts += pending.size;
      // Pause state outlives the assignment in librdkafka: resume so the next round can fetch.
      consumer.resume(round.map((r) => ({ topic: r.topic, partition: r.partition })));
      consumer.unassign();
    }
  }

  async function readMisses(misses: RecordRequest[], out: Map<string, FirstUnconsumed | null>): Promise<void> {
    // A partition can be asked at several offsets (groups at different positions): one round per offset.
    const byPartition = new Map<string, RecordRequest[]>();
    for (const r of misses) {
      const tp = `${r.topic}\u0000${r.partition}`;
      byPartition.set(tp, [...(byPartition.get(tp) ?? []), r]);
    }
    for (let i = 0; ; i++) {
      const round = [...byPartition.values()].map((rs) => rs[i]).filter((r): r is RecordRequest => r !== undefined);
      if (!round.length) break;
      stats.reads += round.length;
      await readRound(round, out);
    }
  }

  return {
    name: 'record-reader',
    async start() {
      await retry(
        () =>
          new Promise<void>((resolve, reject) =>
            consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(new WikiMonitorError('DEPENDENCY_UNAVAILABLE', `record reader: ${err.message}`, { retriable: true, cause: err })) : resolve())),
          ),
        { attempts: opts.connection.connectAttempts, initialMs: 500, maxMs: 10_000 },
      );
      consumer.setDefaultConsumeTimeout(100);
      (consumer as KafkaConsumer & { setDefaultIsTimeoutOnlyForFirstMessage(v: boolean): void }).setDefaultIsTimeoutOnlyForFirstMessage(true);
      connected = true;
    },
    read(requests) {
      const run = async () => {
        generation++;
        const out = new Map<string, FirstUnconsumed | null>();
        const misses: RecordRequest[] = [];
        const seen = new Set<string>();
        for (const r of requests) {
          const key = requestKey(r);
          if (seen.has(key)) continue;
          seen.add(key);
          const hit = cache.get(key);
          if (hit && (hit.first !== null || hit.end === r.end)) {
            hit.used = generation;
            out.set(key, hit.first);
            stats.hits++;
          } else {
            misses.push(r);
          }
        }
        if (misses.length && connected) await readMisses(misses, out);
        for (const [key, entry] of cache) if (entry.used < generation - 1) cache.delete(key);
        return out;
      };
      const result = queue.then(run, run);
      queue = result.catch(() => undefined);
      return result;
    },
    stats: () => ({ ...stats }),
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
