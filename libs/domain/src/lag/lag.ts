/** A group's position in one partition and the partition's retained range. */
export interface PartitionPosition {
  /** Committed offset (next record to read); null when the group never committed this partition. */
  committed: number | null;
  /** Log start offset (first retained record). */
  low: number;
  /** End offset the group reads up to (high watermark, or last stable offset under read_committed). */
  high: number;
}

/** The first record a group has not consumed yet, as read from the partition. */
export interface FirstUnconsumed {
  offset: number;
  /** Record timestamp (CreateTime or LogAppendTime), epoch ms. */
  timestamp: number;
}

/**
 * Why a lag figure is what it is:
 * - `no-commit`: the group has no committed offset here, lag is unknown (null);
 * - `out-of-range`: the committed offset is below the log start (records were deleted unread);
 *   lag counts from the log start, lag seconds is the age of the first retained record;
 * - `ahead-of-end`: committed beyond the end (topic truncated or recreated); lag 0;
 * - `no-records`: offsets remain but no consumable record (only transaction markers or aborted
 *   records), so the group is caught up: lag 0;
 * - `timestamp-unknown`: the first unconsumed record could not be read in time; lag seconds null.
 */
export type LagNote = 'no-commit' | 'out-of-range' | 'ahead-of-end' | 'no-records' | 'timestamp-unknown';

export interface PartitionLag {
  /** Offsets between where the group is and the end; null when unknown. */
  lag: number | null;
  /** Age of the first unconsumed record (now - its timestamp); 0 when caught up; null when unknown. */
  lagSeconds: number | null;
  note: LagNote | null;
}

/**
 * Where the first unconsumed record must be read from, or null when no read is needed
 * (no commit, or nothing left to read).
 */
export function firstUnconsumedOffset(p: PartitionPosition): number | null {
  if (p.committed === null) return null;
  const start = Math.max(p.committed, p.low);
  return start < p.high ? start : null;
}

/**
 * Lag in messages and in seconds for one partition. Lag seconds is measured, not interpolated:
 * the age of the first unconsumed record, read at the committed offset (`first`: undefined = not
 * read or read failed, null = read and nothing consumable before the end).
 */
export function partitionLag(p: PartitionPosition, first: FirstUnconsumed | null | undefined, now: number): PartitionLag {
  if (p.committed === null) return { lag: null, lagSeconds: null, note: 'no-commit' };
  if (p.committed > p.high) return { lag: 0, lagSeconds: 0, note: 'ahead-of-end' };
  const outOfRange = p.committed < p.low;
  const start = Math.max(p.committed, p.low);
  if (start >= p.high) return { lag: 0, lagSeconds: 0, note: outOfRange ? 'out-of-range' : null };
  if (first === null) return { lag: 0, lagSeconds: 0, note: 'no-records' };
  const lag = p.high - start;
  if (first === undefined) return { lag, lagSeconds: null, note: 'timestamp-unknown' };
  // A producer clock ahead of ours must not make lag negative.
  const lagSeconds = Math.max(0, (now - first.timestamp) / 1000);
  return { lag, lagSeconds, note: outOfRange ? 'out-of-range' : null };
}
