import { parseBreakdownQuery, parseSeriesQuery, parseSuspiciousQuery } from './params';

const NOW = Date.parse('2026-03-01T12:00:00Z');

describe('analytics parameters', () => {
  it.each([
    ['no range: the last hour', {}, { from: NOW - 3_600_000, to: NOW, range: '1h', wikis: 5 }],
    ['a preset', { range: '30d', wiki: 'enwiki', wikis: '0' }, { from: NOW - 30 * 86_400_000, to: NOW, range: '30d', wiki: 'enwiki', wikis: 0 }],
    ['from and to', { from: '2026-02-01T00:00:00Z', to: '2026-02-02T00:00:00Z' }, { from: Date.parse('2026-02-01T00:00:00Z'), to: Date.parse('2026-02-02T00:00:00Z'), wikis: 5 }],
  ])('parseSeriesQuery should accept %s', (_n, raw, expected) => expect(parseSeriesQuery(raw, NOW)).toEqual({ ok: true, value: expected }));

  it.each([
    [{ range: '2h' }, 'range', 'range: must be one of 15m, 1h, 6h, 24h, 7d, 30d'],
    [{ range: '1h', from: '2026-01-01' }, 'range', 'range: give either range or from/to, not both'],
    [{ to: '2026-01-01' }, 'from', 'from: is required with to'],
    [{ from: '2026-03-01T13:00:00Z', to: '2026-03-01T12:00:00Z' }, 'from', 'from: must be before to'],
    [{ from: '2020-01-01' }, 'from', 'from: the range must be at most 400 days'],
    [{ wiki: 'EN WIKI' }, 'wiki', expect.stringContaining('wiki: must be a wiki database name')],
    [{ wikis: '11' }, 'wikis', 'wikis: must be an integer from 0 to 10'],
    [{ limit: '5' }, 'limit', expect.stringContaining('limit: unknown parameter')],
  ])('parseSeriesQuery should refuse %j naming %s', (raw, param, message) => expect(parseSeriesQuery(raw, NOW)).toEqual({ ok: false, param, message }));

  it('parseBreakdownQuery and parseSuspiciousQuery should check their own limits', () => {
    expect(parseBreakdownQuery({ top: '0' }, NOW)).toMatchObject({ ok: false, param: 'top' });
    expect(parseBreakdownQuery({ top: '50', range: '24h' }, NOW)).toMatchObject({ ok: true, value: { top: 50, from: NOW - 86_400_000 } });
    expect(parseSuspiciousQuery({ limit: '501' }, NOW)).toMatchObject({ ok: false, param: 'limit' });
  });
});
