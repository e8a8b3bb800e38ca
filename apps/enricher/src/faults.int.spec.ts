import { type WikiChange, type WikiChangeEnriched, WikiChangeEnrichedSchema, WikiChangeSchema } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { type KafkaConnection, createAdmin, headersFromMessage, parseDeadLetter } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger } from '@wikimonitor/service-kit';
import { type ServiceProcess, freePort, getTestEnv, loadRecordedEvents, readTopic, recordingsDir, startTsProcess, testConnection, uniqueName, waitFor, waitForStableTopics } from '@wikimonitor/testing';
import type { AppConfig } from './config';
import { createOutputTopics, deleteTopicsWithPrefix, pageOf, produceChanges, testConfig } from '../testing/test-support';

const log = createLogger('test', 'silent');

const changes: WikiChange[] = loadRecordedEvents().flatMap((e) => {
  const n = normalizeRecentChange(e.json, { receivedTime: 1_700_000_000_000, sseId: null });
  return n.kind === 'change' && n.change.revision_new !== null && (n.change.type === 'edit' || n.change.type === 'new') ? [n.change] : [];
});

/** The config as the environment of an enricher process. */
function envOf(config: AppConfig, extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) if (v !== undefined && typeof v !== 'object') out[k] = String(v);
  return { ...out, ...extra };
}

function startApi(name: string, port: number, args: string[] = []): ServiceProcess {
  return startTsProcess(name, 'apps/action-api-source/src/main.ts', { LOG_LEVEL: 'warn' }, ['--port', String(port), '--host', '127.0.0.1', '--data', recordingsDir(), '--maxlag-retry-after', '1', ...args]);
}

async function committed(conn: KafkaConnection, group: string, topic: string): Promise<number> {
  const admin = await createAdmin(conn);
  try {
    const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return offsets.flatMap((t) => t.partitions).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

/** What came out: each input change once, enriched or in the error topic, and the error reasons. */
async function outcomes(conn: KafkaConnection, registryUrl: string, config: AppConfig) {
  await waitForStableTopics(conn, [config.OUTPUT_TOPIC, config.ERROR_TOPIC]);
  const out = createAvroCodec<WikiChangeEnriched>({ client: createRegistryClient({ url: registryUrl }), topic: config.OUTPUT_TOPIC, schema: WikiChangeEnrichedSchema });
  const inp = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: registryUrl }), topic: config.INPUT_TOPIC, schema: WikiChangeSchema });
  const enriched = await Promise.all((await readTopic(conn, config.OUTPUT_TOPIC)).map(async (m) => out.decode(m.value as Buffer)));
  const errors = await Promise.all(
    (await readTopic(conn, config.ERROR_TOPIC)).map(async (m) => {
      const l = parseDeadLetter(m.key, m.value, headersFromMessage(m.headers));
      return { l, change: await inp.decode(l.value as Buffer), reason: l.headers?.['dlq.enrich.reason']?.toString() ?? '' };
    }),
  );
  const ids = [...enriched.map((e) => e.change.id), ...errors.map((e) => e.change.id)];
  return { enriched, errors, ids, reasons: errors.reduce<Record<string, number>>((o, e) => ({ ...o, [e.reason]: (o[e.reason] ?? 0) + 1 }), {}) };
}

/** Waits until the group committed the whole input and the enricher process reports nothing parked. */
async function finished(conn: KafkaConnection, config: AppConfig, total: number, metricsUrl: string, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      if ((await committed(conn, config.GROUP_ID, config.INPUT_TOPIC)) < total) return false;
      const text = await (await fetch(metricsUrl)).text();
      return /^enricher_parked_records\{[^}]*\} 0$/m.test(text);
    },
    'the enricher to commit the whole input with nothing parked',
    timeoutMs,
    250,
  );
}

describe('enricher under faults (real processes, real broker)', () => {
  const prefix = uniqueName('it.enricher.faults');
  const procs: ServiceProcess[] = [];
  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await deleteTopicsWithPrefix(testConnection(await getTestEnv()), prefix);
  });

  it('the enricher killed -9 three times mid-stream under maxlag faults and a 10x rise in them should still end each record once, enriched or in the error topic for maxlag', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const apiPort = await freePort();
    // maxlag on 2% of the calls, always on four revisions and twice on four others.
    const firsts = [...new Map(changes.map((c) => [pageOf(c), c])).values()].slice(0, 8);
    const fail = firsts.map((c, i) => `${c.revision_new}=maxlag${i % 2 ? '*2' : ''}`).join(',');
    const api = startApi('action-api-source-kill9', apiPort, ['--fail', fail, '--fail-rate', 'maxlag=0.02', '--seed', '7']);
    procs.push(api);
    await api.waitReady(`http://127.0.0.1:${apiPort}/readyz`, 60_000);
    const config = testConfig({ bootstrapServers: env.bootstrapServers, registryUrl: env.registryUrl, prefix: `${prefix}.k`, apiPort, maxAttempts: 4, extra: { BATCH_SIZE: '100', RETRY_AFTER_MAX_MS: '3000' } });
    await produceChanges(conn, env.registryUrl, config.INPUT_TOPIC, changes, log);
    await createOutputTopics(conn, config);
    const httpPort = await freePort();
    const vars = envOf(config, { HTTP_PORT: String(httpPort), GROUP_INSTANCE_ID: `${prefix}.member`, CONSUMER_SESSION_TIMEOUT_MS: '10000' });

    const killedAt: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = await committed(conn, config.GROUP_ID, config.INPUT_TOPIC);
      const proc = startTsProcess(`enricher-kill9-${i}`, 'apps/enricher/src/main.ts', vars);
      procs.push(proc);
      await proc.waitReady(`http://127.0.0.1:${httpPort}/readyz`, 90_000);
      await waitFor(async () => (await committed(conn, config.GROUP_ID, config.INPUT_TOPIC)) > before, `incarnation ${i} to commit`, 90_000, 20);
      // The rate of maxlag answers rises tenfold for the second incarnation.
      if (i === 1) await fetch(`http://127.0.0.1:${apiPort}/control/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fail, failRate: 'maxlag=0.2' }) });
      proc.kill('SIGKILL');
      await proc.exited();
      killedAt.push(await committed(conn, config.GROUP_ID, config.INPUT_TOPIC));
    }
    expect(killedAt.every((n) => n < changes.length)).toBe(true);
    await fetch(`http://127.0.0.1:${apiPort}/control/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fail, failRate: 'maxlag=0.02' }) });
    const last = startTsProcess('enricher-kill9-last', 'apps/enricher/src/main.ts', vars);
    procs.push(last);
    await last.waitReady(`http://127.0.0.1:${httpPort}/readyz`, 90_000);
    await finished(conn, config, changes.length, `http://127.0.0.1:${httpPort}/metrics`, 240_000);
    last.kill('SIGTERM');
    expect(await last.exited()).toBe(0);

    const o = await outcomes(conn, env.registryUrl, config);
    expect(o.ids.length).toBe(changes.length);
    expect(new Set(o.ids).size).toBe(changes.length);
    expect(Object.keys(o.reasons).filter((r) => r !== 'maxlag')).toEqual([]);
    for (const [i, c] of firsts.entries()) {
      const err = o.errors.find((e) => e.change.id === c.id);
      if (i % 2 === 0) expect({ id: c.id, reason: err?.reason, attempts: err?.l.attempts }).toEqual({ id: c.id, reason: 'maxlag', attempts: 4 });
    }
    console.log(`enricher kill -9 x3 with a 10x maxlag rise: ${changes.length} records, committed at the kills ${killedAt.join(', ')}; ${o.enriched.length} enriched, errors ${JSON.stringify(o.reasons)}`);
  }, 600_000);

  it('the Action API down for 20 s should leave each record once, enriched or in the error topic as a connection failure, and the enricher catch up', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const apiPort = await freePort();
    let api = startApi('action-api-source-down-1', apiPort);
    procs.push(api);
    await api.waitReady(`http://127.0.0.1:${apiPort}/readyz`, 60_000);
    // Four attempts, about 1 + 2 + 4 s of backoff: a record whose first call falls early in the outage runs out of them.
    const config = testConfig({ bootstrapServers: env.bootstrapServers, registryUrl: env.registryUrl, prefix: `${prefix}.d`, apiPort, maxAttempts: 4, extra: { RETRY_INITIAL_MS: '1000', RETRY_MAX_MS: '4000', BATCH_SIZE: '100' } });
    const quarter = Math.ceil(changes.length / 4);
    const chunks = [0, 1, 2, 3].map((i) => changes.slice(i * quarter, (i + 1) * quarter));
    await produceChanges(conn, env.registryUrl, config.INPUT_TOPIC, chunks[0] as WikiChange[], log);
    await createOutputTopics(conn, config);
    const httpPort = await freePort();
    const app = startTsProcess('enricher-api-down', 'apps/enricher/src/main.ts', envOf(config, { HTTP_PORT: String(httpPort) }));
    procs.push(app);
    await app.waitReady(`http://127.0.0.1:${httpPort}/readyz`, 90_000);
    await waitFor(async () => (await committed(conn, config.GROUP_ID, config.INPUT_TOPIC)) >= (chunks[0] as WikiChange[]).length, 'the first quarter', 120_000, 100);

    // Down for 20 s while the second and third quarters arrive.
    api.kill('SIGKILL');
    await api.exited();
    const downAt = Date.now();
    await produceChanges(conn, env.registryUrl, config.INPUT_TOPIC, [...(chunks[1] as WikiChange[]), ...(chunks[2] as WikiChange[])], log);
    await new Promise((r) => setTimeout(r, Math.max(0, 20_000 - (Date.now() - downAt))));
    api = startApi('action-api-source-down-2', apiPort);
    procs.push(api);
    await api.waitReady(`http://127.0.0.1:${apiPort}/readyz`, 60_000);
    await produceChanges(conn, env.registryUrl, config.INPUT_TOPIC, chunks[3] as WikiChange[], log);
    await finished(conn, config, changes.length, `http://127.0.0.1:${httpPort}/metrics`, 240_000);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    app.kill('SIGTERM');
    expect(await app.exited()).toBe(0);

    const o = await outcomes(conn, env.registryUrl, config);
    expect(o.ids.length).toBe(changes.length);
    expect(new Set(o.ids).size).toBe(changes.length);
    // A refused connection, or one cut by the kill mid-answer: the table's two timeout rows, nothing else.
    expect(Object.keys(o.reasons).filter((r) => r !== 'connection-timeout' && r !== 'read-timeout')).toEqual([]);
    for (const e of o.errors) expect(e.l.attempts).toBe(4);
    // The outage was seen: calls failed and were retried.
    expect(metrics).toMatch(/enricher_retries_total\{reason="connection-timeout",service="enricher"\} [1-9]/);
    console.log(`enricher with the API down 20 s: ${changes.length} records; ${o.enriched.length} enriched, errors ${JSON.stringify(o.reasons)}`);
  }, 600_000);
});
