/**
 * How long a partition's last stable offset (LSO) has stayed where it is, carried between cycles.
 * An open transaction pins the LSO at its first record: read_committed consumers cannot read past
 * it, so their lag to the LSO can be 0 while everything written after the transaction waits.
 */
export interface StableOffsetTrack {
  lastStable: number;
  /** First cycle time the LSO was seen at this value. */
  since: number;
  /** Cycles observed since then (0 on the cycle it moved there). */
  cycles: number;
  /** The high watermark when the LSO was first seen at this value. */
  highWatermarkAtSince: number;
}

export interface StableOffsetObservation {
  at: number;
  lastStable: number;
  highWatermark: number;
}

export interface StableOffsetVerdict {
  track: StableOffsetTrack;
  /** The LSO has not moved for `stuckMs` while the high watermark grew past it. */
  stuck: boolean;
  /** When the LSO stopped at its value (when stuck), else null. */
  stuckSince: number | null;
}

/**
 * Whether a partition's last stable offset is stuck: unchanged for at least `stuckMs` while the
 * high watermark grew (records keep arriving behind an open transaction). An idle partition
 * (neither moves) and a busy one whose transactions commit (the LSO follows) are not. An LSO that
 * moves (the transaction committed, aborted, or timed out) starts a new track.
 *
 * The threshold is a time, not a number of cycles: a healthy transaction may stay open for a
 * while (a batch waiting on a slow broker, a producer paused between its send and its commit), and
 * at a 1 s cycle six cycles flagged such a transaction (LSO 8, HWM 9) as hung in the chaos suite.
 */
export function trackStableOffset(prev: StableOffsetTrack | undefined, now: StableOffsetObservation, stuckMs: number): StableOffsetVerdict {
  const track: StableOffsetTrack =
    prev && prev.lastStable === now.lastStable
      ? { ...prev, cycles: prev.cycles + 1 }
      : { lastStable: now.lastStable, since: now.at, cycles: 0, highWatermarkAtSince: now.highWatermark };
  const stuck = now.at - track.since >= stuckMs && now.lastStable < now.highWatermark && now.highWatermark > track.highWatermarkAtSince;
  return { track, stuck, stuckSince: stuck ? track.since : null };
}
