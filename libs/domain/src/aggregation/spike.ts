/**
 * Edit-rate spike detection per wiki: each closed window's change count is scored against an
 * exponentially weighted baseline (EWMA of the count and EWM variance) of the wiki's earlier
 * windows. Pure: the caller keeps the state (in the window state, so it is in the changelog).
 */

export interface SpikeConfig {
  /** EWMA weight of the newest window, 0 < alpha <= 1 (0.2 ~ the last 5-10 windows). */
  alpha: number;
  /** Deviation score at or above which a window is a spike. */
  threshold: number;
  /** Fewer changes than this in a window are never a spike (no alerts on tiny wikis). */
  minVolume: number;
  /** The window must also hold at least this multiple of the expected count. */
  minRatio: number;
  /** Windows of history (empty ones included) needed before anything is scored. */
  warmupWindows: number;
  /** A gap of more empty windows than this restarts the baseline (e.g. a replay of old data). */
  resetAfterWindows: number;
}

export const DEFAULT_SPIKE_CONFIG: SpikeConfig = {
  alpha: 0.2,
  threshold: 4,
  minVolume: 20,
  minRatio: 2,
  warmupWindows: 5,
  resetAfterWindows: 60,
};

export interface SpikeState {
  /** EWMA of changes per window. */
  mean: number;
  /** Exponentially weighted moving variance of changes per window. */
  variance: number;
  /** Windows folded into the baseline since it (re)started. */
  windows: number;
  /** True while consecutive windows are spikes: one alert per episode, not one per window. */
  alerting: boolean;
}

export const EMPTY_SPIKE_STATE: SpikeState = { mean: 0, variance: 0, windows: 0, alerting: false };

export interface SpikeVerdict {
  next: SpikeState;
  /** Baseline the window was scored against. */
  expected: number;
  /** Deviation used: max(EWM standard deviation, Poisson floor sqrt(max(expected, 1))). */
  deviation: number;
  score: number;
  /** The window is a spike. */
  spike: boolean;
  /** Raise an alert now: a spike that starts an episode. */
  raise: boolean;
  severity: 'warning' | 'critical';
}

/** Folds one window's count into the EWMA/EWM-variance baseline (West/Finch incremental form). */
export function updateBaseline(state: SpikeState, observed: number, alpha: number): SpikeState {
  if (state.windows === 0) return { ...state, mean: observed, variance: 0, windows: 1 };
  const diff = observed - state.mean;
  const incr = alpha * diff;
  return { ...state, mean: state.mean + incr, variance: (1 - alpha) * (state.variance + diff * incr), windows: state.windows + 1 };
}

/**
 * Accounts for `empty` windows without changes between the last scored window and the next one:
 * each is a zero in the baseline; more than `resetAfterWindows` of them restart the baseline.
 */
export function skipEmptyWindows(state: SpikeState, empty: number, cfg: SpikeConfig): SpikeState {
  if (empty <= 0) return state;
  if (empty > cfg.resetAfterWindows) return { ...EMPTY_SPIKE_STATE };
  let s = state;
  for (let i = 0; i < empty; i++) s = updateBaseline(s, 0, cfg.alpha);
  return { ...s, alerting: false };
}

/** Scores one closed window's count against the baseline, then folds it into the baseline. */
export function detectSpike(state: SpikeState, observed: number, cfg: SpikeConfig): SpikeVerdict {
  const expected = state.mean;
  const deviation = Math.max(Math.sqrt(Math.max(state.variance, 0)), Math.sqrt(Math.max(expected, 1)));
  const score = (observed - expected) / deviation;
  const spike =
    state.windows >= cfg.warmupWindows && observed >= cfg.minVolume && observed >= cfg.minRatio * expected && score >= cfg.threshold;
  const next = { ...updateBaseline(state, observed, cfg.alpha), alerting: spike };
  return { next, expected, deviation, score, spike, raise: spike && !state.alerting, severity: score >= 2 * cfg.threshold ? 'critical' : 'warning' };
}
