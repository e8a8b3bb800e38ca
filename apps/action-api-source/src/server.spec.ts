import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createLogger } from '@wikimonitor/service-kit';
import { loadConfig } from './config';
import { type ActionApiSource, createActionApiSource } from './server';
import type { KnownRevision } from './revisions';

const log = createLogger('test', 'silent');
const UA = 'WikiMonitor-tests/1.0 (https://example.org/wikimonitor; tests@example.org)';
const RECORDED = resolve(__dirname, '../../../data/recordings/mediawiki-action-api');

let source: ActionApiSource;
let enwiki: KnownRevision[];
let wikidata: KnownRevision[];

beforeAll(async () => {
  source = createActionApiSource({ config: loadConfig({ ACTION_API_SOURCE_PORT: '0', ACTION_API_SOURCE_HOST: '127.0.0.1', ACTION_API_SOURCE_STALL_MS: '60000' }, {}), log });
  await source.start();
  enwiki = [...(source.revisions().get('en.wikipedia.org')?.values() ?? [])];
  wikidata = [...(source.revisions().get('www.wikidata.org')?.values() ?? [])];
});
afterAll(() => source.close());
afterEach(() => source.setFaults({ revids: [], rates: [] }));

const FACTS = 'rvprop=ids|size|sha1|contentmodel|timestamp&rvslots=main';
const get = (domain: string, revids: number[], extra = `${FACTS}&maxlag=5&formatversion=2`, init: RequestInit = {}) =>
  fetch(`${source.apiUrl(domain)}?action=query&format=json&prop=revisions&revids=${revids.join('|')}&${extra}`, { headers: { 'User-Agent': UA }, redirect: 'manual', ...init });

interface Fv2Body {
  batchcomplete: boolean;
  query: { pages?: Array<{ pageid: number; ns: number; title: string; revisions: Array<Record<string, unknown>> }>; badrevids?: Record<string, { revid: number; missing: boolean }> };
  error?: { code: string; info: string; lag?: number; host?: string; type?: string; docref?: string };
  servedby?: string;
}

describe('action-api-source', () => {
  it('the stand-in should know the revisions of the recorded edit and new events', () => {
    expect(enwiki.length).toBeGreaterThan(50);
    expect(wikidata.length).toBeGreaterThan(1000);
  });

  it('a revision lookup should answer formatversion=2 with the revision facts of the recorded events, up to 50 revids, with the recorded headers', async () => {
    const asked = wikidata.slice(0, 50);
    const res = await get('www.wikidata.org', asked.map((r) => r.revid));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('private, must-revalidate, max-age=0');
    const body = (await res.json()) as Fv2Body;
    expect(body.batchcomplete).toBe(true);
    expect(body.query.badrevids).toBeUndefined();
    const revisions = (body.query.pages ?? []).flatMap((p) => p.revisions.map((r): Record<string, unknown> => ({ ...r, pageid: p.pageid, title: p.title })));
    expect(revisions.map((r) => r['revid']).sort()).toEqual(asked.map((r) => r.revid).sort());
    const one = asked[0] as KnownRevision;
    const rev = revisions.find((r) => r['revid'] === one.revid);
    expect(rev).toMatchObject({ parentid: one.parentid, size: one.size, timestamp: one.timestamp, title: one.title, slots: { main: { contentmodel: 'wikibase-item' } } });
    expect(rev?.['sha1']).toMatch(/^[0-9a-f]{40}$/);

    const tooMany = (await (await get('www.wikidata.org', wikidata.slice(0, 51).map((r) => r.revid))).json()) as Fv2Body;
    expect(tooMany.error?.code).toBe('toomanyvalues');
  });

  it('formatversion=1 should answer in the shape of the recorded responses (pages keyed by page id)', async () => {
    const rec = JSON.parse(readFileSync(join(RECORDED, 'wikiedu', readdirSync(join(RECORDED, 'wikiedu')).find((f) => f.endsWith('__006.json')) as string), 'utf8')) as { response: { body: string } };
    const recorded = JSON.parse(rec.response.body) as { query: { pages: Record<string, Record<string, unknown>> } };
    const res = await get('en.wikipedia.org', enwiki.slice(0, 2).map((r) => r.revid), 'rvprop=ids');
    const body = (await res.json()) as typeof recorded & { batchcomplete: string };
    expect(body.batchcomplete).toBe('');
    const shape = (pages: Record<string, Record<string, unknown>>) => Object.values(pages).map((p) => [Object.keys(p).sort(), Object.keys((p['revisions'] as object[])[0] as object).sort()]);
    expect(shape(body.query.pages)[0]).toEqual(shape(recorded.query.pages)[0]);
    for (const [k, p] of Object.entries(body.query.pages)) expect(String(p['pageid'])).toBe(k);
  });

  it('an unknown revid should be in badrevids with missing: true, and no pages key when all are bad (as recorded)', async () => {
    const body = (await (await get('en.wikipedia.org', [968242606])).json()) as Fv2Body;
    expect(body).toEqual({ batchcomplete: true, query: { badrevids: { '968242606': { revid: 968242606, missing: true } } } });
  });

  it('a request without a User-Agent should be refused with 403, as Wikimedia does', async () => {
    // node:http sends no User-Agent of its own (fetch would send "node").
    const { get: httpGet } = await import('node:http');
    const status = await new Promise<number | undefined>((done, fail) => {
      httpGet(`${source.apiUrl('en.wikipedia.org')}?action=query&prop=revisions&revids=1`, (res) => {
        res.resume();
        done(res.statusCode);
      }).on('error', fail);
    });
    expect(status).toBe(403);
  });

  it('each injected status should answer the request naming the revid, as often as asked', async () => {
    const [a, b] = enwiki.map((r) => r.revid);
    for (const status of [408, 204, 301, 302, 400, 404, 429, 500, 501, 502, 503, 504, 505]) {
      source.setFaults({ revids: [{ revid: a as number, fault: { kind: 'status', status }, times: 2 }], rates: [] });
      const first = await get('en.wikipedia.org', [b as number, a as number]);
      expect(first.status).toBe(status);
      if (status >= 300 && status < 400) expect(first.headers.get('location')).toMatch(/^https:\/\/en\.wikipedia\.org\/w\/api\.php\?/);
      await first.arrayBuffer();
      expect((await get('en.wikipedia.org', [a as number])).status).toBe(status);
      // Twice, then answered.
      const third = await get('en.wikipedia.org', [a as number]);
      expect(third.status).toBe(200);
      expect(((await third.json()) as Fv2Body).query.pages?.[0]?.revisions[0]?.['revid']).toBe(a);
    }
  });

  it('an injected badrevids should report only that revid missing', async () => {
    const [a, b] = enwiki.map((r) => r.revid) as [number, number];
    source.setFaults({ revids: [{ revid: a, fault: { kind: 'badrevids' }, times: Infinity }], rates: [] });
    const body = (await (await get('en.wikipedia.org', [a, b])).json()) as Fv2Body;
    expect(Object.keys(body.query.badrevids ?? {})).toEqual([String(a)]);
    expect(body.query.pages?.flatMap((p) => p.revisions.map((r) => r['revid']))).toEqual([b]);
  });

  it('an injected maxlag should answer 200 with the maxlag error, Retry-After and X-Database-Lag', async () => {
    const [a] = enwiki.map((r) => r.revid) as [number];
    source.setFaults({ revids: [{ revid: a, fault: { kind: 'maxlag' }, times: 1 }], rates: [] });
    const res = await get('en.wikipedia.org', [a]);
    expect(res.status).toBe(200);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.headers.get('x-database-lag')).toBe('7');
    const body = (await res.json()) as Fv2Body;
    // The recorded modern body's fields.
    const recorded = JSON.parse(readFileSync(join(RECORDED, 'wdtk', readdirSync(join(RECORDED, 'wdtk')).find((f) => f.includes('maxlag-full')) as string), 'utf8')) as { error: object };
    expect(Object.keys(body.error ?? {})).toEqual(expect.arrayContaining(Object.keys(recorded.error).filter((k) => k !== '*' && k !== 'queryserviceLag')));
    expect(body.error).toMatchObject({ code: 'maxlag', lag: 7, info: expect.stringMatching(/^Waiting for [\d.]+: 7 seconds lagged\.$/) });
  });

  it('an injected read timeout should never answer', async () => {
    const [a] = enwiki.map((r) => r.revid) as [number];
    source.setFaults({ revids: [{ revid: a, fault: { kind: 'read-timeout' }, times: 1 }], rates: [] });
    const outcome = await get('en.wikipedia.org', [a], undefined, { signal: AbortSignal.timeout(500) }).then(
      (r) => `answered ${r.status}`,
      (err: Error) => err.name,
    );
    expect(outcome).toBe('TimeoutError');
    expect((await get('en.wikipedia.org', [a])).status).toBe(200);
  });

  it('an injected rate should fail that share of requests (1: all, 0: none) and PUT /control/faults should replace the injections', async () => {
    const ids = enwiki.slice(0, 3).map((r) => r.revid);
    let res = await fetch(`http://127.0.0.1:${source.port()}/control/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failRate: '503=1' }) });
    expect(res.status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await get('en.wikipedia.org', ids)).status).toBe(503);
    expect((await fetch(`http://127.0.0.1:${source.port()}/control/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failRate: 'badrevids=1' }) })).status).toBe(200);
    const body = (await (await get('en.wikipedia.org', ids)).json()) as Fv2Body;
    expect(Object.keys(body.query.badrevids ?? {})).toHaveLength(3);
    res = await fetch(`http://127.0.0.1:${source.port()}/control/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failRate: 'boom=2' }) });
    expect(res.status).toBe(400);
    source.setFaults({ revids: [], rates: [{ fault: { kind: 'maxlag' }, rate: 0 }] });
    expect(((await (await get('en.wikipedia.org', ids)).json()) as Fv2Body).error).toBeUndefined();
    expect(source.stats().outcomes['503']).toBeGreaterThanOrEqual(3);
  });

  it('content should be the synthetic text of the revision size, whose SHA-1 is the sha1 served', async () => {
    const rev = enwiki.find((r) => r.size > 100) as KnownRevision;
    const body = (await (await get('en.wikipedia.org', [rev.revid], 'rvprop=ids|size|sha1|contentmodel|timestamp|content&rvslots=main&formatversion=2')).json()) as Fv2Body;
    const r = body.query.pages?.[0]?.revisions[0] as { sha1: string; slots: { main: { content: string; contentformat: string } } };
    expect(Buffer.byteLength(r.slots.main.content)).toBe(rev.size);
    expect(r.slots.main.contentformat).toBe('text/x-wiki');
    const { createHash } = await import('node:crypto');
    expect(createHash('sha1').update(r.slots.main.content).digest('hex')).toBe(r.sha1);
  });
});
