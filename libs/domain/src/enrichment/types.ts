/**
 * Why a revision went to the error topic: one reason per row of the failure table of Wikimedia's
 * page_content_change enrichment (apps/enricher/README.md), closed list.
 */
export const ENRICH_REASONS = ['connection-timeout', 'read-timeout', 'no-content', 'further-action', 'request-error', 'internal-error', 'badrevids', 'maxlag'] as const;
export type EnrichReason = (typeof ENRICH_REASONS)[number];

/** What one Action API call ended with, as the client saw it. */
export type ApiAnswer =
  /**
   * No HTTP answer: the connection could not be made in time (`connect-timeout`) or at all
   * (`connection-failed`: refused, reset before an answer), or the answer did not come in time (`read-timeout`).
   */
  | { kind: 'error'; error: 'connect-timeout' | 'connection-failed' | 'read-timeout'; message?: string }
  /** An HTTP answer; `body` is the parsed JSON (undefined when there is none or it does not parse). */
  | { kind: 'response'; status: number; retryAfter?: string | null; body?: unknown };

/** A revision's facts as `prop=revisions&rvprop=ids|size|sha1|contentmodel|timestamp&rvslots=main&formatversion=2` returns them. */
export interface RevisionFacts {
  revId: number;
  parentId: number | null;
  pageId: number;
  title: string;
  size: number;
  /** null when suppressed (`sha1hidden`). */
  sha1: string | null;
  contentModel: string;
  /** Epoch milliseconds. */
  timestamp: number;
  /** slots.main.content, when asked for (rvprop=content) and not suppressed. */
  content: string | null;
}

/** What to do with one revision after an answer. */
export type Decision =
  | { action: 'enrich'; facts: RevisionFacts }
  | { action: 'retry-after'; delayMs: number; reason: EnrichReason; status: number | null; message: string }
  | { action: 'error-topic'; reason: EnrichReason; status: number | null; message: string; attempts: number };

export interface RetryPolicy {
  /** API attempts in all (the first call included) before a retriable failure goes to the error topic. */
  maxAttempts: number;
  /** Backoff ceiling of the first retry; doubles per attempt up to `maxMs`. */
  initialMs: number;
  maxMs: number;
  /** Upper bound of a Retry-After honoured (a server asking for an hour does not park a page for an hour). */
  maxRetryAfterMs: number;
}
