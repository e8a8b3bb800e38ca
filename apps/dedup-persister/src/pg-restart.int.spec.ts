import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WikiChangeSchema, type WikiChange } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { createLogger } from '@wikimonitor/service-kit';
import { REPO_ROOT, freePort, getTestEnv, loadRecordedEvents, readTopic, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import pg from 'pg';
import { type DedupPersisterApp, createApp } from './app';
import { loadConfig } from './config';
import { blockOffsetCommits, createTopics, produceAvro, storedChangeIds, storedOffsetsTotal } from '../testing/test-support';

const run = promisify(execFile);
const log = createLogger('test', 'silent');
const recorded: WikiChange[] = loadRecordedEvents().map((r, i) => {
  const n = normalizeRecentChange(r.json, { receivedTime: 1_772_121_000_000 + i, sseId: null });
  if (n.kind !== 'change') throw new Error('recorded event did not normalize');
  return n.change;
});
const expectedIds = [...new Set(recorded.map((c) => c.id))].sort();

describe('dedup-persister across a PostgreSQL restart', () => {
  // A private PostgreSQL (own state dir and port): the shared one is never stopped.
  const stateDir = mkdtempSync(join(tmpdir(), 'dp-pg-'));
  chmodSync(stateDir, 0o755); // PostgreSQL runs as the postgres user when tests run as root
  let pgPort = 0;
  const stack = (...args: string[]) =>
    run(process.execPath, [join(REPO_ROOT, 'tools/stack/stack.mjs'), ...args], { env: { ...process.env, WM_STACK_DIR: stateDir, WM_PG_PORT: String(pgPort) }, timeout: 120_000 });

  beforeAll(async () => {
    pgPort = await freePort();
    await stack('start', 'pg');
  });

  afterAll(async () => {
    await stack('stop', 'pg').catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('dedup-persister should pause while PostgreSQL restarts, report not ready, then lose and duplicate nothing', async () => {
    const env = await getTestEnv();
    const connection = testConnection(env);
    const dbUrl = `postgres://wikimonitor:wikimonitor@127.0.0.1:${pgPort}/wikimonitor`;
    const topic = uniqueName('it.dp.pgrestart.changes');
    const dlq = uniqueName('it.dp.pgrestart.dlq');
    const group = uniqueName('it.dp.pgrestart-group');
    await createTopics(connection, [topic], 6);
    const stream = [...recorded, ...recorded.filter((_, i) => i % 3 === 0), ...recorded];
    await produceAvro({ connection, registryUrl: env.registryUrl, topic, schema: WikiChangeSchema, records: stream, key: (x) => x.wiki, log });

    let app: DedupPersisterApp | undefined;
    const client = () => {
      const c = new pg.Client({ connectionString: dbUrl });
      return c.connect().then(() => c);
    };
    const query = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
      const c = await client();
      try {
        return await fn(c);
      } finally {
        await c.end();
      }
    };
    try {
      app = createApp({
        config: loadConfig({
          KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers,
          SCHEMA_REGISTRY_URL: env.registryUrl,
          DATABASE_URL: dbUrl,
          CHANGES_TOPICS: topic,
          AGGREGATES_TOPICS: 'none',
          ALERTS_TOPICS: 'none',
          DLQ_TOPIC: dlq,
          CONSUMER_GROUP: group,
          HTTP_PORT: '0',
          LOG_LEVEL: 'silent',
          BATCH_SIZE: '100',
          DB_HEALTH_INTERVAL_MS: '200',
          DB_RETRY_INITIAL_MS: '100',
          DB_RETRY_MAX_MS: '1000',
          DB_RETRY_ATTEMPTS: '100',
        }),
        log,
        handleSignals: false,
      });
      const a = app;
      const readyz = async () => (await fetch(`http://127.0.0.1:${a.port()}/readyz`).catch(() => undefined))?.status;
      await waitFor(async () => (await readyz()) === 200, 'ready', 60_000, 100);
      await waitFor(() => query(async (c) => (await storedOffsetsTotal(c, group)) > 0), 'a first committed batch', 60_000, 50);

      // Catch a batch mid-transaction, then take the database away under it.
      const blocker = await blockOffsetCommits(dbUrl);
      expect(await waitFor(() => blocker.waitingWriter(), 'the writer to wait inside its transaction', 30_000, 50)).toMatchObject({ waitingFor: 'consumer_offsets' });
      await stack('stop', 'pg');
      await blocker.release(); // its connection is gone already
      await waitFor(async () => (await readyz()) === 503, 'readiness to go false while PostgreSQL is down', 30_000, 100);
      const consumedWhileDown = a.runner.consumed();
      await new Promise((r) => setTimeout(r, 1500));
      expect(a.runner.consumed()).toBe(consumedWhileDown); // consumption paused: no batch completes without the database
      expect(consumedWhileDown).toBeLessThan(stream.length);
      await stack('start', 'pg');

      await waitFor(() => query(async (c) => (await storedOffsetsTotal(c, group)) === stream.length), 'the whole stream after the restart', 90_000, 250);
      await waitFor(async () => (await readyz()) === 200, 'ready again', 30_000, 100);
      const ids = await query((c) => storedChangeIds(c));
      expect(ids).toHaveLength(expectedIds.length);
      expect(ids).toEqual(expectedIds);
      expect(await readTopic(connection, dlq)).toHaveLength(0); // nothing was dead-lettered because of the outage
      const errors = await a.registry.getSingleMetricAsString('dedup_persister_db_errors_total');
      expect(errors).toMatch(/dedup_persister_db_errors_total\{class="retriable",service="dedup-persister"\} [1-9]/);
    } finally {
      expect(await app?.service.close()).toBe(0);
    }
  });
});
