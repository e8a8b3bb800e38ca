import { Registry } from 'prom-client';
import { createHttpServer } from './http';
import { presentedToken, tokensEqual } from './http-auth';
import { createLogger } from './logger';

const OPS = 'ops-token-0123456789abcdef';
const API = 'api-token-0123456789abcdef';
const log = createLogger('test', 'silent');

async function withServer(auth: { opsToken?: string; apiToken?: string }, fn: (url: string) => Promise<void>): Promise<void> {
  const server = createHttpServer({
    port: 0,
    host: '127.0.0.1',
    auth,
    registry: new Registry(),
    log,
    isLive: () => true,
    isReady: () => true,
    routes: (app) => {
      app.get('/api/things', (_req, res) => res.json({ things: [] }));
      app.post('/api/reset', (_req, res) => res.json({ reset: true }));
    },
  });
  await server.start();
  try {
    await fn(`http://127.0.0.1:${server.port()}`);
  } finally {
    await server.close();
  }
}

const call = async (url: string, init: { method?: string; token?: string; basic?: string } = {}) => {
  const headers: Record<string, string> = {};
  if (init.token !== undefined) headers['authorization'] = `Bearer ${init.token}`;
  if (init.basic !== undefined) headers['authorization'] = `Basic ${Buffer.from(`anyone:${init.basic}`).toString('base64')}`;
  const res = await fetch(url, { method: init.method ?? 'GET', headers });
  await res.arrayBuffer();
  return { status: res.status, challenge: res.headers.get('www-authenticate') };
};

describe('httpAuth', () => {
  it('httpAuth should keep probes and metrics open whatever the tokens', async () => {
    await withServer({ opsToken: OPS, apiToken: API }, async (url) => {
      for (const path of ['/healthz', '/readyz', '/metrics']) expect((await call(url + path)).status).toBe(200);
    });
  });

  it('httpAuth should answer 401 with a challenge for a missing or wrong token on reads when API_TOKEN is set', async () => {
    await withServer({ opsToken: OPS, apiToken: API }, async (url) => {
      const missing = await call(`${url}/api/things`);
      expect(missing.status).toBe(401);
      expect(missing.challenge).toMatch(/Bearer realm="wikimonitor"/);
      expect((await call(`${url}/api/things`, { token: 'wrong-token-0123456789' })).status).toBe(401);
      expect((await call(`${url}/api/things`, { token: API.slice(0, -1) })).status).toBe(401);
      expect((await call(`${url}/api/things`, { token: API })).status).toBe(200);
      expect((await call(`${url}/api/things`, { basic: API })).status).toBe(200); // a browser after its login prompt
      expect((await call(`${url}/api/things`, { token: OPS })).status).toBe(200); // operations may read
      expect((await call(`${url}/nothing-here`)).status).toBe(401); // unknown paths reveal nothing either
    });
  });

  it('httpAuth should leave reads open without API_TOKEN', async () => {
    await withServer({ opsToken: OPS }, async (url) => {
      expect((await call(`${url}/api/things`)).status).toBe(200);
    });
  });

  it('httpAuth should let only the operations token change state: 401 missing or wrong, 403 for the read token', async () => {
    await withServer({ opsToken: OPS, apiToken: API }, async (url) => {
      expect((await call(`${url}/api/reset`, { method: 'POST' })).status).toBe(401);
      expect((await call(`${url}/api/reset`, { method: 'POST', token: 'x'.repeat(24) })).status).toBe(401);
      expect((await call(`${url}/api/reset`, { method: 'POST', token: API })).status).toBe(403);
      expect((await call(`${url}/api/reset`, { method: 'POST', token: OPS })).status).toBe(200);
      expect((await call(`${url}/api/reset`, { method: 'DELETE', token: API })).status).toBe(403);
    });
  });

  it('httpAuth should refuse state-changing requests (403) when no operations token is configured', async () => {
    await withServer({}, async (url) => {
      expect((await call(`${url}/api/reset`, { method: 'POST' })).status).toBe(403);
      expect((await call(`${url}/api/reset`, { method: 'POST', token: OPS })).status).toBe(403);
      expect((await call(`${url}/api/things`)).status).toBe(200);
    });
  });

  it('tokensEqual should compare whole tokens of any length', () => {
    expect(tokensEqual(OPS, OPS)).toBe(true);
    expect(tokensEqual(OPS, `${OPS}x`)).toBe(false);
    expect(tokensEqual('', OPS)).toBe(false);
  });

  it('presentedToken should read Bearer and the password of Basic, nothing else', () => {
    expect(presentedToken(`Bearer ${OPS}`)).toBe(OPS);
    expect(presentedToken(`bearer ${OPS}`)).toBe(OPS);
    expect(presentedToken(`Basic ${Buffer.from(`u:${API}`).toString('base64')}`)).toBe(API);
    expect(presentedToken(`Basic ${Buffer.from(API).toString('base64')}`)).toBeUndefined();
    expect(presentedToken(`Token ${OPS}`)).toBeUndefined();
    expect(presentedToken(undefined)).toBeUndefined();
  });
});

describe('createHttpServer', () => {
  it('createHttpServer should bind the address it is given (HTTP_HOST)', async () => {
    const server = createHttpServer({ port: 0, host: '127.0.0.2', registry: new Registry(), log, isLive: () => true, isReady: () => true });
    await server.start();
    try {
      expect((await fetch(`http://127.0.0.2:${server.port()}/healthz`)).status).toBe(200);
      await expect(fetch(`http://127.0.0.1:${server.port()}/healthz`)).rejects.toThrow();
    } finally {
      await server.close();
    }
  });
});
