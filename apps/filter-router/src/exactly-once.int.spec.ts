import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WikiChange } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import type { TransactionalProducer } from '@wikimonitor/kafka';
import { WikiMonitorError, createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, loadRecordedEvents, readTopic, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { createApp } from './app';
import { caughtUp, committedOffsets, createOutputTopics, decodeRouted, deleteTopicsWithPrefix, produceChanges, testAppConfig, waitForStableTopics, writeDefaultRulesWithPrefix } from '../testing/test-support';

const log = createLogger('test', 'silent');
const changes: WikiChange[] = loadRecordedEvents().flatMap((e) => {
  const n = normalizeRecentChange(e.json, { receivedTime: 1_700_000_000_000, sseId: null });
  return n.kind === 'change' ? [n.change] : [];
});

async function routedIds(registryUrl: string, topic: string, isolation: 'read_committed' | 'read_uncommitted' = 'read_committed'): Promise<string[]> {
  const env = await getTestEnv();
  await waitForStableTopics(testConnection(env), [topic]);
  return (await decodeRouted(registryUrl, topic, await readTopic(testConnection(env), topic, isolation))).map((r) => r.change.id);
}

describe('filter-router exactly once on the real broker', () => {
  const prefixes: string[] = [];
  const newPrefix = () => {
    const p = uniqueName('it.fr.eos');
    prefixes.push(p);
    return p;
  };
  afterAll(async () => {
    const conn = testConnection(await getTestEnv());
    for (const p of prefixes) await deleteTopicsWithPrefix(conn, p);
  });

  it('the committed offset should be the last offset + 1, and a restart should neither re-process nor skip a record', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = newPrefix();
    const routes = writeDefaultRulesWithPrefix(prefix, mkdtempSync(join(tmpdir(), 'fr-eos-')));
    const config = testAppConfig({ bootstrapServers: env.bootstrapServers, registryUrl: env.registryUrl, prefix, rulesFile: routes.file, extra: { BATCH_SIZE: '100' } });
    const [first, second] = [changes.slice(0, 2000), changes.slice(2000)];
    await createOutputTopics(conn, routes, config.DLQ_TOPIC);

    const run = async (lastOffsets: Map<number, number>) => {
      const app = createApp({ config, log, handleSignals: false });
      await waitFor(() => caughtUp(conn, config.GROUP_ID, config.INPUT_TOPIC, lastOffsets), 'the router to commit its input', 120_000, 250);
      expect(await app.service.close()).toBe(0);
      return app.stats();
    };

    const one = await produceChanges({ connection: conn, registryUrl: env.registryUrl, topic: config.INPUT_TOPIC, partitions: 6, changes: first, log });
    const statsOne = await run(one.lastOffsets);
    const committedOne = await committedOffsets(conn, config.GROUP_ID, config.INPUT_TOPIC);
    // Exactly last + 1 on every partition: not the last record's own offset (re-read on restart), not beyond.
    expect(Object.fromEntries(committedOne)).toEqual(Object.fromEntries([...one.lastOffsets].map(([p, last]) => [p, last + 1])));
    expect(statsOne).toMatchObject({ consumed: first.length, committedRecords: first.length, aborted: 0 });

    const two = await produceChanges({ connection: conn, registryUrl: env.registryUrl, topic: config.INPUT_TOPIC, partitions: 6, changes: second, log });
    const statsTwo = await run(two.lastOffsets);
    // The restarted router read only the new records: none of the first run's came back.
    expect(statsTwo).toMatchObject({ consumed: second.length, committedRecords: second.length });
    const committedTwo = await committedOffsets(conn, config.GROUP_ID, config.INPUT_TOPIC);
    expect(Object.fromEntries(committedTwo)).toEqual(Object.fromEntries([...two.lastOffsets].map(([p, last]) => [p, last + 1])));

    const all = await routedIds(env.registryUrl, routes.topics['all'] as string);
    expect(all).toHaveLength(changes.length);
    expect([...all].sort()).toEqual(changes.map((c) => c.id).sort());
  });

  it('an aborted transaction should leave no visible output and its rewound batch should be written exactly once', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = newPrefix();
    const routes = writeDefaultRulesWithPrefix(prefix, mkdtempSync(join(tmpdir(), 'fr-eos-')));
    const config = testAppConfig({ bootstrapServers: env.bootstrapServers, registryUrl: env.registryUrl, prefix, rulesFile: routes.file, extra: { BATCH_SIZE: '100', RETRY_INITIAL_MS: '10', RETRY_MAX_MS: '50' } });
    const subset = changes.slice(0, 1000);
    const input = await produceChanges({ connection: conn, registryUrl: env.registryUrl, topic: config.INPUT_TOPIC, partitions: 3, changes: subset, log });
    await createOutputTopics(conn, routes, config.DLQ_TOPIC);

    // The second transaction fails after its records were written: librdkafka would say "abort required".
    let offsetCalls = 0;
    const app = createApp({
      config,
      log,
      handleSignals: false,
      wrapProducer: (producer): TransactionalProducer => ({
        ...producer,
        async sendOffsetsToTransaction(offsets, consumer) {
          if (++offsetCalls === 2) throw new WikiMonitorError('KAFKA_TRANSACTION_FAILED', 'injected: coordinator says abort', { cause: { code: 48, isTxnRequiresAbort: true } });
          return producer.sendOffsetsToTransaction(offsets, consumer);
        },
      }),
    });
    await waitFor(() => caughtUp(conn, config.GROUP_ID, config.INPUT_TOPIC, input.lastOffsets), 'the router to commit its input', 120_000, 250);
    expect(await app.service.close()).toBe(0);

    expect(app.stats()).toMatchObject({ aborted: 1, committedRecords: subset.length });
    const committed = await routedIds(env.registryUrl, routes.topics['all'] as string);
    expect([...committed].sort()).toEqual(subset.map((c) => c.id).sort());
    // The aborted attempt's records are in the log (read_uncommitted sees them) but were never visible.
    const raw = await routedIds(env.registryUrl, routes.topics['all'] as string, 'read_uncommitted');
    expect(raw.length).toBeGreaterThan(subset.length);
    expect(new Set(raw).size).toBe(subset.length);
  });

  it('filter-router should finish its in-flight transaction on shutdown, and a restart should lose and repeat nothing', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = newPrefix();
    const routes = writeDefaultRulesWithPrefix(prefix, mkdtempSync(join(tmpdir(), 'fr-eos-')));
    const config = testAppConfig({ bootstrapServers: env.bootstrapServers, registryUrl: env.registryUrl, prefix, rulesFile: routes.file, extra: { BATCH_SIZE: '20' } });
    const input = await produceChanges({ connection: conn, registryUrl: env.registryUrl, topic: config.INPUT_TOPIC, partitions: 6, changes, log });
    await createOutputTopics(conn, routes, config.DLQ_TOPIC);

    const first = createApp({ config, log, handleSignals: false });
    await waitFor(() => first.stats().transactions >= 1, 'a first committed transaction', 60_000, 10);
    expect(await first.service.close()).toBe(0); // SIGTERM path: stop consuming, finish the batch in hand, close the producer
    const one = first.stats();
    expect(one.committedRecords).toBeLessThan(changes.length); // stopped mid-stream
    expect(one.consumed).toBe(one.committedRecords); // everything it took was committed, nothing dropped in flight
    const committed = await committedOffsets(conn, config.GROUP_ID, config.INPUT_TOPIC);
    expect([...committed.values()].reduce((a, o) => a + Math.max(o, 0), 0)).toBe(one.committedRecords);

    const second = createApp({ config, log, handleSignals: false });
    await waitFor(() => caughtUp(conn, config.GROUP_ID, config.INPUT_TOPIC, input.lastOffsets), 'the restarted router to commit the rest', 120_000, 250);
    expect(await second.service.close()).toBe(0);
    expect(second.stats().consumed).toBe(changes.length - one.committedRecords);

    const all = await routedIds(env.registryUrl, routes.topics['all'] as string);
    expect(all).toHaveLength(changes.length);
    expect(new Set(all).size).toBe(changes.length);
  });
});
