/**
 * Consumer health, threshold-free (in the spirit of LinkedIn's Burrow). The index in this list is
 * the status code of the metrics (stable: new statuses are appended); severity is
 * {@link STATUS_SEVERITY_ORDER}.
 * - UNKNOWN: lag could not be measured (no commit, or the end offset could not be listed); never 0;
 * - INACTIVE: the group has committed offsets but no active member (every instance gone);
 * - STUCK_TRANSACTION: the partition's last stable offset has not moved for a while although its
 *   high watermark grew (a transaction left open pins what read_committed consumers can read);
 * - DATA_LOST: the committed offset is below the log start: records were deleted unread.
 */
export const CONSUMER_STATUSES = ['OK', 'WARN', 'REWIND', 'STALL', 'STOP', 'UNKNOWN', 'INACTIVE', 'STUCK_TRANSACTION', 'DATA_LOST'] as const;
export type ConsumerStatus = (typeof CONSUMER_STATUSES)[number];

/** Statuses in ascending severity: "the worst of" is a max over this order. */
export const STATUS_SEVERITY_ORDER: readonly ConsumerStatus[] = ['OK', 'UNKNOWN', 'INACTIVE', 'WARN', 'REWIND', 'STALL', 'STUCK_TRANSACTION', 'STOP', 'DATA_LOST'];

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
  | 'no-commit'
  | 'nothing-to-read'
  | 'end-unknown'
  | 'data-lost'
  | 'stuck-transaction'
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
  /** No commit, but the partition holds no consumable record: lag 0 wherever the group starts. Default false. */
  nothingToRead?: boolean;
  /** False when the partition's end offset could not be listed this cycle (lag unknown). Default true. */
  endKnown?: boolean;
  /** Records deleted unread: log start - committed when the committed offset is below the log start. Default 0. */
  messagesLost?: number;
  /** The partition's last stable offset is stuck (a transaction left open). Default false. */
  stuckTransaction?: boolean;
}

export interface PartitionStatusResult {
  status: ConsumerStatus;
  rule: StatusRule;
}
