import { DEFAULT_SPIKE_CONFIG, EMPTY_SPIKE_STATE, type SpikeState, detectSpike, skipEmptyWindows, updateBaseline } from './spike';

const cfg = DEFAULT_SPIKE_CONFIG; // alpha 0.2, threshold 4, minVolume 20, minRatio 2, warmup 5, reset after 60
const steady = (mean: number, variance = 0, windows = 10, alerting = false): SpikeState => ({ mean, variance, windows, alerting });

describe('detectSpike', () => {
  it.each<[string, SpikeState, number, { spike: boolean; raise: boolean; score: number }]>([
    ['a tenfold jump on a steady wiki', steady(30), 300, { spike: true, raise: true, score: (300 - 30) / Math.sqrt(30) }],
    ['the same jump while already alerting (one alert per episode)', steady(30, 0, 10, true), 300, { spike: true, raise: false, score: (300 - 30) / Math.sqrt(30) }],
    ['a normal window', steady(30), 33, { spike: false, raise: false, score: 3 / Math.sqrt(30) }],
    ['a drop', steady(30), 0, { spike: false, raise: false, score: -30 / Math.sqrt(30) }],
    ['a jump below the minimum volume', steady(1), 19, { spike: false, raise: false, score: 18 }],
    ['the minimum volume exactly', steady(1), 20, { spike: true, raise: true, score: 19 }],
    ['a jump before warm-up', steady(1, 0, 4), 100, { spike: false, raise: false, score: 99 }],
    ['a noisy baseline (variance widens the deviation)', steady(100, 2500), 250, { spike: false, raise: false, score: 3 }],
    ['a noisy baseline and a bigger jump', steady(100, 2500), 300, { spike: true, raise: true, score: 4 }],
    ['a high score but less than minRatio x expected', steady(1000, 0), 1_150, { spike: false, raise: false, score: 150 / Math.sqrt(1000) }],
    ['the first window ever', EMPTY_SPIKE_STATE, 500, { spike: false, raise: false, score: 500 }],
  ])('detectSpike should score %s', (_name, state, observed, want) => {
    const v = detectSpike(state, observed, cfg);
    expect(v.spike).toBe(want.spike);
    expect(v.raise).toBe(want.raise);
    expect(v.score).toBeCloseTo(want.score, 9);
    expect(v.expected).toBe(state.mean);
    expect(v.next.alerting).toBe(want.spike);
  });

  it.each([
    [4, 'warning'],
    [7.99, 'warning'],
    [8, 'critical'],
  ] as const)('detectSpike should grade score %d as %s', (score, severity) => {
    // mean 100, variance 0 -> deviation 10: observed = 100 + 10 * score
    expect(detectSpike(steady(100), 100 + 10 * score, cfg).severity).toBe(severity);
  });

  it('detectSpike should end the episode on the first normal window so the next burst alerts again', () => {
    let s = steady(30);
    const raised: boolean[] = [];
    for (const observed of [300, 400, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 1000]) {
      const v = detectSpike(s, observed, cfg);
      raised.push(v.raise);
      s = v.next;
    }
    expect(raised.filter(Boolean)).toHaveLength(2);
    expect(raised[0]).toBe(true);
    expect(raised[1]).toBe(false);
    expect(raised[raised.length - 1]).toBe(true);
  });
});

describe('spike baseline', () => {
  it.each([
    [EMPTY_SPIKE_STATE, 10, { mean: 10, variance: 0, windows: 1 }],
    [steady(10, 0, 1), 20, { mean: 12, variance: 16, windows: 2 }], // diff 10, incr 2, var 0.8 * (0 + 20)
    [steady(12, 16, 2), 12, { mean: 12, variance: 12.8, windows: 3 }],
  ])('updateBaseline should fold %j with %d into %j', (state, observed, want) => {
    const next = updateBaseline(state, observed, 0.2);
    expect(next.mean).toBeCloseTo(want.mean, 9);
    expect(next.variance).toBeCloseTo(want.variance, 9);
    expect(next.windows).toBe(want.windows);
  });

  it.each([
    [0, steady(100), 100, 10],
    [1, steady(100), 80, 11],
    [2, steady(100), 64, 12],
    [60, steady(100), 100 * 0.8 ** 60, 70],
    [61, steady(100), 0, 0],
  ])('skipEmptyWindows should fold %d empty windows as zeros (a longer gap restarts)', (empty, state, mean, windows) => {
    const next = skipEmptyWindows(state, empty, cfg);
    expect(next.mean).toBeCloseTo(mean, 6);
    expect(next.windows).toBe(windows);
  });
});
