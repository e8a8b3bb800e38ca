import type { WikiAggregate, WikiChange } from '@wikimonitor/contracts';
import { WikiAggregateSchema, WikiChangeSchema } from '@wikimonitor/contracts';
import { changeKey, normalizeRecentChange } from '@wikimonitor/domain';
import { type KafkaConnection, type Message, createAdmin, createProducer, ensureTopics, headersFromMessage } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger } from '@wikimonitor/service-kit';
import { type TestEnv, getTestEnv, loadRecordedEvents, readTopic, testConnection, uniqueName, waitFor, waitForStableTopics } from '@wikimonitor/testing';
import { LATE_HEADERS } from './aggregate-step';
import { type AggregatorApp, createApp } from './app';
import { loadConfig } from './config';
import { summarizeWindow, topicEnv } from '../testing/support';

// AGGREGATION_MODE=two-stage on the real broker: the recordings keyed by wiki:title over 6 partitions
// (the busiest wiki spread over all of them), two instances with a scale-out and a scale-in while
// the input is processed, and the result compared with the recount written from the rule
// (below, written without the domain's reducers, as e2e/src/recount.ts recountTwoStage) over what
// each input partition holds, in its order.

const log = createLogger('test', (process.env['TEST_LOG_LEVEL'] as 'warn' | undefined) ?? 'silent');
const WINDOW_MS = 10_000;
const LATENESS_MS = 0;

function recordedChanges(): WikiChange[] {
  const byFile = new Map<string, WikiChange[]>();
  const seen = new Set<string>();
  for (const e of loadRecordedEvents()) {
    const n = normalizeRecentChange(e.json, { receivedTime: Date.UTC(2026, 11, 7) });
    if (n.kind !== 'change' || seen.has(n.change.id)) continue;
    seen.add(n.change.id);
    byFile.set(e.file, [...(byFile.get(e.file) ?? []), n.change]);
  }
  return [...byFile.values()].sort((a, b) => Math.min(...a.map((c) => c.event_time)) - Math.min(...b.map((c) => c.event_time))).flat();
}

/**
 * Per partition, in log order: late when the window ends at or before (newest earlier event time in the
 * partition - lateness). A wiki's window sums its partitions' counted changes; it is closed once every
 * partition's (newest event time - lateness) reached its end.
 */
function recount(partitions: WikiChange[][]): { closed: WikiAggregate[]; lateIds: string[] } {
  const lateIds: string[] = [];
  const groups = new Map<string, WikiChange[]>();
  let complete = Infinity;
  for (const list of partitions) {
    let newest = -Infinity;
    for (const c of list) {
      const start = Math.floor(c.event_time / WINDOW_MS) * WINDOW_MS;
      if (start + WINDOW_MS <= newest - LATENESS_MS) {
        lateIds.push(c.id);
        continue;
      }
      newest = Math.max(newest, c.event_time);
      const key = `${c.wiki}|${start}`;
      groups.set(key, [...(groups.get(key) ?? []), c]);
    }
    complete = Math.min(complete, newest - LATENESS_MS);
  }
  const closed: WikiAggregate[] = [];
  for (const [key, list] of groups) {
    const wiki = key.slice(0, key.lastIndexOf('|'));
    const start = Number(key.slice(key.lastIndexOf('|') + 1));
    if (start + WINDOW_MS <= complete) closed.push(summarizeWindow(wiki, start, WINDOW_MS, list, 5));
  }
  return { closed, lateIds: lateIds.sort() };
}

const keyOf = (a: WikiAggregate) => `${a.wiki}@${a.window_start}`;

describe('aggregator, two stages, on the real broker', () => {
  let env: TestEnv;
  let conn: KafkaConnection;
  const apps: AggregatorApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.service.close(0).catch(() => undefined)));
  });

  it('two instances, scaled out and in while they work, emit every window the recount closes once, field by field, and the recount late set', async () => {
    env = await getTestEnv();
    conn = testConnection(env, uniqueName('agg2-test'));
    const n = uniqueName('it.agg2');
    const t = { input: `${n}.in`, aggregates: `${n}.aggregates`, alerts: `${n}.alerts`, late: `${n}.late`, dlq: `${n}.dlq`, changelog: `${n}.changelog`, partials: `${n}.partials`, mergeChangelog: `${n}.merge-changelog`, group: `${n}.group` };
    const admin = await createAdmin(conn);
    try {
      await ensureTopics(admin, [{ topic: t.input, partitions: 6, replicationFactor: 1, configs: { 'retention.ms': '-1' } }]);
    } finally {
      await admin.disconnect();
    }
    const changes = recordedChanges();
    const codec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: env.registryUrl }), topic: t.input, schema: WikiChangeSchema });
    await codec.init();
    const producer = createProducer({ connection: conn, log });
    await producer.start();
    // Half first: the second half arrives after the scale-out.
    const half = Math.floor(changes.length / 2);
    const send = (list: WikiChange[]) => Promise.all(list.map((c) => producer.send({ topic: t.input, key: changeKey(c), value: codec.encode(c), headers: { 'test.id': c.id } })));
    await send(changes.slice(0, half));

    const start = (i: number) => {
      const app = createApp({
        config: loadConfig({
          ...topicEnv(env, t),
          AGGREGATION_MODE: 'two-stage',
          PARTIALS_TOPIC: t.partials,
          MERGE_CHANGELOG_TOPIC: t.mergeChangelog,
          TRANSACTIONAL_ID: `${t.group}-tx-${i}`,
          LOG_LEVEL: 'warn',
          WINDOW_SIZE_MS: String(WINDOW_MS),
          ALLOWED_LATENESS_MS: String(LATENESS_MS),
          IDLE_CLOSE_MS: '600000',
          BATCH_SIZE: '100',
        }),
        log,
        handleSignals: false,
      });
      apps.push(app);
      return app;
    };
    const a = start(0);
    await waitFor(() => a.service.isReady(), "instance 0 ready", 60_000, 100);
    const aggregatesCodec = createAvroCodec<WikiAggregate>({ client: createRegistryClient({ url: env.registryUrl }), topic: t.aggregates, schema: WikiAggregateSchema });
    const readAggregates = async () => Promise.all((await readTopic(conn, t.aggregates)).map(async (m: Message) => ({ ...(await aggregatesCodec.decode(m.value as Buffer)) })));
    await waitFor(async () => (await readAggregates()).length > 0, 'first aggregates from one instance', 120_000, 500);

    const b = start(1);
    await waitFor(() => b.service.isReady(), "instance 1 ready", 60_000, 100);
    await send(changes.slice(half));
    await producer.close();
    await waitFor(async () => (await readAggregates()).length > 20, 'aggregates after the scale-out', 120_000, 500);
    await a.service.close(0);

    // The recount over what each partition holds, in its order.
    const input = await readTopic(conn, t.input);
    const byPartition: WikiChange[][] = Array.from({ length: 6 }, () => []);
    for (const m of [...input].sort((x, y) => x.partition - y.partition || Number(x.offset) - Number(y.offset))) byPartition[m.partition]?.push(await codec.decode(m.value as Buffer));
    const expected = recount(byPartition);
    let got: WikiAggregate[] = [];
    try {
      await waitFor(async () => (got = await readAggregates()).length >= expected.closed.length, `${expected.closed.length} aggregates`, 60_000, 1_000);
    } catch (err) {
      const partialsMsgs = await readTopic(conn, t.partials);
      const last = new Map<string, string>();
      let partialsCount = 0;
      for (const m of partialsMsgs) {
        const r = JSON.parse(m.value?.toString() ?? '{}');
        if (r.kind === 'progress') last.set(`${m.partition}<-${r.source}`, String(r.closedUpTo));
        else partialsCount++;
      }
      const inputCounts = byPartition.map((l) => l.length);
      const newest = byPartition.map((l) => Math.max(...l.map((c) => c.event_time)));
      throw new Error(`${(err as Error).message}; got ${got.length}; partials ${partialsCount}; input per partition ${inputCounts}; newest ${newest}; progress ${JSON.stringify([...last].sort())}`, { cause: err });
    }
    await waitForStableTopics(conn, [t.aggregates, t.late]);
    got = await readAggregates();

    const byKey = (list: WikiAggregate[]) => new Map(list.map((x) => [keyOf(x), x]));
    expect(new Set(got.map(keyOf)).size).toBe(got.length); // no window twice
    expect([...byKey(got).keys()].sort()).toEqual([...byKey(expected.closed).keys()].sort());
    for (const [key, want] of byKey(expected.closed)) expect({ key, ...byKey(got).get(key) }).toEqual({ key, ...want });
    const late = (await readTopic(conn, t.late)).map((m) => headersFromMessage(m.headers)['test.id']?.toString() ?? '?').sort();
    expect(late).toEqual(expected.lateIds);
    expect(expected.closed.length).toBeGreaterThan(50);
    for (const m of await readTopic(conn, t.late)) expect(headersFromMessage(m.headers)[LATE_HEADERS.watermark]).toBeDefined();
    expect(await readTopic(conn, t.dlq)).toHaveLength(0);
    // The instance that stayed took over every partition of both stages without stopping.
    expect(b.service.isLive()).toBe(true);
  }, 600_000);
});
