import { createHash } from 'node:crypto';
import type { BlueskyEvent } from '@wikimonitor/contracts';
import { CursorTracker, type CursorPositionState, normalizeJetstreamEvent } from '@wikimonitor/domain';
import { type OutgoingRecord, deadLetterFrom } from '@wikimonitor/kafka';
import { describeError } from '@wikimonitor/service-kit';
import { traceHeadersFor } from '@wikimonitor/telemetry';
import { type BatchItem, type IngestorCommonDeps, createBatcher, startRecordSpan } from './batcher';
import type { CheckpointStore } from './checkpoint';
import { recordBytes } from './ingestor';

/** The Jetstream position committed with the records it covers (see README, "Jetstream: resume by cursor"). */
export interface JetstreamPositionRecord extends CursorPositionState {
  v: 1;
  source: 'jetstream';
  seq: number;
  url: string;
  at: string;
  events: number;
  marginUs: number;
  /** How the kept keys are formed from the event ids. */
  keys: typeof KEY_DIGEST;
}

/** Kept keys: the first 96 bits of sha256(id), base64url (16 characters instead of ~100). */
export const KEY_DIGEST = 'sha256/96';
export const keyOf = (id: string): string => createHash('sha256').update(id).digest('base64url').slice(0, 16);

export interface JetstreamIngestorDeps extends IngestorCommonDeps {
  checkpoints: CheckpointStore<JetstreamPositionRecord, JetstreamPositionRecord>;
  encode: (event: BlueskyEvent) => Buffer;
  /** The resume rewind of the cursor (µs). */
  marginUs: number;
  /** A time_us later than receipt + this is EVENT_TIME_FUTURE (never the position). */
  maxFutureSkewMs: number;
}

/**
 * Jetstream messages to BlueskyEvent records (key: did) and dead letters, written with their
 * position by the shared batcher. Re-delivered events of a resume overlap are dropped by the
 * CursorTracker rule (libs/domain/src/bluesky/resume.ts).
 */
export function createJetstreamIngestor(deps: JetstreamIngestorDeps) {
  const { log, metrics } = deps;
  const trackerOptions = { marginUs: deps.marginUs, maxIds: deps.maxIds };
  let tracker = new CursorTracker(trackerOptions);
  let events = 0;
  const batcher = createBatcher({
    ...deps,
    position: {
      record: (seq, at) => deps.checkpoints.record({ v: 1, source: 'jetstream', seq, url: deps.sourceUrl, at: at.toISOString(), events, marginUs: deps.marginUs, keys: KEY_DIGEST, ...tracker.snapshot() }),
      committedSeq: async () => (await deps.checkpoints.load())?.seq,
    },
    afterCommit: () => metrics.keptIds.set(tracker.keptCount()),
  });

  function deadLetter(raw: Buffer, did: string | null, timeUs: number | null, error: { code: string; message: string }): OutgoingRecord {
    return deadLetterFrom(
      { topic: deps.sourceUrl, offset: timeUs === null ? undefined : String(timeUs), key: did ? Buffer.from(did) : null, value: raw, headers: timeUs === null ? [] : [{ 'jetstream.time_us': String(timeUs) }] },
      error,
      { topic: deps.dlqTopic, app: 'producer', targetTopic: deps.topic },
    );
  }

  function itemOf(raw: Buffer, event: BlueskyEvent): BatchItem {
    const dl = (error: { code: string; message: string }): BatchItem => ({ kind: 'dead-letter', record: deadLetter(raw, event.did, event.time_us, error), code: error.code });
    let value: Buffer;
    try {
      value = deps.encode(event);
    } catch (err) {
      return dl(describeError(err));
    }
    const span = startRecordSpan(deps, event.id);
    const record: OutgoingRecord = { topic: deps.topic, key: event.did, value, headers: traceHeadersFor(span) };
    const size = recordBytes(record);
    if (size > deps.maxRecordBytes) {
      span?.end();
      return dl({ code: 'RECORD_TOO_LARGE', message: `encoded record of ${size} bytes exceeds MAX_RECORD_BYTES (${deps.maxRecordBytes})` });
    }
    return { kind: 'raw', record, span, deadLetter: (error) => deadLetter(raw, event.did, event.time_us, error) };
  }

  return {
    /** Starts from a stored checkpoint (undefined: none). */
    restore(cp: JetstreamPositionRecord | undefined): void {
      if (cp && cp.source !== 'jetstream') throw new Error(`checkpoint of source ${String(cp.source)} under a Jetstream key`);
      tracker = new CursorTracker(trackerOptions, cp);
      events = cp?.events ?? 0;
      batcher.setSeq(cp?.seq ?? 0);
      metrics.keptIds.set(tracker.keptCount());
      if (cp && cp.marginUs > deps.marginUs) log.warn({ was: cp.marginUs, now: deps.marginUs }, 'resume margin smaller than the one the checkpoint was written with: its kept ids still cover it');
    },
    start: () => batcher.start(),
    /** The cursor for the next connection (max time_us - margin). */
    cursor: (): number | undefined => tracker.cursor(),
    connected: (cursor: number | undefined): void => tracker.connected(cursor),
    /** Accepts one message; never throws. */
    handle(raw: Buffer, receivedTime: number): void {
      metrics.received.inc();
      metrics.live.lastReceiveMs = receivedTime;
      const n = normalizeJetstreamEvent(raw.toString('utf8'), { receivedTime, maxFutureSkewMs: deps.maxFutureSkewMs });
      const id = n.kind === 'event' ? n.event.id : (n.id ?? `sha256:${createHash('sha256').update(raw).digest('hex')}`);
      // A time_us in the future never becomes the position: a cursor beyond now would skip everything up to it.
      const timeUs = n.kind === 'event' ? n.event.time_us : n.code === 'EVENT_TIME_FUTURE' ? null : n.timeUs;
      const key = keyOf(id);
      const decision = tracker.decide(key, timeUs);
      if (decision !== 'new') {
        metrics.overlapDropped.inc();
        return;
      }
      const dropped = tracker.accept(key, timeUs);
      if (dropped) metrics.idsDropped.inc(dropped);
      events++;
      if (n.kind === 'event') {
        metrics.live.lastEventMs = n.event.event_time;
        batcher.add(itemOf(raw, n.event), receivedTime);
      } else batcher.add({ kind: 'dead-letter', record: deadLetter(raw, n.did, n.timeUs, { code: n.code, message: n.reason }), code: n.code }, receivedTime);
    },
    hasCapacity: () => batcher.inFlight() < deps.maxInFlight,
    waitForCapacity: () => batcher.waitForCapacity(),
    close: () => batcher.close(),
    completed: () => batcher.completed(),
    inFlight: () => batcher.inFlight(),
    maxTimeUs: () => tracker.maxTimeUs(),
  };
}

export type JetstreamIngestor = ReturnType<typeof createJetstreamIngestor>;
