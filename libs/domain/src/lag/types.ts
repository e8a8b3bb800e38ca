/**
 * Consumer health, threshold-free (in the spirit of LinkedIn's Burrow): statuses in ascending
 * severity, so "the worst of" is a max over this order.
 */
export const CONSUMER_STATUSES = ['OK', 'WARN', 'REWIND', 'STALL', 'STOP'] as const;
export type ConsumerStatus = (typeof CONSUMER_STATUSES)[number];

/** One observation of a group's partition, taken once per monitor cycle. */
export interface OffsetObservation {
  /** When the monitor observed it (epoch ms). */
  at: number;
  /** The committed offset: the next record the group will read. */
  offset: number;
  /** Records still to read at that time (0 when caught up). */
  lag: number;
}

/** Which rule decided a partition's status (shown in the API, useful when reading an alert). */
export type StatusRule =
  | 'no-data'
  | 'caught-up'
  | 'rewind'
  | 'recently-caught-up'
  | 'stopped'
  | 'window-filling'
  | 'stalled'
  | 'not-moving'
  | 'falling-behind'
  | 'keeping-up';

export interface PartitionStatusInput {
  /** The group's committed offset now; null when it never committed this partition (assigned only). */
  committed: number | null;
  /** The last observations, oldest first; at most `windowCycles` of them. */
  window: OffsetObservation[];
  /** How many observations a full window holds. */
  windowCycles: number;
  /** Window length in ms (window cycles x cycle interval). STOP = no commit for longer than this. */
  windowMs: number;
  now: number;
  /**
   * When the group last committed this partition: from the commit log (`__consumer_offsets`) when
   * `commitsObserved`, else the first time the current offset was seen (a commit must have happened
   * then). Null when nothing is known (never STOP on no information).
   */
  lastCommitAt: number | null;
  /** True when every commit is seen (commit log), so "committing the same offset" can be told apart from "not committing". */
  commitsObserved: boolean;
}

export interface PartitionStatusResult {
  status: ConsumerStatus;
  rule: StatusRule;
}
