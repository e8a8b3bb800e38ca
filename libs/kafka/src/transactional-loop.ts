import { createHash } from 'node:crypto';
import type { KafkaConsumer, TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import { type Lifecycle, type Logger, WikiMonitorError, backoffDelay, describeError, sleep } from '@wikimonitor/service-kit';
import type { KafkaConnection } from './config';
import { type ConsumerRunner, type ConsumerRunnerOptions, type Message, createConsumerRunner } from './consumer';
import { DEAD_LETTER_MAX_VALUE_BYTES, deadLetterFrom } from './dlq';
import { headersToMessage } from './headers';
import { nextOffsets } from './offsets';
import type { KafkaProducer, OutgoingRecord } from './producer';
import { type PartitionReader, type PartitionReaderOptions, createPartitionReader } from './reader';
import { callRetrying, commitResuming, isRecordSpecific, kafkaErrorFlags, settleSends as settle } from './transaction';

/** The producer calls the loop makes (a transactional producer, started by its owner). */
export type TransactionalProducer = Pick<KafkaProducer, 'send' | 'beginTransaction' | 'sendOffsetsToTransaction' | 'commitTransaction' | 'abortTransaction' | 'isLive'>;

/** An output of a step; `source` is the input it came from (its dead letter points there if it cannot be written). */
export interface StepRecord extends OutgoingRecord {
  source?: Message;
}

export interface StepResult<S, M = unknown> {
  /** Outputs to write in the transaction. */
  records: StepRecord[];
  /** Dead letters of inputs the step could not process (written in the same transaction). */
  deadLetters: OutgoingRecord[];
  /** The partition's state after this step: current only once the transaction committed. */
  nextState: S;
  /** Anything the app wants back in its hooks (counts, spans), whatever the outcome. */
  summary?: M;
}

export interface StepContext {
  topic: string;
  partition: number;
  /** Processing time of the attempt; kept on the retries of a failed transaction so the outputs repeat. */
  now: number;
}

/** Turns one partition's records (in offset order) and its state into outputs: pure, no Kafka I/O. */
export type Step<S, M> = (batch: Message[], state: S, ctx: StepContext) => StepResult<S, M> | Promise<StepResult<S, M>>;

/** Work without input (e.g. closing idle windows); null when there is nothing to do. */
export type Tick<S, M> = (state: S, ctx: StepContext) => StepResult<S, M> | null;

/** A tick that awaits I/O (e.g. the enricher's retries of parked records call the Action API). */
export type AsyncTick<S, M> = (state: S, ctx: StepContext) => Promise<StepResult<S, M> | null>;

export interface StateChangelog<S> {
  /** Compacted topic; partition n holds the state of input partition n. */
  topic: string;
  /** A partition's state from its changelog records, oldest first (none: the initial state). */
  restore(partition: number, messages: Message[]): S;
  /** Records persisting the change from `prev` to `next`, sent in the step's transaction. */
  encode(partition: number, next: S, prev: S): OutgoingRecord[];
}

export interface CommitInfo<M> {
  kind: 'batch' | 'tick';
  /** Input records whose offsets the transaction committed. */
  inputs: number;
  outputs: number;
  seconds: number;
  summaries: M[];
  /** Outputs that could not be written and went to the dead-letter topic instead. */
  isolated: Array<{ topic: string; code: string }>;
  /** commitTransaction reported a failure, but the group's committed offsets show the commit happened. */
  ambiguous: boolean;
}

export interface AbortInfo<M> {
  kind: 'batch' | 'tick';
  code: string;
  message: string;
  summaries: M[];
  /** Consecutive failed transactions so far. */
  attempt: number;
}

export interface LoopHooks<M> {
  committed?(info: CommitInfo<M>): void;
  aborted?(info: AbortInfo<M>): void;
  /** Input records handed to the step (re-reads after an abort count again). */
  consumed?(records: number): void;
  restored?(info: { partitions: number[]; seconds: number; states: number }): void;
}

export interface TransactionalLoopOptions<S, M> {
  connection: KafkaConnection;
  log: Logger;
  groupId: string;
  /** Input topic. */
  topic: string;
  producer: TransactionalProducer;
  /** App name for dead letters. */
  app: string;
  dlqTopic: string;
  step: Step<S, M>;
  /** State of a partition without history (stateless apps: e.g. `() => undefined`). */
  initialState: (partition: number) => S;
  changelog?: StateChangelog<S>;
  tick?: { everyMs: number; run: Tick<S, M> | AsyncTick<S, M> };
  batchSize?: number;
  /** Extra consumer properties (session timeout, static membership). */
  consumerOverrides?: Record<string, string | number | boolean>;
  /** Backoff between attempts; more than `maxAttempts` consecutive failed transactions stop the service (default: unbounded). */
  retry?: { initialMs: number; maxMs: number; maxAttempts?: number };
  /** Values of dead letters that replace unwritable outputs are cut to this size. */
  deadLetterMaxValueBytes?: number;
  hooks?: LoopHooks<M>;
  /** The service should stop: fenced, producer unusable, or the retries ran out. */
  onFatal: (err: unknown) => void;
  now?: () => number;
  /** Replaces the Kafka clients the loop builds (unit tests drive the loop without a broker). */
  adapters?: LoopAdapters;
  /** A step of the loop (restore, step, send, commit...) still running after this long is logged as a warning, repeatedly (default 20 s). */
  slowPhaseWarnMs?: number;
}

export interface LoopAdapters {
  createRunner?: (o: ConsumerRunnerOptions) => ConsumerRunner;
  createReader?: (o: PartitionReaderOptions) => PartitionReader;
  /** Rewind operations (default: the group consumer's committed/seek). */
  offsetControl?: (consumer: KafkaConsumer) => OffsetControl;
}

export interface LoopStats {
  transactions: number;
  aborted: number;
  /** Input records whose offsets were committed. */
  committedRecords: number;
  consumed: number;
  /** Commits that reported failure although the broker committed. */
  ambiguousCommits: number;
  /** Outputs replaced by dead letters because they could not be written. */
  isolated: number;
}

export interface TransactionalLoop<S> extends Lifecycle {
  stats(): LoopStats;
  /** What the loop is waiting on now and since when (null: idle, waiting for input). */
  phase(): { name: string; sinceMs: number } | null;
  /** Committed state and next offset of each assigned input partition. */
  snapshot(): Map<number, { state: S; next: number | null }>;
  /** Runs the tick now (tests; the timer calls it every `tick.everyMs`). */
  tick(): Promise<void>;
}

/** The consumer operations a rewind needs. */
export interface OffsetControl {
  /** The group's committed offsets (next offset to read); negative when none. */
  committed(partitions: Array<{ topic: string; partition: number }>): Promise<TopicPartitionOffset[]>;
  seek(position: TopicPartitionOffset): Promise<void>;
}

export function consumerOffsetControl(consumer: KafkaConsumer, timeoutMs = 10_000): OffsetControl {
  const fail = (what: string, err: { message: string }) => new WikiMonitorError('KAFKA_CONSUME_FAILED', `${what}: ${err.message}`, { cause: err, retriable: true });
  return {
    committed: (partitions) =>
      new Promise((resolve, reject) => consumer.committed(partitions, timeoutMs, (err, tps) => (err ? reject(fail('reading committed offsets', err)) : resolve(tps)))),
    seek: (position) => new Promise((resolve, reject) => consumer.seek(position, timeoutMs, (err) => (err ? reject(fail(`seeking ${position.topic}/${position.partition}`, err)) : resolve()))),
  };
}

const rdFlags = kafkaErrorFlags;
/** Errors of a committed-offsets read worth repeating: timed out, or offsets still pending in an open transaction. */
const COMMITTED_RETRY_CODES: ReadonlySet<number> = new Set([-185 /* timed out */, 88 /* unstable offset commit */]);

const OFFSET_BEGINNING = -2;
const POISON_LIMIT = 1000;
/** Attempts spent finding unwritable outputs that do not count as failures (each finds one or narrows the suspects). */
const MAX_ISOLATION_ROUNDS = 20;
const RESTORE_TIMEOUT_MS = 180_000; // > transaction.timeout.ms: a dead writer's open transaction ends first
/** How long committed offsets are waited for (a crashed member's open transaction holds them back). */
const COMMITTED_WAIT_MS = RESTORE_TIMEOUT_MS;

/** Identity of an output across attempts: topic, key and a digest of the value. */
function outputId(r: OutgoingRecord): string {
  const key = r.key === undefined || r.key === null ? '' : r.key.toString('base64');
  const digest = r.value ? createHash('sha256').update(r.value).digest('hex') : '-';
  return `${r.topic}\u0000${key}\u0000${digest}`;
}

interface PartitionState<S> {
  state: S;
  /** Next input offset (what the last commit sent), null before the group's first commit. */
  next: number | null;
}

interface Staged<S, M> {
  partition: number;
  result: StepResult<S, M>;
  /** Input offset the transaction commits for the partition (batches), or its current position (ticks). */
  offset: number | null;
  /** Where a dead letter of an output without a source points. */
  origin: { offset: number };
}

type CommitOutcome = { ok: true; ambiguous: boolean } | { ok: false; err: unknown; open: boolean };

type Outgoing = { record: OutgoingRecord; kind: 'output' | 'dead-letter' | 'state'; id?: string; poisonId?: string };

/**
 * Exactly-once consume-transform-produce: one transaction per batch holds the step's outputs, its
 * dead letters, the state changelog records and the input offsets (offset + 1). After any failure
 * the transaction is aborted and the consumer rewound to the group's committed offsets; state
 * becomes current only after a commit. An output the broker refuses for itself (too large,
 * corrupt) is replaced on the retry by a dead letter, and the rest of the batch goes on. A fatal
 * producer error (fenced by a newer instance) stops the service through `onFatal`.
 */
export function createTransactionalLoop<S, M = unknown>(opts: TransactionalLoopOptions<S, M>): TransactionalLoop<S> {
  const { log, producer, topic, hooks = {} } = opts;
  const clock = opts.now ?? Date.now;
  const retryOpts = opts.retry ?? { initialMs: 200, maxMs: 5_000 };
  const maxDlBytes = opts.deadLetterMaxValueBytes ?? DEAD_LETTER_MAX_VALUE_BYTES;
  const owned = new Map<number, PartitionState<S>>();
  /** Outputs proven unwritable: replaced by a dead letter on the next attempt. */
  const poison = new Map<string, { code: string; message: string }>();
  /** Outputs that failed together with others: sent one by one on the next attempt to find the culprit. */
  const suspects = new Set<string>();
  const stats: LoopStats = { transactions: 0, aborted: 0, committedRecords: 0, consumed: 0, ambiguousCommits: 0, isolated: 0 };
  const abortAll = new AbortController();
  let chain: Promise<unknown> = Promise.resolve();
  let failures = 0;
  /** Processing time of the failed attempt, reused until a commit succeeds. */
  let frozenNow: number | undefined;
  let closing = false;
  let timer: NodeJS.Timeout | undefined;
  let closed: Promise<void> | undefined;
  /** The failed attempt found unwritable outputs (or suspects): the retry makes progress, no backoff. */
  let isolating = false;
  /** The attempt before found unwritable outputs: librdkafka may purge the next attempt's first sends (epoch bump). */
  let afterIsolating = false;
  let isolationRounds = 0;
  /** Partitions of the batch failing now: when all are revoked, its failure state goes with them. */
  const failing = new Set<number>();
  /** A timer tick waits on the chain: the timer queues no other. */
  let tickQueued = false;
  /** Backoff of the transactional calls (no slower than the loop's own retries). */
  const txnBackoff = { initialMs: Math.min(100, retryOpts.initialMs), maxMs: Math.min(2_000, retryOpts.maxMs) };

  /** What the loop awaits now: a stall is never silent (the watchdog logs a phase that does not end). */
  let current: { name: string; since: number; warned: number } | null = null;
  let watchdog: NodeJS.Timeout | undefined;
  const slowWarnMs = opts.slowPhaseWarnMs ?? 20_000;
  async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const outer = current;
    current = { name, since: Date.now(), warned: 0 };
    try {
      return await fn();
    } finally {
      current = outer;
    }
  }
  function checkPhase(): void {
    const c = current;
    if (!c) return;
    const ms = Date.now() - c.since;
    if (ms < slowWarnMs * (c.warned + 1)) return;
    c.warned = Math.floor(ms / slowWarnMs);
    log.warn({ phase: c.name, waitedMs: ms, owned: [...owned.keys()] }, `transactional loop: ${c.name} has not finished for ${Math.round(ms / 1000)} s`);
  }

  const adapters = opts.adapters ?? {};
  const reader = opts.changelog ? (adapters.createReader ?? createPartitionReader)({ connection: opts.connection, log, name: 'changelog', isolation: 'read_committed' }) : undefined;

  const runner = (adapters.createRunner ?? createConsumerRunner)({
    connection: opts.connection,
    log,
    groupId: opts.groupId,
    topics: [topic],
    offsets: 'external',
    isolationLevel: 'read_committed',
    batchSize: opts.batchSize,
    overrides: opts.consumerOverrides,
    handle: (batch) => handleBatch(batch),
    positionsOnAssign: (tps) => onAssign(tps.filter((tp) => tp.topic === topic).map((tp) => tp.partition)),
    onRevoke: (tps) => onRevoke(tps.filter((tp) => tp.topic === topic).map((tp) => tp.partition)),
    onFatal: (err) => opts.onFatal(err),
  });
  let control: OffsetControl | undefined;
  const offsets = () => (control ??= (adapters.offsetControl ?? consumerOffsetControl)(runner.consumer));

  /** One thing at a time: batches, ticks, assignment and revocation never interleave. */
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = chain.then(fn);
    chain = run.catch(() => undefined);
    return run;
  }

  const isFatal = (err: unknown) => rdFlags(err).isFatal === true || (err instanceof WikiMonitorError && err.details?.['fatal'] === true) || !producer.isLive();
  const fatalError = (message: string, cause: unknown) => new WikiMonitorError('KAFKA_TRANSACTION_FAILED', message, { cause, details: { fatal: true } });

  /** Retries a transactional call while librdkafka says the same call may be retried. */
  const txnCall = (fn: () => Promise<void>) => callRetrying(fn, txnBackoff, abortAll.signal);

  /**
   * The group's committed offsets. With read_committed they are read stable: while a transaction
   * holding offsets of these partitions is open (a crashed member's, until transaction.timeout.ms)
   * the read times out, so it is repeated up to a deadline past that.
   */
  async function committedOffsets(partitions: number[]): Promise<Map<number, number | null>> {
    const started = Date.now();
    let tps: TopicPartitionOffset[];
    for (let attempt = 0; ; attempt++) {
      try {
        tps = await offsets().committed(partitions.map((partition) => ({ topic, partition })));
        break;
      } catch (err) {
        const waitedMs = Date.now() - started;
        if (!COMMITTED_RETRY_CODES.has(rdFlags(err).code ?? 0) || waitedMs >= COMMITTED_WAIT_MS) throw err;
        log.warn({ partitions, waitedMs, attempt: attempt + 1, err: describeError(err).message }, 'committed offsets not readable yet (a previous owner\'s transaction may still be open); retrying');
        await sleep(backoffDelay(attempt, txnBackoff), abortAll.signal);
      }
    }
    return new Map(partitions.map((p) => {
      const c = tps.find((t) => t.partition === p);
      return [p, c && c.offset >= 0 ? c.offset : null];
    }));
  }

  async function restoreStates(partitions: number[]): Promise<Map<number, S>> {
    const out = new Map<number, S>();
    if (!opts.changelog || !reader) {
      for (const p of partitions) out.set(p, opts.initialState(p));
      return out;
    }
    const changelog = opts.changelog;
    const messages = new Map<number, Message[]>(partitions.map((p) => [p, []]));
    await reader.read(
      partitions.map((partition) => ({ topic: changelog.topic, partition, from: 'beginning' as const })),
      (m) => void messages.get(m.partition)?.push(m),
      { timeoutMs: RESTORE_TIMEOUT_MS },
    );
    for (const p of partitions) {
      const list = messages.get(p) ?? [];
      out.set(p, list.length ? changelog.restore(p, list) : opts.initialState(p));
    }
    return out;
  }

  function onAssign(partitions: number[]): Promise<TopicPartitionOffset[]> {
    return exclusive(async () => {
      if (!partitions.length) return [];
      const started = performance.now();
      const [committed, states] = await phase('restoring assigned partitions (committed offsets, state changelog)', () => Promise.all([committedOffsets(partitions), restoreStates(partitions)]));
      const positions: TopicPartitionOffset[] = [];
      for (const p of partitions) {
        const next = committed.get(p) ?? null;
        owned.set(p, { state: states.get(p) as S, next });
        if (next !== null) positions.push({ topic, partition: p, offset: next });
      }
      hooks.restored?.({ partitions, seconds: (performance.now() - started) / 1000, states: states.size });
      log.info({ partitions, positions }, 'partitions assigned; state restored');
      return positions;
    });
  }

  function onRevoke(partitions: number[]): Promise<void> {
    return exclusive(async () => {
      for (const p of partitions) owned.delete(p);
      const wasFailing = failing.size > 0;
      for (const p of partitions) failing.delete(p);
      // The failing batch's partitions are gone: its retries (and their frozen time) do not carry over to the others.
      if (wasFailing && !failing.size) resetFailures();
    });
  }

  function deadLetterForOutput(r: StepRecord, error: { code: string; message: string }, partition: number, originOffset: number): OutgoingRecord {
    const source = r.source ?? { topic, partition, offset: originOffset, key: r.key ?? null, value: r.value, headers: headersToMessage(r.headers) };
    return deadLetterFrom(source, error, { topic: opts.dlqTopic, app: opts.app, attempts: 2, maxValueBytes: maxDlBytes, targetTopic: r.topic });
  }

  /** The transaction's records, with unwritable outputs replaced by their dead letters. */
  function outgoing(staged: Array<Staged<S, M>>, isolated: CommitInfo<M>['isolated']): Outgoing[] {
    const out: Outgoing[] = [];
    const tracking = poison.size > 0 || suspects.size > 0;
    for (const s of staged) {
      for (const r of s.result.records) {
        const id = tracking ? outputId(r) : undefined;
        const bad = id === undefined ? undefined : poison.get(id);
        if (bad) {
          out.push({ record: deadLetterForOutput(r, bad, s.partition, s.origin.offset), kind: 'dead-letter', poisonId: id });
          isolated.push({ topic: r.topic, code: bad.code });
        } else {
          const { source: _source, ...record } = r;
          out.push({ record, kind: 'output', id });
        }
      }
      for (const d of s.result.deadLetters) out.push({ record: d, kind: 'dead-letter' });
      if (opts.changelog) {
        const prev = owned.get(s.partition)?.state as S;
        for (const r of opts.changelog.encode(s.partition, s.result.nextState, prev)) out.push({ record: r, kind: 'state' });
      }
    }
    return out;
  }

  const unwritableError = (o: Outgoing, err: unknown) => fatalError(`a ${o.kind} record for ${o.record.topic} cannot be written: ${describeError(err).message}`, err);

  /**
   * Sends everything. While outputs of the transaction are under suspicion, all records go one at a
   * time in the step's order (so the culprit shows, and records of one key keep their order).
   */
  async function sendAll(records: Outgoing[]): Promise<void> {
    if (records.some((o) => o.id !== undefined && suspects.has(o.id))) return sendOneByOne(records);
    const rejected = await settleSends(records);
    if (rejected.length) {
      const specific = rejected.filter((r) => isRecordSpecific(r.err));
      const unwritable = specific.find((r) => r.o.kind !== 'output');
      if (unwritable) throw unwritableError(unwritable.o, unwritable.err);
      isolating = specific.length > 0;
      if (specific.length === 1) {
        const r = specific[0] as (typeof specific)[number];
        poison.set(r.o.id ?? outputId(r.o.record), describeError(r.err));
      } else {
        for (const r of specific) suspects.add(r.o.id ?? outputId(r.o.record));
      }
      throw (rejected[0] as { err: unknown }).err;
    }
  }

  async function settleSends(records: Outgoing[]): Promise<Array<{ err: unknown; o: Outgoing }>> {
    const rejected = await settle((r) => producer.send(r), records.map((o) => o.record));
    return rejected.map(({ index, err }) => ({ err, o: records[index] as Outgoing }));
  }

  async function sendOneByOne(records: Outgoing[]): Promise<void> {
    for (const o of records) {
      try {
        await producer.send(o.record);
      } catch (err) {
        if (isRecordSpecific(err)) {
          // Sent alone: this record is the one refused.
          if (o.kind !== 'output') throw unwritableError(o, err);
          const id = o.id ?? outputId(o.record);
          isolating = true;
          poison.set(id, describeError(err));
          suspects.delete(id);
        }
        throw err;
      }
    }
  }

  /** Commits (a pending commit resumed); an unknown outcome is told by the group's committed offsets (ticks: the changelog, re-read by recover). */
  async function commit(offsetsSent: TopicPartitionOffset[]): Promise<CommitOutcome> {
    const r = await commitResuming(producer, { log, backoff: txnBackoff, isFatal, closing: () => closing, signal: abortAll.signal });
    if (r.ok) return { ok: true, ambiguous: false };
    return r.state === 'unknown' ? outcomeFromOffsets(r.first, offsetsSent) : { ok: false, err: r.err, open: true };
  }

  /** No transaction in progress after a commit reported failure: the committed offsets tell whether it committed. */
  async function outcomeFromOffsets(err: unknown, offsetsSent: TopicPartitionOffset[]): Promise<CommitOutcome> {
    if (!offsetsSent.length) return { ok: false, err, open: false };
    let committed: Map<number, number | null>;
    try {
      committed = await committedOffsets(offsetsSent.map((o) => o.partition));
    } catch (readErr) {
      return { ok: false, err: fatalError(`commit outcome unknown (${describeError(err).message}) and the committed offsets cannot be read: ${describeError(readErr).message}`, readErr), open: false };
    }
    if (offsetsSent.every((o) => committed.get(o.partition) === o.offset)) {
      log.warn({ err: describeError(err).message, offsets: offsetsSent }, 'commitTransaction reported a failure, but the broker committed the offsets: treating the transaction as committed');
      return { ok: true, ambiguous: true };
    }
    log.warn({ err: describeError(err).message, offsets: offsetsSent }, 'commitTransaction reported a failure and the offsets are not committed: the transaction did not commit');
    return { ok: false, err, open: false };
  }

  async function transact(kind: 'batch' | 'tick', staged: Array<Staged<S, M>>, inputs: number, started: number): Promise<void> {
    const isolated: CommitInfo<M>['isolated'] = [];
    const records = outgoing(staged, isolated);
    const offsetsSent = staged.flatMap((s) => (s.offset === null ? [] : [{ topic, partition: s.partition, offset: s.offset }]));
    if (kind === 'tick' && !records.length) return;
    let open = false;
    isolating = false;
    try {
      await phase('beginTransaction', () => txnCall(() => producer.beginTransaction()));
      open = true;
      await phase(`sending ${records.length} records`, () => sendAll(records));
      if (offsetsSent.length) await phase('sendOffsetsToTransaction', () => txnCall(() => producer.sendOffsetsToTransaction(offsetsSent, runner.consumer)));
      const outcome = await phase('commitTransaction', () => commit(kind === 'batch' ? offsetsSent : []));
      if (!outcome.ok) {
        open = outcome.open;
        throw outcome.err;
      }
      open = false;
      const ambiguous = outcome.ambiguous;
      for (const s of staged) {
        const ps = owned.get(s.partition);
        if (!ps) continue;
        ps.state = s.result.nextState;
        if (kind === 'batch' && s.offset !== null) ps.next = s.offset;
      }
      for (const r of records) {
        if (r.id) suspects.delete(r.id);
        if (r.poisonId) poison.delete(r.poisonId);
      }
      // A tick in between does not end a batch's run of failures (or its isolation search).
      if (kind === 'batch') resetFailures();
      stats.transactions++;
      stats.committedRecords += inputs;
      stats.isolated += isolated.length;
      if (ambiguous) stats.ambiguousCommits++;
      hooks.committed?.({ kind, inputs, outputs: records.length, seconds: (performance.now() - started) / 1000, summaries: summaries(staged), isolated, ambiguous });
      if (isolated.length) log.warn({ isolated }, 'outputs that cannot be written went to the dead-letter topic');
    } catch (err) {
      await recover(kind, err, open, staged.map((s) => s.partition), summaries(staged));
    }
  }

  function resetFailures(): void {
    failures = 0;
    isolationRounds = 0;
    afterIsolating = false;
    frozenNow = undefined;
    failing.clear();
  }

  const summaries = (staged: Array<Staged<S, M>>) => staged.flatMap((s) => (s.result.summary === undefined ? [] : [s.result.summary]));

  async function recover(kind: 'batch' | 'tick', err: unknown, open: boolean, touched: number[], sums: M[]): Promise<void> {
    const e = describeError(err);
    hooks.aborted?.({ kind, ...e, summaries: sums, attempt: failures + 1 });
    if (isFatal(err)) {
      log.error({ code: e.code, err: e.message }, 'fatal transaction error (fenced by another instance with this transactional.id, or the producer failed); stopping');
      throw err;
    }
    stats.aborted++;
    if (open) {
      try {
        await phase('abortTransaction', () => txnCall(() => producer.abortTransaction()));
      } catch (abortErr) {
        // The producer cannot go on (a transaction it cannot end blocks every later one).
        throw fatalError(`abort failed: ${describeError(abortErr).message}`, abortErr);
      }
    }
    const partitions = touched.filter((p) => owned.has(p));
    if (kind === 'tick') {
      // Re-read the committed state: exact whether or not the failed commit went through.
      if (opts.changelog && partitions.length) {
        const states = await phase('re-reading state after a failed tick', () => restoreStates(partitions));
        for (const [p, s] of states) {
          const ps = owned.get(p);
          if (ps) ps.state = s;
        }
      }
      log.warn({ code: e.code, err: e.message }, 'tick transaction failed; state re-read, retrying on the next tick');
      if (!producer.isLive()) throw err;
      return;
    }
    for (const p of partitions) failing.add(p);
    const probing = (isolating || afterIsolating) && isolationRounds < MAX_ISOLATION_ROUNDS;
    afterIsolating = isolating;
    if (probing) isolationRounds++;
    else failures++;
    const max = retryOpts.maxAttempts ?? Infinity;
    let rewoundTo: Map<number, number | null>;
    try {
      rewoundTo = await phase('reading committed offsets to rewind', () => committedOffsets(partitions));
      for (const p of partitions) await offsets().seek({ topic, partition: p, offset: rewoundTo.get(p) ?? OFFSET_BEGINNING });
    } catch (rewindErr) {
      throw fatalError(`rewind after abort failed: ${describeError(rewindErr).message}`, rewindErr);
    }
    if (failures > max) {
      log.error({ code: e.code, err: e.message, failures }, 'transaction failed too often; giving up');
      throw err;
    }
    const delay = probing ? 0 : backoffDelay(failures - 1, retryOpts);
    log.warn({ code: e.code, err: e.message, rewoundTo: Object.fromEntries(rewoundTo), attempt: failures, retryInMs: delay, isolating: probing }, 'transaction aborted; rewound to the committed offsets');
    await sleep(delay, abortAll.signal);
  }

  function trimPoison(): void {
    for (const id of poison.keys()) {
      if (poison.size <= POISON_LIMIT) break;
      poison.delete(id);
    }
    for (const id of suspects) {
      if (suspects.size <= POISON_LIMIT) break;
      suspects.delete(id);
    }
  }

  function handleBatch(batch: Message[]): Promise<void> {
    return exclusive(async () => {
      // Records of partitions revoked meanwhile are not ours any more: their new owner reads them.
      const mine = batch.filter((m) => m.topic === topic && owned.has(m.partition));
      if (!mine.length) return;
      stats.consumed += mine.length;
      hooks.consumed?.(mine.length);
      const started = performance.now();
      const now = (frozenNow ??= clock());
      const byPartition = new Map<number, Message[]>();
      for (const m of mine) {
        let list = byPartition.get(m.partition);
        if (!list) byPartition.set(m.partition, (list = []));
        list.push(m);
      }
      const staged: Array<Staged<S, M>> = [];
      try {
        for (const [partition, messages] of byPartition) {
          const ps = owned.get(partition) as PartitionState<S>;
          const result = await phase(`step of partition ${partition} (${messages.length} records)`, async () => opts.step(messages, ps.state, { topic, partition, now }));
          const next = (nextOffsets(messages)[0] as TopicPartitionOffset).offset;
          staged.push({ partition, result, offset: next, origin: { offset: next - 1 } });
        }
      } catch (err) {
        isolating = false;
        await recover('batch', err, false, [...byPartition.keys()], summaries(staged));
        return;
      }
      await transact('batch', staged, mine.length, started);
      trimPoison();
    });
  }

  function tick(): Promise<void> {
    return exclusive(runTick);
  }

  async function runTick(): Promise<void> {
    const run = opts.tick?.run;
    // While a batch is failing, its inputs are not in the state yet: a tick would close windows they belong to.
    if (closing || !run || frozenNow !== undefined) return;
    const started = performance.now();
    const now = clock();
    const staged: Array<Staged<S, M>> = [];
    for (const [partition, ps] of owned) {
      const result = await phase(`tick of partition ${partition}`, async () => run(ps.state, { topic, partition, now }));
      if (result) staged.push({ partition, result, offset: ps.next, origin: { offset: (ps.next ?? 0) - 1 } });
    }
    if (staged.length) await transact('tick', staged, 0, started);
    trimPoison();
  }

  return {
    name: `transactional-loop(${opts.groupId})`,
    async start() {
      await reader?.start();
      await runner.start();
      watchdog = setInterval(checkPhase, Math.max(10, Math.min(5_000, Math.floor(slowWarnMs / 4))));
      watchdog.unref();
      if (opts.tick) {
        const every = opts.tick.everyMs;
        timer = setInterval(() => {
          if (tickQueued) return;
          tickQueued = true;
          exclusive(async () => {
            tickQueued = false;
            await runTick();
          }).catch((err: unknown) => {
            log.error({ err: describeError(err) }, 'producer unusable in a tick');
            opts.onFatal(err);
          });
        }, every);
      }
    },
    close() {
      closed ??= (async () => {
        closing = true;
        // Cut backoff sleeps short, then stop consuming: the in-flight batch commits (or aborts) before anything closes.
        abortAll.abort();
        clearInterval(timer);
        clearInterval(watchdog);
        try {
          await runner.close();
          await exclusive(async () => undefined);
        } finally {
          await reader?.close();
        }
      })();
      return closed;
    },
    isLive: () => producer.isLive(),
    isReady: () => runner.isReady(),
    stats: () => ({ ...stats }),
    phase: () => (current ? { name: current.name, sinceMs: Date.now() - current.since } : null),
    snapshot: () => new Map([...owned].map(([p, ps]) => [p, { state: ps.state, next: ps.next }])),
    tick,
  };
}
