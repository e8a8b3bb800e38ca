import { type StableOffsetTrack, trackStableOffset } from './transactions';

/** Observations are 1 s apart: stuck from the third second on. */
const K = 3_000;
const T0 = 1_700_000_000_000;

/** Runs observations [lastStable, highWatermark] one second apart; returns the stuck flag of each. */
function run(points: Array<[number, number]>): Array<{ stuck: boolean; stuckSince: number | null }> {
  let track: StableOffsetTrack | undefined;
  return points.map(([lastStable, highWatermark], i) => {
    const v = trackStableOffset(track, { at: T0 + i * 1000, lastStable, highWatermark }, K);
    track = v.track;
    return { stuck: v.stuck, stuckSince: v.stuckSince };
  });
}

describe('trackStableOffset', () => {
  const cases: Array<[string, Array<[number, number]>, boolean[]]> = [
    ['no transactions: the last stable offset follows the high watermark', [[10, 10], [20, 20], [30, 30], [40, 40], [50, 50]], [false, false, false, false, false]],
    ['an idle partition: nothing moves', [[10, 10], [10, 10], [10, 10], [10, 10], [10, 10]], [false, false, false, false, false]],
    ['transactions that commit: the last stable offset moves behind the high watermark', [[10, 12], [14, 17], [18, 22], [21, 25], [26, 30]], [false, false, false, false, false]],
    ['an open transaction, nothing written after it: the high watermark does not grow', [[10, 11], [10, 11], [10, 11], [10, 11], [10, 11]], [false, false, false, false, false]],
    ['a hung transaction while others keep writing: stuck after K ms', [[10, 11], [10, 20], [10, 30], [10, 40], [10, 50]], [false, false, false, true, true]],
    ['stuck, then the transaction is aborted (timeout): the last stable offset jumps, no longer stuck', [[10, 11], [10, 20], [10, 30], [10, 40], [40, 45]], [false, false, false, true, false]],
    ['less than K ms stuck is not yet stuck', [[10, 11], [10, 20], [10, 30]], [false, false, false]],
  ];
  it.each(cases)('trackStableOffset should judge %s', (_name, points, expected) => {
    expect(run(points).map((r) => r.stuck)).toEqual(expected);
  });

  it('trackStableOffset should date a stuck transaction from when the last stable offset stopped', () => {
    const r = run([[5, 5], [10, 11], [10, 20], [10, 30], [10, 40]]);
    expect(r.at(-1)).toEqual({ stuck: true, stuckSince: T0 + 1000 });
  });
});
