import { API_LIMITS, decodeCursor, encodeCursor, parseAggregatesQuery, parseAlertsQuery, parseChangesQuery } from './query-params';

const NOW = Date.UTC(2026, 1, 26, 16, 0, 0);

describe('parseChangesQuery', () => {
  it('parseChangesQuery should apply defaults to an empty query', () => {
    expect(parseChangesQuery({})).toEqual({ ok: true, value: { limit: API_LIMITS.defaultLimit } });
  });

  it('parseChangesQuery should accept every filter', () => {
    const cursor = encodeCursor({ time: 5, id: 'x' });
    const r = parseChangesQuery({ wiki: 'enwiki', type: 'edit,new', user: 'Some User', bot: 'false', from: '2026-02-26T15:00:00Z', to: '1772121600000', limit: '50', cursor });
    expect(r).toEqual({
      ok: true,
      value: { wiki: 'enwiki', types: ['edit', 'new'], user: 'Some User', bot: false, from: Date.UTC(2026, 1, 26, 15), to: 1772121600000, limit: 50, cursor: { time: 5, id: 'x' } },
    });
  });

  it('parseChangesQuery should cap the limit at the maximum', () => {
    expect(parseChangesQuery({ limit: '999999' })).toEqual({ ok: true, value: { limit: API_LIMITS.maxLimit } });
  });

  it.each([
    [{ wiki: 'EN WIKI' }, 'wiki'],
    [{ wiki: '' }, 'wiki'],
    [{ wiki: ['enwiki', 'dewiki'] }, 'wiki'],
    [{ type: 'edit,bogus' }, 'type'],
    [{ user: 'x'.repeat(256) }, 'user'],
    [{ user: 'bad\u0001name' }, 'user'],
    [{ bot: 'yes' }, 'bot'],
    [{ from: 'yesterday' }, 'from'],
    [{ from: '2026-02-26T15:00:00' }, 'from'], // a time without a zone is ambiguous
    [{ to: '2026-13-45' }, 'to'],
    [{ from: '2026-02-27', to: '2026-02-26' }, 'from'],
    [{ limit: '0' }, 'limit'],
    [{ limit: '-5' }, 'limit'],
    [{ limit: '1.5' }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ cursor: 'not a cursor!' }, 'cursor'],
    [{ cursor: 'Zm9v' }, 'cursor'], // base64 of "foo": well-formed but not ours
    [{ wkii: 'enwiki' }, 'wkii'], // typo: unknown parameter
    [{ "wiki'; DROP TABLE wiki_changes; --": 'x' }, "wiki'; DROP TABLE wiki_changes; --"],
  ])('parseChangesQuery should reject %j naming %s', (raw, param) => {
    const r = parseChangesQuery(raw as Record<string, unknown>);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.param).toBe(param);
    expect(r.message.startsWith(`${param}: `)).toBe(true);
  });
});

describe('parseAggregatesQuery', () => {
  it('parseAggregatesQuery should default to the hour before now in 1-minute buckets', () => {
    expect(parseAggregatesQuery({ wiki: 'enwiki' }, NOW)).toEqual({
      ok: true,
      value: { wiki: 'enwiki', from: NOW - 3_600_000, to: NOW, bucket: '1m', bucketMs: 60_000, top: API_LIMITS.defaultTopPages },
    });
  });

  it.each([
    [{}, 'wiki'],
    [{ wiki: 'enwiki', bucket: '7m' }, 'bucket'],
    [{ wiki: 'enwiki', bucket: '1m', from: '2026-01-01', to: '2026-02-01' }, 'bucket'], // too many buckets
    [{ wiki: 'enwiki', top: 'many' }, 'top'],
    [{ wiki: 'enwiki', from: String(NOW), to: String(NOW) }, 'from'],
    [{ wiki: 'enwiki', limit: '5' }, 'limit'],
  ])('parseAggregatesQuery should reject %j naming %s', (raw, param) => {
    const r = parseAggregatesQuery(raw, NOW);
    expect(r).toMatchObject({ ok: false, param });
  });

  it('parseAggregatesQuery should accept a month in daily buckets', () => {
    const r = parseAggregatesQuery({ wiki: 'wikidatawiki', bucket: '1d', from: '2026-01-01', to: '2026-02-01', top: '3' }, NOW);
    expect(r).toMatchObject({ ok: true, value: { bucketMs: 86_400_000, top: 3 } });
  });
});

describe('parseAlertsQuery', () => {
  it('parseAlertsQuery should accept kind, severity and subject filters', () => {
    expect(parseAlertsQuery({ kind: 'spike', severity: 'warning,critical', subject: 'enwiki', limit: '5' })).toEqual({
      ok: true,
      value: { kinds: ['spike'], severities: ['warning', 'critical'], subject: 'enwiki', limit: 5 },
    });
  });

  it.each([
    [{ kind: 'fire' }, 'kind'],
    [{ severity: 'huge' }, 'severity'],
    [{ subject: '' }, 'subject'],
    [{ from: 'x' }, 'from'],
    [{ wiki: 'enwiki' }, 'wiki'],
  ])('parseAlertsQuery should reject %j naming %s', (raw, param) => {
    expect(parseAlertsQuery(raw)).toMatchObject({ ok: false, param });
  });
});

describe('page cursors', () => {
  it.each([
    [{ time: 0, id: 'a' }],
    [{ time: 1772121600000, id: '6f1e1c4a-5d3b-4b8e-9f00-0123456789ab' }],
    [{ time: 1, id: 'spike:zh_min_nanwiki:ünïcødé:with:colons' }],
  ])('encodeCursor should round-trip %j', (c) => {
    const s = encodeCursor(c);
    expect(s).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(s)).toEqual(c);
  });
});
