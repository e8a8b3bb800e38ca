import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type WikiChange, WikiChangeSchema } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { createLogger } from '@wikimonitor/service-kit';
import { type ServiceProcess, freePort, getTestEnv, loadRecordedEvents, startBuiltApp, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import pg from 'pg';
import { createTestDatabase, createTopics, produceAvro, storedChangeIds, storedOffsetsTotal } from '../testing/test-support';

// Runs the built app (npx nx build dedup-persister) on the real stack, floods its history API and
// its live-page stream, and shows what is bounded: connections, queue, streams; and what is not
// lost: readiness and consumption.
const log = createLogger('test', 'silent');
const OUT = join(__dirname, '..', 'test-output');
const API_TOKEN = 'flood-api-token-0123456789';
const OPS_TOKEN = 'flood-ops-token-0123456789';
const LIMITS = { API_POOL_SIZE: 3, DB_POOL_SIZE: 2, API_MAX_WAITING: 6, EVENT_STREAM_MAX_CLIENTS: 20, API_STATEMENT_TIMEOUT_MS: 400 };
const STREAM_CLIENTS = 60;
const WAVES = 4;
const REQUESTS_PER_WAVE = 240;
/** Rows written straight into the table before the app starts, so that wide queries cost something. */
const BULK_ROWS = 300_000;

const recorded: WikiChange[] = loadRecordedEvents().flatMap((r, i) => {
  const n = normalizeRecentChange(r.json, { receivedTime: Date.now() + i, sseId: null });
  return n.kind === 'change' ? [n.change] : [];
});

type Kind = 'changes' | 'suspicious' | 'breakdown' | 'bad-param' | 'no-token' | 'bad-token' | 'read-token-post';
const KINDS: Kind[] = ['changes', 'suspicious', 'breakdown', 'bad-param', 'no-token', 'bad-token', 'read-token-post'];

function request(base: string, kind: Kind, i: number): { url: string; init: RequestInit } {
  const auth = { authorization: `Bearer ${API_TOKEN}` };
  switch (kind) {
    case 'changes':
      return { url: `${base}/api/changes?limit=1000&user=flood-user-${i % 50}`, init: { headers: auth } };
    case 'suspicious':
      return { url: `${base}/api/analytics/suspicious?range=30d&limit=100`, init: { headers: auth } };
    case 'breakdown':
      return { url: `${base}/api/analytics/breakdown?range=30d`, init: { headers: auth } };
    case 'bad-param':
      return { url: `${base}/api/changes?limit=abc&since=${'x'.repeat(2000)}`, init: { headers: auth } };
    case 'no-token':
      return { url: `${base}/api/analytics/breakdown?range=30d`, init: {} };
    case 'bad-token':
      return { url: `${base}/api/changes?limit=1000`, init: { headers: { authorization: `Bearer ${API_TOKEN.slice(0, -1)}x` } } };
    case 'read-token-post':
      return { url: `${base}/api/changes`, init: { method: 'POST', headers: auth } };
  }
}

describe('dedup-persister under a flood of API requests and event-stream clients', () => {
  it('dedup-persister should answer the excess 503, bad requests 4xx, hold its pools to their bounds, and stay ready and consuming', async () => {
    const env = await getTestEnv();
    const connection = testConnection(env);
    const db = await createTestDatabase(env.databaseUrl, 'dp_flood');
    const topic = uniqueName('it.dp.flood.changes');
    const group = uniqueName('it.dp.flood-group');
    await createTopics(connection, [topic], 3);
    const half = Math.floor(recorded.length / 2);
    await produceAvro({ connection, registryUrl: env.registryUrl, topic, schema: WikiChangeSchema, records: recorded.slice(0, half), key: (x) => x.wiki, log });

    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    const dbClient = new pg.Client({ connectionString: db.url });
    await dbClient.connect();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let proc: ServiceProcess | undefined;
    const streams: AbortController[] = [];
    try {
      proc = startBuiltApp('dedup-persister', {
        KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers,
        SCHEMA_REGISTRY_URL: env.registryUrl,
        DATABASE_URL: db.url,
        CHANGES_TOPICS: topic,
        AGGREGATES_TOPICS: 'none',
        ALERTS_TOPICS: 'none',
        DLQ_TOPIC: `${topic}.dlq`,
        CONSUMER_GROUP: group,
        HTTP_PORT: String(port),
        HTTP_HOST: '127.0.0.1',
        API_TOKEN,
        OPS_TOKEN,
        BATCH_SIZE: '50',
        DB_HEALTH_INTERVAL_MS: '200',
        LOG_LEVEL: 'warn',
        ...Object.fromEntries(Object.entries(LIMITS).map(([k, v]) => [k, String(v)])),
      });
      await proc.waitReady(`${base}/readyz`, 90_000);
      await waitFor(async () => (await storedOffsetsTotal(dbClient, group)) >= half, 'the first half stored', 90_000, 250);
      // Migrations ran: make the table big enough for wide queries to take their time.
      await dbClient.query(
        `INSERT INTO wiki_changes (id, event_time, received_time, wiki, domain, type, namespace, title, user_name, bot, comment, length_old, length_new, kafka_topic, kafka_partition, kafka_offset)
         SELECT 'flood-' || g, now() - (g % 600000) * interval '1 second', now(), 'wiki' || (g % 40), 'example.org', 'edit', g % 4, 'Page ' || (g % 5000),
                'flood-user-' || (g % 500), g % 3 = 0, 'rv edit ' || g, 100, 100 - (g % 7000), 'bulk', 0, g
         FROM generate_series(1, $1) AS g`,
        [BULK_ROWS],
      );
      await dbClient.query('ANALYZE wiki_changes');

      // Samplers: the pools' connections as PostgreSQL counts them, and readiness, all through the flood.
      let sampling = true;
      const peak = { api: 0, persister: 0, writer: 0, samples: 0 };
      const readiness = { ok: 0, notOk: 0 };
      const sampler = (async () => {
        while (sampling) {
          const r = await client.query<{ app: string; n: number }>(
            `SELECT application_name AS app, count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 GROUP BY application_name`,
            [db.name],
          );
          const n = (app: string) => r.rows.find((x) => x.app === app)?.n ?? 0;
          peak.api = Math.max(peak.api, n('dedup-persister-api'));
          peak.persister = Math.max(peak.persister, n('dedup-persister'));
          peak.writer = Math.max(peak.writer, n('dedup-persister-writer'));
          peak.samples++;
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const prober = (async () => {
        while (sampling) {
          const res = await fetch(`${base}/readyz`).catch(() => undefined);
          if (res?.status === 200) readiness.ok++;
          else readiness.notOk++;
          await res?.arrayBuffer();
          await new Promise((r) => setTimeout(r, 50));
        }
      })();

      // Event streams: more clients than allowed, all at once.
      const opened = await Promise.all(
        Array.from({ length: STREAM_CLIENTS }, async () => {
          const ac = new AbortController();
          streams.push(ac);
          const res = await fetch(`${base}/api/analytics/events`, { headers: { authorization: `Bearer ${API_TOKEN}` }, signal: ac.signal });
          if (res.status !== 200) {
            const body = (await res.json()) as { error: string };
            return { status: res.status, error: body.error, retryAfter: res.headers.get('retry-after') };
          }
          return { status: 200, error: '', retryAfter: null };
        }),
      );
      const streamsUnauthorized = (await fetch(`${base}/api/analytics/events`)).status;

      // Requests: waves of every kind at once, while the second half of the records is produced.
      const feeding = produceAvro({ connection, registryUrl: env.registryUrl, topic, schema: WikiChangeSchema, records: recorded.slice(half), key: (x) => x.wiki, log });
      const results: Array<{ kind: Kind; status: number; error: string }> = [];
      for (let w = 0; w < WAVES; w++) {
        results.push(
          ...(await Promise.all(
            Array.from({ length: REQUESTS_PER_WAVE }, async (_, i) => {
              const kind = KINDS[i % KINDS.length] as Kind;
              const { url, init } = request(base, kind, i);
              const res = await fetch(url, init);
              const text = await res.text();
              let error: string;
              try {
                error = (JSON.parse(text) as { error?: string }).error ?? '';
              } catch {
                error = '(not json)';
              }
              return { kind, status: res.status, error };
            }),
          )),
        );
      }
      await feeding;
      await waitFor(async () => (await storedOffsetsTotal(dbClient, group)) >= recorded.length, 'every record stored, also those produced during the flood', 90_000, 250);
      const stillReady = (await fetch(`${base}/readyz`)).status;
      sampling = false;
      await Promise.all([sampler, prober]);

      const byKind: Record<string, Record<string, number>> = {};
      for (const r of results) {
        const k = (byKind[r.kind] ??= {});
        const key = r.error ? `${r.status} ${r.error}` : String(r.status);
        k[key] = (k[key] ?? 0) + 1;
      }
      const streamOutcome: Record<string, number> = {};
      for (const s of opened) {
        const key = s.error ? `${s.status} ${s.error}` : String(s.status);
        streamOutcome[key] = (streamOutcome[key] ?? 0) + 1;
      }
      const stored = (await storedChangeIds(dbClient)).filter((id) => !id.startsWith('flood-')).sort();
      const figures = {
        limits: LIMITS,
        bulkRows: BULK_ROWS,
        requests: results.length,
        byKind,
        streams: { clients: STREAM_CLIENTS, outcome: streamOutcome, withoutToken: streamsUnauthorized },
        peakConnections: { ...peak, bounds: { api: LIMITS.API_POOL_SIZE, persister: LIMITS.DB_POOL_SIZE, writer: 1 } },
        readiness: { ...readiness, afterFlood: stillReady },
        records: { produced: recorded.length, producedDuringFlood: recorded.length - half, storedOffsets: await storedOffsetsTotal(dbClient, group), distinctStored: stored.length },
      };
      mkdirSync(OUT, { recursive: true });
      writeFileSync(join(OUT, 'flood.json'), `${JSON.stringify(figures, null, 2)}\n`);
      process.stdout.write(`\nflood figures (also in apps/dedup-persister/test-output/flood.json):\n${JSON.stringify(figures, null, 2)}\n`);

      // Bounded: PostgreSQL never saw more connections than the pools allow.
      expect(peak.samples).toBeGreaterThan(10);
      expect(peak.api).toBeGreaterThan(0);
      expect(peak.api).toBeLessThanOrEqual(LIMITS.API_POOL_SIZE);
      expect(peak.persister).toBeLessThanOrEqual(LIMITS.DB_POOL_SIZE);
      expect(peak.writer).toBeLessThanOrEqual(1);
      // Streams: exactly the limit admitted, the rest told to come back later; none without the token.
      expect(opened.filter((s) => s.status === 200)).toHaveLength(LIMITS.EVENT_STREAM_MAX_CLIENTS);
      expect(opened.filter((s) => s.status === 503 && s.error === 'too_many_streams' && s.retryAfter !== null)).toHaveLength(STREAM_CLIENTS - LIMITS.EVENT_STREAM_MAX_CLIENTS);
      expect(streamsUnauthorized).toBe(401);
      // Bad requests: 4xx every time, whatever the load; nothing is a 500.
      for (const r of results) {
        if (r.kind === 'bad-param') expect(r.status).toBe(400);
        if (r.kind === 'no-token' || r.kind === 'bad-token') expect(r.status).toBe(401);
        if (r.kind === 'read-token-post') expect(r.status).toBe(403);
        if (r.kind === 'changes' || r.kind === 'suspicious' || r.kind === 'breakdown') {
          expect([200, 503]).toContain(r.status);
          if (r.status === 503) expect(['busy', 'timeout']).toContain(r.error);
        }
      }
      // Excess was refused rather than queued without bound, and some queries were still answered.
      expect(results.filter((r) => r.status === 503).length).toBeGreaterThan(0);
      expect(results.filter((r) => r.status === 200).length).toBeGreaterThan(0);
      // Never not ready, and what was produced during the flood was stored, once.
      expect(readiness.notOk).toBe(0);
      expect(readiness.ok).toBeGreaterThan(0);
      expect(stillReady).toBe(200);
      expect(stored).toEqual([...new Set(recorded.map((c) => c.id))].sort());
    } finally {
      for (const ac of streams) ac.abort();
      proc?.kill('SIGTERM');
      await proc?.exited();
      await dbClient.end().catch(() => undefined);
      await client.end();
      await db.drop();
    }
  }, 300_000);
});
