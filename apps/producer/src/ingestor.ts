import type { WikiChange } from '@wikimonitor/contracts';
import { type SseEvent, changeKey, normalizeRecentChangeText } from '@wikimonitor/domain';
import { type KafkaProducer, type OutgoingRecord, deadLetterRecord } from '@wikimonitor/kafka';
import { type Logger, backoffDelay, describeError, isRetriable, sleep } from '@wikimonitor/service-kit';
import { type Span, type Tracer, SpanStatusCode, startPublishSpan, traceHeadersFor } from '@wikimonitor/telemetry';
import { AckTracker } from './ack-tracker';
import type { ProducerMetrics } from './metrics';

export interface IngestorDeps {
  producer: Pick<KafkaProducer, 'send' | 'produce'>;
  encode: (change: WikiChange) => Buffer;
  log: Logger;
  metrics: ProducerMetrics;
  topic: string;
  dlqTopic: string;
  /** The stream URL, recorded as the dead letter's source. */
  sourceUrl: string;
  maxInFlight: number;
  /** Null when tracing is off: no span work at all on the hot path. */
  tracer: Tracer | null;
}

/**
 * Turns SSE events into Kafka records. Every event ends as published, dead-lettered or dropped
 * (canary); none is lost: delivery failures are retried (retriable) or dead-lettered with the raw
 * bytes, and a dead letter that cannot be written is retried until it is. The ack tracker yields the
 * resume position that covers only finished events.
 */
export function createIngestor(deps: IngestorDeps) {
  const { log, metrics } = deps;
  const tracker = new AckTracker<string>();
  let inFlight = 0;
  let waiters: Array<() => void> = [];
  let drainWaiters: Array<() => void> = [];
  let stopping = false;

  const release = () => {
    metrics.live.inFlight = --inFlight;
    if (inFlight < deps.maxInFlight && waiters.length) {
      const w = waiters;
      waiters = [];
      w.forEach((f) => f());
    }
    if (inFlight === 0 && drainWaiters.length) {
      const w = drainWaiters;
      drainWaiters = [];
      w.forEach((f) => f());
    }
  };

  /** Sends until acknowledged; retriable failures back off and try again (bounded only by shutdown). */
  async function deliver(record: OutgoingRecord): Promise<'ok' | Error> {
    for (let attempt = 0; ; attempt++) {
      try {
        await deps.producer.send(record);
        return 'ok';
      } catch (err) {
        const { code } = describeError(err);
        metrics.failed.inc({ code });
        if (!isRetriable(err)) return err as Error;
        if (attempt % 10 === 0) log.warn({ attempt, err: (err as Error).message, topic: record.topic }, 'delivery failed, retrying');
        await sleep(backoffDelay(attempt, { initialMs: 100, maxMs: 5_000 }));
      }
    }
  }

  async function deadLetter(ev: SseEvent, error: { code: string; message: string }, attempts: number): Promise<void> {
    const record = deadLetterRecord(deps.dlqTopic, {
      sourceTopic: deps.sourceUrl,
      sourceOffset: ev.lastEventId || undefined,
      value: Buffer.from(ev.data, 'utf8'),
      headers: ev.lastEventId ? { 'sse.id': ev.lastEventId } : {},
      error,
      attempts,
      app: 'producer',
    });
    for (let attempt = 0; ; attempt++) {
      const r = await deliver(record);
      if (r === 'ok') break;
      log.error({ err: r.message, attempt }, 'dead letter not accepted, retrying');
      await sleep(backoffDelay(attempt, { initialMs: 500, maxMs: 10_000 }));
    }
    metrics.deadLettered.inc({ code: error.code });
    log.warn({ code: error.code, reason: error.message, sseId: ev.lastEventId }, 'event dead-lettered');
  }

  /**
   * One event, synchronously up to the produce call; the common case allocates no promise. Every
   * path ends in `finish` exactly once: published, dead-lettered, dropped (canary) or stream error.
   */
  function ingest(ev: SseEvent, receivedTime: number, finish: () => void): void {
    const later = (work: Promise<void>) => {
      work.catch((err: unknown) => log.error({ err: (err as Error).message }, 'unexpected ingest failure')).finally(finish);
    };
    if (ev.type === 'error') {
      metrics.streamErrors.inc();
      log.warn({ data: ev.data.slice(0, 500) }, 'stream sent an error event');
      return finish();
    }
    const n = normalizeRecentChangeText(ev.data, { receivedTime, sseId: ev.lastEventId || null });
    if (n.kind === 'canary') {
      metrics.canaries.inc();
      return finish();
    }
    if (n.kind === 'invalid') return later(deadLetter(ev, { code: n.code, message: n.reason }, 1));
    const change = n.change;
    metrics.live.lastEventMs = change.event_time;
    let value: Buffer;
    try {
      value = deps.encode(change);
    } catch (err) {
      return later(deadLetter(ev, describeError(err), 1));
    }
    const span = deps.tracer ? startPublishSpan(deps.tracer, { topic: deps.topic, messageId: change.id }) : undefined;
    // Unsampled records carry no trace headers: downstream follows the producer's decision.
    const headers = traceHeadersFor(span);
    // The record timestamp stays the produce time: event times of replayed or skewed events would
    // fall outside retention or the broker's timestamp bounds (the event time is in the record).
    const record: OutgoingRecord = { topic: deps.topic, key: changeKey(change), value, headers };
    deps.producer.produce(record, (err) => {
      if (!err) {
        published(receivedTime, span);
        return finish();
      }
      metrics.failed.inc({ code: err.code });
      later(recover(ev, record, err, receivedTime, span));
    });
  }

  function published(receivedTime: number, span: Span | undefined): void {
    metrics.published.inc();
    metrics.publishLatency.observe((Date.now() - receivedTime) / 1000);
    span?.end();
  }

  /** A failed first delivery: retry while retriable, else dead-letter the raw event. */
  async function recover(ev: SseEvent, record: OutgoingRecord, first: Error, receivedTime: number, span: Span | undefined): Promise<void> {
    const r = isRetriable(first) ? await deliver(record) : first;
    if (r === 'ok') return published(receivedTime, span);
    span?.setStatus({ code: SpanStatusCode.ERROR, message: r.message });
    span?.end();
    await deadLetter(ev, describeError(r), 1);
  }

  return {
    /** Accepts one event; never throws. */
    handle(ev: SseEvent, receivedTime: number): void {
      metrics.received.inc();
      metrics.live.lastReceiveMs = receivedTime;
      if (ev.lastEventId) metrics.live.lastEventId = ev.lastEventId;
      const seq = tracker.add(ev.lastEventId);
      metrics.live.inFlight = ++inFlight;
      ingest(ev, receivedTime, () => {
        tracker.complete(seq);
        release();
      });
    },
    /** Resolves when there is room for more events (bounded memory under a slow or absent broker). */
    waitForCapacity(): Promise<void> {
      if (inFlight < deps.maxInFlight || stopping) return Promise.resolve();
      metrics.backpressure.inc();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    /** Resolves when every accepted event is finished. */
    drain(): Promise<void> {
      return inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => drainWaiters.push(resolve));
    },
    stop(): void {
      stopping = true;
      const w = waiters;
      waiters = [];
      w.forEach((f) => f());
    },
    /** Resume position covering only finished events (undefined before the first one). */
    watermark: () => tracker.watermark(),
    completed: () => tracker.completedCount(),
    inFlight: () => inFlight,
  };
}

export type Ingestor = ReturnType<typeof createIngestor>;
