import { parseRevisionsBody } from './action-api';
import type { ApiAnswer, Decision, EnrichReason, RetryPolicy, RevisionFacts } from './types';

/** What an answer means for one revision, before attempts are counted. */
export type Classified =
  | { ok: true; facts: RevisionFacts }
  | { ok: false; reason: EnrichReason; status: number | null; retriable: boolean; retryAfterMs: number | null; message: string };

/** 5xx answers worth another attempt (the table's "500, 502, 503, 504 retried; other 5xx not"). */
export const RETRIED_5XX: ReadonlySet<number> = new Set([500, 502, 503, 504]);

/**
 * Retry-After as milliseconds from `now`: delta-seconds or an HTTP-date (RFC 9110 10.2.3);
 * null when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | null {
  if (value === null || value === undefined || value.trim() === '') return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : null;
}

const fail = (reason: EnrichReason, status: number | null, retriable: boolean, message: string, retryAfterMs: number | null = null): Classified => ({ ok: false, reason, status, retriable, retryAfterMs, message });

/** The failure table, row by row: which row an answer falls in for revision `revid`, or its facts. */
export function classify(answer: ApiAnswer, revid: number, now = 0): Classified {
  if (answer.kind === 'error') {
    const message = answer.message ?? answer.error;
    // A connection that cannot be made (in time or at all) is the table's "connection timeout" row.
    return answer.error === 'read-timeout' ? fail('read-timeout', null, true, message) : fail('connection-timeout', null, true, message);
  }
  const { status } = answer;
  const retryAfterMs = parseRetryAfter(answer.retryAfter, now);
  if (status === 408) return fail('connection-timeout', status, true, 'HTTP 408 Request Timeout', retryAfterMs);
  if (status === 204) return fail('no-content', status, false, 'HTTP 204 No Content');
  if (status >= 300 && status < 400) return fail('further-action', status, false, `HTTP ${status}: further action needed (redirect)`);
  if (status >= 400 && status < 500) return fail('request-error', status, false, `HTTP ${status}`);
  if (status >= 500) return fail('internal-error', status, RETRIED_5XX.has(status), `HTTP ${status}`, retryAfterMs);
  if (status !== 200) return fail('request-error', status, false, `HTTP ${status}: not an answer of the Action API`);
  const body = parseRevisionsBody(answer.body);
  if (!body) return fail('internal-error', status, false, 'HTTP 200 with a body that is not an Action API answer');
  if (body.error) {
    if (body.error.code === 'maxlag') {
      // No Retry-After header (not seen from Wikimedia, but possible): the reported lag is the wait.
      const wait = retryAfterMs ?? (body.error.lag !== undefined ? Math.ceil(body.error.lag) * 1000 : null);
      return fail('maxlag', status, true, `maxlag: ${body.error.info}`, wait);
    }
    return fail('request-error', status, false, `API error ${body.error.code}: ${body.error.info}`);
  }
  if (body.badrevids.has(revid)) return fail('badrevids', status, true, `revision ${revid} in badrevids`);
  const facts = body.revisions.get(revid);
  // Absent from the answer altogether: missing content too, as badrevids.
  if (!facts) return fail('badrevids', status, true, `revision ${revid} absent from the answer`);
  return { ok: true, facts };
}

/**
 * Backoff before retry `attempt` (1 = the first retry): equal jitter, a uniform delay in
 * [ceiling/2, ceiling] with ceiling = min(maxMs, initialMs * 2^(attempt-1)). Never zero, so a
 * failing revision cannot spin; the jitter spreads revisions that failed together.
 */
export function retryBackoff(attempt: number, policy: Pick<RetryPolicy, 'initialMs' | 'maxMs'>, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * Math.pow(2, Math.max(0, attempt - 1)));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

export interface DecideOptions {
  /** Uniform in [0, 1): injected for deterministic tests. */
  random?: () => number;
  /** Now (epoch ms), for an HTTP-date Retry-After. */
  now?: number;
}

/**
 * The enricher's decision for one revision after the `attempt`-th call that asked for it (1 = the
 * first): enrich it, retry after a delay (retriable rows while attempts remain; the delay is the
 * backoff, or the server's Retry-After when longer, bounded by `maxRetryAfterMs`), or send it to the
 * error topic with the row's reason and the HTTP status. Pure.
 */
export function decide(answer: ApiAnswer, revid: number, attempt: number, policy: RetryPolicy, opts: DecideOptions = {}): Decision {
  const c = classify(answer, revid, opts.now ?? 0);
  if (c.ok) return { action: 'enrich', facts: c.facts };
  if (!c.retriable || attempt >= policy.maxAttempts) {
    const why = c.retriable ? `${c.message} (gave up after ${attempt} attempts)` : c.message;
    return { action: 'error-topic', reason: c.reason, status: c.status, message: why, attempts: attempt };
  }
  const backoff = retryBackoff(attempt, policy, opts.random);
  const delayMs = c.retryAfterMs === null ? backoff : Math.max(backoff, Math.min(c.retryAfterMs, policy.maxRetryAfterMs));
  return { action: 'retry-after', delayMs, reason: c.reason, status: c.status, message: c.message };
}
