import { randomBytes } from 'node:crypto';
import type { WikiAggregate, WikiChange } from '@wikimonitor/contracts';
import { WikiAggregateSchema, WikiChangeSchema } from '@wikimonitor/contracts';
import { DLQ_TRUNCATION_HEADERS, type KafkaConnection, type TransactionalProducer, createAdmin, createProducer, ensureTopics, headerString, headersFromMessage, parseDeadLetter } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { WikiMonitorError, createLogger } from '@wikimonitor/service-kit';
import { type TestEnv, getTestEnv, readTopic, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { type AggregatorApp, createApp } from './app';
import { loadConfig } from './config';
import { type AggregatorTestTopics, topicEnv } from '../testing/support';

// The two cases where the aggregator's old transaction code and the kernel loop differ: an output the
// broker refuses in the middle of a batch, and a commit reported as failed although it happened.

const log = createLogger('test', 'silent');
const WINDOW_MS = 10_000;
const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);
const WIKIS = ['aawiki', 'bbwiki', 'ccwiki'];

function change(wiki: string, i: number, eventTime: number, title = `Page ${i % 4}`): WikiChange {
  return {
    id: `${wiki}-${i}`, event_time: eventTime, received_time: 0, wiki, domain: `${wiki}.example`, stream: null, type: 'edit', namespace: 0, title, title_url: null,
    user: `U${i % 3}`, bot: false, minor: null, patrolled: null, length_old: 10, length_new: 12, revision_old: null, revision_new: null, comment: '', rc_id: null,
    server_name: null, request_id: null, schema_uri: null, log_id: null, log_type: null, log_action: null, log_action_comment: null, log_params: null,
    source: { topic: null, partition: null, offset: null, sse_id: null },
  };
}

/** `windows` windows per wiki, 4 changes each, in event-time order. */
function changesFor(windows: number, fromWindow = 0, tag = ''): WikiChange[] {
  const out: WikiChange[] = [];
  for (let w = fromWindow; w < fromWindow + windows; w++)
    for (let j = 0; j < 4; j++) for (const wiki of WIKIS) out.push({ ...change(wiki, w * 10 + j, T0 + w * WINDOW_MS + j * 2_000), id: `${wiki}-${w}-${j}${tag}` });
  return out;
}

/** Per wiki and window start: how many changes, what the aggregates must say. */
function expectedTotals(changes: WikiChange[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of changes) {
    const k = `${c.wiki}@${Math.floor(c.event_time / WINDOW_MS) * WINDOW_MS}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

type Topics = AggregatorTestTopics;

async function setup(env: TestEnv, name: string, aggregatesMaxBytes?: number): Promise<{ conn: KafkaConnection; topics: Topics }> {
  const conn = testConnection(env, uniqueName('agg-loop-test'));
  const n = uniqueName(`it.agg.loop.${name}`);
  const topics: Topics = { input: `${n}.in`, aggregates: `${n}.aggregates`, alerts: `${n}.alerts`, late: `${n}.late`, dlq: `${n}.dlq`, changelog: `${n}.changelog`, group: `${n}.group` };
  const admin = await createAdmin(conn);
  try {
    await ensureTopics(admin, [
      { topic: topics.input, partitions: 1, replicationFactor: 1, configs: { 'retention.ms': '-1' } },
      ...(aggregatesMaxBytes ? [{ topic: topics.aggregates, partitions: 1, replicationFactor: 1, configs: { 'max.message.bytes': String(aggregatesMaxBytes) } }] : []),
    ]);
  } finally {
    await admin.disconnect();
  }
  return { conn, topics };
}

async function produce(env: TestEnv, conn: KafkaConnection, topic: string, changes: WikiChange[]): Promise<void> {
  const codec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: env.registryUrl }), topic, schema: WikiChangeSchema });
  await codec.init();
  const producer = createProducer({ connection: conn, log });
  await producer.start();
  try {
    // One at a time: the input's order is the event-time order.
    for (const c of changes) await producer.send({ topic, key: c.wiki, value: codec.encode(c), timestamp: c.event_time, headers: { 'test.id': c.id } });
  } finally {
    await producer.close();
  }
}

async function readAggregates(env: TestEnv, conn: KafkaConnection, topic: string): Promise<WikiAggregate[]> {
  const codec = createAvroCodec<WikiAggregate>({ client: createRegistryClient({ url: env.registryUrl }), topic, schema: WikiAggregateSchema });
  return Promise.all((await readTopic(conn, topic)).map((m) => codec.decode(m.value as Buffer)));
}

const keyOf = (a: WikiAggregate) => `${a.wiki}@${Number(a.window_start)}`;

function start(env: TestEnv, t: Topics, extra: Record<string, string> = {}, wrapProducer?: (p: TransactionalProducer) => TransactionalProducer): AggregatorApp {
  const config = loadConfig({
    ...topicEnv(env, t),
    LOG_LEVEL: 'silent',
    WINDOW_SIZE_MS: String(WINDOW_MS),
    ALLOWED_LATENESS_MS: '0',
    IDLE_CLOSE_MS: '1500',
    TOP_PAGES: '5',
    TOPIC_PARTITIONS: '1',
    ...extra,
  });
  return createApp({ config, log, handleSignals: false, wrapProducer });
}

async function committedOffset(app: AggregatorApp): Promise<number | null | undefined> {
  return app.loop.snapshot().get(0)?.next;
}

describe('aggregator on the kernel loop (real broker)', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await getTestEnv();
  });

  it('an aggregate too large for its topic in the middle of a batch should be dead-lettered (size + digest) while the rest of the batch commits and the service goes on', async () => {
    const { conn, topics } = await setup(env, 'big', 2048);
    // bbwiki's window 2 gets a page title no aggregate of 2 KiB can hold (random: lz4 cannot shrink it).
    const before = changesFor(5);
    const hugeTitle = randomBytes(3000).toString('base64');
    before.splice(before.findIndex((c) => c.wiki === 'bbwiki' && c.event_time >= T0 + 2 * WINDOW_MS) + 1, 0, change('bbwiki', 999, T0 + 2 * WINDOW_MS + 500, hugeTitle));
    await produce(env, conn, topics.input, before);
    const app = start(env, topics, { BATCH_SIZE: '500' });
    try {
      const want = expectedTotals(before);
      const bigKey = `bbwiki@${T0 + 2 * WINDOW_MS}`;
      await waitFor(async () => (await readAggregates(env, conn, topics.aggregates)).length >= want.size - 1, `${want.size - 1} aggregates`, 120_000, 1_000);
      const dlq = await readTopic(conn, topics.dlq);
      expect(dlq).toHaveLength(1);
      const dl = parseDeadLetter(dlq[0]?.key, dlq[0]?.value ?? null, headersFromMessage(dlq[0]?.headers));
      expect(dl).toMatchObject({ sourceTopic: topics.input, sourcePartition: 0, app: 'aggregator', error: { code: 'KAFKA_PRODUCE_FAILED' } });
      expect(dl.key?.toString()).toBe('bbwiki');
      expect(headerString(dl.headers ?? {}, DLQ_TRUNCATION_HEADERS.targetTopic)).toBe(topics.aggregates);
      expect(Number(headerString(dl.headers ?? {}, DLQ_TRUNCATION_HEADERS.originalSize) ?? dl.value?.length)).toBeGreaterThan(2048);
      // Whatever fits is kept: here the whole aggregate (well under the dead-letter bound), decodable.
      const codec = createAvroCodec<WikiAggregate>({ client: createRegistryClient({ url: env.registryUrl }), topic: topics.aggregates, schema: WikiAggregateSchema });
      const lost = await codec.decode(dl.value as Buffer);
      expect(keyOf(lost)).toBe(bigKey);
      expect(lost.top_pages.some((p) => p.title === hugeTitle)).toBe(true);

      const got = await readAggregates(env, conn, topics.aggregates);
      expect(new Map(got.map((a) => [keyOf(a), a.total]))).toEqual(new Map([...want].filter(([k]) => k !== bigKey)));
      expect(app.loop.stats().isolated).toBe(1);
      expect(await committedOffset(app)).toBe(before.length);

      // Still running: more input is aggregated.
      const after = changesFor(2, 6, '-after');
      await produce(env, conn, topics.input, after);
      const wantAfter = expectedTotals(after);
      await waitFor(async () => (await readAggregates(env, conn, topics.aggregates)).length >= want.size - 1 + wantAfter.size, 'the aggregates of later input', 120_000, 1_000);
      expect(app.service.isLive()).toBe(true);
      expect(await committedOffset(app)).toBe(before.length + after.length);
    } finally {
      expect(await app.service.close()).toBe(0);
    }
  }, 240_000);

  it('a commit reported as failed after the broker committed should emit no window twice and leave state and offsets right', async () => {
    const { conn, topics } = await setup(env, 'ambiguous');
    const first = changesFor(6);
    await produce(env, conn, topics.input, first);
    let commits = 0;
    let injected = 0;
    const app = start(env, topics, { BATCH_SIZE: '7', IDLE_CLOSE_MS: '4000' }, (producer) => ({
      ...producer,
      async commitTransaction() {
        await producer.commitTransaction();
        // Every other commit "times out" after the broker committed it (the first three times).
        if (++commits % 2 === 1 && injected < 3) {
          injected++;
          throw new WikiMonitorError('KAFKA_TRANSACTION_FAILED', 'injected: commit outcome unknown (timed out)', { cause: { code: -185 } });
        }
      },
    }));
    try {
      const want = expectedTotals(first);
      await waitFor(async () => (await readAggregates(env, conn, topics.aggregates)).length >= want.size, `${want.size} aggregates`, 120_000, 1_000);
      await waitFor(() => app.loop.snapshot().get(0)?.next === first.length, 'the last input committed', 60_000, 200);
      expect(injected).toBe(3);
      expect(app.loop.stats()).toMatchObject({ ambiguousCommits: 3, aborted: 0 });
      const got = await readAggregates(env, conn, topics.aggregates);
      // Each window exactly once, with its full count: neither re-emitted nor half-counted.
      expect(got.map(keyOf).sort()).toEqual([...want.keys()].sort());
      expect(new Map(got.map((a) => [keyOf(a), a.total]))).toEqual(want);
      expect(await readTopic(conn, topics.alerts)).toEqual([]);

      // The state went on from the committed batches: a restart restores it and later windows are right.
      expect(await app.service.close()).toBe(0);
      const later = changesFor(2, 7, '-later');
      await produce(env, conn, topics.input, later);
      const again = start(env, topics, { BATCH_SIZE: '7', IDLE_CLOSE_MS: '4000' });
      try {
        const wantAll = new Map([...want, ...expectedTotals(later)]);
        await waitFor(async () => (await readAggregates(env, conn, topics.aggregates)).length >= wantAll.size, `${wantAll.size} aggregates`, 120_000, 1_000);
        const all = await readAggregates(env, conn, topics.aggregates);
        expect(new Map(all.map((a) => [keyOf(a), a.total]))).toEqual(wantAll);
        expect(all).toHaveLength(wantAll.size);
      } finally {
        expect(await again.service.close()).toBe(0);
      }
    } finally {
      await app.service.close();
    }
  }, 240_000);
});
