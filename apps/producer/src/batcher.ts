import { type BatchProducer, type OutgoingRecord, type WriteBatchResult, writeBatch } from '@wikimonitor/kafka';
import { type Logger, WikiMonitorError, backoffDelay, describeError, sleep } from '@wikimonitor/service-kit';
import { type RootSampling, type Span, type Tracer, presampledRoot, startPublishSpan } from '@wikimonitor/telemetry';
import type { ProducerMetrics } from './metrics';

/** One record of a batch: a raw record (that can still become a dead letter) or a dead letter. */
export type BatchItem =
  | { kind: 'raw'; record: OutgoingRecord; span?: Span; deadLetter: (error: { code: string; message: string }) => OutgoingRecord }
  | { kind: 'dead-letter'; record: OutgoingRecord; code: string };

export interface BatcherDeps {
  producer: BatchProducer;
  /** The position record of a batch (sent in its transaction) and the seq of the newest committed one. */
  position: {
    record(seq: number, at: Date): OutgoingRecord;
    committedSeq(): Promise<number | undefined>;
  };
  log: Logger;
  metrics: ProducerMetrics;
  /** Records and position in one transaction (false: the same batches without transactions, at-least-once). */
  exactlyOnce: boolean;
  maxInFlight: number;
  commitIntervalMs: number;
  commitMaxEvents: number;
  /** After each committed batch (e.g. to update the kept-ids gauge). */
  afterCommit?: () => void;
  /** The producer cannot go on (fenced by another instance, failed): the service must stop. */
  onFatal: (err: unknown) => void;
}

interface Batch {
  items: BatchItem[];
  /** Accepted events (written, dead-lettered, dropped canaries). */
  events: number;
  received: number[];
  canaries: number;
}

const newBatch = (): Batch => ({ items: [], events: 0, received: [], canaries: 0 });

/**
 * The producer's write side, shared by its sources (EventStreams, Jetstream): accepted events are
 * cut into batches; each batch is written as one transaction holding its raw records, its dead
 * letters and one position record (KIP-618-like). Receiving goes on while a batch commits (bounded
 * by MAX_IN_FLIGHT). A failed batch is retried with the same records; a record the broker refuses
 * becomes a dead letter; a fatal error stops the service. The position record is built when the
 * batch is cut, so it covers exactly the events of the batches up to it.
 */
export function createBatcher(deps: BatcherDeps) {
  const { log, metrics } = deps;
  let seq = 0;
  let current = newBatch();
  let committing: Batch | undefined;
  let inFlight = 0;
  let completed = 0;
  let lastCut = Date.now();
  let stopping = false;
  let waiters: Array<() => void> = [];
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;
  const abort = new AbortController();

  const setInFlight = (n: number) => {
    metrics.live.inFlight = inFlight = n;
    if (inFlight < deps.maxInFlight && waiters.length) {
      const w = waiters;
      waiters = [];
      w.forEach((f) => f());
    }
  };

  const isCommitted = async (s: number) => {
    const committedSeq = await deps.position.committedSeq();
    return committedSeq !== undefined && committedSeq >= s;
  };

  async function write(batch: Batch, position: OutgoingRecord, s: number): Promise<WriteBatchResult & { positionRefused?: boolean }> {
    const records = batch.items.map((i) => i.record);
    if (deps.exactlyOnce) {
      const r = await writeBatch({ producer: deps.producer, records: [...records, position], transactional: true, isCommitted: () => isCommitted(s), log, signal: abort.signal });
      return r.ok ? r : { ...r, positionRefused: r.refused.includes(records.length), refused: r.refused.filter((i) => i < records.length) };
    }
    // At-least-once: the position only after every record of the batch is acknowledged.
    const r = await writeBatch({ producer: deps.producer, records, transactional: false, log });
    if (!r.ok) return r;
    const p = await writeBatch({ producer: deps.producer, records: [position], transactional: false, log });
    return p.ok ? p : { ...p, positionRefused: p.refused.length > 0, refused: [] };
  }

  /** Writes one batch until it commits; throws when the producer is unusable (or on shutdown, after a few attempts). */
  async function commit(batch: Batch, s: number): Promise<void> {
    const position = deps.position.record(s, new Date());
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      const r = await write(batch, position, s);
      if (r.ok) {
        metrics.commitSeconds.observe((performance.now() - started) / 1000);
        metrics.transactions.inc({ outcome: r.ambiguous ? 'committed_ambiguous' : 'committed' });
        committed(batch);
        return;
      }
      metrics.transactions.inc({ outcome: 'aborted' });
      metrics.failed.inc({ code: describeError(r.err).code });
      if (r.fatal) throw r.err;
      if (r.positionRefused) throw new WikiMonitorError('KAFKA_TRANSACTION_FAILED', `the position record was refused: ${describeError(r.err).message}`, { cause: r.err });
      for (const index of r.refused) {
        const item = batch.items[index] as BatchItem;
        if (item.kind === 'dead-letter') throw new WikiMonitorError('KAFKA_TRANSACTION_FAILED', `a dead letter was refused: ${describeError(r.err).message}`, { cause: r.err });
        const code = 'RECORD_REFUSED';
        item.span?.end();
        batch.items[index] = { record: item.deadLetter({ code, message: describeError(r.err).message }), kind: 'dead-letter', code };
      }
      if (stopping && attempt >= 3) throw new WikiMonitorError('SHUTTING_DOWN', `batch not written at shutdown (position not committed: a restart resumes before it): ${describeError(r.err).message}`, { cause: r.err });
      const delay = r.refused.length ? 0 : backoffDelay(attempt, { initialMs: 200, maxMs: 5_000 });
      if (attempt % 10 === 0) log.warn({ err: describeError(r.err).message, attempt: attempt + 1, retryInMs: delay, events: batch.events }, 'batch not written; retrying it with the same records');
      await sleep(delay, abort.signal);
    }
  }

  function committed(batch: Batch): void {
    const now = Date.now();
    let published = 0;
    for (const item of batch.items) {
      if (item.kind === 'raw') {
        published++;
        item.span?.end();
      } else {
        metrics.deadLettered.inc({ code: item.code });
        log.warn({ code: item.code, key: item.record.key?.toString() ?? null, sseId: item.record.headers?.['sse.id'] }, 'event dead-lettered');
      }
    }
    metrics.published.inc(published);
    if (batch.canaries) metrics.canaries.inc(batch.canaries);
    for (const t of batch.received) metrics.publishLatency.observe((now - t) / 1000);
    completed += batch.events;
    metrics.checkpointed.set(completed);
  }

  async function run(): Promise<void> {
    for (;;) {
      const due = lastCut + deps.commitIntervalMs - Date.now();
      if (!current.events && stopping) return;
      if (!current.events || (due > 0 && current.events < deps.commitMaxEvents && !stopping)) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, current.events ? due : deps.commitIntervalMs);
        });
        wake = undefined;
        continue;
      }
      const batch = current;
      current = newBatch();
      lastCut = Date.now();
      committing = batch;
      await commit(batch, ++seq);
      committing = undefined;
      deps.afterCommit?.();
      setInFlight(inFlight - batch.events);
    }
  }

  return {
    /** Continues the transaction numbering of a restored checkpoint. */
    setSeq(s: number): void {
      seq = s;
    },
    start(): void {
      loop ??= run().catch((err: unknown) => {
        deps.onFatal(err);
      });
    },
    /** Adds one accepted event: its record (none for a dropped canary). */
    add(item: BatchItem | { kind: 'canary' }, receivedTime: number): void {
      current.events++;
      current.received.push(receivedTime);
      if (item.kind === 'canary') current.canaries++;
      else current.items.push(item);
      setInFlight(inFlight + 1);
      if (current.events >= deps.commitMaxEvents) wake?.();
    },
    /** Resolves when there is room for more events (bounded memory under a slow or absent broker). */
    waitForCapacity(): Promise<void> {
      if (inFlight < deps.maxInFlight || stopping) return Promise.resolve();
      metrics.backpressure.inc();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    /** Commits what was accepted (a few quick attempts), then ends the loop. */
    async close(): Promise<void> {
      stopping = true;
      abort.abort();
      const w = waiters;
      waiters = [];
      w.forEach((f) => f());
      wake?.();
      await loop;
    },
    completed: () => completed,
    inFlight: () => inFlight,
    committing: () => committing?.events ?? 0,
  };
}

export type Batcher = ReturnType<typeof createBatcher>;

/** What a source's ingestor passes through to its batcher unchanged. */
export type BatcherSettings = Omit<BatcherDeps, 'position' | 'afterCommit'>;

/** Fields an ingestor adds to its batcher settings, whichever the source. */
export interface IngestorCommonDeps extends BatcherSettings {
  topic: string;
  dlqTopic: string;
  /** The stream URL: the dead letters' source and the position's url. */
  sourceUrl: string;
  /** Bound of the ids kept with the position for the overlap filter. */
  maxIds: number;
  maxRecordBytes: number;
  /** Null when tracing is off: no span work at all on the hot path. */
  tracer: Tracer | null;
  /** With tracing on: picks the records whose trace starts here (the others cost one random draw, nothing else). */
  sampling?: RootSampling;
}

/**
 * The publish span of a record whose trace starts here, or undefined: tracing off, or the record not
 * picked by the root sampling (decided before any span work, so unsampled records create no span,
 * ids or attributes).
 */
export function startRecordSpan(deps: Pick<IngestorCommonDeps, 'tracer' | 'sampling' | 'topic'>, messageId: string): Span | undefined {
  if (!deps.tracer || (deps.sampling && !deps.sampling.pick())) return undefined;
  return startPublishSpan(deps.tracer, { topic: deps.topic, messageId }, deps.sampling ? presampledRoot() : undefined);
}
