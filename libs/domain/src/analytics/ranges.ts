/** Rollup levels, finest first; buckets are epoch-aligned in UTC. */
export const ROLLUP_LEVELS = ['minute', 'hour', 'day'] as const;
export type RollupLevel = (typeof ROLLUP_LEVELS)[number];

export const LEVEL_MS: Record<RollupLevel, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** Named ranges of the analytics page (ending now), shortest 15 minutes, longest 30 days. */
export const RANGE_PRESETS = { '15m': 900_000, '1h': 3_600_000, '6h': 21_600_000, '24h': 86_400_000, '7d': 604_800_000, '30d': 2_592_000_000 } as const;
export type RangePreset = keyof typeof RANGE_PRESETS;

/** The longest range a query may ask (rollups answer it; beyond that a chart would be days of one point). */
export const MAX_RANGE_MS = 400 * 86_400_000;

export const floorTo = (t: number, ms: number): number => Math.floor(t / ms) * ms;
export const ceilTo = (t: number, ms: number): number => Math.ceil(t / ms) * ms;

/** A piece of a range answered by one rollup level, or by the raw rows (`raw`) where no level fits. */
export interface RangeTile {
  level: RollupLevel | 'raw';
  from: number;
  to: number;
}

/**
 * Splits [from, to) into the fewest epoch-aligned buckets of the given levels: whole days in the
 * middle, hours beside them, then minutes. What is finer than the finest level given is a `raw`
 * tile (read from the rows). `from` is rounded down and `to` up to the finest level's bucket, so
 * the tiles cover whole buckets touching the range; with `minute` among the levels no raw tile is left.
 */
export function tileRange(from: number, to: number, levels: readonly RollupLevel[] = ROLLUP_LEVELS): RangeTile[] {
  const sorted = [...levels].sort((a, b) => LEVEL_MS[b] - LEVEL_MS[a]);
  const finest = sorted[sorted.length - 1];
  const a = finest === 'minute' ? floorTo(from, LEVEL_MS.minute) : from;
  const b = finest === 'minute' ? ceilTo(to, LEVEL_MS.minute) : to;
  const out: RangeTile[] = [];
  const walk = (lo: number, hi: number, i: number) => {
    if (lo >= hi) return;
    const level = sorted[i];
    if (!level) {
      out.push({ level: 'raw', from: lo, to: hi });
      return;
    }
    const ms = LEVEL_MS[level];
    const A = ceilTo(lo, ms);
    const B = floorTo(hi, ms);
    if (A < B) {
      walk(lo, A, i + 1);
      out.push({ level, from: A, to: B });
      walk(B, hi, i + 1);
    } else walk(lo, hi, i + 1);
  };
  walk(a, b, 0);
  return out;
}

/** The chart's step for a range: minutes up to 12 hours (at most 720 points), hours up to 45 days, then days. */
export function stepFor(rangeMs: number): RollupLevel {
  if (rangeMs <= 12 * LEVEL_MS.hour) return 'minute';
  if (rangeMs <= 45 * LEVEL_MS.day) return 'hour';
  return 'day';
}
