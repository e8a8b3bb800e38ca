import { type FirstRecordRequest, type FirstUnconsumed, firstRecordKey, partitionRefKey } from '@wikimonitor/domain';
import type { Lifecycle, Logger } from '@wikimonitor/service-kit';
import { type KafkaConnection, createPartitionReader, partitionKey } from '@wikimonitor/kafka';

export interface FirstRecordStats {
  /** Answers served from the cache (a group that does not move costs no read). */
  hits: number;
  /** Partitions actually read from the broker. */
  reads: number;
  /** Reads that did not finish within the timeout. */
  timeouts: number;
}

export interface FirstRecordReader extends Lifecycle {
  /**
   * The first consumable record for each request, by `firstRecordKey`: a record, null when nothing
   * consumable lies before `end` (transaction markers, aborted records), absent when it could not
   * be read in time.
   */
  read(requests: FirstRecordRequest[]): Promise<Map<string, FirstUnconsumed | null>>;
  stats(): FirstRecordStats;
}

export interface FirstRecordReaderOptions {
  connection: KafkaConnection;
  log: Logger;
  /** Bound on one read round (one offset per partition). */
  timeoutMs: number;
  isolation: 'read_committed' | 'read_uncommitted';
}

type CacheEntry = { first: FirstUnconsumed; used: number } | { first: null; end: number; used: number };

/**
 * Reads the record at (or the first consumable one after) given offsets, e.g. the first record a
 * consumer group has not consumed, for lag in seconds. Answers are cached per (partition, offset):
 * a record at an offset never changes, and a "nothing before end" answer holds while the end does
 * not move. Entries unused for two reads are dropped, which bounds the cache by the number of
 * lagging partitions.
 */
export function createFirstRecordReader(opts: FirstRecordReaderOptions): FirstRecordReader {
  const { log } = opts;
  const reader = createPartitionReader({ connection: opts.connection, log, name: 'reader', isolation: opts.isolation, fetch: 'small' });
  const cache = new Map<string, CacheEntry>();
  const stats: FirstRecordStats = { hits: 0, reads: 0, timeouts: 0 };
  let generation = 0;
  let connected = false;
  let queue: Promise<unknown> = Promise.resolve();

  /** One read round: at most one request per partition. */
  async function readRound(round: FirstRecordRequest[], out: Map<string, FirstUnconsumed | null>): Promise<void> {
    const byPartition = new Map(round.map((r) => [partitionKey(r.topic, r.partition), r]));
    const found = new Map<string, FirstUnconsumed>();
    const outcomes = await reader.read(
      round.map((r) => ({ topic: r.topic, partition: r.partition, from: r.offset, to: r.end })),
      (m) => {
        found.set(partitionKey(m.topic, m.partition), { offset: m.offset, timestamp: m.timestamp ?? 0 });
        return 'stop';
      },
      { timeoutMs: opts.timeoutMs, onTimeout: 'report' },
    );
    for (const [key, outcome] of outcomes) {
      const r = byPartition.get(key);
      if (!r) continue;
      if (outcome === 'timeout') {
        stats.timeouts++;
        continue;
      }
      const first = found.get(key) ?? null;
      if (!first) log.debug({ topic: r.topic, partition: r.partition, offset: r.offset, end: r.end }, 'nothing consumable before the end');
      out.set(firstRecordKey(r), first);
      cache.set(firstRecordKey(r), first ? { first, used: generation } : { first: null, end: r.end, used: generation });
    }
  }

  async function readMisses(misses: FirstRecordRequest[], out: Map<string, FirstUnconsumed | null>): Promise<void> {
    // A partition can be asked at several offsets (groups at different positions): one round per offset.
    const byPartition = new Map<string, FirstRecordRequest[]>();
    for (const r of misses) {
      const tp = partitionRefKey(r.topic, r.partition);
      byPartition.set(tp, [...(byPartition.get(tp) ?? []), r]);
    }
    for (let i = 0; ; i++) {
      const round = [...byPartition.values()].map((rs) => rs[i]).filter((r): r is FirstRecordRequest => r !== undefined);
      if (!round.length) break;
      stats.reads += round.length;
      await readRound(round, out);
    }
  }

  return {
    name: 'first-record-reader',
    async start() {
      await reader.start();
      connected = true;
    },
    read(requests) {
      const run = async () => {
        generation++;
        const out = new Map<string, FirstUnconsumed | null>();
        const misses: FirstRecordRequest[] = [];
        const seen = new Set<string>();
        for (const r of requests) {
          const key = firstRecordKey(r);
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
      await reader.close();
    },
    isLive: () => true,
    isReady: () => connected,
  };
}
