import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WikiChangeSchema, type WikiChange } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { WikiMonitorError, createLogger } from '@wikimonitor/service-kit';
import { REPO_ROOT, freePort, getTestEnv, loadRecordedEvents, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import pg from 'pg';
import { type DedupPersisterApp, createApp } from './app';
import { loadConfig } from './config';
import { createDatabase, pgTls } from './db';
import { createTopics, produceAvro, storedOffsetsTotal } from '../testing/test-support';

const run = promisify(execFile);
const log = createLogger('test', 'silent');
const PASSWORD = 'wikimonitor';
const recorded: WikiChange[] = loadRecordedEvents()
  .slice(0, 200)
  .flatMap((r, i) => {
    const n = normalizeRecentChange(r.json, { receivedTime: 1_772_121_000_000 + i, sseId: null });
    return n.kind === 'change' ? [n.change] : [];
  });

describe('dedup-persister over TLS to PostgreSQL (WM_PG_TLS=on)', () => {
  // A private PostgreSQL with TLS on (own state dir and port): the shared one is never touched.
  const stateDir = mkdtempSync(join(tmpdir(), 'dp-pgtls-'));
  chmodSync(stateDir, 0o755); // PostgreSQL runs as the postgres user when tests run as root
  const stackCa = join(stateDir, 'data', 'pg-tls', 'ca.crt');
  const otherCa = join(stateDir, 'other-ca.crt');
  let pgPort = 0;
  let dbUrl = '';
  const stack = (...args: string[]) =>
    run(process.execPath, [join(REPO_ROOT, 'tools/stack/stack.mjs'), ...args], { env: { ...process.env, WM_STACK_DIR: stateDir, WM_PG_PORT: String(pgPort), WM_PG_TLS: 'on' }, timeout: 120_000 });

  beforeAll(async () => {
    pgPort = await freePort();
    dbUrl = `postgres://wikimonitor:${PASSWORD}@127.0.0.1:${pgPort}/wikimonitor`;
    await stack('start', 'pg');
    // A CA that did not sign the server's certificate.
    await run('openssl', ['req', '-x509', '-new', '-nodes', '-newkey', 'rsa:2048', '-days', '1', '-subj', '/CN=Some other CA', '-keyout', join(stateDir, 'other-ca.key'), '-out', otherCa]);
  }, 180_000);

  afterAll(async () => {
    await stack('stop', 'pg').catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('stack env should export verify-full and the CA when WM_PG_TLS=on', async () => {
    const { stdout } = await stack('env');
    expect(stdout).toMatch(/DATABASE_SSL_MODE=['"]?verify-full/);
    expect(stdout).toContain(stackCa);
  });

  it('dedup-persister should store and serve over verify-full TLS, every connection of its pools and writer encrypted', async () => {
    const env = await getTestEnv();
    const connection = testConnection(env);
    const topic = uniqueName('it.dp.pgtls.changes');
    const group = uniqueName('it.dp.pgtls-group');
    await createTopics(connection, [topic], 2);
    await produceAvro({ connection, registryUrl: env.registryUrl, topic, schema: WikiChangeSchema, records: recorded, key: (x) => x.wiki, log });
    const tls = pgTls('verify-full', stackCa);
    const admin = new pg.Client({ connectionString: dbUrl, ssl: tls });
    await admin.connect();
    let app: DedupPersisterApp | undefined;
    try {
      app = createApp({
        config: loadConfig({
          KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers,
          SCHEMA_REGISTRY_URL: env.registryUrl,
          DATABASE_URL: dbUrl,
          DATABASE_SSL_MODE: 'verify-full',
          DATABASE_SSL_CA: stackCa,
          CHANGES_TOPICS: topic,
          AGGREGATES_TOPICS: 'none',
          ALERTS_TOPICS: 'none',
          DLQ_TOPIC: `${topic}.dlq`,
          CONSUMER_GROUP: group,
          HTTP_PORT: '0',
          HTTP_HOST: '127.0.0.1',
          LOG_LEVEL: 'silent',
        }),
        log,
        handleSignals: false,
      });
      const a = app;
      await waitFor(async () => (await fetch(`http://127.0.0.1:${a.port()}/readyz`).catch(() => undefined))?.status === 200, 'ready', 60_000, 100);
      await waitFor(async () => (await storedOffsetsTotal(admin, group)) === recorded.length, 'every record stored', 60_000, 100);
      expect((await fetch(`http://127.0.0.1:${a.port()}/api/changes?limit=5`)).status).toBe(200);
      const conns = await admin.query<{ app: string; ssl: boolean; version: string }>(
        `SELECT a.application_name AS app, s.ssl, s.version FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name LIKE 'dedup-persister%'`,
      );
      expect(new Set(conns.rows.map((r) => r.app))).toEqual(new Set(['dedup-persister', 'dedup-persister-api', 'dedup-persister-writer']));
      expect(conns.rows.every((r) => r.ssl && r.version.startsWith('TLS'))).toBe(true);
    } finally {
      expect(await app?.service.close()).toBe(0);
      await admin.end();
    }
  });

  it('dedup-persister should refuse at once, with a clear error, a server whose certificate its CA did not sign', async () => {
    const db = createDatabase({
      databaseUrl: dbUrl,
      ssl: pgTls('verify-full', otherCa),
      poolSize: 1,
      connectTimeoutMs: 5_000,
      connectAttempts: 5,
      statementTimeoutMs: 5_000,
      healthIntervalMs: 1_000,
      migrations: [],
      applyMigrations: false,
      log,
    });
    let err: unknown;
    try {
      await db.start();
    } catch (e) {
      err = e;
    } finally {
      await db.close();
    }
    expect(err).toBeInstanceOf(WikiMonitorError);
    const e = err as WikiMonitorError;
    expect(e.retriable).toBe(false); // no retry loop: another attempt cannot change the certificate
    expect(e.message).toMatch(/^connecting to PostgreSQL: PostgreSQL's TLS certificate was not accepted \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
    expect(e.message).toContain('check DATABASE_SSL_CA');
    expect(e.message).not.toContain(PASSWORD);
  });

  it('pgTls should refuse a CA file that cannot be read, naming the setting', () => {
    expect(() => pgTls('verify-full', join(stateDir, 'missing.crt'))).toThrow(/DATABASE_SSL_CA: cannot read .*missing\.crt \(ENOENT\)/);
  });
});
