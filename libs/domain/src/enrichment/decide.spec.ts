import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MAX_REVIDS_PER_CALL, parseRevisionsBody, revisionsQuery, utf8Prefix } from './action-api';
import { classify, decide, parseRetryAfter, retryBackoff } from './decide';
import type { ApiAnswer, RetryPolicy } from './types';

const REVID = 1_170_000_001;
const POLICY: RetryPolicy = { maxAttempts: 4, initialMs: 100, maxMs: 2_000, maxRetryAfterMs: 30_000 };
const RECORDED = resolve(__dirname, '../../../../data/recordings/mediawiki-action-api');
const recorded = (dir: string, match: string): unknown => {
  const file = readdirSync(join(RECORDED, dir)).find((f) => f.includes(match)) as string;
  return JSON.parse(readFileSync(join(RECORDED, dir, file), 'utf8'));
};

const okBody = (revid: number) => ({
  batchcomplete: true,
  query: {
    pages: [
      {
        pageid: 42,
        ns: 0,
        title: 'Tantrum',
        revisions: [{ revid, parentid: revid - 1, timestamp: '2026-02-26T15:49:36Z', size: 1234, sha1: 'a'.repeat(40), slots: { main: { contentmodel: 'wikitext' } } }],
      },
    ],
  },
});
const http = (status: number, body?: unknown, retryAfter?: string): ApiAnswer => ({ kind: 'response', status, body, retryAfter });
// The recorded maxlag bodies (Wikidata-Toolkit test resources) and the badrevids body quoted in WikiEduDashboard.
const maxlagFull = recorded('wdtk', 'maxlag-full');
const maxlagOld = recorded('wdtk', 'error-maxlag.json');
const badrevidsBody = { batchcomplete: true, query: { badrevids: { [REVID]: { revid: REVID, missing: true } } } };

/**
 * The failure table of the issue (Wikimedia's page_content_change enrichment), one row per row, in
 * its order and words; `answers` are the API answers that fall in the row, each with whether the
 * row retries it.
 */
const TABLE: Array<{ failure: string; http: string; retry: string; enriched: 'no'; errorTopic: 'yes'; reason: string; answers: Array<[string, ApiAnswer, boolean]> }> = [
  {
    failure: 'connection timeout',
    http: '408',
    retry: 'yes, up to a threshold',
    enriched: 'no',
    errorTopic: 'yes',
    reason: 'connection-timeout',
    answers: [
      ['HTTP 408', http(408), true],
      ['connect timeout', { kind: 'error', error: 'connect-timeout' }, true],
      ['connection refused', { kind: 'error', error: 'connection-failed', message: 'ECONNREFUSED' }, true],
    ],
  },
  { failure: 'read timeout', http: '-', retry: 'yes, up to a threshold', enriched: 'no', errorTopic: 'yes', reason: 'read-timeout', answers: [['read timeout', { kind: 'error', error: 'read-timeout' }, true]] },
  { failure: 'no content', http: '204', retry: 'no', enriched: 'no', errorTopic: 'yes', reason: 'no-content', answers: [['HTTP 204', http(204), false]] },
  {
    failure: 'further action needed',
    http: '3xx',
    retry: 'no',
    enriched: 'no',
    errorTopic: 'yes',
    reason: 'further-action',
    answers: [300, 301, 302, 303, 304, 307, 308].map((s) => [`HTTP ${s}`, http(s), false]),
  },
  {
    failure: 'other request errors',
    http: '4xx',
    retry: 'no',
    enriched: 'no',
    errorTopic: 'yes',
    reason: 'request-error',
    answers: [400, 401, 403, 404, 405, 410, 414, 429].map((s) => [`HTTP ${s}`, http(s), false]),
  },
  {
    failure: 'internal error',
    http: '5xx',
    retry: '500, 502, 503, 504 retried; other 5xx not',
    enriched: 'no',
    errorTopic: 'yes',
    reason: 'internal-error',
    answers: [500, 501, 502, 503, 504, 505, 507, 508, 511].map((s) => [`HTTP ${s}`, http(s), [500, 502, 503, 504].includes(s)]),
  },
  {
    failure: 'missing content: `badrevids` in the response',
    http: '200',
    retry: 'yes, up to a threshold',
    enriched: 'no',
    errorTopic: 'yes',
    reason: 'badrevids',
    answers: [
      ['badrevids (formatversion=2, missing: true)', http(200, badrevidsBody), true],
      ['badrevids (the recorded formatversion=1 body)', http(200, { batchcomplete: '', query: { badrevids: { [REVID]: { revid: REVID } } } }), true],
    ],
  },
  {
    failure: 'missing content: replica lag beyond `maxlag`',
    http: '200',
    retry: 'yes, up to a threshold (honour `Retry-After`)',
    enriched: 'no',
    errorTopic: 'yes',
    reason: 'maxlag',
    answers: [
      ['maxlag, the recorded modern body, Retry-After: 5', http(200, maxlagFull, '5'), true],
      ['maxlag, the recorded old body, Retry-After: 1', http(200, maxlagOld, '1'), true],
    ],
  },
];

describe('enrichment decide', () => {
  describe.each(TABLE)('failure table row "$failure" (HTTP $http, retry: $retry)', (row) => {
    it.each(row.answers)('decide should never enrich %s, retry it as the row says and end it in the error topic with the row reason', (_name, answer, retried) => {
      const first = decide(answer, REVID, 1, POLICY, { random: () => 0.5 });
      expect(first.action).toBe(retried ? 'retry-after' : 'error-topic');
      expect(first).toMatchObject({ reason: row.reason });
      const expectedStatus = answer.kind === 'response' ? answer.status : null;
      expect(first).toMatchObject({ status: expectedStatus });
      // At the threshold every row goes to the error topic, with the attempts it took.
      const last = decide(answer, REVID, POLICY.maxAttempts, POLICY, { random: () => 0.5 });
      expect(last).toMatchObject({ action: 'error-topic', reason: row.reason, status: expectedStatus, attempts: POLICY.maxAttempts });
      for (let a = 1; a <= POLICY.maxAttempts; a++) expect(decide(answer, REVID, a, POLICY).action).not.toBe('enrich');
    });
  });

  it('the table should have the issue table rows, in order', () => {
    expect(TABLE.map((r) => `${r.failure} | ${r.http}`)).toEqual([
      'connection timeout | 408',
      'read timeout | -',
      'no content | 204',
      'further action needed | 3xx',
      'other request errors | 4xx',
      'internal error | 5xx',
      'missing content: `badrevids` in the response | 200',
      'missing content: replica lag beyond `maxlag` | 200',
    ]);
  });

  it('decide should enrich a revision the answer has, with its facts', () => {
    expect(decide(http(200, okBody(REVID)), REVID, 1, POLICY)).toEqual({
      action: 'enrich',
      facts: { revId: REVID, parentId: REVID - 1, pageId: 42, title: 'Tantrum', size: 1234, sha1: 'a'.repeat(40), contentModel: 'wikitext', timestamp: Date.parse('2026-02-26T15:49:36Z'), content: null },
    });
  });

  it('decide should treat a revision absent from a good answer as missing content (badrevids row)', () => {
    expect(decide(http(200, okBody(REVID + 1)), REVID, 1, POLICY)).toMatchObject({ action: 'retry-after', reason: 'badrevids' });
  });

  it('decide should wait at least the Retry-After of a maxlag answer, bounded by maxRetryAfterMs', () => {
    const d = decide(http(200, maxlagFull, '5'), REVID, 1, POLICY, { random: () => 0 });
    expect(d).toMatchObject({ action: 'retry-after', delayMs: 5_000 });
    const capped = decide(http(200, maxlagFull, '3600'), REVID, 1, POLICY, { random: () => 0 });
    expect(capped).toMatchObject({ action: 'retry-after', delayMs: POLICY.maxRetryAfterMs });
    // Without the header the reported lag (3.45 s) is the wait.
    expect(decide(http(200, maxlagFull), REVID, 1, POLICY, { random: () => 0 })).toMatchObject({ delayMs: 4_000 });
    // A backoff longer than Retry-After wins.
    expect(decide(http(503, undefined, '0'), REVID, 3, POLICY, { random: () => 1 })).toMatchObject({ delayMs: 400 });
  });

  it('retryBackoff should double its ceiling per attempt up to maxMs, with jitter in [ceiling/2, ceiling]', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => retryBackoff(a, POLICY, () => 1))).toEqual([100, 200, 400, 800, 1600, 2000]);
    expect([1, 2, 6].map((a) => retryBackoff(a, POLICY, () => 0))).toEqual([50, 100, 1000]);
    for (let i = 0; i < 200; i++) {
      const d = retryBackoff(3, POLICY);
      expect(d).toBeGreaterThanOrEqual(200);
      expect(d).toBeLessThanOrEqual(400);
    }
  });

  it('parseRetryAfter should read delta-seconds and HTTP-dates', () => {
    expect(parseRetryAfter('5', 0)).toBe(5_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(5_000);
    expect(parseRetryAfter('soon', 0)).toBeNull();
    expect(parseRetryAfter(undefined, 0)).toBeNull();
  });

  it('classify should send another API error in a 200 answer to the error topic as a request error', () => {
    expect(classify(http(200, { error: { code: 'badvalue', info: 'Unrecognized value' } }), REVID)).toMatchObject({ ok: false, reason: 'request-error', retriable: false });
  });
});

describe('Action API answers', () => {
  it('parseRevisionsBody should read every recorded revids= answer (formatversion=1), revisions of one page grouped', () => {
    const dir = join(RECORDED, 'wikiedu');
    let revisions = 0;
    for (const f of readdirSync(dir)) {
      const rec = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { request: { uri: string }; response: { body: string } };
      const asked = decodeURIComponent(new URL(rec.request.uri).searchParams.get('revids') ?? '').split('|').map(Number);
      const body = parseRevisionsBody(JSON.parse(rec.response.body));
      expect(body).not.toBeNull();
      expect(asked.length).toBeLessThanOrEqual(MAX_REVIDS_PER_CALL);
      for (const id of body?.revisions.keys() ?? []) expect(asked).toContain(id);
      revisions += body?.revisions.size ?? 0;
    }
    expect(revisions).toBeGreaterThan(100);
  });

  it('parseRevisionsBody should read the recorded content slots (Wikidata entity JSON) and the recorded badrevids body', () => {
    const rec = recorded('wikiedu', '__115') as { response: { body: string } };
    const body = parseRevisionsBody(JSON.parse(rec.response.body));
    const first = [...(body?.revisions.values() ?? [])][0];
    expect(first?.contentModel).toBe('wikibase-item');
    expect(first?.content?.startsWith('{"type":"item"')).toBe(true);
    const bad = parseRevisionsBody(recorded('wikiedu-comment', 'badrevids'));
    expect([...(bad?.badrevids ?? [])]).toEqual([968242606]);
    expect(bad?.revisions.size).toBe(0);
  });

  it('revisionsQuery should ask for the issue parameters', () => {
    expect(revisionsQuery([1, 2])).toEqual({ action: 'query', format: 'json', formatversion: '2', prop: 'revisions', revids: '1|2', rvprop: 'ids|size|sha1|contentmodel|timestamp', rvslots: 'main', maxlag: '5' });
    expect(revisionsQuery([1], { content: true }).rvprop).toBe('ids|size|sha1|contentmodel|timestamp|content');
  });

  it('utf8Prefix should cut at a character boundary within the byte budget', () => {
    expect(utf8Prefix('abc', 2)).toBe('ab');
    expect(utf8Prefix('aé', 2)).toBe('a');
    expect(utf8Prefix('a😀b', 5)).toBe('a😀');
  });
});
