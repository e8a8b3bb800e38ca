import { type Logger, WikiMonitorError, backoffDelay, describeError, sleep } from '@wikimonitor/service-kit';
import type { KafkaProducer, OutgoingRecord } from './producer';

/** librdkafka's flags on a failed call or delivery (the `cause` of our coded errors). */
export type KafkaErrorFlags = { code?: number; isFatal?: boolean; isRetriable?: boolean; isTxnRequiresAbort?: boolean };
export const kafkaErrorFlags = (err: unknown): KafkaErrorFlags => ((err as { cause?: unknown })?.cause ?? {}) as KafkaErrorFlags;

/** Delivery errors that belong to one record (retrying cannot help it, and only it). */
export const RECORD_SPECIFIC_CODES: ReadonlySet<number> = new Set([
  2 /* corrupt message */,
  10 /* message too large */,
  18 /* record list too large */,
  32 /* invalid timestamp (outside the topic's message.timestamp.*.ms limits) */,
  87 /* invalid record */,
]);

export const isRecordSpecific = (err: unknown): boolean => RECORD_SPECIFIC_CODES.has(kafkaErrorFlags(err).code ?? 0);

/** A delivery failure after which the transaction cannot commit: the other records need not be waited for. */
export const endsTransaction = (err: unknown): boolean => {
  const f = kafkaErrorFlags(err);
  return isRecordSpecific(err) || f.isTxnRequiresAbort === true || f.isFatal === true || (err instanceof WikiMonitorError && !err.retriable);
};

const ERR_STATE = -172;
/** librdkafka's answer to a transactional call with no transaction in progress (not an abortable or fatal state). */
export const noTransactionInProgress = (err: unknown): boolean => {
  const f = kafkaErrorFlags(err);
  return f.code === ERR_STATE && f.isTxnRequiresAbort !== true && f.isFatal !== true;
};

/**
 * Sends every record and waits for the deliveries; returns the rejections in record order. After a
 * delivery failed for good (refused record, transaction to abort) librdkafka sends no other record
 * of the transaction: they would fail only at message.timeout.ms, so the wait ends there (after the
 * reports delivered together with it); the abort purges the rest, whose rejections are absorbed.
 */
export function settleSends(send: (r: OutgoingRecord) => Promise<unknown>, records: readonly OutgoingRecord[]): Promise<Array<{ index: number; err: unknown }>> {
  return new Promise((resolve) => {
    const rejected: Array<{ index: number; err: unknown }> = [];
    let pending = records.length;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve(rejected.sort((a, b) => a.index - b.index));
    };
    if (!pending) return finish();
    let stopping = false;
    records.forEach((record, index) => {
      send(record).then(
        () => {
          if (--pending === 0) finish();
        },
        (err: unknown) => {
          if (done) return;
          rejected.push({ index, err });
          if (--pending === 0) return finish();
          if (!stopping && endsTransaction(err)) {
            stopping = true;
            setImmediate(finish);
          }
        },
      );
    });
  });
}

export type BatchProducer = Pick<KafkaProducer, 'send' | 'beginTransaction' | 'commitTransaction' | 'abortTransaction' | 'isLive'>;

export interface WriteBatchOptions {
  producer: BatchProducer;
  records: readonly OutgoingRecord[];
  /** One transaction around the records (false: plain idempotent sends, at-least-once). */
  transactional: boolean;
  /**
   * After a commit whose outcome librdkafka cannot tell (no transaction in progress any more):
   * whether it committed, e.g. by reading a record of the batch back with read_committed.
   */
  isCommitted?: () => Promise<boolean>;
  log: Logger;
  signal?: AbortSignal;
}

export type WriteBatchResult =
  | { ok: true; ambiguous: boolean }
  | {
      ok: false;
      err: unknown;
      /** The producer cannot go on (fenced by a newer instance with its transactional.id, or failed). */
      fatal: boolean;
      /** Records the broker refused for themselves (too large, invalid): they fail on every attempt. */
      refused: number[];
    };

const TXN_BACKOFF = { initialMs: 100, maxMs: 2_000 };

/**
 * Writes a batch of records, in one transaction when `transactional`: begin, send all, commit. A
 * commit that failed retriably is resumed (librdkafka keeps it pending); one whose outcome is unknown
 * is resolved by `isCommitted`. Any failure aborts (the abort is retried while the broker is away):
 * the caller retries the same records. Never throws.
 */
export async function writeBatch(opts: WriteBatchOptions): Promise<WriteBatchResult> {
  const { producer, log } = opts;
  const fatalOf = (err: unknown) => kafkaErrorFlags(err).isFatal === true || !producer.isLive();
  const failed = (err: unknown, refused: number[] = []): WriteBatchResult => ({ ok: false, err, fatal: fatalOf(err), refused });
  const refusedOf = (rejected: Array<{ index: number; err: unknown }>) => rejected.filter((r) => isRecordSpecific(r.err)).map((r) => r.index);

  if (!opts.transactional) {
    const rejected = await settleSends((r) => producer.send(r), opts.records);
    return rejected.length ? failed((rejected[0] as { err: unknown }).err, refusedOf(rejected)) : { ok: true, ambiguous: false };
  }

  let open = false;
  /** After a failed commit, an abort that finds no transaction means the outcome is unknown: read it back. */
  const resolve = async (err: unknown): Promise<WriteBatchResult> => {
    if (!opts.isCommitted) return failed(err);
    let committed: boolean;
    try {
      committed = await opts.isCommitted();
    } catch (readErr) {
      return { ok: false, err: new WikiMonitorError('KAFKA_TRANSACTION_FAILED', `commit outcome unknown (${describeError(err).message}) and unreadable: ${describeError(readErr).message}`, { cause: readErr }), fatal: true, refused: [] };
    }
    log.warn({ err: describeError(err).message, committed }, 'commitTransaction reported a failure; the outcome was read back');
    return committed ? { ok: true, ambiguous: true } : failed(err);
  };
  const abort = async (cause: unknown, refused: number[], afterCommit = false): Promise<WriteBatchResult> => {
    if (fatalOf(cause) || !open) return failed(cause, refused);
    for (let attempt = 0; ; attempt++) {
      try {
        await producer.abortTransaction();
        return failed(cause, refused);
      } catch (err) {
        if (noTransactionInProgress(err)) return afterCommit ? resolve(cause) : failed(cause, refused);
        if (fatalOf(err) || kafkaErrorFlags(err).isRetriable !== true || opts.signal?.aborted) return { ok: false, err, fatal: true, refused };
        if (attempt % 10 === 0) log.warn({ err: describeError(err).message, attempt: attempt + 1 }, 'abortTransaction failed; retrying');
        await sleep(backoffDelay(attempt, TXN_BACKOFF), opts.signal);
      }
    }
  };

  try {
    await callRetrying(() => producer.beginTransaction(), TXN_BACKOFF, opts.signal);
    open = true;
  } catch (err) {
    return failed(err);
  }
  const rejected = await settleSends((r) => producer.send(r), opts.records);
  if (rejected.length) return abort((rejected[0] as { err: unknown }).err, refusedOf(rejected));
  const c = await commitResuming(producer, { log, backoff: TXN_BACKOFF, isFatal: fatalOf, closing: () => opts.signal?.aborted === true, signal: opts.signal });
  if (c.ok) return { ok: true, ambiguous: false };
  if (fatalOf(c.err)) return failed(c.err);
  if (c.state === 'unknown') return resolve(c.first);
  return abort(c.err, [], kafkaErrorFlags(c.err).isTxnRequiresAbort !== true);
}

/** Retries a transactional call while librdkafka says the same call may be retried (at most 5 calls). */
export async function callRetrying(fn: () => Promise<void>, backoff: { initialMs: number; maxMs: number }, signal?: AbortSignal): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const f = kafkaErrorFlags(err);
      if (!f.isRetriable || f.isTxnRequiresAbort || f.isFatal || attempt >= 4) throw err;
      await sleep(backoffDelay(attempt, backoff), signal);
    }
  }
}

export type CommitResult =
  | { ok: true }
  /** `open`: the transaction is still there (abort it); `unknown`: none in progress any more, it may have committed. */
  | { ok: false; err: unknown; first: unknown; state: 'open' | 'unknown' };

/**
 * Commits. A commit that failed retriably (timed out) stays pending in librdkafka, and every other
 * transactional call fails with a conflict until commitTransaction is called again: so it is resumed
 * until it succeeds or fails for good (abortable: not committed; fatal). Another failure is tried
 * once more; when librdkafka then finds no transaction in progress, the outcome is `unknown`.
 */
export async function commitResuming(
  producer: Pick<KafkaProducer, 'commitTransaction'>,
  opts: { log: Logger; backoff: { initialMs: number; maxMs: number }; isFatal: (err: unknown) => boolean; closing: () => boolean; signal?: AbortSignal },
): Promise<CommitResult> {
  let first: unknown;
  for (let attempt = 0; ; attempt++) {
    try {
      await producer.commitTransaction();
      if (attempt > 0) opts.log.info({ attempts: attempt + 1 }, 'pending commit resumed and completed');
      return { ok: true };
    } catch (err) {
      first ??= err;
      const f = kafkaErrorFlags(err);
      if (opts.isFatal(err) || f.isTxnRequiresAbort) return { ok: false, err, first, state: 'open' };
      if (noTransactionInProgress(err)) return { ok: false, err, first, state: 'unknown' };
      // Closing: a few resumptions only (the broker may be gone).
      const again = f.isRetriable === true ? !(opts.closing() && attempt >= 4) : attempt === 0;
      if (!again) return { ok: false, err, first, state: 'open' };
      const delay = backoffDelay(attempt, opts.backoff);
      opts.log.warn({ err: describeError(err).message, attempt: attempt + 1, retryInMs: delay }, 'commitTransaction failed; calling it again (a pending commit must be resumed)');
      await sleep(delay, opts.signal);
    }
  }
}
