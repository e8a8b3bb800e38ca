import { type WikiChange, type WikiChangeEnriched, WikiChangeEnrichedSchema, WikiChangeSchema } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { headersFromMessage, parseDeadLetter } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger } from '@wikimonitor/service-kit';
import { type ServiceProcess, freePort, getTestEnv, loadRecordedEvents, readTopic, recordingsDir, startTsProcess, testConnection, uniqueName, waitFor, waitForStableTopics } from '@wikimonitor/testing';
import { createApp } from './app';
import { createOutputTopics, deleteTopicsWithPrefix, pageOf, produceChanges, testConfig } from '../testing/test-support';

const log = createLogger('test', 'silent');
const MAX_ATTEMPTS = 4;

// The recorded revisions outside Wikidata (a small set: the test is about the shutdown).
const changes: WikiChange[] = loadRecordedEvents().flatMap((e) => {
  const n = normalizeRecentChange(e.json, { receivedTime: 1_700_000_000_000, sseId: null });
  return n.kind === 'change' && n.change.revision_new !== null && n.change.wiki !== 'wikidatawiki' && (n.change.type === 'edit' || n.change.type === 'new') ? [n.change] : [];
});

describe('enricher shutdown with parked records', () => {
  const prefix = uniqueName('it.enricher.shutdown');
  let api: ServiceProcess | undefined;
  afterAll(async () => {
    api?.kill('SIGKILL');
    await deleteTopicsWithPrefix(testConnection(await getTestEnv()), prefix);
  });

  it('a shutdown with records parked for a retry should lose none: the next instance restores them from the changelog and finishes them, each once', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    // maxlag on the first record of several pages: always (error topic after the bound) or twice (enriched on the third call).
    const firsts = [...new Map(changes.map((c) => [pageOf(c), c])).values()].slice(0, 6);
    const plan = firsts.map((c, i) => ({ change: c, times: i % 2 === 0 ? 'always' : 2 }));
    const port = await freePort();
    api = startTsProcess('action-api-source-shutdown-it', 'apps/action-api-source/src/main.ts', { LOG_LEVEL: 'warn' }, [
      '--port', String(port), '--host', '127.0.0.1', '--data', recordingsDir(), '--maxlag-retry-after', '1',
      '--fail', plan.map((p) => `${p.change.revision_new}=maxlag${p.times === 'always' ? '' : `*${p.times}`}`).join(','),
    ]);
    await api.waitReady(`http://127.0.0.1:${port}/readyz`, 60_000);
    // Retry-After 1 s is honoured: the parked records wait at least a second between calls.
    const config = testConfig({ bootstrapServers: env.bootstrapServers, registryUrl: env.registryUrl, prefix, apiPort: port, maxAttempts: MAX_ATTEMPTS });
    const positions = await produceChanges(conn, env.registryUrl, config.INPUT_TOPIC, changes, log);
    await createOutputTopics(conn, config);
    const lastOffsets = new Map<number, number>();
    for (const p of positions.values()) lastOffsets.set(p.partition, Math.max(lastOffsets.get(p.partition) ?? -1, p.offset));
    const inputDone = (snap: ReturnType<ReturnType<typeof createApp>['loop']['snapshot']>) => snap.size > 0 && [...lastOffsets].every(([p, last]) => (snap.get(p)?.next ?? -1) >= last + 1);

    const first = createApp({ config, log, handleSignals: false });
    let parkedAtShutdown = 0;
    try {
      await waitFor(() => inputDone(first.loop.snapshot()), 'the first instance to commit the whole input', 120_000, 100);
      for (const { state } of first.loop.snapshot().values()) for (const p of state.values()) parkedAtShutdown += p.records.length;
    } finally {
      expect(await first.service.close()).toBe(0);
    }
    expect(parkedAtShutdown).toBeGreaterThanOrEqual(plan.length);

    const second = createApp({ config: { ...config, TRANSACTIONAL_ID: `${prefix}.tx2` }, log, handleSignals: false });
    try {
      await waitFor(() => {
        const snap = second.loop.snapshot();
        return inputDone(snap) && [...snap.values()].every((s) => s.state.size === 0);
      }, 'the second instance to finish the parked records', 120_000, 100);
    } finally {
      expect(await second.service.close()).toBe(0);
    }

    await waitForStableTopics(conn, [config.OUTPUT_TOPIC, config.ERROR_TOPIC]);
    const codec = createAvroCodec<WikiChangeEnriched>({ client: createRegistryClient({ url: env.registryUrl }), topic: config.OUTPUT_TOPIC, schema: WikiChangeEnrichedSchema });
    const inputCodec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: env.registryUrl }), topic: config.INPUT_TOPIC, schema: WikiChangeSchema });
    const enriched = await Promise.all((await readTopic(conn, config.OUTPUT_TOPIC)).map(async (m) => codec.decode(m.value as Buffer)));
    const errors = await Promise.all(
      (await readTopic(conn, config.ERROR_TOPIC)).map(async (m) => {
        const l = parseDeadLetter(m.key, m.value, headersFromMessage(m.headers));
        return { l, change: await inputCodec.decode(l.value as Buffer) };
      }),
    );
    const ids = [...enriched.map((e) => e.change.id), ...errors.map((e) => e.change.id)];
    expect(ids.sort()).toEqual(changes.map((c) => c.id).sort());
    for (const p of plan) {
      const err = errors.find((e) => e.change.id === p.change.id);
      if (p.times === 'always') expect({ reason: err?.l.headers?.['dlq.enrich.reason']?.toString(), attempts: err?.l.attempts }).toEqual({ reason: 'maxlag', attempts: MAX_ATTEMPTS });
      // Its two maxlag answers, the one that enriched it, and perhaps a batch that failed for a neighbour's maxlag.
      else expect(enriched.find((e) => e.change.id === p.change.id)?.attempts).toBeGreaterThanOrEqual(3);
    }

    // The error topic is the dead-letter format: the ops CLI replays its records to their source topic once the
    // cause is gone, and the enricher then enriches them.
    const failed = errors.map((e) => e.change.id).sort();
    expect(failed).toHaveLength(plan.filter((p) => p.times === 'always').length);
    const replay = startTsProcess('ops-cli-replay-enriched-errors', 'tools/ops/src/main.ts', { KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers, LOG_LEVEL: 'warn', DLQ_REPLAYED_TOPIC: `${prefix}.replayed`, REPLAY_TRANSACTIONAL_ID: `${prefix}.replay` }, [
      'replay-dlq', '--dlq-topic', config.ERROR_TOPIC, '--error-code', 'ENRICH_MAXLAG',
    ]);
    expect(await replay.exited()).toBe(0);
    expect((await fetch(`http://127.0.0.1:${port}/control/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(200);
    const third = createApp({ config: { ...config, TRANSACTIONAL_ID: `${prefix}.tx3` }, log, handleSignals: false });
    try {
      await waitFor(async () => {
        const snap = third.loop.snapshot();
        return third.loop.stats().committedRecords >= failed.length && [...snap.values()].every((st) => st.state.size === 0) && snap.size > 0;
      }, 'the third instance to enrich the replayed records', 120_000, 100);
    } finally {
      expect(await third.service.close()).toBe(0);
    }
    await waitForStableTopics(conn, [config.OUTPUT_TOPIC]);
    const after = await Promise.all((await readTopic(conn, config.OUTPUT_TOPIC)).map(async (m) => codec.decode(m.value as Buffer)));
    const replayed = after.filter((e) => failed.includes(e.change.id));
    expect(replayed.map((e) => e.change.id).sort()).toEqual(failed);
  }, 300_000);
});
