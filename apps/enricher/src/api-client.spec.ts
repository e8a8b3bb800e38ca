import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { classify } from '@wikimonitor/domain';
import { freePort } from '@wikimonitor/testing';
import { createApiClient } from './api-client';
import { createCallLimiter } from './limiter';

/** A plain local HTTP server answering as `handle` says (an Action API at the edge of its failures). */
async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; template: string }> {
  const server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, template: `http://127.0.0.1:${(server.address() as { port: number }).port}/{domain}/w/api.php` };
}

const client = (template: string, readTimeoutMs = 5_000) =>
  createApiClient({ urlTemplate: template, userAgent: 'WikiMonitor-enricher-tests/1.0 (tests@example.org)', connectTimeoutMs: 2_000, readTimeoutMs, maxlag: 5, content: false, limiter: createCallLimiter({ perKey: 2, ratePerSecond: 100 }), tracer: null });

describe('Action API client', () => {
  const servers: Server[] = [];
  afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

  it('revisions should send the issue query with the User-Agent and read the JSON answer and Retry-After', async () => {
    let seen: { url?: string; ua?: string } = {};
    const { server, template } = await serve((req, res) => {
      seen = { url: req.url, ua: req.headers['user-agent'] };
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Retry-After': '5' }).end('{"error":{"code":"maxlag","info":"Waiting for x: 7 seconds lagged.","lag":7}}');
    });
    servers.push(server);
    const api = client(template);
    const answer = await api.revisions({ domain: 'en.wikipedia.org', revids: [1, 2] });
    api.close();
    expect(seen.ua).toBe('WikiMonitor-enricher-tests/1.0 (tests@example.org)');
    const url = new URL(`http://x${seen.url}`);
    expect(url.pathname).toBe('/en.wikipedia.org/w/api.php');
    expect(Object.fromEntries(url.searchParams)).toEqual({ action: 'query', format: 'json', formatversion: '2', prop: 'revisions', revids: '1|2', rvprop: 'ids|size|sha1|contentmodel|timestamp', rvslots: 'main', maxlag: '5' });
    expect(answer).toEqual({ kind: 'response', status: 200, retryAfter: '5', body: { error: { code: 'maxlag', info: 'Waiting for x: 7 seconds lagged.', lag: 7 } } });
    expect(classify(answer, 1)).toMatchObject({ ok: false, reason: 'maxlag', retryAfterMs: 5_000 });
  });

  it('revisions should not follow a redirect: a 3xx is the answer', async () => {
    const { server, template } = await serve((_req, res) => res.writeHead(301, { Location: 'https://en.wikipedia.org/w/api.php' }).end());
    servers.push(server);
    const api = client(template);
    expect(await api.revisions({ domain: 'en.wikipedia.org', revids: [1] })).toMatchObject({ kind: 'response', status: 301 });
    api.close();
  });

  it('revisions should end a call without an answer in time as a read timeout', async () => {
    const { server, template } = await serve(() => undefined);
    servers.push(server);
    const api = client(template, 200);
    const answer = await api.revisions({ domain: 'en.wikipedia.org', revids: [1] });
    api.close();
    expect(answer).toMatchObject({ kind: 'error', error: 'read-timeout' });
    expect(classify(answer, 1)).toMatchObject({ reason: 'read-timeout', retriable: true });
  });

  it('revisions should report a refused connection as a connection failure (the connection timeout row)', async () => {
    const port = await freePort();
    const api = client(`http://127.0.0.1:${port}/{domain}/w/api.php`);
    const answer = await api.revisions({ domain: 'en.wikipedia.org', revids: [1] });
    api.close();
    expect(answer).toMatchObject({ kind: 'error', error: 'connection-failed' });
    expect(classify(answer, 1)).toMatchObject({ reason: 'connection-timeout', retriable: true });
  });
});
