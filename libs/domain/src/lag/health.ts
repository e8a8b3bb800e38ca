/**
 * The monitor's own health: whether what it serves is current. A monitor whose cycles fail keeps
 * its last report, so that report must say how old it is, and readiness must drop, or the monitor
 * goes blind with a green light.
 */
export interface CycleHealthState {
  /** Completion time of the last successful cycle (epoch ms), null before the first. */
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  /** Failed cycles since the last success. */
  consecutiveFailures: number;
  /** Time of the first failure since the last success. */
  failingSince: number | null;
  /** Error code of the last failure (never its message: the health is served over HTTP). */
  lastError: string | null;
}

export interface CycleHealthSettings {
  /** Readiness is false after this many consecutive failed cycles. */
  unreadyAfterFailures: number;
  /** No successful cycle for this long (a cycle that hangs) also makes the data stale and the monitor unready. */
  overdueMs: number;
}

export interface CycleHealth {
  lastSuccessAt: number | null;
  consecutiveFailures: number;
  /** True when the served report is not from the latest attempt (a cycle failed since), or is overdue. */
  stale: boolean;
  /** Since when the served report is stale (the first failure, or when it became overdue), else null. */
  staleSince: number | null;
  ready: boolean;
  lastError: string | null;
}

export const initialCycleHealth = (): CycleHealthState => ({ lastSuccessAt: null, lastFailureAt: null, consecutiveFailures: 0, failingSince: null, lastError: null });

/** The health state after a cycle ended at `at`, successfully or with `error`. */
export function recordCycle(state: CycleHealthState, outcome: { at: number; error?: string }): CycleHealthState {
  if (outcome.error === undefined) return { ...state, lastSuccessAt: outcome.at, consecutiveFailures: 0, failingSince: null };
  return { ...state, lastFailureAt: outcome.at, consecutiveFailures: state.consecutiveFailures + 1, failingSince: state.failingSince ?? outcome.at, lastError: outcome.error };
}

/** Staleness and readiness at `now`. Before the first successful cycle the monitor is not ready (nothing to serve) and not stale (nothing served). */
export function cycleHealth(state: CycleHealthState, now: number, settings: CycleHealthSettings): CycleHealth {
  const overdueAt = state.lastSuccessAt === null ? null : state.lastSuccessAt + settings.overdueMs;
  const overdue = overdueAt !== null && now > overdueAt;
  const failing = state.lastSuccessAt !== null && state.consecutiveFailures > 0;
  const stale = failing || overdue;
  const staleSince = !stale ? null : failing && state.failingSince !== null ? (overdue && overdueAt !== null ? Math.min(state.failingSince, overdueAt) : state.failingSince) : overdueAt;
  return {
    lastSuccessAt: state.lastSuccessAt,
    consecutiveFailures: state.consecutiveFailures,
    stale,
    staleSince,
    ready: state.lastSuccessAt !== null && state.consecutiveFailures < settings.unreadyAfterFailures && !overdue,
    lastError: state.lastError,
  };
}
