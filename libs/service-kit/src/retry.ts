import { isRetriable } from './errors';

export interface BackoffOptions {
  /** First delay in ms. */
  initialMs: number;
  /** Upper bound for one delay in ms. */
  maxMs: number;
  /** Multiplier per attempt (default 2). */
  factor?: number;
}

/**
 * Full-jitter exponential backoff: a uniform delay in [0, min(max, initial * factor^attempt)].
 * Pure: `random` is injected so tests are deterministic.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(opts.maxMs, opts.initialMs * Math.pow(opts.factor ?? 2, Math.max(0, attempt)));
  return Math.round(ceiling * random());
}

export interface RetryOptions extends BackoffOptions {
  /** Attempts in all, including the first. */
  attempts: number;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Decides whether an error is worth another attempt; defaults to the error's retriable flag. */
  shouldRetry?: (err: unknown) => boolean;
}

/** Runs `fn` until it succeeds, a non-retriable error occurs, attempts run out, or the signal aborts. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const shouldRetry = opts.shouldRetry ?? isRetriable;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt + 1 >= opts.attempts || !shouldRetry(err) || opts.signal?.aborted) throw err;
      const delay = backoffDelay(attempt, opts);
      opts.onRetry?.(err, attempt + 1, delay);
      await sleep(delay, opts.signal);
    }
  }
}

/** setTimeout as a promise that resolves early (without throwing) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
