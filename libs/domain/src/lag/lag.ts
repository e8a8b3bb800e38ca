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
 * - `no-commit`: the group has no committed offset here: lag is unknown (null), unless the partition
 *   holds no consumable record at all (empty, or only transaction markers and aborted records), when
 *   it is 0 whatever the group's start position;
 * - `end-unknown`: the partition's offsets could not be listed this cycle, lag is unknown (null);
 * - `out-of-range`: the committed offset is below the log start (records were deleted unread);
 *   lag counts from the log start, lag seconds is the age of the first retained record;
 * - `ahead-of-end`: committed beyond the end (topic truncated or recreated); lag 0;
 * - `no-records`: offsets remain but no consumable record (only transaction markers or aborted
 *   records), so the group is caught up: lag 0;
 * - `timestamp-unknown`: the first unconsumed record could not be read in time; lag seconds null.
 */
export type LagNote = 'no-commit' | 'end-unknown' | 'out-of-range' | 'ahead-of-end' | 'no-records' | 'timestamp-unknown';

export interface PartitionLag {
  /** Offsets between where the group is and the end; null when unknown. */
  lag: number | null;
  /** Age of the first unconsumed record (now - its timestamp); 0 when caught up; null when unknown. */
  lagSeconds: number | null;
  note: LagNote | null;
  /** Records deleted before the group read them (log start - committed when committed is below it), else 0. */
  messagesLost: number;
}

/** Records deleted unread: how far the committed offset is below the log start (0 when it is not). */
export function messagesLost(p: Pick<PartitionPosition, 'committed' | 'low'>): number {
  return p.committed !== null && p.committed < p.low ? p.low - p.committed : 0;
}

/**
 * Where the first unconsumed record must be read from, or null when no read is needed (nothing left
 * to read). Without a commit: from the log start, to learn whether anything consumable is there at all.
 */
export function firstUnconsumedOffset(p: PartitionPosition): number | null {
  const start = p.committed === null ? p.low : Math.max(p.committed, p.low);
  return start < p.high ? start : null;
}

/**
 * Lag in messages and in seconds for one partition. Lag seconds is measured, not interpolated:
 * the age of the first unconsumed record, read at the committed offset (`first`: undefined = not
 * read or read failed, null = read and nothing consumable before the end).
 */
export function partitionLag(p: PartitionPosition, first: FirstUnconsumed | null | undefined, now: number): PartitionLag {
  if (p.committed === null) {
    // Nothing consumable in the whole partition: lag 0 wherever the group would start; else unknown.
    const nothingToRead = p.low >= p.high || first === null;
    return nothingToRead ? { lag: 0, lagSeconds: 0, note: 'no-commit', messagesLost: 0 } : { lag: null, lagSeconds: null, note: 'no-commit', messagesLost: 0 };
  }
  if (p.committed > p.high) return { lag: 0, lagSeconds: 0, note: 'ahead-of-end', messagesLost: 0 };
  const lost = messagesLost(p);
  const start = Math.max(p.committed, p.low);
  if (start >= p.high) return { lag: 0, lagSeconds: 0, note: lost ? 'out-of-range' : null, messagesLost: lost };
  if (first === null) return { lag: 0, lagSeconds: 0, note: 'no-records', messagesLost: lost };
  const lag = p.high - start;
  if (first === undefined) return { lag, lagSeconds: null, note: 'timestamp-unknown', messagesLost: lost };
  // A producer clock ahead of ours must not make lag negative.
  const lagSeconds = Math.max(0, (now - first.timestamp) / 1000);
  return { lag, lagSeconds, note: lost ? 'out-of-range' : null, messagesLost: lost };
}

/** The lag of a partition whose end offset could not be listed: unknown, never 0. */
export const unknownEndLag = (): PartitionLag => ({ lag: null, lagSeconds: null, note: 'end-unknown', messagesLost: 0 });
