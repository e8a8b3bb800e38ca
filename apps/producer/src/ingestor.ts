import { createHash } from 'node:crypto';
import type { WikiChange } from '@wikimonitor/contracts';
import { type NormalizeResult, type SseEvent, changeKey, normalizeSseEvent } from '@wikimonitor/domain';
import { type BatchProducer, type OutgoingRecord, type WriteBatchResult, deadLetterFrom, writeBatch } from '@wikimonitor/kafka';
import { type Logger, WikiMonitorError, backoffDelay, describeError, sleep } from '@wikimonitor/service-kit';
import { type RootSampling, type Span, type Tracer, presampledRoot, startPublishSpan, traceHeadersFor } from '@wikimonitor/telemetry';
import { deadLetterPayload } from './bad-input';
import type { CheckpointStore } from './checkpoint';
import type { ProducerMetrics } from './metrics';
import { PositionTracker, type StoredCheckpoint, isLegacyCheckpoint } from './position';

export interface IngestorDeps {
  producer: BatchProducer;
  checkpoints: CheckpointStore;
  encode: (change: WikiChange) => Buffer;
  log: Logger;
  metrics: ProducerMetrics;
  topic: string;
  dlqTopic: string;
  /** The stream URL: the dead letters' source and the position's url. */
  sourceUrl: string;
  /** Records and position in one transaction (false: the same batches without transactions, at-least-once). */
  exactlyOnce: boolean;
  marginMs: number;
  maxIds: number;
  maxInFlight: number;
  commitIntervalMs: number;
  commitMaxEvents: number;
  maxRecordBytes: number;
  /**
   * Null when tracing is off: no span work at all on the hot path. With tracing on, `sampling` picks
   * the records whose trace starts here; the others cost one random draw and nothing else.
   */
  tracer: Tracer | null;
  sampling?: RootSampling;
  /** The producer cannot go on (fenced by another instance, failed): the service must stop. */
  onFatal: (err: unknown) => void;
}

interface Item {
  record: OutgoingRecord;
  kind: 'raw' | 'dead-letter';
  /** The event, to dead-letter it when the broker refuses its record. */
  event?: SseEvent;
  code?: string;
}

interface Batch {
  items: Item[];
  /** Accepted events (written, dead-lettered, dropped canaries). */
  events: number;
  received: number[];
  spans: Span[];
  canaries: number;
}

/** The POSITION_MAX_IDS warning is logged at most this often (the counter has every drop). */
const DROP_LOG_INTERVAL_MS = 10_000;

const newBatch = (): Batch => ({ items: [], events: 0, received: [], spans: [], canaries: 0 });

/** The dedup key, and the upstream partition, of an event that did not normalize (rare path: parsed again). */
/**
 * The overlap-filter key of an event that did not normalize: its meta.id when it has one, else a
 * digest of its SSE id and bytes. The id is part of it: two malformed messages with the same bytes
 * (a broken producer upstream repeats itself) are two events, while a re-delivery in a resume
 * overlap is the same upstream message and comes with the same id (EventStreams' ids are the
 * upstream timestamps, which a seek reproduces).
 */
function identityOfInvalid(data: string, sseId: string): { key: string; topic?: string; partition?: number } {
  try {
    const meta = (JSON.parse(data) as { meta?: { id?: unknown; topic?: unknown; partition?: unknown } } | null)?.meta;
    if (meta && typeof meta.id === 'string' && meta.id) {
      return { key: meta.id, topic: typeof meta.topic === 'string' ? meta.topic : undefined, partition: typeof meta.partition === 'number' ? meta.partition : undefined };
    }
  } catch {
    // not JSON: keyed by its id and bytes
  }
  return { key: `sha256:${createHash('sha256').update(sseId).update('\n').update(data).digest('hex')}` };
}

function identity(n: NormalizeResult, ev: Pick<SseEvent, 'data' | 'lastEventId'>): { key: string; topic?: string | null; partition?: number | null } {
  if (n.kind === 'change') return { key: n.change.id, topic: n.change.source?.topic, partition: n.change.source?.partition };
  // A canary without meta.id is keyed like an invalid event.
  if (n.kind === 'canary') return n.id ? { ...identityOfInvalid(ev.data, ev.lastEventId), key: n.id } : identityOfInvalid(ev.data, ev.lastEventId);
  return identityOfInvalid(ev.data, ev.lastEventId);
}

const recordBytes = (r: OutgoingRecord) =>
  (r.value?.length ?? 0) + (r.key ? Buffer.byteLength(r.key) : 0) + Object.entries(r.headers ?? {}).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

/**
 * Turns SSE events into batches; each batch is written as one transaction holding its raw records,
 * its dead letters and one position record (KIP-618-like). Receiving goes on while a batch commits
 * (bounded by MAX_IN_FLIGHT). A failed batch is retried with the same records; a fatal error stops
 * the service. Re-delivered events of a resume overlap are dropped by meta.id (see position.ts).
 */
export function createIngestor(deps: IngestorDeps) {
  const { log, metrics } = deps;
  let tracker = new PositionTracker({ marginMs: deps.marginMs, maxIds: deps.maxIds, url: deps.sourceUrl });
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
  let droppedSinceLog = 0;
  let lastDropLog = 0;

  const setInFlight = (n: number) => {
    metrics.live.inFlight = inFlight = n;
    if (inFlight < deps.maxInFlight && waiters.length) {
      const w = waiters;
      waiters = [];
      w.forEach((f) => f());
    }
  };

  function deadLetter(ev: SseEvent, error: { code: string; message: string }): OutgoingRecord {
    // The bytes as received (invalid UTF-8 kept), an oversized event's prefix with its size and digest.
    const { value, headers } = deadLetterPayload(ev);
    return deadLetterFrom(
      { topic: deps.sourceUrl, offset: ev.lastEventId || undefined, key: null, value, headers: Object.entries(headers).map(([k, v]) => ({ [k]: v })) },
      error,
      { topic: deps.dlqTopic, app: 'producer', targetTopic: deps.topic },
    );
  }

  function addDeadLetter(ev: SseEvent, error: { code: string; message: string }): void {
    current.items.push({ record: deadLetter(ev, error), kind: 'dead-letter', code: error.code });
  }

  function add(ev: SseEvent, n: NormalizeResult): void {
    if (n.kind === 'canary') {
      current.canaries++;
      return;
    }
    if (n.kind === 'invalid') return addDeadLetter(ev, { code: n.code, message: n.reason });
    const change = n.change;
    for (const field of n.fixed) metrics.fieldsFixed.inc({ field });
    metrics.live.lastEventMs = change.event_time;
    let value: Buffer;
    try {
      value = deps.encode(change);
    } catch (err) {
      return addDeadLetter(ev, describeError(err));
    }
    const span = deps.tracer && (deps.sampling?.pick() ?? true) ? startPublishSpan(deps.tracer, { topic: deps.topic, messageId: change.id }, deps.sampling ? presampledRoot() : undefined) : undefined;
    // The record timestamp stays the produce time: event times of replayed or skewed events would
    // fall outside retention or the broker's timestamp bounds (the event time is in the record).
    const record: OutgoingRecord = { topic: deps.topic, key: changeKey(change), value, headers: traceHeadersFor(span) };
    const size = recordBytes(record);
    if (size > deps.maxRecordBytes) {
      span?.end();
      return addDeadLetter(ev, { code: 'RECORD_TOO_LARGE', message: `encoded record of ${size} bytes exceeds MAX_RECORD_BYTES (${deps.maxRecordBytes})` });
    }
    if (span) current.spans.push(span);
    current.items.push({ record, kind: 'raw', event: ev });
  }

  const isCommitted = async (s: number) => {
    const cp = await deps.checkpoints.load();
    return cp !== undefined && !isLegacyCheckpoint(cp) && cp.seq >= s;
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
    const position = deps.checkpoints.record(tracker.snapshot(s, new Date()));
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
        const item = batch.items[index] as Item;
        if (item.kind === 'dead-letter' || !item.event) throw new WikiMonitorError('KAFKA_TRANSACTION_FAILED', `a dead letter was refused: ${describeError(r.err).message}`, { cause: r.err });
        const code = 'RECORD_REFUSED';
        batch.items[index] = { record: deadLetter(item.event, { code, message: describeError(r.err).message }), kind: 'dead-letter', code };
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
      if (item.kind === 'raw') published++;
      else {
        metrics.deadLettered.inc({ code: item.code ?? 'UNKNOWN' });
        log.warn({ code: item.code, sseId: item.record.headers?.['sse.id'] }, 'event dead-lettered');
      }
    }
    metrics.published.inc(published);
    if (batch.canaries) metrics.canaries.inc(batch.canaries);
    for (const t of batch.received) metrics.publishLatency.observe((now - t) / 1000);
    for (const span of batch.spans) span.end();
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
      metrics.keptIds.set(tracker.keptCount());
      setInFlight(inFlight - batch.events);
    }
  }

  return {
    /** Starts from a stored checkpoint (undefined: none). */
    restore(cp: StoredCheckpoint | undefined): void {
      tracker = new PositionTracker({ marginMs: deps.marginMs, maxIds: deps.maxIds, url: deps.sourceUrl }, cp);
      seq = cp && !isLegacyCheckpoint(cp) ? cp.seq : 0;
      metrics.keptIds.set(tracker.keptCount());
      if (tracker.legacy) log.warn('checkpoint in the version-1 format: resuming with the margin but without the overlap filter (the first overlap may be written twice)');
    },
    start(): void {
      loop ??= run().catch((err: unknown) => {
        deps.onFatal(err);
      });
    },
    /** Accepts one event; never throws. */
    handle(ev: SseEvent, receivedTime: number): void {
      metrics.received.inc();
      metrics.live.lastReceiveMs = receivedTime;
      if (ev.lastEventId) metrics.live.lastEventId = ev.lastEventId;
      if (ev.type === 'error') {
        metrics.streamErrors.inc();
        log.warn({ data: ev.data.slice(0, 500) }, 'stream sent an error event');
        return;
      }
      const n = normalizeSseEvent(ev, { receivedTime });
      const id = identity(n, ev);
      if (tracker.isWritten(id.key)) {
        metrics.overlapDropped.inc();
        return;
      }
      const futureBefore = tracker.futureIdsIgnored;
      const dropped = tracker.accept({ sseId: ev.lastEventId, key: id.key, topic: id.topic, partition: id.partition, receivedTime });
      if (tracker.futureIdsIgnored > futureBefore) {
        metrics.futureIds.inc();
        log.warn({ sseId: ev.lastEventId }, 'event id dated beyond receipt + clock skew: not taken as the resume position');
      }
      if (dropped) {
        metrics.idsDropped.inc(dropped);
        // At the bound every event drops one key: one line per interval, not one per event.
        droppedSinceLog += dropped;
        if (receivedTime - lastDropLog >= DROP_LOG_INTERVAL_MS) {
          log.warn({ dropped: droppedSinceLog, bound: deps.maxIds, sinceMs: lastDropLog ? receivedTime - lastDropLog : undefined }, 'POSITION_MAX_IDS reached: oldest kept ids dropped (a resume overlap reaching them would write those events again)');
          droppedSinceLog = 0;
          lastDropLog = receivedTime;
        }
      }
      current.events++;
      current.received.push(receivedTime);
      add(ev, n);
      setInFlight(inFlight + 1);
      if (current.events >= deps.commitMaxEvents) wake?.();
    },
    /** Resolves when there is room for more events (bounded memory under a slow or absent broker). */
    waitForCapacity(): Promise<void> {
      if (inFlight < deps.maxInFlight || stopping) return Promise.resolve();
      metrics.backpressure.inc();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    /** Last-Event-ID for the next connection: the position with the resume margin. */
    resumeId: (): string | undefined => tracker.resumeId(),
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

export type Ingestor = ReturnType<typeof createIngestor>;
