import { jetstreamEventOrThrow } from '@wikimonitor/domain';
import type { BlueskyEvent, WikiAggregate, WikiAlert, WikiChange } from '@wikimonitor/contracts';
import { BlueskyEventSchema, WikiAggregateSchema, WikiAlertSchema, WikiChangeSchema } from '@wikimonitor/contracts';
import { type AggregatableChange, DEFAULT_SPIKE_CONFIG, blueskyAggregatable, blueskySubject, encodeWikiState, normalizeRecentChange, reduceChanges } from '@wikimonitor/domain';
import { type KafkaConnection, type Message, createAdmin, createProducer, ensureTopics, headersFromMessage, parseDeadLetter } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger } from '@wikimonitor/service-kit';
import { type ServiceProcess, type TestEnv, freePort, getTestEnv, loadRecordedEvents, produceBlueskyEvents, readTopic, recordedBlueskyEvents, startTsProcess, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { type AggregatorApp, createApp } from './app';
import { loadConfig } from './config';
import { type AggregatorTestTopics, summarizeWindow, topicEnv } from '../testing/support';
import { LATE_HEADERS } from './aggregate-step';

const log = createLogger('test', 'silent');
const MIN = 60_000;
// Replays use 10 s windows and no lateness: more windows open and close per run, and the real
// in-file disorder of the recordings then makes 12 events late (with 60 s / 30 s: none).
const REPLAY_WINDOW_MS = 10_000;
const REPLAY_LATENESS_MS = 0;

// ---------------------------------------------------------------------------------------------
// Input: the recorded events, files oldest first, each file in its recorded order (so the real
// in-file disorder of up to 5 s is kept), as WikiChange records keyed by wiki.
// ---------------------------------------------------------------------------------------------
function recordedChanges(): WikiChange[] {
  const recorded = loadRecordedEvents();
  const byFile = new Map<string, WikiChange[]>();
  for (const e of recorded) {
    const n = normalizeRecentChange(e.json, { receivedTime: Date.UTC(2026, 10, 21) });
    if (n.kind !== 'change') throw new Error(`recorded event ${e.json.meta.id} did not normalize`);
    const list = byFile.get(e.file) ?? [];
    list.push(n.change);
    byFile.set(e.file, list);
  }
  return [...byFile.values()].sort((a, b) => Math.min(...a.map((c) => c.event_time)) - Math.min(...b.map((c) => c.event_time))).flat();
}

// ---------------------------------------------------------------------------------------------
// The independent offline recount: a batch computation over the whole input, written without the
// aggregator's reducer. Lateness rule (README): per wiki, in log order, a change is late when its
// window ends at or before (newest earlier event time of that wiki - allowed lateness).
// ---------------------------------------------------------------------------------------------
interface Recount {
  aggregates: WikiAggregate[];
  lateIds: string[];
}

function recount(changes: ReadonlyArray<AggregatableChange & { id: string }>, sizeMs: number, latenessMs: number, topPages: number): Recount {
  const newest = new Map<string, number>();
  const lateIds: string[] = [];
  const groups = new Map<string, Array<AggregatableChange & { id: string }>>();
  for (const c of changes) {
    const start = Math.floor(c.event_time / sizeMs) * sizeMs;
    const seen = newest.get(c.wiki);
    if (seen !== undefined && start + sizeMs <= seen - latenessMs) {
      lateIds.push(c.id);
      continue;
    }
    newest.set(c.wiki, seen === undefined ? c.event_time : Math.max(seen, c.event_time));
    const key = `${c.wiki}\u0000${start}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const aggregates: WikiAggregate[] = [];
  for (const [key, list] of groups) {
    const [wiki, startText] = key.split('\u0000') as [string, string];
    const start = Number(startText);
    aggregates.push(summarizeWindow(wiki, start, sizeMs, list, topPages));
  }
  return { aggregates: sortAggregates(aggregates), lateIds: [...lateIds].sort() };
}

/** avsc decodes into record classes; compare plain data. */
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const sortAggregates = (list: WikiAggregate[]) => [...list].sort((a, b) => (a.wiki < b.wiki ? -1 : a.wiki > b.wiki ? 1 : a.window_start - b.window_start));

// ---------------------------------------------------------------------------------------------
// Per-test topics, producing the input, reading the outputs.
// ---------------------------------------------------------------------------------------------
type Topics = AggregatorTestTopics;

async function setup(env: TestEnv, prefix: string): Promise<{ conn: KafkaConnection; topics: Topics }> {
  const conn = testConnection(env, uniqueName('agg-test'));
  const n = uniqueName(`it.agg.${prefix}`);
  const topics: Topics = { input: `${n}.in`, aggregates: `${n}.aggregates`, alerts: `${n}.alerts`, late: `${n}.late`, dlq: `${n}.dlq`, changelog: `${n}.changelog`, group: `${n}.group` };
  const admin = await createAdmin(conn);
  try {
    // The records carry their event time (2018-2026, see produceChanges): under the default 7-day
    // retention the broker deletes them at its next retention check (every 5 minutes), and a test
    // whose input vanished midway waits for aggregates that can never come (failed 1 run in ~12).
    await ensureTopics(admin, [{ topic: topics.input, partitions: 6, replicationFactor: 1, configs: { 'retention.ms': '-1' } }]);
  } finally {
    await admin.disconnect();
  }
  return { conn, topics };
}

async function produceChanges(env: TestEnv, conn: KafkaConnection, topic: string, changes: WikiChange[], extra: Array<{ key: string; value: Buffer }> = []): Promise<void> {
  const codec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: env.registryUrl }), topic, schema: WikiChangeSchema });
  await codec.init();
  const producer = createProducer({ connection: conn, log });
  await producer.start();
  try {
    await Promise.all(changes.map((c) => producer.send({ topic, key: c.wiki, value: codec.encode(c), timestamp: c.event_time, headers: { 'test.id': c.id } })));
    await Promise.all(extra.map((r) => producer.send({ topic, key: r.key, value: r.value })));
  } finally {
    await producer.close();
  }
}

function appEnv(env: TestEnv, t: Topics, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...topicEnv(env, t),
    LOG_LEVEL: 'warn',
    WINDOW_SIZE_MS: String(REPLAY_WINDOW_MS),
    ALLOWED_LATENESS_MS: String(REPLAY_LATENESS_MS),
    IDLE_CLOSE_MS: '5000',
    TOP_PAGES: '5',
    BATCH_SIZE: '50',
    ...extra,
  };
}

async function readAggregates(env: TestEnv, conn: KafkaConnection, topic: string): Promise<WikiAggregate[]> {
  const codec = createAvroCodec<WikiAggregate>({ client: createRegistryClient({ url: env.registryUrl }), topic, schema: WikiAggregateSchema });
  const messages = await readTopic(conn, topic);
  const out: WikiAggregate[] = [];
  for (const m of messages) {
    const a = plain(await codec.decode(m.value as Buffer));
    expect(m.key?.toString()).toBe(a.wiki);
    out.push(a);
  }
  return sortAggregates(out);
}

async function readAlerts(env: TestEnv, conn: KafkaConnection, topic: string): Promise<WikiAlert[]> {
  const codec = createAvroCodec<WikiAlert>({ client: createRegistryClient({ url: env.registryUrl }), topic, schema: WikiAlertSchema });
  return Promise.all((await readTopic(conn, topic)).map(async (m: Message) => plain(await codec.decode(m.value as Buffer))));
}

async function readLateIds(conn: KafkaConnection, topic: string): Promise<string[]> {
  const messages = await readTopic(conn, topic);
  for (const m of messages) expect(headersFromMessage(m.headers)[LATE_HEADERS.watermark]).toBeDefined();
  return messages.map((m) => headersFromMessage(m.headers)['test.id']?.toString() ?? '?').sort();
}

/** Polls the aggregates topic until it holds at least `count` records (then the caller compares exactly). */
async function waitForAggregates(env: TestEnv, conn: KafkaConnection, topic: string, count: number, timeoutMs = 150_000): Promise<WikiAggregate[]> {
  let last: WikiAggregate[] = [];
  await waitFor(
    async () => {
      last = await readAggregates(env, conn, topic);
      return last.length >= count;
    },
    `${count} aggregates in ${topic}`,
    timeoutMs,
    1_000,
  );
  return last;
}

function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

async function appMetric(app: AggregatorApp, name: string): Promise<number> {
  return metric(await app.registry.metrics(), name);
}

async function processMetric(port: number, name: string): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
  return res?.ok ? metric(await res.text(), name) : undefined;
}

function startInProcess(env: TestEnv, t: Topics, extra: Record<string, string>): AggregatorApp {
  return createApp({ config: loadConfig(appEnv(env, t, extra)), log, handleSignals: false });
}

// ---------------------------------------------------------------------------------------------

describe('aggregator on the real broker', () => {
  let env: TestEnv;
  const changes = recordedChanges();
  const expected = recount(changes, REPLAY_WINDOW_MS, REPLAY_LATENESS_MS, 5);

  beforeAll(async () => {
    env = await getTestEnv();
  });

  it('the recount should see every recorded event and some late ones (so the late path is exercised)', () => {
    expect(changes).toHaveLength(4053);
    expect(expected.lateIds.length).toBeGreaterThan(0);
    expect(expected.aggregates.reduce((n, a) => n + a.total, 0) + expected.lateIds.length).toBe(4053);
  });

  it('replaying the recorded events should yield aggregates identical to the offline recount, late events on the late topic and bad records in the DLQ', async () => {
    const { conn, topics } = await setup(env, 'replay');
    const corrupt = [
      { key: 'enwiki', value: Buffer.from('not avro at all') },
      { key: 'dewiki', value: Buffer.from([0, 0x7f, 0xff, 0xff, 0x01, 2, 4, 6]) }, // unknown schema id
    ];
    await produceChanges(env, conn, topics.input, changes, corrupt);
    const app = startInProcess(env, topics, {});
    try {
      await waitFor(() => app.service.isReady(), 'aggregator ready');
      const base = `http://127.0.0.1:${app.port()}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const got = await waitForAggregates(env, conn, topics.aggregates, expected.aggregates.length);
      expect(got).toEqual(expected.aggregates);
      expect(await readLateIds(conn, topics.late)).toEqual(expected.lateIds);
      expect(await appMetric(app, 'aggregator_late_events_total')).toBe(expected.lateIds.length);
      expect(await appMetric(app, 'aggregator_records_consumed_total')).toBe(4053 + corrupt.length);
      const dlq = (await readTopic(conn, topics.dlq)).map((m) => parseDeadLetter(m.key, m.value ?? null, headersFromMessage(m.headers)));
      expect(dlq.map((d) => d.key?.toString()).sort()).toEqual(['dewiki', 'enwiki']);
      for (const d of dlq) expect(d).toMatchObject({ sourceTopic: topics.input, app: 'aggregator', attempts: 1 });
      expect(dlq.map((d) => d.value)).toEqual(expect.arrayContaining(corrupt.map((c) => c.value)));
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain('service="aggregator"');
    } finally {
      expect(await app.service.close()).toBe(0);
    }
  });

  it('a change dated 2099 should be dead-lettered without moving its wiki watermark, and a 2099 watermark in the changelog should not be trusted', async () => {
    const conn = testConnection(env, uniqueName('agg-test'));
    const n = uniqueName('it.agg.future');
    const topics: Topics = { input: `${n}.in`, aggregates: `${n}.aggregates`, alerts: `${n}.alerts`, late: `${n}.late`, dlq: `${n}.dlq`, changelog: `${n}.changelog`, group: `${n}.group` };
    const admin = await createAdmin(conn);
    try {
      // One input partition, so the wiki's changelog partition is known: 0.
      await ensureTopics(admin, [
        { topic: topics.input, partitions: 1, replicationFactor: 1 },
        { topic: topics.changelog, partitions: 1, replicationFactor: 1, configs: { 'cleanup.policy': 'compact' } },
      ]);
    } finally {
      await admin.disconnect();
    }

    const wiki = 'wikidatawiki';
    const real = changes.filter((c) => c.wiki === wiki && new Date(c.event_time).getUTCFullYear() === 2018).slice(0, 150);
    expect(real.length).toBe(150);
    const future: WikiChange = { ...(real[0] as WikiChange), id: `${n}-2099`, title: 'Future', event_time: Date.UTC(2099, 0, 1) };
    // The changelog of an aggregator that accepted such a change before the guard existed.
    const cfg = { sizeMs: REPLAY_WINDOW_MS, allowedLatenessMs: REPLAY_LATENESS_MS, topPages: 5, spike: DEFAULT_SPIKE_CONFIG, alertSource: 'aggregator' };
    const bad = reduceChanges(new Map(), [future], cfg, 0).states.get(wiki);
    const producer = createProducer({ connection: conn, log });
    await producer.start();
    await producer.send({ topic: topics.changelog, partition: 0, key: wiki, value: Buffer.from(encodeWikiState(bad as NonNullable<typeof bad>)) });
    await producer.close();

    // In the middle of the wiki's changes. Its record timestamp is the produce time: the broker refuses
    // a 2099 timestamp (message.timestamp.after.max.ms), as the producer's README explains.
    const codec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: env.registryUrl }), topic: topics.input, schema: WikiChangeSchema });
    await codec.init();
    const futureValue = codec.encode(future);
    await produceChanges(env, conn, topics.input, real.slice(0, 75));
    await produceChanges(env, conn, topics.input, [], [{ key: wiki, value: futureValue }]);
    await produceChanges(env, conn, topics.input, real.slice(75));
    const want = recount(real, REPLAY_WINDOW_MS, REPLAY_LATENESS_MS, 5);
    const app = startInProcess(env, topics, { TOPIC_PARTITIONS: '1' });
    try {
      const got = await waitForAggregates(env, conn, topics.aggregates, want.aggregates.length);
      expect(got).toEqual(want.aggregates);
      expect(await readLateIds(conn, topics.late)).toEqual(want.lateIds);
      const dlq = (await readTopic(conn, topics.dlq)).map((m) => parseDeadLetter(m.key, m.value ?? null, headersFromMessage(m.headers)));
      expect(dlq.map((d) => [d.key?.toString(), d.error.code, d.sourceOffset])).toEqual([[wiki, 'EVENT_TIME_FUTURE', 75]]);
      expect(dlq[0]?.value).toEqual(futureValue);
      expect(await appMetric(app, 'aggregator_state_distrusted_total')).toBe(1);
    } finally {
      expect(await app.service.close()).toBe(0);
    }
  });

  it('aggregates should still equal the recount after the aggregator is killed -9 mid-window (twice) and restarted', async () => {
    const { conn, topics } = await setup(env, 'kill');
    await produceChanges(env, conn, topics.input, changes);
    const runs: Array<{ consumed: number; openWindows: number; restored: number }> = [];
    // Same transactional id on every restart: the new process fences its dead predecessor; same
    // static group member id: it gets the partitions back without waiting for the session timeout.
    const start = async (): Promise<{ proc: ServiceProcess; port: number }> => {
      const port = await freePort();
      const proc = startTsProcess('aggregator', 'apps/aggregator/src/main.ts', appEnv(env, topics, { HTTP_PORT: String(port), TRANSACTIONAL_ID: `${topics.group}-tx`, GROUP_INSTANCE_ID: `${topics.group}-0`, BATCH_SIZE: '25', LOG_LEVEL: 'info' }));
      await proc.waitReady(`http://127.0.0.1:${port}/readyz`, 90_000);
      return { proc, port };
    };
    for (let kill = 0; kill < 2; kill++) {
      const { proc, port } = await start();
      let seen = { consumed: 0, openWindows: 0, restored: 0 };
      await waitFor(
        async () => {
          const consumed = (await processMetric(port, 'aggregator_records_consumed_total')) ?? 0;
          seen = { consumed, openWindows: (await processMetric(port, 'aggregator_open_windows')) ?? 0, restored: (await processMetric(port, 'aggregator_state_restored_wikis_total')) ?? 0 };
          return consumed >= 700;
        },
        'some records processed',
        90_000,
        50,
      ).catch((err: unknown) => {
        // What the process did instead: its counters and the tail of its log.
        throw new Error(`${(err as Error).message} (run ${kill + 1}, seen ${JSON.stringify(seen)}); aggregator log ${proc.logFile}, last lines:\n${proc.output().split('\n').slice(-40).join('\n')}`);
      });
      proc.kill('SIGKILL');
      await proc.exited();
      runs.push(seen);
    }
    const { proc, port } = await start();
    try {
      const got = await waitForAggregates(env, conn, topics.aggregates, expected.aggregates.length, 120_000).catch(async (err: unknown) => {
        // What the last process did instead: its counters and the tail of its log.
        const m = async (name: string) => (await processMetric(port, name)) ?? 'n/a';
        const figures = { consumed: await m('aggregator_records_consumed_total'), transactions: await m('aggregator_transactions_total'), openWindows: await m('aggregator_open_windows'), runs };
        throw new Error(`${(err as Error).message} (last run ${JSON.stringify(figures)}); aggregator log ${proc.logFile}, last lines:\n${proc.output().split('\n').slice(-40).join('\n')}`);
      });
      expect(got).toEqual(expected.aggregates);
      expect(await readLateIds(conn, topics.late)).toEqual(expected.lateIds);
      const consumedLast = (await processMetric(port, 'aggregator_records_consumed_total')) ?? -1;
      // Killed with windows open; the restarted processes resumed from committed offsets and restored state.
      expect(runs.every((r) => r.openWindows > 0)).toBe(true);
      expect(runs[1]?.restored).toBeGreaterThan(0);
      expect((await processMetric(port, 'aggregator_state_restored_wikis_total')) ?? 0).toBeGreaterThan(0);
      expect(consumedLast).toBeGreaterThan(0);
      expect(consumedLast).toBeLessThan(4053 - 700);
    } finally {
      proc.kill('SIGTERM');
      expect(await proc.exited()).toBe(0);
    }
    // Three starts (each up to 90 s to ready and 90 s to process) and the final wait: the waits above
    // fail with what the process did, before jest's own timeout could cut them short without it.
  }, 480_000);

  it('two instances sharing the partitions should hand over window state (join, then one shuts down with work in flight) and still match the recount', async () => {
    const { conn, topics } = await setup(env, 'two');
    await produceChanges(env, conn, topics.input, changes);
    const a = startInProcess(env, topics, { TRANSACTIONAL_ID: `${topics.group}-a`, BATCH_SIZE: '10', IDLE_CLOSE_MS: '8000' });
    let b: AggregatorApp | undefined;
    try {
      await waitFor(async () => (await appMetric(a, 'aggregator_records_consumed_total')) >= 400, 'instance a processing', 90_000, 20);
      b = startInProcess(env, topics, { TRANSACTIONAL_ID: `${topics.group}-b`, BATCH_SIZE: '10', IDLE_CLOSE_MS: '8000' });
      const bb = b;
      await waitFor(async () => (await appMetric(bb, 'aggregator_records_consumed_total')) > 0, 'instance b got partitions', 90_000, 20);
      const aConsumed = await appMetric(a, 'aggregator_records_consumed_total');
      expect(await a.service.close()).toBe(0); // graceful, with records still to process
      const got = await waitForAggregates(env, conn, topics.aggregates, expected.aggregates.length);
      expect(got).toEqual(expected.aggregates);
      expect(await readLateIds(conn, topics.late)).toEqual(expected.lateIds);
      expect(aConsumed).toBeLessThan(4053);
      expect(await appMetric(bb, 'aggregator_state_restored_wikis_total')).toBeGreaterThan(0);
      expect((await appMetric(a, 'aggregator_records_consumed_total')) + (await appMetric(bb, 'aggregator_records_consumed_total'))).toBe(4053);
    } finally {
      await a.service.close();
      if (b) expect(await b.service.close()).toBe(0);
    }
  });

  it('a burst of one wiki should raise exactly one spike alert, for that wiki, and none for the others', async () => {
    // Steady traffic made of the real 2026 slice (14 wikis) repeated every 10 s for 12 minutes, then
    // a burst of dewiki (its real events, cloned) in minute 8. Records are produced directly.
    const slice = changes.filter((c) => c.event_time >= Date.UTC(2026, 0, 1));
    const sliceStart = Math.min(...slice.map((c) => c.event_time));
    const t0 = Date.UTC(2026, 1, 26, 16, 0, 0);
    const input: WikiChange[] = [];
    for (let rep = 0; rep < 72; rep++) {
      for (const c of slice) input.push({ ...c, id: `${c.id}-r${rep}`, event_time: t0 + rep * 10_000 + (c.event_time - sliceStart) });
      if (rep >= 48 && rep < 51) {
        const de = slice.filter((c) => c.wiki === 'dewiki');
        for (let i = 0; i < 100; i++) {
          const c = de[i % de.length] as WikiChange;
          input.push({ ...c, id: `${c.id}-burst${rep}-${i}`, event_time: t0 + rep * 10_000 + 2_000 + i * 50 });
        }
      }
    }
    const { conn, topics } = await setup(env, 'burst');
    await produceChanges(env, conn, topics.input, input);
    const app = startInProcess(env, topics, { WINDOW_SIZE_MS: String(MIN), ALLOWED_LATENESS_MS: '1000', IDLE_CLOSE_MS: '3000', BATCH_SIZE: '500' });
    try {
      const want = recount(input, MIN, 1_000, 5);
      expect(want.lateIds).toHaveLength(0);
      const got = await waitForAggregates(env, conn, topics.aggregates, want.aggregates.length);
      expect(got).toEqual(want.aggregates);
      const alerts = await readAlerts(env, conn, topics.alerts);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ kind: 'spike', source: 'aggregator', subject: 'dewiki', window_start: t0 + 8 * MIN, window_end: t0 + 9 * MIN, observed: 324 });
      expect(alerts[0]?.score).toBeGreaterThan(4);
      expect(await appMetric(app, 'aggregator_alerts_total')).toBe(1);
    } finally {
      expect(await app.service.close()).toBe(0);
    }
  });
});

describe('aggregator STREAM=bluesky on the real broker', () => {
  // The real Jetstream recordings in file-name order, each file in its relay order (not time order):
  // the 2026-07 capture comes before the 2026-05 one, so that one's likes, posts and follows are
  // late (their subjects' watermarks have moved on), and the late path is exercised with real records.
  const events: BlueskyEvent[] = recordedBlueskyEvents(jetstreamEventOrThrow, 'recorded');
  // The same independent recount as for the wikis, over subjects (`<collection>:<operation>`, identity, account).
  const expected = recount(events.map(blueskyAggregatable), REPLAY_WINDOW_MS, REPLAY_LATENESS_MS, 5);

  it('replaying the recorded Bluesky events should yield per-subject windows identical to the offline recount, late events on the late topic', async () => {
    const env = await getTestEnv();
    const { conn, topics } = await setup(env, 'bsky');
    const inputCodec = createAvroCodec<BlueskyEvent>({ client: createRegistryClient({ url: env.registryUrl }), topic: topics.input, schema: BlueskyEventSchema });
    await inputCodec.init();
    // As the filter-router's bsky.events.all route writes them: keyed by subject.
    await produceBlueskyEvents({ connection: conn, codec: inputCodec, topic: topics.input, partitions: 6, events, log, key: blueskySubject });
    expect(expected.lateIds.length).toBeGreaterThan(0);
    expect(expected.aggregates.reduce((n, a) => n + a.total, 0) + expected.lateIds.length).toBe(events.length);
    const app = startInProcess(env, topics, { STREAM: 'bluesky' });
    try {
      const got = await waitForAggregates(env, conn, topics.aggregates, expected.aggregates.length);
      expect(got).toEqual(expected.aggregates);
      expect(new Set(got.map((a) => a.wiki))).toEqual(new Set(events.map(blueskySubject)));
      expect(got.find((a) => a.wiki === 'identity')).toBeDefined();
      const lateCodec = createAvroCodec<BlueskyEvent>({ client: createRegistryClient({ url: env.registryUrl }), topic: topics.late, schema: BlueskyEventSchema });
      const late = await Promise.all((await readTopic(conn, topics.late)).map(async (m) => (await lateCodec.decode(m.value as Buffer)).id));
      expect(late.sort()).toEqual(expected.lateIds);
      expect(await appMetric(app, 'aggregator_records_consumed_total')).toBe(events.length);
      expect(await readTopic(conn, topics.dlq)).toEqual([]);
    } finally {
      expect(await app.service.close()).toBe(0);
    }
  });
});
