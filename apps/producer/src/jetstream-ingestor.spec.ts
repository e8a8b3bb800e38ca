import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type BatchProducer, type OutgoingRecord } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';
import { REPO_ROOT, waitFor } from '@wikimonitor/testing';
import { Registry } from 'prom-client';
import type { CheckpointStore } from './checkpoint';
import { type JetstreamPositionRecord, createJetstreamIngestor, keyOf } from './jetstream-ingestor';
import { subscribeUrl } from './jetstream-client';
import { createProducerMetrics } from './metrics';

const DIR = join(REPO_ROOT, 'data/recordings/bluesky-jetstream');
/** Every recorded Jetstream line, in file order (time_us out of order within files). */
const lines = readdirSync(DIR)
  .filter((f) => f.endsWith('.jsonl'))
  .sort()
  .flatMap((f) => readFileSync(join(DIR, f), 'utf8').split('\n').filter(Boolean));

/** An in-memory transactional producer keeping committed transactions. */
function fakeProducer() {
  const committed: OutgoingRecord[][] = [];
  let open: OutgoingRecord[] | undefined;
  const producer: BatchProducer = {
    async beginTransaction() {
      open = [];
    },
    async send(r) {
      open?.push(r);
      return { topic: r.topic, partition: 0, offset: 0 };
    },
    async commitTransaction() {
      committed.push(open ?? []);
      open = undefined;
    },
    async abortTransaction() {
      open = undefined;
    },
    isLive: () => true,
  };
  return { producer, committed };
}

function setup(from?: JetstreamPositionRecord) {
  const fake = fakeProducer();
  let last: JetstreamPositionRecord | undefined = from;
  const checkpoints: CheckpointStore<JetstreamPositionRecord, JetstreamPositionRecord> = {
    record: (p) => {
      last = p;
      return { topic: 'cp', key: 'k', value: Buffer.from(JSON.stringify(p)), partition: 0 };
    },
    load: async () => last,
  };
  const ingestor = createJetstreamIngestor({
    producer: fake.producer,
    checkpoints,
    encode: (e) => Buffer.from(JSON.stringify(e)),
    log: createLogger('test', 'silent'),
    metrics: createProducerMetrics(new Registry()),
    topic: 'bsky',
    dlqTopic: 'dlq',
    sourceUrl: 'ws://source/subscribe',
    exactlyOnce: true,
    marginUs: 100_000_000_000_000, // ~3 years: the recordings span 2024-2026, every event stays in the window
    maxIds: 10_000,
    maxInFlight: 1_000,
    commitIntervalMs: 10,
    commitMaxEvents: 50,
    maxRecordBytes: 900_000,
    maxFutureSkewMs: 5 * 60_000,
    tracer: null,
    onFatal: (err) => {
      throw err;
    },
  });
  ingestor.restore(from);
  ingestor.start();
  const records = () => fake.committed.flat();
  return { ingestor, records, position: () => last };
}

describe('jetstream ingestor', () => {
  it('jetstream ingestor should write every recorded event keyed by did, the same event in both formats once, and a malformed message to the DLQ', async () => {
    const { ingestor, records, position } = setup();
    const now = Date.now();
    for (const l of lines) ingestor.handle(Buffer.from(l), now);
    ingestor.handle(Buffer.from('{not json'), now);
    await waitFor(async () => ingestor.inFlight() === 0, 'all committed', 10_000, 10);
    await ingestor.close();
    const raw = records().filter((r) => r.topic === 'bsky');
    const dlq = records().filter((r) => r.topic === 'dlq');
    expect(raw).toHaveLength(lines.length - 4);
    expect(raw.every((r) => r.key === (JSON.parse(r.value?.toString() ?? '{}') as { did: string }).did)).toBe(true);
    expect(dlq).toHaveLength(1);
    expect(dlq[0]?.value?.toString()).toBe('{not json');
    const p = position() as JetstreamPositionRecord;
    expect(p.maxTimeUs).toBe(Math.max(...lines.map((l) => (JSON.parse(l) as { time_us: number }).time_us)));
    expect(p.ids.reduce((n, g) => n + g.length - 1, 0)).toBe(lines.length - 4 + 1);
  });

  it('jetstream ingestor resumed from its position should drop the re-delivered overlap and write only new events', async () => {
    const first = setup();
    const half = Math.floor(lines.length / 2);
    const now = Date.now();
    for (const l of lines.slice(0, half)) first.ingestor.handle(Buffer.from(l), now);
    await first.ingestor.close();
    const written = first.records().filter((r) => r.topic === 'bsky').length;
    const second = setup(first.position());
    second.ingestor.connected(second.ingestor.cursor());
    for (const l of lines) second.ingestor.handle(Buffer.from(l), now); // everything again: the overlap and the rest
    await second.ingestor.close();
    const again = second.records().filter((r) => r.topic === 'bsky').length;
    expect(written + again).toBe(lines.length - 4);
  });

  it('keyOf should give 16 base64url characters, and subscribeUrl the filters, compress and cursor', () => {
    expect(keyOf('at://did:plc:a/app.bsky.feed.post/k#r')).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const url = new URL(subscribeUrl({ url: 'ws://h/subscribe', wantedCollections: ['app.bsky.feed.post', 'app.bsky.graph.*'], wantedDids: ['did:plc:a'], zstdDictionary: Buffer.from('d') }, 42));
    expect(url.searchParams.getAll('wantedCollections')).toEqual(['app.bsky.feed.post', 'app.bsky.graph.*']);
    expect(url.searchParams.get('wantedDids')).toBe('did:plc:a');
    expect(url.searchParams.get('compress')).toBe('true');
    expect(url.searchParams.get('cursor')).toBe('42');
    expect(new URL(subscribeUrl({ url: 'ws://h/subscribe', wantedCollections: [], wantedDids: [] }, undefined)).search).toBe('');
  });
});
