import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createLogger } from '@wikimonitor/service-kit';
import express, { type Express } from 'express';
import pg from 'pg';
import { analyticsRoutes, createAnalyticsHub } from './analytics-api';
import { historyRoutes } from './api';

interface Param {
  name: string;
  in: string;
}
interface Spec {
  paths: Record<string, Record<string, { parameters: Param[] }>>;
}
const spec = JSON.parse(readFileSync(join(__dirname, '..', 'openapi.json'), 'utf8')) as Spec;

/** The app's routes on a pool that never connects: validation answers before any query. */
function appWithRoutes(): { app: Express; pool: pg.Pool } {
  const app = express();
  const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', connectionTimeoutMillis: 200 });
  const log = createLogger('test', 'silent');
  analyticsRoutes({ pool, log, dbUp: () => false, hub: createAnalyticsHub({ maxClients: 10 }), pageDir: __dirname })(app);
  historyRoutes({ pool, log, dbUp: () => false })(app);
  return { app, pool };
}

/** Every GET route Express knows under /api (Express 5 keeps them on app.router.stack). */
function apiRoutes(app: Express): string[] {
  const stack = (app as unknown as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } }).router.stack;
  return stack
    .filter((l) => l.route && l.route.path.startsWith('/api/') && l.route.path !== '/api/openapi.json')
    .map((l) => `${Object.keys(l.route?.methods ?? {})[0]?.toUpperCase()} ${l.route?.path.replace(/:(\w+)/g, '{$1}')}`)
    .sort();
}

describe('OpenAPI description against the routes', () => {
  const { app, pool } = appWithRoutes();
  let server: Server;
  beforeAll(async () => {
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await pool.end();
  });
  /** GET path?query on the app; the status and the JSON body. */
  const get = async (path: string, query: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> => {
    const url = new URL(path, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const res = await fetch(url);
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
  };

  it('openapi.json should describe exactly the GET routes under /api', () => {
    const documented = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
    expect(documented).toEqual(apiRoutes(app));
  });

  const queryEndpoints = Object.entries(spec.paths).filter(([path]) => !path.includes('{'));
  it.each(queryEndpoints)('%s should accept every documented parameter as a name and refuse an undocumented one with 400', async (path, ops) => {
    const params = (ops['get']?.parameters ?? []).filter((p) => p.in === 'query');
    for (const p of params) {
      // A value of the wrong shape is fine here: what is checked is that the name is known.
      const res = await get(path, { [p.name]: 'x' });
      if (res.status === 400) expect({ param: p.name, message: res.body.message }).not.toEqual({ param: p.name, message: expect.stringContaining('unknown parameter') });
    }
    const res = await get(path, { not_a_parameter: '1' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'bad_request', parameter: 'not_a_parameter', message: expect.stringContaining('unknown parameter') });
  });

  it.each([
    ['/api/analytics/series', { range: '2d' }, 'range', 'range: must be one of 15m, 1h, 6h, 24h, 7d, 30d'],
    ['/api/analytics/series', { from: 'yesterday' }, 'from', expect.stringContaining('from: must be an ISO-8601 date')],
    ['/api/analytics/breakdown', { top: '500' }, 'top', 'top: must be an integer from 1 to 50'],
    ['/api/analytics/breakdown', { wiki: "en'; DROP TABLE wiki_changes; --" }, 'wiki', expect.stringContaining('wiki: must be a wiki database name')],
    ['/api/analytics/suspicious', { range: '1h', to: '2026-01-01' }, 'range', 'range: give either range or from/to, not both'],
    ['/api/changes', { namespace: 'main' }, 'namespace', expect.stringContaining('namespace: must be one or more integers')],
  ])('%s should answer 400 naming the parameter for %j', async (path, query, parameter, message) => {
    const res = await get(path, query as Record<string, string>);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'bad_request', parameter, message });
  });
});
