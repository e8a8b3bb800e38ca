import type { SseEvent } from '@wikimonitor/domain';
import { type BatchProducer, DLQ_HEADERS, DLQ_TRUNCATION_HEADERS, type OutgoingRecord } from '@wikimonitor/kafka';
import { WikiMonitorError, createLogger } from '@wikimonitor/service-kit';
import { loadRecordedEvents, waitFor } from '@wikimonitor/testing';
import { Registry } from 'prom-client';
import type { CheckpointStore } from './checkpoint';
import { createIngestor } from './ingestor';
import { createProducerMetrics } from './metrics';
import type { PositionRecord } from './position';

/** Real recorded events, with ids in EventStreams' timestamp form (Kafka timestamp = meta.dt, + 1 ms). */
const events: SseEvent[] = loadRecordedEvents()
  .slice(0, 40)
  .map((e) => ({
    type: 'message',
    data: e.text,
    hasId: true,
    lastEventId: JSON.stringify([{ topic: 'eqiad.mediawiki.recentchange', partition: 0, timestamp: Date.parse(e.json.meta.dt) + 1 }, { topic: 'codfw.mediawiki.recentchange', partition: 0, offset: -1 }]),
  }));

/** librdkafka-like flags on the cause of a coded error. */
const kafkaError = (flags: Record<string, unknown>, retriable = false) => new WikiMonitorError('KAFKA_TRANSACTION_FAILED', 'injected', { cause: flags, retriable });

/** An in-memory transactional producer: committed transactions, and failures to inject. */
function fakeProducer() {
  const committed: OutgoingRecord[][] = [];
  let open: OutgoingRecord[] | undefined;
  const calls: string[] = [];
  const inject = { commit: [] as Error[], send: undefined as ((r: OutgoingRecord) => Error | undefined) | undefined, live: true };
  const producer: BatchProducer = {
    async beginTransaction() {
      calls.push('begin');
      open = [];
    },
    async send(r) {
      const err = inject.send?.(r);
      if (err) throw err;
      if (open) open.push(r);
      else committed.push([r]);
      return { topic: r.topic, partition: 0, offset: 0 };
    },
    async commitTransaction() {
      calls.push('commit');
      const err = inject.commit.shift();
      if (err) throw err;
      committed.push(open ?? []);
      open = undefined;
    },
    async abortTransaction() {
      calls.push('abort');
      open = undefined;
    },
    isLive: () => inject.live,
  };
  return { producer, committed, calls, inject };
}

function setup(overrides: { exactlyOnce?: boolean; maxRecordBytes?: number; maxIds?: number; logLines?: string[] } = {}) {
  const fake = fakeProducer();
  const registry = new Registry();
  const metrics = createProducerMetrics(registry);
  const fatal: unknown[] = [];
  const checkpoints: CheckpointStore = {
    record: (p) => ({ topic: 'cp', key: 'k', value: Buffer.from(JSON.stringify(p)), partition: 0 }),
    load: async () => undefined,
  };
  const ingestor = createIngestor({
    producer: fake.producer,
    checkpoints,
    encode: (c) => Buffer.from(JSON.stringify(c)),
    log: overrides.logLines ? createLogger('test', 'warn', { write: (line: string) => void overrides.logLines?.push(line) }) : createLogger('test', 'silent'),
    metrics,
    topic: 'raw',
    dlqTopic: 'dlq',
    sourceUrl: 'http://source/stream',
    exactlyOnce: overrides.exactlyOnce ?? true,
    marginMs: 60_000,
    maxIds: overrides.maxIds ?? 10_000,
    maxInFlight: 1_000,
    commitIntervalMs: 10,
    commitMaxEvents: 1_000,
    maxRecordBytes: overrides.maxRecordBytes ?? 900_000,
    tracer: null,
    onFatal: (err) => fatal.push(err),
  });
  ingestor.restore(undefined);
  ingestor.start();
  const metric = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values.reduce((s, v) => s + v.value, 0) ?? 0;
  const all = () => fake.committed.flat();
  const positions = () => all().filter((r) => r.topic === 'cp').map((r) => JSON.parse(String(r.value)) as PositionRecord);
  return { ...fake, ingestor, fatal, metric, all, positions };
}

describe('ingestor', () => {
  it('at the POSITION_MAX_IDS bound every event drops a key: all counted, but one warning per interval, not one per event', async () => {
    const logLines: string[] = [];
    const t = setup({ maxIds: 5, logLines });
    const now = Date.now();
    for (const ev of events.slice(0, 40)) t.ingestor.handle(ev, now);
    await t.ingestor.close();
    expect(await t.metric('producer_position_ids_dropped_total')).toBeGreaterThanOrEqual(30);
    const warnings = logLines.filter((l) => l.includes('POSITION_MAX_IDS reached'));
    expect(warnings).toHaveLength(1);
  });

  it('ingestor should commit the raw records and one position record in each transaction', async () => {
    const t = setup();
    for (const ev of events.slice(0, 20)) t.ingestor.handle(ev, Date.now());
    await t.ingestor.close();
    const raw = t.all().filter((r) => r.topic === 'raw');
    expect(raw).toHaveLength(20);
    for (const tx of t.committed) expect(tx.filter((r) => r.topic === 'cp')).toHaveLength(1);
    const last = t.positions().pop() as PositionRecord;
    expect(last.events).toBe(20);
    expect(JSON.stringify(last.position)).toBe((events[19] as SseEvent).lastEventId);
    expect(t.positions().map((p) => p.seq)).toEqual(t.positions().map((_, i) => i + 1));
    expect(await t.metric('producer_events_published_total')).toBe(20);
  });

  it('ingestor should drop a re-delivered event whose meta.id was written and count it', async () => {
    const t = setup();
    for (const ev of events.slice(0, 10)) t.ingestor.handle(ev, Date.now());
    for (const ev of events.slice(5, 12)) t.ingestor.handle(ev, Date.now()); // the overlap of a resume
    await t.ingestor.close();
    expect(t.all().filter((r) => r.topic === 'raw')).toHaveLength(12);
    expect(await t.metric('producer_overlap_dropped_total')).toBe(5);
  });

  it('ingestor should dead-letter two malformed messages with the same bytes but different ids, and drop a re-delivery of one', async () => {
    const t = setup();
    const [a, b, c] = events as [SseEvent, SseEvent, SseEvent];
    const bad = (after: SseEvent, data: string): SseEvent => ({ ...after, data });
    for (const ev of [a, bad(a, '{not json'), b, bad(b, '{not json'), c, bad(c, '{"foo":1}')]) t.ingestor.handle(ev, Date.now());
    t.ingestor.handle(bad(b, '{not json'), Date.now()); // the overlap of a resume re-delivers the second one
    await t.ingestor.close();
    const dead = t.all().filter((r) => r.topic === 'dlq');
    expect(dead.map((d) => String(d.value))).toEqual(['{not json', '{not json', '{"foo":1}']);
    expect(await t.metric('producer_overlap_dropped_total')).toBe(1);
  });

  it('ingestor should dead-letter an oversized record before the send, cut to fit with its size and digest', async () => {
    const t = setup({ maxRecordBytes: 4_096 });
    const ev = events[0] as SseEvent;
    const big = JSON.parse(ev.data) as { comment: string };
    big.comment = 'x'.repeat(600_000);
    t.ingestor.handle({ ...ev, data: JSON.stringify(big) }, Date.now());
    t.ingestor.handle(events[1] as SseEvent, Date.now());
    await t.ingestor.close();
    expect(t.all().filter((r) => r.topic === 'raw')).toHaveLength(1);
    const [dl] = t.all().filter((r) => r.topic === 'dlq');
    const h = (dl as OutgoingRecord).headers ?? {};
    expect(h[DLQ_HEADERS.errorCode]).toBe('RECORD_TOO_LARGE');
    expect(h[DLQ_HEADERS.sourceTopic]).toBe('http://source/stream');
    expect(h[DLQ_HEADERS.app]).toBe('producer');
    expect(h[DLQ_TRUNCATION_HEADERS.targetTopic]).toBe('raw');
    expect(h[DLQ_TRUNCATION_HEADERS.truncated]).toBe('true');
    expect(Number(h[DLQ_TRUNCATION_HEADERS.originalSize])).toBeGreaterThan(600_000);
    expect(h['sse.id']).toBe(ev.lastEventId);
    expect((dl as OutgoingRecord).value?.length).toBeLessThan(300_000);
    expect(await t.metric('producer_events_dead_lettered_total')).toBe(1);
  });

  it('ingestor should abort a failed transaction and retry it with the same records, committing them once', async () => {
    const t = setup();
    t.inject.commit.push(kafkaError({ isTxnRequiresAbort: true }));
    for (const ev of events.slice(0, 8)) t.ingestor.handle(ev, Date.now());
    await waitFor(() => t.all().some((r) => r.topic === 'cp'), 'a committed position', 10_000, 10);
    await t.ingestor.close();
    expect(t.calls.slice(0, 4)).toEqual(['begin', 'commit', 'abort', 'begin']);
    const keys = t.all().filter((r) => r.topic === 'raw').map((r) => String(r.value));
    expect(keys).toHaveLength(8);
    expect(new Set(keys).size).toBe(8);
  });

  it('ingestor should replace a record the broker refuses by its dead letter on the retry', async () => {
    const t = setup();
    const target = JSON.parse((events[2] as SseEvent).data).meta.id as string;
    t.inject.send = (r) => (r.topic === 'raw' && String(r.value).includes(target) ? kafkaError({ code: 10 }) : undefined);
    for (const ev of events.slice(0, 5)) t.ingestor.handle(ev, Date.now());
    await t.ingestor.close();
    expect(t.all().filter((r) => r.topic === 'raw')).toHaveLength(4);
    const dl = t.all().filter((r) => r.topic === 'dlq');
    expect(dl.map((r) => r.headers?.[DLQ_HEADERS.errorCode])).toEqual(['RECORD_REFUSED']);
    expect(String(dl[0]?.value)).toContain(target);
  });

  it('ingestor should report a fatal (fenced) producer and stop committing', async () => {
    const t = setup();
    t.inject.commit.push(kafkaError({ isFatal: true }));
    for (const ev of events.slice(0, 3)) t.ingestor.handle(ev, Date.now());
    await waitFor(() => t.fatal.length > 0, 'fatal reported', 10_000, 10);
    await t.ingestor.close();
    expect(t.committed).toEqual([]);
    expect(t.calls).not.toContain('abort');
  });

  it('ingestor with exactly once off should send without transactions, the position after the records', async () => {
    const t = setup({ exactlyOnce: false });
    for (const ev of events.slice(0, 6)) t.ingestor.handle(ev, Date.now());
    await t.ingestor.close();
    expect(t.calls).toEqual([]);
    const topics = t.all().map((r) => r.topic);
    expect(topics.filter((x) => x === 'raw')).toHaveLength(6);
    expect(topics.lastIndexOf('raw')).toBeLessThan(topics.lastIndexOf('cp'));
  });
});
