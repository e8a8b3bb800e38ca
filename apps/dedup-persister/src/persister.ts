import type { BlueskyEvent, WikiAggregate, WikiAlert, WikiChange } from '@wikimonitor/contracts';
import {
  type NextOffset,
  type RecordPosition,
  type SqlValue,
  aggregateDedupKey,
  aggregateRow,
  alertDedupKey,
  alertRow,
  bskyRow,
  changeDedupKey,
  changeRow,
  dedupeByKey,
} from '@wikimonitor/domain';
import { type Message, type OutgoingRecord, deadLetterFrom, nextOffsets } from '@wikimonitor/kafka';
import { type Logger, WikiMonitorError, backoffDelay, describeError, isRetriable, sleep } from '@wikimonitor/service-kit';
import type { PersisterMetrics } from './metrics';
import { type PersistStore, type RowBatch, TABLE_KINDS, type TableKind, dbErrorClass } from './store';

export type RecordKind = 'change' | 'aggregate' | 'alert' | 'bsky';

/** Decoders per record kind (Avro, Confluent wire format); a non-retriable error means the record is invalid. */
export interface Decoders {
  change(topic: string, value: Buffer): Promise<WikiChange>;
  aggregate(topic: string, value: Buffer): Promise<WikiAggregate>;
  alert(topic: string, value: Buffer): Promise<WikiAlert>;
  /** A Bluesky event (bsky_events). */
  bsky(topic: string, value: Buffer): Promise<BlueskyEvent>;
}

export interface RetryPolicy {
  attempts: number;
  initialMs: number;
  maxMs: number;
}

export interface PersisterDeps {
  store: PersistStore;
  decoders: Decoders;
  kindOf: (topic: string) => RecordKind | undefined;
  /** Publishes dead-letter records and resolves once the broker acknowledged every one. */
  deadLetter: (records: OutgoingRecord[]) => Promise<void>;
  /** Topic of the dead letters (`deadLetterFrom` builds them). */
  dlqTopic: string;
  metrics: PersisterMetrics;
  log: Logger;
  retry: RetryPolicy;
  /** The database answered (true) or failed with a retriable error (false): drives readiness. */
  onDbState?: (up: boolean) => void;
  /** Partitions this consumer still owns (`topic:partition`); records of others are left to their new owner. */
  owned?: () => ReadonlySet<string>;
  /** After the database commit: offsets for Kafka's own (secondary) commit. */
  afterCommit?: (offsets: NextOffset[]) => void;
  /** After the database commit: the records of the batch's stored rows (live pages). */
  onCommitted?: (committed: { changes: WikiChange[]; aggregates: WikiAggregate[]; alerts: WikiAlert[]; bsky: BlueskyEvent[] }) => void;
  app?: string;
}

export interface BatchOutcome {
  records: number;
  written: Record<TableKind, number>;
  duplicates: Record<TableKind, number>;
  deadLettered: number;
  offsets: NextOffset[];
}

interface Decoded<T> {
  value: T;
  message: Message;
}

const position = (m: Message): RecordPosition => ({ topic: m.topic, partition: m.partition, offset: m.offset });

/**
 * The batch handler: decode, dead-letter what cannot be decoded or stored, deduplicate, and write
 * rows plus the batch's next offsets in one PostgreSQL transaction. A retriable database failure
 * is retried with backoff (consumption is paused meanwhile, since the next batch is only read after
 * this one resolves); when retries run out, or shutdown begins, it throws without having
 * committed anything, so the records are read again from the stored offsets.
 */
export function createPersister(deps: PersisterDeps) {
  const { log, metrics } = deps;
  const app = deps.app ?? 'dedup-persister';

  async function withRetry<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const out = await fn();
        if (attempt > 0) log.info({ what, attempts: attempt + 1 }, 'succeeded after retries');
        return out;
      } catch (err) {
        if (!isRetriable(err)) throw err;
        if (attempt + 1 >= deps.retry.attempts) {
          throw new WikiMonitorError('DEPENDENCY_UNAVAILABLE', `${what}: gave up after ${attempt + 1} attempts: ${(err as Error).message}`, { cause: err, retriable: true });
        }
        if (signal?.aborted) throw new WikiMonitorError('SHUTTING_DOWN', `${what}: interrupted by shutdown`, { cause: err });
        const delay = backoffDelay(attempt, deps.retry);
        if (attempt % 5 === 0) log.warn({ what, attempt: attempt + 1, delayMs: delay, err: (err as Error).message }, 'retrying');
        await sleep(delay, signal);
      }
    }
  }

  async function decodeOne<T>(m: Message, decode: (topic: string, v: Buffer) => Promise<T>, signal: AbortSignal | undefined): Promise<{ ok: T } | { invalid: { code: string; message: string } }> {
    if (!m.value) return { invalid: { code: 'DESERIALIZE_FAILED', message: 'record has no value' } };
    const value = m.value;
    try {
      return { ok: await withRetry(`decoding ${m.topic}`, () => decode(m.topic, value), signal) };
    } catch (err) {
      if (isRetriable(err) || (err instanceof WikiMonitorError && err.code === 'SHUTTING_DOWN')) throw err;
      return { invalid: describeError(err) };
    }
  }

  /** A record that cannot be stored: its dead letter (built once, by the kafka lib) and why. */
  interface Dead {
    m: Message;
    error: { code: string; message: string };
    record: OutgoingRecord;
  }

  function deadLetterOf(m: Message, error: { code: string; message: string }): Dead {
    return { m, error, record: deadLetterFrom(m, error, { topic: deps.dlqTopic, app }) };
  }

  async function sendDeadLetters(dead: Dead[], signal: AbortSignal | undefined): Promise<void> {
    if (!dead.length) return;
    await withRetry('publishing dead letters', () => deps.deadLetter(dead.map((d) => d.record)), signal);
    for (const d of dead) metrics.deadLettered.inc({ code: d.error.code });
    const first = dead[0] as Dead;
    log.warn({ count: dead.length, first: { topic: first.m.topic, partition: first.m.partition, offset: first.m.offset, error: first.error } }, 'records dead-lettered');
  }

  /**
   * Rows of the decoded records, in order. A record whose row cannot be built (e.g. an event time
   * outside any representable instant) becomes a dead letter of that record: one bad record must
   * never throw out of the handler and crash-loop the persister on the same offset.
   */
  function mapRows<T>(decoded: Array<Decoded<T>>, toRow: (value: T, at: RecordPosition) => SqlValue[], dead: Dead[]): { rows: SqlValue[][]; sources: Message[]; failed: number } {
    const rows: SqlValue[][] = [];
    const sources: Message[] = [];
    let failed = 0;
    for (const d of decoded) {
      try {
        rows.push(toRow(d.value, position(d.message)));
        sources.push(d.message);
      } catch (err) {
        failed++;
        dead.push(deadLetterOf(d.message, { code: 'INVALID_EVENT', message: `row mapping failed: ${(err as Error).message}` }));
      }
    }
    return { rows, sources, failed };
  }

  async function handle(batch: Message[], signal?: AbortSignal): Promise<BatchOutcome> {
    const started = performance.now();
    log.debug({ records: batch.length }, 'batch received');
    const mine = deps.owned?.();
    const owned = mine ? batch.filter((m) => mine.has(`${m.topic}:${m.partition}`)) : batch;
    if (owned.length < batch.length) {
      metrics.fenced.inc(batch.length - owned.length);
      log.warn({ dropped: batch.length - owned.length }, 'records of revoked partitions left to their new owner');
    }
    const changes: Array<Decoded<WikiChange>> = [];
    const aggregates: Array<Decoded<WikiAggregate>> = [];
    const alerts: Array<Decoded<WikiAlert>> = [];
    const bsky: Array<Decoded<BlueskyEvent>> = [];
    const dead: Dead[] = [];
    for (const m of owned) {
      metrics.consumed.inc({ topic: m.topic });
      const kind = deps.kindOf(m.topic);
      if (!kind) {
        dead.push(deadLetterOf(m, { code: 'INVALID_EVENT', message: `no record kind configured for topic ${m.topic}` }));
        continue;
      }
      if (kind === 'change') {
        const r = await decodeOne(m, deps.decoders.change, signal);
        if ('ok' in r) changes.push({ value: r.ok, message: m });
        else dead.push(deadLetterOf(m, r.invalid));
      } else if (kind === 'aggregate') {
        const r = await decodeOne(m, deps.decoders.aggregate, signal);
        if ('ok' in r) aggregates.push({ value: r.ok, message: m });
        else dead.push(deadLetterOf(m, r.invalid));
      } else if (kind === 'alert') {
        const r = await decodeOne(m, deps.decoders.alert, signal);
        if ('ok' in r) alerts.push({ value: r.ok, message: m });
        else dead.push(deadLetterOf(m, r.invalid));
      } else {
        const r = await decodeOne(m, deps.decoders.bsky, signal);
        if ('ok' in r) bsky.push({ value: r.ok, message: m });
        else dead.push(deadLetterOf(m, r.invalid));
      }
    }

    const uc = dedupeByKey(changes, (d) => changeDedupKey(d.value), 'first');
    const ua = dedupeByKey(aggregates, (d) => aggregateDedupKey(d.value), 'last');
    const ul = dedupeByKey(alerts, (d) => alertDedupKey(d.value), 'first');
    // A Bluesky event's id is its dedup key, as meta.id is a change's.
    const ub = dedupeByKey(bsky, (d) => changeDedupKey(d.value), 'first');
    const mapped = {
      changes: mapRows(uc.unique, changeRow, dead),
      aggregates: mapRows(ua.unique, aggregateRow, dead),
      alerts: mapRows(ul.unique, alertRow, dead),
      bsky: mapRows(ub.unique, bskyRow, dead),
    };
    const sources: Record<TableKind, Message[]> = { changes: mapped.changes.sources, aggregates: mapped.aggregates.sources, alerts: mapped.alerts.sources, bsky: mapped.bsky.sources };
    const rows: RowBatch = {
      changes: mapped.changes.rows,
      aggregates: mapped.aggregates.rows,
      alerts: mapped.alerts.rows,
      bsky: mapped.bsky.rows,
      offsets: nextOffsets(owned.map(position)).map(({ topic, partition, offset }) => ({ topic, partition, nextOffset: offset })),
    };
    // Duplicates are counted against what could be mapped: a record that became a dead letter is no duplicate.
    const received: Record<TableKind, number> = {
      changes: changes.length - mapped.changes.failed,
      aggregates: aggregates.length - mapped.aggregates.failed,
      alerts: alerts.length - mapped.alerts.failed,
      bsky: bsky.length - mapped.bsky.failed,
    };

    // Dead letters are acknowledged before the offsets that skip them are committed.
    await sendDeadLetters(dead, signal);
    let deadCount = dead.length;

    let written: Record<TableKind, number> | undefined;
    while (!written) {
      try {
        const t0 = performance.now();
        written = (await withRetry('writing a batch to PostgreSQL', () => observeDb(() => deps.store.write(rows)), signal)).written;
        metrics.writeLatency.observe((performance.now() - t0) / 1000);
      } catch (err) {
        if (dbErrorClass(err) !== 'data') throw err;
        // One row PostgreSQL refuses must not block the stream: find it, dead-letter it, write the rest.
        const rejects = await withRetry('isolating rejected rows', () => observeDb(() => deps.store.findRejects(rows)), signal);
        if (!rejects.length) throw err;
        const drop = Object.fromEntries(TABLE_KINDS.map((t) => [t, new Set<number>()])) as Record<TableKind, Set<number>>;
        const letters: Dead[] = [];
        for (const r of rejects) {
          drop[r.table].add(r.index);
          letters.push(deadLetterOf(sources[r.table][r.index] as Message, r.error));
        }
        await sendDeadLetters(letters, signal);
        deadCount += letters.length;
        for (const t of TABLE_KINDS) {
          const keep = (_: unknown, i: number) => !drop[t].has(i);
          rows[t] = (rows[t] ?? []).filter(keep) as SqlValue[][];
          sources[t] = sources[t].filter(keep);
          received[t] -= drop[t].size;
        }
      }
    }
    if (log.isLevelEnabled('debug')) {
      // One line per stored change, inside the batch's span: its trace_id links the row to its trace.
      const kept = new Set(sources.changes);
      for (const d of uc.unique) {
        if (kept.has(d.message)) log.debug({ id: d.value.id, topic: d.message.topic, partition: d.message.partition, offset: d.message.offset }, 'change persisted');
      }
    }

    const duplicates = {} as Record<TableKind, number>;
    for (const t of TABLE_KINDS) {
      duplicates[t] = received[t] - written[t];
      if (written[t]) metrics.rowsWritten.inc({ table: t }, written[t]);
      if (duplicates[t]) metrics.duplicates.inc({ table: t }, duplicates[t]);
    }
    for (const o of rows.offsets) metrics.committedOffset.set({ topic: o.topic, partition: String(o.partition) }, o.nextOffset);
    metrics.batchSize.observe(batch.length);
    metrics.batchLatency.observe((performance.now() - started) / 1000);
    deps.afterCommit?.(rows.offsets);
    if (deps.onCommitted) {
      const keptOf = <T>(list: Array<Decoded<T>>, t: TableKind) => {
        const kept = new Set(sources[t]);
        return list.filter((d) => kept.has(d.message)).map((d) => d.value);
      };
      deps.onCommitted({ changes: keptOf(uc.unique, 'changes'), aggregates: keptOf(ua.unique, 'aggregates'), alerts: keptOf(ul.unique, 'alerts'), bsky: keptOf(ub.unique, 'bsky') });
    }
    return { records: owned.length, written, duplicates, deadLettered: deadCount, offsets: rows.offsets };
  }

  async function observeDb<T>(fn: () => Promise<T>): Promise<T> {
    try {
      const out = await fn();
      deps.onDbState?.(true);
      return out;
    } catch (err) {
      const cls = dbErrorClass(err);
      metrics.dbErrors.inc({ class: cls });
      if (cls === 'retriable') deps.onDbState?.(false);
      throw err;
    }
  }

  return { handle };
}

export type Persister = ReturnType<typeof createPersister>;
