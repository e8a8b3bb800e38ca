import { createHash } from 'node:crypto';
import type { WikiChange } from '@wikimonitor/contracts';
import { type NormalizeResult, type SseEvent, changeKey, normalizeSseEvent } from '@wikimonitor/domain';
import { type OutgoingRecord, deadLetterFrom } from '@wikimonitor/kafka';
import { describeError } from '@wikimonitor/service-kit';
import { traceHeadersFor } from '@wikimonitor/telemetry';
import { type BatchItem, type IngestorCommonDeps, createBatcher, startRecordSpan } from './batcher';
import { deadLetterPayload } from './bad-input';
import type { CheckpointStore } from './checkpoint';
import { PositionTracker, type StoredCheckpoint, isLegacyCheckpoint } from './position';

export interface IngestorDeps extends IngestorCommonDeps {
  checkpoints: CheckpointStore;
  encode: (change: WikiChange) => Buffer;
  marginMs: number;
}

/** The POSITION_MAX_IDS warning is logged at most this often (the counter has every drop). */
const DROP_LOG_INTERVAL_MS = 10_000;

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

export const recordBytes = (r: OutgoingRecord) =>
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
  let droppedSinceLog = 0;
  let lastDropLog = 0;
  const batcher = createBatcher({
    ...deps,
    position: {
      record: (seq, at) => deps.checkpoints.record(tracker.snapshot(seq, at)),
      async committedSeq() {
        const cp = await deps.checkpoints.load();
        return cp !== undefined && !isLegacyCheckpoint(cp) ? cp.seq : undefined;
      },
    },
    afterCommit: () => metrics.keptIds.set(tracker.keptCount()),
  });

  function deadLetter(ev: SseEvent, error: { code: string; message: string }): OutgoingRecord {
    // The bytes as received (invalid UTF-8 kept), an oversized event's prefix with its size and digest.
    const { value, headers } = deadLetterPayload(ev);
    return deadLetterFrom(
      { topic: deps.sourceUrl, offset: ev.lastEventId || undefined, key: null, value, headers: Object.entries(headers).map(([k, v]) => ({ [k]: v })) },
      error,
      { topic: deps.dlqTopic, app: 'producer', targetTopic: deps.topic },
    );
  }

  const deadLetterItem = (ev: SseEvent, error: { code: string; message: string }): BatchItem => ({ kind: 'dead-letter', record: deadLetter(ev, error), code: error.code });

  function itemOf(ev: SseEvent, n: NormalizeResult): BatchItem | { kind: 'canary' } {
    if (n.kind === 'canary') return { kind: 'canary' };
    if (n.kind === 'invalid') return deadLetterItem(ev, { code: n.code, message: n.reason });
    const change = n.change;
    for (const field of n.fixed) metrics.fieldsFixed.inc({ field });
    metrics.live.lastEventMs = change.event_time;
    let value: Buffer;
    try {
      value = deps.encode(change);
    } catch (err) {
      return deadLetterItem(ev, describeError(err));
    }
    const span = startRecordSpan(deps, change.id);
    // The record timestamp stays the produce time: event times of replayed or skewed events would
    // fall outside retention or the broker's timestamp bounds (the event time is in the record).
    const record: OutgoingRecord = { topic: deps.topic, key: changeKey(change), value, headers: traceHeadersFor(span) };
    const size = recordBytes(record);
    if (size > deps.maxRecordBytes) {
      span?.end();
      return deadLetterItem(ev, { code: 'RECORD_TOO_LARGE', message: `encoded record of ${size} bytes exceeds MAX_RECORD_BYTES (${deps.maxRecordBytes})` });
    }
    return { kind: 'raw', record, span, deadLetter: (error) => deadLetter(ev, error) };
  }

  return {
    /** Starts from a stored checkpoint (undefined: none). */
    restore(cp: StoredCheckpoint | undefined): void {
      tracker = new PositionTracker({ marginMs: deps.marginMs, maxIds: deps.maxIds, url: deps.sourceUrl }, cp);
      batcher.setSeq(cp && !isLegacyCheckpoint(cp) ? cp.seq : 0);
      metrics.keptIds.set(tracker.keptCount());
      if (tracker.legacy) log.warn('checkpoint in the version-1 format: resuming with the margin but without the overlap filter (the first overlap may be written twice)');
    },
    start: () => batcher.start(),
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
      batcher.add(itemOf(ev, n), receivedTime);
    },
    waitForCapacity: () => batcher.waitForCapacity(),
    /** Last-Event-ID for the next connection: the position with the resume margin. */
    resumeId: (): string | undefined => tracker.resumeId(),
    close: () => batcher.close(),
    completed: () => batcher.completed(),
    inFlight: () => batcher.inFlight(),
    committing: () => batcher.committing(),
  };
}

export type Ingestor = ReturnType<typeof createIngestor>;
