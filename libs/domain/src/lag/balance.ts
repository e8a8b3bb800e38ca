/** A counter value (an offset) at a time. */
export interface CounterPoint {
  at: number;
  value: number;
}

/**
 * Per-second rate between two offset readings. A counter that went down (topic recreated, offsets
 * reset) or no elapsed time gives 0, never a negative rate.
 */
export function offsetRate(from: CounterPoint, to: CounterPoint): number {
  const dt = (to.at - from.at) / 1000;
  if (dt <= 0 || to.value < from.value) return 0;
  return (to.value - from.value) / dt;
}

export interface PartitionBalance {
  /** Messages per second over all partitions. */
  totalRate: number;
  meanRate: number;
  maxRate: number;
  minRate: number;
  /** max / mean: 1 = perfectly even, N = everything on one of N partitions; 0 when idle. */
  skew: number;
  /** Coefficient of variation (population standard deviation / mean); 0 when idle. */
  cv: number;
  /** Index of the busiest partition in the input (-1 when idle). */
  hottest: number;
}

/** How evenly a topic's traffic spreads over its partitions, from per-partition rates. */
export function partitionBalance(rates: number[]): PartitionBalance {
  const n = rates.length;
  const total = rates.reduce((a, b) => a + b, 0);
  if (n === 0 || total <= 0) return { totalRate: 0, meanRate: 0, maxRate: 0, minRate: 0, skew: 0, cv: 0, hottest: -1 };
  const mean = total / n;
  let max = -Infinity;
  let min = Infinity;
  let hottest = -1;
  let sq = 0;
  rates.forEach((r, i) => {
    if (r > max) {
      max = r;
      hottest = i;
    }
    if (r < min) min = r;
    sq += (r - mean) ** 2;
  });
  return { totalRate: total, meanRate: mean, maxRate: max, minRate: min, skew: max / mean, cv: Math.sqrt(sq / n) / mean, hottest };
}
