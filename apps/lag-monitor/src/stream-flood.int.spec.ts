import { freePort, getTestEnv, startBuiltApp, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { testLeaseSettings } from '../testing/int-support';

// The built app (npx nx build lag-monitor) on the real broker: more dashboards than it admits, the
// token check on the dashboard and its API, and readiness throughout.
const API_TOKEN = 'lm-flood-api-token-0123456789';
const MAX_CLIENTS = 10;
const CLIENTS = 40;

describe('lag-monitor under a flood of dashboard event streams', () => {
  it('lag-monitor should admit EVENT_STREAM_MAX_CLIENTS streams, answer the rest 503, require the token and stay ready', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.lm.flood');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const auth = { authorization: `Bearer ${API_TOKEN}` };
    const proc = startBuiltApp('lag-monitor', {
      HTTP_PORT: String(port),
      HTTP_HOST: '127.0.0.1',
      API_TOKEN,
      EVENT_STREAM_MAX_CLIENTS: String(MAX_CLIENTS),
      KAFKA_BOOTSTRAP_SERVERS: conn.bootstrapServers,
      SCHEMA_REGISTRY_URL: env.registryUrl,
      ...testLeaseSettings(prefix),
      GROUP_ALLOW: `^${prefix.replace(/\./g, '\\.')}`,
      CYCLE_INTERVAL_MS: '500',
      PROBE_ENABLED: 'false',
      ALERTS_ENABLED: 'false',
      LOG_LEVEL: 'warn',
    });
    const streams: AbortController[] = [];
    try {
      await proc.waitReady(`${base}/readyz`, 90_000);
      await waitFor(async () => (await fetch(`${base}/api/snapshot`, { headers: auth })).status === 200, 'a first monitoring cycle', 60_000, 250);

      // Without the token: the dashboard, its API and its stream answer 401; probes and metrics stay open.
      const open = await Promise.all(['/healthz', '/readyz', '/metrics'].map(async (p) => (await fetch(base + p)).status));
      const closed = await Promise.all(['/', '/api/groups', '/api/events'].map(async (p) => (await fetch(base + p)).status));
      const wrong = (await fetch(`${base}/api/groups`, { headers: { authorization: `Bearer ${API_TOKEN}x` } })).status;
      const page = await fetch(`${base}/`, { headers: { authorization: `Basic ${Buffer.from(`me:${API_TOKEN}`).toString('base64')}` } });

      let probing = true;
      const readiness = { ok: 0, notOk: 0 };
      const prober = (async () => {
        while (probing) {
          const res = await fetch(`${base}/readyz`).catch(() => undefined);
          if (res?.status === 200) readiness.ok++;
          else readiness.notOk++;
          await res?.arrayBuffer();
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const outcomes = await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          const ac = new AbortController();
          streams.push(ac);
          const res = await fetch(`${base}/api/events`, { headers: auth, signal: ac.signal });
          if (res.status !== 200) return { status: res.status, snapshot: false, error: ((await res.json()) as { error: string }).error };
          // An admitted dashboard gets the current snapshot at once.
          const reader = (res.body as ReadableStream<Uint8Array>).getReader();
          let text = '';
          while (!text.includes('event: snapshot')) {
            const { value, done } = await reader.read();
            if (done) break;
            text += Buffer.from(value).toString('utf8');
          }
          return { status: 200, snapshot: text.includes('event: snapshot'), error: '' };
        }),
      );
      // Streams closed by their clients free their places.
      for (const ac of streams.splice(0)) ac.abort();
      const again = await waitFor(async () => {
        const ac = new AbortController();
        const res = await fetch(`${base}/api/events`, { headers: auth, signal: ac.signal });
        ac.abort();
        return res.status === 200 ? res.status : undefined;
      }, 'a place freed', 30_000, 200);
      probing = false;
      await prober;

      const figures = {
        clients: CLIENTS,
        max: MAX_CLIENTS,
        admitted: outcomes.filter((o) => o.status === 200).length,
        admittedWithSnapshot: outcomes.filter((o) => o.snapshot).length,
        refused503: outcomes.filter((o) => o.status === 503 && o.error === 'too_many_streams').length,
        withoutToken: { '/': closed[0], '/api/groups': closed[1], '/api/events': closed[2], wrongToken: wrong },
        open: { '/healthz': open[0], '/readyz': open[1], '/metrics': open[2] },
        readiness,
      };
      process.stdout.write(`\nlag-monitor stream flood figures:\n${JSON.stringify(figures, null, 2)}\n`);

      expect(open).toEqual([200, 200, 200]);
      expect(closed).toEqual([401, 401, 401]);
      expect(wrong).toBe(401);
      expect(page.status).toBe(200);
      expect(figures.admitted).toBe(MAX_CLIENTS);
      expect(figures.admittedWithSnapshot).toBe(MAX_CLIENTS);
      expect(figures.refused503).toBe(CLIENTS - MAX_CLIENTS);
      expect(again).toBe(200);
      expect(readiness.notOk).toBe(0);
      expect(readiness.ok).toBeGreaterThan(0);
    } finally {
      for (const ac of streams) ac.abort();
      proc.kill('SIGTERM');
      await proc.exited();
    }
  }, 180_000);
});
