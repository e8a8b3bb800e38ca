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
  it.each([
    ['a steady clock', [1000, 1000, 1001, 1005], [1000, 1000, 1001, 1005]],
    ['a clock stepped back', [5000, 4000, 4999, 5000, 5001], [5000, 5000, 5000, 5000, 5001]],
    ['a clock that jumps ahead', [10, 3_600_010, 20], [10, 3_600_010, 3_600_010]],
  ])('createSendClock should never go backwards with %s', (_name, readings, expected) => {
    const wall = [...readings];
    const clock = createSendClock(() => wall.shift() ?? NaN);
    expect(readings.map(() => clock())).toEqual(expected);
  });

  it('createSendClock should read the wall clock by default', () => {
    const before = Date.now();
    const t = createSendClock()();
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });
});
