import { type BurstSpec, burstTimeBefore, eventsAllowedBy, eventsDueBy, isInBurst, parseBurst, timeForEvent } from './schedule';
import { parseDurationMs } from './spec-syntax';

const burst: BurstSpec = { everyMs: 10_000, durationMs: 2_000, factor: 10, startMs: 10_000 };

describe('parseBurst', () => {
  it.each([
    ['every=10s,duration=2s,factor=10', burst],
    ['every=1m, duration=500ms, factor=2.5, start=0s', { everyMs: 60_000, durationMs: 500, factor: 2.5, startMs: 0 }],
    ['factor=0.5,every=4000,duration=1000', { everyMs: 4000, durationMs: 1000, factor: 0.5, startMs: 4000 }],
  ])('parseBurst should read %s', (spec, expected) => {
    expect(parseBurst(spec)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['every=10s,factor=10', /duration is required/],
    ['every=10s,duration=2s,factor=0', /factor must be a number > 0/],
    ['every=2s,duration=2s,factor=3', /shorter than every/],
    ['every=ten,duration=2s,factor=3', /every must be a duration/],
    ['every=10s,duration=2s,factor=3,speed=9', /unknown key "speed"/],
    ['every', /not key=value/],
  ])('parseBurst should reject %s', (spec, problem) => {
    const r = parseBurst(spec);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join('; ')).toMatch(problem);
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['250', 250],
    ['250ms', 250],
    ['5s', 5000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['5 s', undefined],
    ['-1s', undefined],
  ])('parseDurationMs should read %j', (raw, ms) => {
    expect(parseDurationMs(raw)).toBe(ms);
  });
});

describe('burstTimeBefore', () => {
  it.each([
    [0, 0],
    [10_000, 0],
    [11_000, 1_000],
    [12_000, 2_000],
    [19_999, 2_000],
    [21_000, 3_000],
    [45_000, 8_000],
  ])('burstTimeBefore should count burst ms before t=%d', (t, expected) => {
    expect(burstTimeBefore(t, burst)).toBe(expected);
    expect(isInBurst(t, burst)).toBe(t >= 10_000 && (t - 10_000) % 10_000 < 2_000);
  });
});

describe('eventsAllowedBy', () => {
  it.each([
    [{ rate: 100 }, 1_000, 100],
    [{ rate: 100 }, 0, 0],
    [{ rate: 0.5 }, 4_000, 2],
    [{ rate: 100, burst }, 10_000, 1_000],
    [{ rate: 100, burst }, 11_000, 1_000 + 1_000],
    [{ rate: 100, burst }, 12_000, 1_200 + 1_800],
    [{ rate: 100, burst }, 22_000, 2_200 + 2 * 1_800],
    [{ rate: 0 }, 5, Infinity],
  ])('eventsAllowedBy should allow %j by t=%d', (schedule, t, expected) => {
    expect(eventsAllowedBy(t, schedule)).toBeCloseTo(expected, 6);
  });
});

describe('timeForEvent', () => {
  it.each([
    [{ rate: 100 }, 1, 10],
    [{ rate: 100 }, 100, 1_000],
    [{ rate: 100, burst }, 1_001, 10_001],
    [{ rate: 100, burst }, 3_000, 12_000],
    [{ rate: 100, burst }, 3_001, 12_010],
    [{ rate: 0 }, 1_000_000, 0],
  ])('timeForEvent should place event %#', (schedule, n, expected) => {
    const t = timeForEvent(n, schedule);
    expect(t).toBeCloseTo(expected, 3);
    expect(eventsDueBy(t, schedule)).toBeGreaterThanOrEqual(n);
  });

  it('timeForEvent should be the inverse of eventsDueBy at every event', () => {
    const schedule = { rate: 37, burst: { everyMs: 700, durationMs: 300, factor: 4, startMs: 100 } };
    for (let n = 1; n <= 500; n++) {
      const t = timeForEvent(n, schedule);
      expect(eventsDueBy(t, schedule)).toBeGreaterThanOrEqual(n);
      expect(eventsDueBy(t - 0.01, schedule)).toBeLessThan(n);
    }
  });
});
