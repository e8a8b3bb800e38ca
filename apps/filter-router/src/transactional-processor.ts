import type { KafkaConsumer, TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import type { BatchContext, Delivery, KafkaProducer, Message, TopicPartition } from '@wikimonitor/kafka';
import { type Logger, WikiMonitorError, backoffDelay, describeError, sleep } from '@wikimonitor/service-kit';
import { SpanStatusCode } from '@wikimonitor/telemetry';
import type { RouterMetrics } from './metrics';
import type { RecordRouter, RouteOutcome } from './record-router';

export type TransactionalProducer = Pick<KafkaProducer, 'send' | 'beginTransaction' | 'sendOffsetsToTransaction' | 'commitTransaction' | 'abortTransaction' | 'isLive'>;

/** The consumer operations a rewind needs (an adapter over KafkaConsumer; fakes in unit tests). */
export interface OffsetControl {
  /** Committed offsets of the group (the next offset to read), negative when none. */
  committed(partitions: TopicPartition[]): Promise<TopicPartitionOffset[]>;
  seek(position: TopicPartitionOffset): Promise<void>;
}

export function consumerOffsetControl(consumer: KafkaConsumer, timeoutMs = 10_000): OffsetControl {
  const fail = (what: string, err: { message: string }) => new WikiMonitorError('KAFKA_CONSUME_FAILED', `${what}: ${err.message}`, { cause: err, retriable: true });
  return {
    committed: (partitions) =>
      new Promise((resolve, reject) => consumer.committed(partitions, timeoutMs, (err, tps) => (err ? reject(fail('reading committed offsets', err)) : resolve(tps)))),
    seek: (position) => new Promise((resolve, reject) => consumer.seek(position, timeoutMs, (err) => (err ? reject(fail(`seeking ${position.topic}/${position.partition}`, err)) : resolve()))),
  };
}

/**
 * The offsets a transaction commits: per partition, the offset of its last record in the batch
 * PLUS ONE (the next record to read). Committing the last record's own offset, as some examples do,
 * makes every restart re-process that record.
 */
export function nextOffsets(batch: readonly Message[]): TopicPartitionOffset[] {
  const next = new Map<string, TopicPartitionOffset>();
  for (const m of batch) {
    const k = `${m.topic}\u0000${m.partition}`;
    const cur = next.get(k);
    if (!cur || m.offset + 1 > cur.offset) next.set(k, { topic: m.topic, partition: m.partition, offset: m.offset + 1 });
  }
  return [...next.values()];
}

/** Delivery errors that belong to one record (retrying cannot help it, and only it): it goes to the DLQ. */
const RECORD_SPECIFIC_CODES = new Set([2 /* corrupt message */, 10 /* message too large */, 18 /* record list too large */, 87 /* invalid record */]);

type RdFlags = { code?: number; isFatal?: boolean; isRetriable?: boolean; isTxnRequiresAbort?: boolean };
const rdFlags = (err: unknown): RdFlags => ((err as { cause?: unknown })?.cause ?? {}) as RdFlags;

export interface TransactionalProcessorDeps {
  producer: TransactionalProducer;
  router: RecordRouter;
  log: Logger;
  metrics: RouterMetrics;
  /** Backoff after an aborted transaction. */
  retry: { initialMs: number; maxMs: number };
  /** Builds the rewind operations for the runner's consumer (default: the real consumer). */
  offsetControl?: (consumer: KafkaConsumer) => OffsetControl;
}

export interface ProcessorStats {
  transactions: number;
  aborted: number;
  /** Input records whose offsets were committed. */
  committedRecords: number;
  routed: Record<string, number>;
  deadLettered: number;
}

export interface TransactionalProcessor {
  /** The consumer runner's batch handler (offsets: 'external'). Throws only on fatal errors. */
  handle(batch: Message[], ctx: BatchContext): Promise<void>;
  stats(): ProcessorStats;
}

/**
 * Exactly-once consume-transform-produce. One batch = one transaction holding the routed records,
 * the dead letters and the input offsets (offset+1) together. On any failure the transaction is
 * aborted and the consumer rewound to the group's committed offsets, so the batch is read again:
 * outputs of an aborted attempt are never visible to read_committed consumers, and nothing is
 * skipped. Fatal producer errors (fenced by a newer instance with the same transactional.id) stop
 * the runner; a restart resumes from the committed offsets.
 */
export function createTransactionalProcessor(deps: TransactionalProcessorDeps): TransactionalProcessor {
  const { producer, router, log, metrics } = deps;
  const control = deps.offsetControl ?? ((c: KafkaConsumer) => consumerOffsetControl(c));
  const stats: ProcessorStats = { transactions: 0, aborted: 0, committedRecords: 0, routed: {}, deadLettered: 0 };
  /** Inputs an earlier attempt proved cannot be written (e.g. too large): dead-lettered on the retry. */
  const poison = new Map<string, { code: string; message: string; attempts: number }>();
  let failures = 0;
  const position = (m: Message) => `${m.topic}\u0000${m.partition}\u0000${m.offset}`;

  const isFatal = (err: unknown) => rdFlags(err).isFatal === true || (err instanceof WikiMonitorError && err.details?.['fatal'] === true) || !producer.isLive();

  /** Retries a transactional call while librdkafka says the same call may be retried. */
  async function txnCall(fn: () => Promise<void>, signal: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const f = rdFlags(err);
        if (!f.isRetriable || f.isTxnRequiresAbort || f.isFatal || attempt >= 4) throw err;
        await sleep(backoffDelay(attempt, { initialMs: 100, maxMs: 2_000 }), signal);
      }
    }
  }

  async function abort(signal: AbortSignal): Promise<void> {
    try {
      await txnCall(() => producer.abortTransaction(), signal);
    } catch (err) {
      throw new WikiMonitorError('KAFKA_TRANSACTION_FAILED', `abort failed: ${describeError(err).message}`, { cause: err, details: { fatal: true } });
    }
  }

  async function rewind(batch: Message[], consumer: KafkaConsumer): Promise<TopicPartitionOffset[]> {
    const first = new Map<string, TopicPartitionOffset>();
    for (const m of batch) {
      const k = `${m.topic}\u0000${m.partition}`;
      if (!first.has(k)) first.set(k, { topic: m.topic, partition: m.partition, offset: m.offset });
    }
    const ctl = control(consumer);
    const committed = await ctl.committed([...first.values()].map(({ topic, partition }) => ({ topic, partition })));
    const targets: TopicPartitionOffset[] = [];
    for (const tp of first.values()) {
      const c = committed.find((x) => x.topic === tp.topic && x.partition === tp.partition);
      // No commit yet: the batch started where auto.offset.reset put the group.
      const offset = c && c.offset >= 0 ? c.offset : tp.offset;
      await ctl.seek({ topic: tp.topic, partition: tp.partition, offset });
      targets.push({ topic: tp.topic, partition: tp.partition, offset });
    }
    return targets;
  }

  async function handle(batch: Message[], ctx: BatchContext): Promise<void> {
    metrics.consumed.inc(batch.length);
    const started = performance.now();
    const outcomes: RouteOutcome[] = [];
    let open = false;
    try {
      await producer.beginTransaction();
      open = true;
      const sends: Array<Promise<Delivery>> = [];
      const origin: Array<{ m: Message; route: string }> = [];
      for (const m of batch) {
        const o = await router.route(m, poison.get(position(m)));
        outcomes.push(o);
        for (const { route, ...record } of o.records) {
          const delivery = producer.send(record);
          // Handled now: if a later record fails the batch, the abort purges this one and rejects it.
          delivery.catch(() => undefined);
          sends.push(delivery);
          origin.push({ m, route });
        }
      }
      const settled = await Promise.allSettled(sends);
      const rejected = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ err: s.reason as unknown, ...(origin[i] as { m: Message; route: string }) }] : []));
      if (rejected.length) {
        for (const r of rejected) {
          if (!RECORD_SPECIFIC_CODES.has(rdFlags(r.err).code ?? 0)) continue;
          if (r.route === 'dlq') {
            throw new WikiMonitorError('KAFKA_PRODUCE_FAILED', `dead letter for ${position(r.m)} cannot be written: ${describeError(r.err).message}`, { cause: r.err, details: { fatal: true } });
          }
          poison.set(position(r.m), { ...describeError(r.err), attempts: 2 });
        }
        throw (rejected[0] as { err: unknown }).err;
      }
      await txnCall(() => producer.sendOffsetsToTransaction(nextOffsets(batch), ctx.consumer), ctx.signal);
      await txnCall(() => producer.commitTransaction(), ctx.signal);
      open = false;
    } catch (err) {
      for (const o of outcomes) o.span?.setStatus({ code: SpanStatusCode.ERROR, message: 'transaction aborted' });
      await recover(err, batch, ctx, open);
      return;
    } finally {
      for (const o of outcomes) o.span?.end();
    }

    failures = 0;
    stats.transactions++;
    stats.committedRecords += batch.length;
    metrics.committed.inc();
    metrics.transactionSeconds.observe((performance.now() - started) / 1000);
    metrics.batchRecords.observe(batch.length);
    let newest = 0;
    for (const [i, o] of outcomes.entries()) {
      const m = batch[i] as Message;
      poison.delete(position(m));
      newest = Math.max(newest, m.timestamp ?? 0);
      if (o.kind === 'dead-letter') {
        stats.deadLettered++;
        metrics.deadLettered.inc({ code: o.code });
        continue;
      }
      if (!o.records.length) metrics.unrouted.inc();
      for (const r of o.records) {
        stats.routed[r.route] = (stats.routed[r.route] ?? 0) + 1;
        metrics.routed.inc({ route: r.route });
      }
    }
    if (newest) metrics.lastEventTime.set(newest / 1000);
  }

  async function recover(err: unknown, batch: Message[], ctx: BatchContext, open: boolean): Promise<void> {
    const e = describeError(err);
    if (isFatal(err)) {
      log.error({ code: e.code, err: e.message }, 'fatal transaction error (fenced by another instance with this transactional.id, or the producer failed); stopping');
      throw err;
    }
    failures++;
    stats.aborted++;
    metrics.aborted.inc({ code: e.code });
    if (open) await abort(ctx.signal);
    const positions = await rewind(batch, ctx.consumer).catch((rewindErr: unknown) => {
      throw new WikiMonitorError('KAFKA_CONSUME_FAILED', `rewind after abort failed: ${describeError(rewindErr).message}`, { cause: rewindErr, details: { fatal: true } });
    });
    const delay = backoffDelay(failures - 1, deps.retry);
    log.warn({ code: e.code, err: e.message, records: batch.length, rewoundTo: positions, attempt: failures, retryInMs: delay }, 'transaction aborted; rewound to the committed offsets');
    await sleep(delay, ctx.signal);
  }

  return { handle, stats: () => ({ ...stats, routed: { ...stats.routed } }) };
}
