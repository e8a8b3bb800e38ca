import { createSendClock, effectiveTimeMode, parseTimeSetting } from './time-mode';

describe('effectiveTimeMode', () => {
  it.each([
    ['auto', 1, 'original'],
    ['auto', 2, 'now'],
    ['auto', 25, 'now'],
    ['auto', Infinity, 'now'],
    ['original', 1, 'original'],
    ['original', Infinity, 'original'],
    ['now', 1, 'now'],
    ['now', 3, 'now'],
  ] as const)('effectiveTimeMode should resolve time=%s with %d passes to %s', (time, passes, mode) => {
    expect(effectiveTimeMode({ time, passes })).toBe(mode);
  });
});

describe('parseTimeSetting', () => {
  it.each([
    ['now', 'now'],
    ['original', 'original'],
    ['auto', 'auto'],
    [' NOW ', 'now'],
  ])('parseTimeSetting should read %j', (raw, value) => {
    expect(parseTimeSetting(raw)).toEqual({ ok: true, value });
  });
  it.each(['', 'live', 'wall', '1'])('parseTimeSetting should reject %j', (raw) => {
    expect(parseTimeSetting(raw)).toEqual({ ok: false, problems: [`time must be auto, original, now (got ${JSON.stringify(raw)})`] });
  });
});

describe('createSendClock', () => {
  // Wall-clock readings and the precision (ms) each event's meta.dt is written in -> the send times returned.
  it.each([
    ['a steady clock', [1000, 1000, 1001, 1005], [1, 1, 1, 1], [1000, 1000, 1001, 1005]],
    ['a clock stepped back', [5000, 4000, 4999, 5000, 5001], [1, 1, 1, 1, 1], [5000, 5000, 5000, 5000, 5001]],
    ['a clock that jumps ahead', [10, 3_600_010, 20], [1, 1, 1], [10, 3_600_010, 3_600_010]],
    ['whole seconds only (truncated when written)', [5400, 5999, 6001], [1000, 1000, 1000], [5400, 5999, 6001]],
    // 5.789 s written with ms, then 5.800 s written in whole seconds would read 5 s: it gets 6 s instead.
    ['whole seconds after milliseconds', [5789, 5800, 5900, 6100, 6200], [1, 1000, 1000, 1000, 1], [5789, 6000, 6000, 6100, 6200]],
    ['milliseconds after whole seconds', [5789, 5790], [1000, 1], [5789, 5790]],
    ['minutes after seconds', [61_500, 61_600, 125_000], [1000, 60_000, 60_000], [61_500, 120_000, 125_000]],
  ])('createSendClock should keep send and written times non-decreasing with %s', (_name, readings, precisions, expected) => {
    const wall = [...readings];
    const clock = createSendClock(() => wall.shift() ?? NaN);
    const sent = precisions.map((p) => clock(p));
    expect(sent).toEqual(expected);
    const written = sent.map((t, i) => t - (t % (precisions[i] ?? 1)));
    written.forEach((w, i) => expect(w).toBeGreaterThanOrEqual(written[i - 1] ?? -Infinity));
    // Ahead of the wall clock by less than one step of the event's precision (plus any step back of the wall clock).
    sent.forEach((t, i) => expect(t - (readings[i] ?? 0)).toBeLessThan((precisions[i] ?? 1) + Math.max(0, ...readings.slice(0, i).map((r) => r - (readings[i] ?? 0)))));
  });

  it('createSendClock should read the wall clock by default', () => {
    const before = Date.now();
    const t = createSendClock()();
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });
});
