import { randomBytes } from 'node:crypto';
import { type KafkaConnection, type KafkaProducer, type Message, createPartitionReader } from '@wikimonitor/kafka';
import { type Lifecycle, type Logger, sleep } from '@wikimonitor/service-kit';

export interface ProbeStats {
  topic: string;
  sent: number;
  received: number;
  /** Not back within the timeout (or never acknowledged by the broker). */
  lost: number;
  /** Produce calls the broker rejected. */
  failed: number;
  inFlight: number;
  lastRoundTripMs: number | null;
  /** Round-trip percentiles over the last 100 probes. */
  p50Ms: number | null;
  p99Ms: number | null;
  lastReceivedAt: number | null;
}

export interface ProbeHooks {
  onRoundTrip?: (ms: number, partition: number) => void;
  onSent?: () => void;
  onLost?: (n: number) => void;
  onFailed?: () => void;
}

export interface EndToEndProbe extends Lifecycle {
  stats(): ProbeStats;
}

export interface ProbeOptions {
  connection: KafkaConnection;
  producer: KafkaProducer;
  log: Logger;
  topic: string;
  partitions: number;
  intervalMs: number;
  timeoutMs: number;
  hooks?: ProbeHooks;
}

interface ProbeBody {
  instance: string;
  seq: number;
  sentAt: number;
}

/**
 * End-to-end check of the cluster as clients see it: every interval a small record goes to each
 * partition of the probe topic (acks=all), and a group-less consumer reads them back. Round trip =
 * produce call to receipt; a probe not back within the timeout counts as lost.
 */
export function createProbe(opts: ProbeOptions): EndToEndProbe {
  const { log } = opts;
  const instance = randomBytes(6).toString('hex');
  const pending = new Map<number, { sentAt: number; partition: number }>();
  const recent: number[] = [];
  const stats: ProbeStats = { topic: opts.topic, sent: 0, received: 0, lost: 0, failed: 0, inFlight: 0, lastRoundTripMs: null, p50Ms: null, p99Ms: null, lastReceivedAt: null };
  // Probes are tiny and latency is the point: fetch again at once when a record arrives.
  const reader = createPartitionReader({ connection: opts.connection, log, name: 'probe', fetch: 'small', overrides: { 'fetch.wait.max.ms': 10 } });
  let running = false;
  let seq = 0;
  let sendLoop: Promise<void> | undefined;
  let readLoop: Promise<void> | undefined;
  const sends = new Set<Promise<void>>();
  const abort = new AbortController();

  const percentile = (q: number) => {
    if (!recent.length) return null;
    const sorted = [...recent].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;
  };

  function expire(now: number) {
    let lost = 0;
    for (const [s, p] of pending) {
      if (now - p.sentAt > opts.timeoutMs) {
        pending.delete(s);
        lost++;
      }
    }
    if (lost) {
      stats.lost += lost;
      opts.hooks?.onLost?.(lost);
      log.warn({ lost, topic: opts.topic }, 'probes not received back in time');
    }
    stats.inFlight = pending.size;
  }

  function receive(m: Message) {
    let body: ProbeBody;
    try {
      body = JSON.parse(m.value?.toString('utf8') ?? '') as ProbeBody;
    } catch {
      return;
    }
    if (body.instance !== instance) return; // another monitor's probe
    const p = pending.get(body.seq);
    if (!p) return; // already counted lost
    pending.delete(body.seq);
    const ms = Date.now() - p.sentAt;
    stats.received++;
    stats.lastRoundTripMs = ms;
    stats.lastReceivedAt = Date.now();
    recent.push(ms);
    if (recent.length > 100) recent.shift();
    stats.p50Ms = percentile(0.5);
    stats.p99Ms = percentile(0.99);
    stats.inFlight = pending.size;
    opts.hooks?.onRoundTrip?.(ms, m.partition);
  }

  function sendOne(partition: number) {
    const s = ++seq;
    const sentAt = Date.now();
    pending.set(s, { sentAt, partition });
    stats.sent++;
    opts.hooks?.onSent?.();
    const body: ProbeBody = { instance, seq: s, sentAt };
    const p = opts.producer
      .send({ topic: opts.topic, partition, key: instance, value: Buffer.from(JSON.stringify(body)) })
      .then(
        () => undefined,
        (err: unknown) => {
          pending.delete(s);
          stats.failed++;
          stats.lost++;
          opts.hooks?.onFailed?.();
          opts.hooks?.onLost?.(1);
          log.warn({ err: (err as Error).message, partition }, 'probe produce failed');
        },
      )
      .finally(() => sends.delete(p));
    sends.add(p);
  }

  return {
    name: 'e2e-probe',
    async start() {
      await reader.start();
      running = true;
      // From the end of each partition: only this run's probes matter.
      readLoop = reader
        .tail(Array.from({ length: opts.partitions }, (_, partition) => ({ topic: opts.topic, partition, from: 'end' as const })), receive, { signal: abort.signal })
        .catch((err: unknown) => {
          if (!abort.signal.aborted) log.warn({ err: (err as Error).message, topic: opts.topic }, 'probe reader stopped');
        });
      sendLoop = (async () => {
        // Let the consumer's assignment settle before the first probe, else it could be missed.
        await sleep(Math.min(1000, opts.intervalMs), abort.signal);
        while (running) {
          for (let p = 0; p < opts.partitions && running; p++) sendOne(p);
          await sleep(opts.intervalMs, abort.signal);
          expire(Date.now());
        }
      })();
    },
    async close() {
      running = false;
      abort.abort();
      await sendLoop;
      await Promise.allSettled([...sends]);
      await readLoop;
      await reader.close();
    },
    stats: () => ({ ...stats }),
    isLive: () => true,
    isReady: () => reader.isReady(),
  };
}
