import { SpecReader, parseKeyValues } from './spec-syntax';
import { type Parsed, parsed, rejected } from './types';

/** Rate multiplied by `factor` during `durationMs` windows that start at `startMs` and then every `everyMs`. */
export interface BurstSpec {
  everyMs: number;
  durationMs: number;
  factor: number;
  startMs: number;
}

/** Events per second (0 = as fast as the socket takes them), optionally with bursts. */
export interface RateSchedule {
  rate: number;
  burst?: BurstSpec;
}

const BURST_KEYS = ['every', 'duration', 'factor', 'start'] as const;

/** Parses "every=10s,duration=2s,factor=10[,start=0s]"; the first burst starts after one `every` unless `start` says otherwise. */
export function parseBurst(spec: string): Parsed<BurstSpec> {
  const kv = parseKeyValues(spec);
  if (!kv.ok) return rejected(kv.problems.map((p) => `burst: ${p}`));
  const r = new SpecReader(kv.value, 'burst', BURST_KEYS);
  const everyMs = r.duration('every');
  const durationMs = r.duration('duration');
  const factor = r.number('factor', undefined, { above: 0 });
  const startMs = r.duration('start', everyMs);
  if (r.problems.length === 0) {
    if (everyMs <= 0) r.problems.push('burst: every must be > 0');
    if (durationMs <= 0) r.problems.push('burst: duration must be > 0');
    if (durationMs >= everyMs) r.problems.push('burst: duration must be shorter than every');
  }
  return r.problems.length > 0 ? rejected(r.problems) : parsed({ everyMs, durationMs, factor, startMs });
}

/** Milliseconds of burst time inside [0, t). */
export function burstTimeBefore(tMs: number, burst: BurstSpec): number {
  if (tMs <= burst.startMs) return 0;
  const since = tMs - burst.startMs;
  const cycles = Math.floor(since / burst.everyMs);
  return cycles * burst.durationMs + Math.min(since - cycles * burst.everyMs, burst.durationMs);
}

export function isInBurst(tMs: number, burst: BurstSpec): boolean {
  return tMs >= burst.startMs && (tMs - burst.startMs) % burst.everyMs < burst.durationMs;
}

/** How many events the schedule allows by `tMs` after the stream started (fractional; Infinity when unlimited). */
export function eventsAllowedBy(tMs: number, schedule: RateSchedule): number {
  if (schedule.rate <= 0) return Infinity;
  const t = Math.max(0, tMs);
  const extra = schedule.burst ? (schedule.burst.factor - 1) * burstTimeBefore(t, schedule.burst) : 0;
  return (schedule.rate * (t + extra)) / 1000;
}

/** Earliest time (ms after start) at which the n-th event (1-based) is allowed. */
export function timeForEvent(n: number, schedule: RateSchedule): number {
  if (schedule.rate <= 0 || n <= 0) return 0;
  const slowest = schedule.rate * Math.min(1, schedule.burst?.factor ?? 1);
  let lo = 0;
  let hi = (n * 1000) / slowest + 1;
  // eventsAllowedBy is continuous and non-decreasing, so bisection converges to the boundary.
  for (let i = 0; i < 64 && hi - lo > 1e-6; i++) {
    const mid = (lo + hi) / 2;
    if (eventsAllowedBy(mid, schedule) >= n) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Whole events due by `tMs`, tolerant of floating-point error at the boundary. */
export function eventsDueBy(tMs: number, schedule: RateSchedule): number {
  const allowed = eventsAllowedBy(tMs, schedule);
  return allowed === Infinity ? Infinity : Math.floor(allowed + 1e-9);
}
