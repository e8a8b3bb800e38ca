import { CONSUMER_STATUSES, type ConsumerStatus, type PartitionStatusInput, type PartitionStatusResult, STATUS_SEVERITY_ORDER } from './types';

/** Severity rank of a status (OK = 0 ... DATA_LOST = 8), see {@link STATUS_SEVERITY_ORDER}. */
export function statusSeverity(status: ConsumerStatus): number {
  return STATUS_SEVERITY_ORDER.indexOf(status);
}

/** The status code of the metrics (0 OK, 1 WARN, 2 REWIND, 3 STALL, 4 STOP, 5 UNKNOWN, 6 INACTIVE, 7 STUCK_TRANSACTION, 8 DATA_LOST). */
export function statusCode(status: ConsumerStatus): number {
  return CONSUMER_STATUSES.indexOf(status);
}

/** The worst of some statuses (OK for none): a group's status is the worst of its partitions'. */
export function worstStatus(statuses: Iterable<ConsumerStatus>): ConsumerStatus {
  let worst: ConsumerStatus = 'OK';
  for (const s of statuses) if (statusSeverity(s) > statusSeverity(worst)) worst = s;
  return worst;
}

/**
 * A partition's status over a sliding window of cycle observations, without lag thresholds.
 * Rules, first match wins:
 *  0a. no committed offset                             -> UNKNOWN (no-commit), or OK (nothing-to-read)
 *      when the partition holds no consumable record (lag 0 wherever the group starts)
 *  0b. the end offset could not be listed              -> UNKNOWN (end-unknown)
 *  0c. committed below the log start (deleted unread)  -> DATA_LOST (data-lost)
 *  0d. the partition's last stable offset is stuck     -> STUCK_TRANSACTION (stuck-transaction)
 *  1. no observation                                   -> UNKNOWN (no-data)
 *  2. no lag now                                       -> OK   (caught-up)
 *  3. the offset went backwards within the window      -> REWIND
 *  4. lag was zero at some point in the window         -> OK   (recently-caught-up)
 *  5. no commit for longer than the window             -> STOP
 *  6. window not full yet                              -> OK   (window-filling)
 *  7. offset unchanged over the whole window:
 *       commits seen within it                         -> STALL
 *       else (commits not observable, or none yet)     -> OK   (not-moving; rule 5 decides next)
 *  8. offset moved, lag never fell and grew overall    -> WARN (falling-behind)
 *  9. otherwise                                        -> OK   (keeping-up)
 *
 * Differences from Burrow, on purpose: the window is of monitor cycles, not of commits, so it keeps
 * sliding when a group stops (Burrow's window freezes with the last commits, and a group that stopped
 * right after catching up stays OK forever); a rewind is reported even when the group had been caught
 * up; and WARN needs the lag to have grown, not merely stayed level (a constant lag is keeping pace).
 */
export function evaluatePartitionStatus(input: PartitionStatusInput): PartitionStatusResult {
  const { window } = input;
  const current = window[window.length - 1];
  if (input.committed === null) return input.nothingToRead ? { status: 'OK', rule: 'nothing-to-read' } : { status: 'UNKNOWN', rule: 'no-commit' };
  if (input.endKnown === false) return { status: 'UNKNOWN', rule: 'end-unknown' };
  if ((input.messagesLost ?? 0) > 0) return { status: 'DATA_LOST', rule: 'data-lost' };
  // Before caught-up: a group "caught up" to a pinned last stable offset is not keeping up.
  if (input.stuckTransaction) return { status: 'STUCK_TRANSACTION', rule: 'stuck-transaction' };
  if (!current) return { status: 'UNKNOWN', rule: 'no-data' };
  if (current.lag === 0) return { status: 'OK', rule: 'caught-up' };
  const first = window[0] ?? current;

  let rewound = false;
  let lagNeverFell = true;
  let offsetMoved = false;
  for (let i = 1; i < window.length; i++) {
    const prev = window[i - 1] as (typeof window)[number];
    const obs = window[i] as (typeof window)[number];
    if (obs.offset < prev.offset) rewound = true;
    if (obs.offset !== prev.offset) offsetMoved = true;
    if (obs.lag < prev.lag) lagNeverFell = false;
  }
  if (rewound) return { status: 'REWIND', rule: 'rewind' };
  if (window.some((o) => o.lag === 0)) return { status: 'OK', rule: 'recently-caught-up' };
  if (input.lastCommitAt !== null && input.now - input.lastCommitAt > input.windowMs) return { status: 'STOP', rule: 'stopped' };
  if (window.length < input.windowCycles) return { status: 'OK', rule: 'window-filling' };
  if (!offsetMoved) {
    const committedInWindow = input.commitsObserved && input.lastCommitAt !== null && input.lastCommitAt >= first.at;
    return committedInWindow ? { status: 'STALL', rule: 'stalled' } : { status: 'OK', rule: 'not-moving' };
  }
  if (lagNeverFell && current.lag > first.lag) return { status: 'WARN', rule: 'falling-behind' };
  return { status: 'OK', rule: 'keeping-up' };
}
