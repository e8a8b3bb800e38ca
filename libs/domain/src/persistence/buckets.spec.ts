import { type ChangesBucket, type StoredWindow, bucketSpan, bucketStart, mergeBuckets } from './buckets';

const M = 60_000;
const counts = (total: number, extra: Partial<StoredWindow> = {}) => ({
  total,
  by_type: { edit: total },
  bot: 0,
  human: total,
  bytes_added: total * 10,
  bytes_removed: 0,
  distinct_editors: total,
  top_pages: [{ title: 'P', count: total }],
  ...extra,
});
const win = (startMin: number, total: number, extra: Partial<StoredWindow> = {}): StoredWindow => ({ window_start: startMin * M, window_end: (startMin + 1) * M, ...counts(total, extra) });
const live = (startMin: number, total: number): ChangesBucket => ({ bucket_start: startMin * M, ...counts(total) });

describe('bucketStart and bucketSpan', () => {
  it.each([
    [0, M, 0],
    [M - 1, M, 0],
    [M, M, M],
    [7 * M + 5, 5 * M, 5 * M],
  ])('bucketStart(%i, %i) should be %i', (t, size, expected) => {
    expect(bucketStart(t, size)).toBe(expected);
  });

  it.each([
    [0, 10 * M, 5 * M, { start: 0, end: 10 * M, count: 2 }],
    [M, 11 * M, 5 * M, { start: 0, end: 15 * M, count: 3 }],
    [3 * M, 3 * M + 1, 5 * M, { start: 0, end: 5 * M, count: 1 }],
  ])('bucketSpan(%i, %i, %i) should cover whole buckets', (from, to, size, expected) => {
    expect(bucketSpan(from, to, size)).toEqual(expected);
  });
});

describe('mergeBuckets', () => {
  it('mergeBuckets should sum stored windows and newer changes into buckets without counting twice', () => {
    const out = mergeBuckets({
      from: 0,
      to: 15 * M,
      bucketMs: 5 * M,
      topN: 5,
      // windows cover minutes 0..7; changes after minute 7 come from the changes table
      windows: [win(0, 1), win(1, 2), win(4, 3), win(5, 4), win(6, 5)],
      changes: [live(7, 6), live(12, 7)],
    });
    expect(out.map((b) => [b.start / M, b.total, b.source, b.windows])).toEqual([
      [0, 6, 'windows', 3],
      [5, 15, 'both', 2],
      [10, 7, 'changes', 0],
    ]);
    expect(out[0]?.top_pages).toEqual([{ title: 'P', count: 6 }]);
    expect(out[0]?.bytes_added).toBe(60);
    expect(out[1]?.distinct_editors_exact).toBe(false);
    expect(out[2]?.distinct_editors_exact).toBe(true);
  });

  it('mergeBuckets should return empty buckets for a range with no data', () => {
    const out = mergeBuckets({ from: 0, to: 2 * M, bucketMs: M, topN: 3, windows: [], changes: [] });
    expect(out).toHaveLength(2);
    expect(out.every((b) => b.source === 'none' && b.total === 0)).toBe(true);
  });

  it('mergeBuckets should ignore windows outside the range and rank top pages by count then title', () => {
    const out = mergeBuckets({
      from: 0,
      to: M,
      bucketMs: M,
      topN: 2,
      windows: [win(-1, 9), win(0, 1, { top_pages: [{ title: 'b', count: 2 }, { title: 'a', count: 2 }, { title: 'c', count: 1 }] }), win(1, 9)],
      changes: [],
    });
    expect(out).toHaveLength(1);
    expect(out[0]?.total).toBe(1);
    expect(out[0]?.top_pages).toEqual([
      { title: 'a', count: 2 },
      { title: 'b', count: 2 },
    ]);
  });
});
