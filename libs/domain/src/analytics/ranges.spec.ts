import { stepFor, tileRange } from './ranges';

const T = (s: string) => Date.parse(s);
const iso = (tiles: ReturnType<typeof tileRange>) => tiles.map((t) => `${t.level} ${new Date(t.from).toISOString().slice(0, 16)}..${new Date(t.to).toISOString().slice(0, 16)}`);

describe('tileRange', () => {
  it.each([
    ['within one hour: minutes only', '2026-03-01T10:05:00Z', '2026-03-01T10:20:00Z', undefined, ['minute 2026-03-01T10:05..2026-03-01T10:20']],
    ['partial minutes round outward', '2026-03-01T10:05:30Z', '2026-03-01T10:06:10Z', undefined, ['minute 2026-03-01T10:05..2026-03-01T10:07']],
    ['an hour and a bit', '2026-03-01T09:50:00Z', '2026-03-01T11:10:00Z', undefined, ['minute 2026-03-01T09:50..2026-03-01T10:00', 'hour 2026-03-01T10:00..2026-03-01T11:00', 'minute 2026-03-01T11:00..2026-03-01T11:10']],
    [
      'days in the middle, hours and minutes at the edges',
      '2026-03-01T22:30:00Z',
      '2026-03-04T01:15:00Z',
      undefined,
      ['minute 2026-03-01T22:30..2026-03-01T23:00', 'hour 2026-03-01T23:00..2026-03-02T00:00', 'day 2026-03-02T00:00..2026-03-04T00:00', 'hour 2026-03-04T00:00..2026-03-04T01:00', 'minute 2026-03-04T01:00..2026-03-04T01:15'],
    ],
    ['hour and day levels only: the edges are raw', '2026-03-01T22:30:00Z', '2026-03-03T01:15:00Z', ['hour', 'day'] as const, ['raw 2026-03-01T22:30..2026-03-01T23:00', 'hour 2026-03-01T23:00..2026-03-02T00:00', 'day 2026-03-02T00:00..2026-03-03T00:00', 'hour 2026-03-03T00:00..2026-03-03T01:00', 'raw 2026-03-03T01:00..2026-03-03T01:15']],
    ['empty range', '2026-03-01T10:00:00Z', '2026-03-01T10:00:00Z', undefined, []],
  ])('tileRange should split %s', (_name, from, to, levels, expected) => {
    expect(iso(tileRange(T(from), T(to), levels))).toEqual(expected);
  });

  it('tileRange should cover the range without gaps or overlaps', () => {
    const from = T('2026-01-01T03:17:00Z');
    const to = T('2026-01-31T19:42:00Z');
    const tiles = tileRange(from, to);
    expect(tiles[0]?.from).toBe(from);
    expect(tiles[tiles.length - 1]?.to).toBe(to);
    for (let i = 1; i < tiles.length; i++) expect(tiles[i]?.from).toBe(tiles[i - 1]?.to);
    expect(tiles.length).toBeLessThanOrEqual(5);
  });
});

describe('stepFor', () => {
  it.each([
    [900_000, 'minute'],
    [12 * 3_600_000, 'minute'],
    [24 * 3_600_000, 'hour'],
    [30 * 86_400_000, 'hour'],
    [90 * 86_400_000, 'day'],
  ])('stepFor should give %d ms a %s step', (ms, step) => expect(stepFor(ms)).toBe(step));
});
