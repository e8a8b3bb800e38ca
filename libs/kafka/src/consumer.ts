import { KafkaConsumer, type LibrdKafkaError, type Message, type TopicPartitionOffset, type Assignment } from '@confluentinc/kafka-javascript';
import { type Lifecycle, type Logger, WikiMonitorError, retry, sleep } from '@wikimonitor/service-kit';
import { type KafkaConnection, rdkafkaBaseConfig } from './config';
import { connectClient } from './connect';
import { nextOffsets } from './offsets';

export type { Message } from '@confluentinc/kafka-javascript';

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface BatchContext {
  consumer: KafkaConsumer;
  signal: AbortSignal;
}

export interface ConsumerRunnerOptions {
  connection: KafkaConnection;
  log: Logger;
  groupId: string;
  topics: string[];
  /** Processes one batch. Throwing stops the runner with a fatal error unless `onError` handles it. */
  handle: (batch: Message[], ctx: BatchContext) => Promise<void>;
  /**
   * `kafka`: the runner commits offset+1 of each partition's last record after a batch succeeds.
   * `external`: the handler stores offsets elsewhere (a DB or a transaction); the runner never commits.
   */
  offsets: 'kafka' | 'external';
  /** For `external` offsets: where each newly assigned partition should start (undefined = committed). */
  positionsOnAssign?: (partitions: TopicPartition[]) => Promise<TopicPartitionOffset[]>;
  /**
   * For `external` offsets: also keep the group's Kafka offsets equal to the external ones (for lag
   * monitoring), through {@link ConsumerRunner.mirror} and at every assignment (the positions given by
   * `positionsOnAssign`). A mirror commit is repeated until the broker confirms it: one sent while the
   * group rebalances is refused, and a partition whose last batch's commit was refused would otherwise
   * keep a stale Kafka offset until its next record (lag-monitor: STOP on a fully stored partition).
   */
  mirrorOffsets?: boolean;
  /** Called after partitions are revoked (in-flight batch finished). */
  onRevoke?: (partitions: TopicPartition[]) => Promise<void>;
  batchSize?: number;
  isolationLevel?: 'read_committed' | 'read_uncommitted';
  fromBeginning?: boolean;
  overrides?: Record<string, string | number | boolean>;
  /** Fatal handler-error hook (e.g. stop the service). */
  onFatal?: (err: unknown) => void;
  /**
   * No record delivered for this long while assigned partitions hold records past the consumer's
   * position: logged as a warning with the positions and ends, repeatedly (default 30 s).
   */
  stallWarnMs?: number;
}

export interface ConsumerRunner extends Lifecycle {
  readonly consumer: KafkaConsumer;
  assignments(): TopicPartition[];
  /** Messages consumed since start (for metrics and tests). */
  consumed(): number;
  /** With `mirrorOffsets`: the next offsets of these partitions, committed to Kafka until confirmed (only while owned). */
  mirror(offsets: TopicPartitionOffset[]): void;
}

// Present in the JS API, missing from its type declarations.
type KafkaConsumerExt = KafkaConsumer & {
  incrementalAssign(assignments: Assignment[]): void;
  incrementalUnassign(assignments: Assignment[]): void;
  commitCb(offsets: TopicPartitionOffset[], cb: (err: LibrdKafkaError | null) => void): void;
  setDefaultIsTimeoutOnlyForFirstMessage(value: boolean): void;
};

const ERR_ASSIGN = -175;
const ERR_REVOKE = -174;
/** librdkafka ERR__FATAL: the client instance is unusable (e.g. a fenced static group member). */
const ERR_FATAL = -150;
const OFFSET_BEGINNING = -2;
const OFFSET_END = -1;
/** Committed-offset reads worth repeating: timed out, coordinator moving or loading, offsets pending in an open transaction. */
const COMMITTED_RETRY_CODES: ReadonlySet<number> = new Set([-185 /* timed out */, 14 /* coordinator loading */, 15 /* coordinator not available */, 16 /* not coordinator */, 88 /* unstable offset commit */]);
/** Longer than transaction.timeout.ms (60 s): a crashed writer's open transaction ends first. */
const COMMITTED_WAIT_MS = 180_000;

/**
 * Consume loop on the callback API: batches of up to `batchSize`, the next batch only after the
 * handler resolved (natural backpressure), offsets committed after success, rebalances applied
 * between batches so a revoked partition's work is finished (and committed) before it moves.
 */
export function createConsumerRunner(opts: ConsumerRunnerOptions): ConsumerRunner {
  const { log } = opts;
  const batchSize = opts.batchSize ?? 500;
  const abort = new AbortController();
  let running = false;
  let connected = false;
  let loop: Promise<void> | undefined;
  let closed: Promise<void> | undefined;
  let consumedCount = 0;
  let assigned: TopicPartition[] = [];
  let pendingRebalance: Promise<void> = Promise.resolve();
  let busy: Promise<void> = Promise.resolve();
  let handling = false;
  let lastDelivery = Date.now();
  let stallTimer: NodeJS.Timeout | undefined;
  let stallCheck: Promise<void> | undefined;
  /** When the outstanding consume() call started (it returns within its 500 ms timeout), null when none. */
  let consumingSince: number | null = null;
  const stallWarnMs = opts.stallWarnMs ?? 30_000;

  const consumer: KafkaConsumerExt = new KafkaConsumer(
    {
      ...rdkafkaBaseConfig(opts.connection),
      'group.id': opts.groupId,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'partition.assignment.strategy': 'cooperative-sticky',
      'isolation.level': opts.isolationLevel ?? 'read_committed',
      'session.timeout.ms': 30_000,
      'max.poll.interval.ms': 300_000,
      'fetch.wait.max.ms': 100,
      // A subscribed topic created after start is picked up within seconds, not librdkafka's 5 min.
      'topic.metadata.refresh.interval.ms': 10_000,
      ...(opts.mirrorOffsets ? { offset_commit_cb: (err: LibrdKafkaError | null | undefined, offsets: TopicPartitionOffset[] | undefined) => onMirrorCommitted(err, offsets) } : {}),
      ...opts.overrides,
      rebalance_cb: (err: LibrdKafkaError, assignment: Assignment[]) => {
        // Apply rebalances after the in-flight batch so its offsets are committed by their owner.
        pendingRebalance = busy.then(() => onRebalance(err, assignment)).catch((e) => {
          log.error({ err: (e as Error).message, stack: (e as Error).stack }, 'rebalance handling failed');
          opts.onFatal?.(e);
        });
      },
    },
    { 'auto.offset.reset': opts.fromBeginning === false ? 'latest' : 'earliest' },
  ) as KafkaConsumerExt;
  consumer.on('event.error', (err: LibrdKafkaError) => log.warn({ code: err.code, err: err.message }, 'consumer error (librdkafka retries)'));

  async function onRebalance(err: LibrdKafkaError, assignment: Assignment[]): Promise<void> {
    const tps = assignment.map((a) => ({ topic: a.topic, partition: a.partition }));
    if (err.code === ERR_ASSIGN) {
      const positions = opts.positionsOnAssign && tps.length ? await opts.positionsOnAssign(tps) : [];
      const given = (tp: TopicPartition) => positions.find((p) => p.topic === tp.topic && p.partition === tp.partition && typeof p.offset === 'number');
      // Every partition is assigned at an explicit position, the group's committed offset read here
      // (a failed read is retried or fails loudly): so the runner knows where it resumes, and says so
      // when retention deleted records there before this group read them (librdkafka's reset to the
      // log start is silent).
      const missing = tps.filter((tp) => !given(tp));
      const committed = missing.length ? await committedPositions(missing) : [];
      const withPositions: TopicPartitionOffset[] = tps.map((tp) => given(tp) ?? committed.find((c) => c.topic === tp.topic && c.partition === tp.partition) ?? { ...tp, offset: resetOffset });
      consumer.incrementalAssign(withPositions);
      assigned = [...assigned, ...tps];
      lastDelivery = Date.now();
      log.info({ partitions: withPositions }, 'partitions assigned');
      if (opts.mirrorOffsets) mirror(withPositions.filter((p) => p.offset >= 0));
      void reportDeletedBeforeRead(withPositions);
    } else if (err.code === ERR_REVOKE) {
      if (opts.onRevoke && tps.length) await opts.onRevoke(tps);
      consumer.incrementalUnassign(assignment);
      assigned = assigned.filter((a) => !tps.some((t) => t.topic === a.topic && t.partition === a.partition));
      for (const t of tps) mirrorPending.delete(tpKey(t));
      log.info({ partitions: tps }, 'partitions revoked');
    } else {
      log.error({ code: err.code, err: err.message }, 'rebalance error');
    }
  }

  const tpKey = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;
  /** Mirror offsets not yet confirmed by the broker, by partition (the latest wins). */
  const mirrorPending = new Map<string, TopicPartitionOffset>();

  let mirrorFailures = 0;
  let mirrorTimer: NodeJS.Timeout | undefined;

  function mirror(offsets: TopicPartitionOffset[]): void {
    for (const o of offsets) mirrorPending.set(tpKey(o), { topic: o.topic, partition: o.partition, offset: o.offset });
    flushMirror();
  }

  /**
   * Sends the pending mirror offsets of owned partitions (again, every second, until the broker's answer
   * confirms them in {@link onMirrorCommitted}). The binding's commit callbacks only say the commit was
   * queued; the broker's answer (e.g. ILLEGAL_GENERATION for a commit sent while the group rebalances)
   * comes through librdkafka's offset_commit_cb.
   */
  function flushMirror(): void {
    if (!connected) return;
    const owned = new Set(assigned.map(tpKey));
    const batch = [...mirrorPending.values()].filter((o) => owned.has(tpKey(o)));
    if (!batch.length) return;
    try {
      consumer.commit(batch);
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'mirror offset commit not sent; retrying');
    }
  }

  /** The broker's answer to a commit: confirmed offsets leave the pending set, refused ones stay for the next second. */
  function onMirrorCommitted(err: LibrdKafkaError | null | undefined, offsets: Array<TopicPartitionOffset & { error?: unknown }> | undefined): void {
    const refused = err ? (offsets ?? []) : (offsets ?? []).filter((o) => o.error);
    for (const o of offsets ?? []) if (!err && !o.error && mirrorPending.get(tpKey(o))?.offset === o.offset) mirrorPending.delete(tpKey(o));
    if (!refused.length) {
      mirrorFailures = 0;
      return;
    }
    // Refused while the group rebalances (ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS...): sent again by the timer.
    if (++mirrorFailures % 10 === 0) log.warn({ code: err?.code, err: err?.message, partitions: refused.length, failures: mirrorFailures }, 'mirror offset commit keeps being refused; retrying');
    else log.debug({ code: err?.code, err: err?.message, partitions: refused.length }, 'mirror offset commit refused; retrying');
  }

  /** Where a partition without a committed offset starts (auto.offset.reset, explicit). */
  const resetOffset = opts.fromBeginning === false ? OFFSET_END : OFFSET_BEGINNING;

  const committedOnce = (tps: TopicPartition[]) =>
    new Promise<TopicPartitionOffset[]>((resolve, reject) => consumer.committed(tps, 10_000, (err, r) => (err ? reject(err) : resolve(r))));

  /**
   * The group's committed positions of `tps` (the reset position where none). Under read_committed
   * the read is stable: offsets still pending in a crashed member's open transaction hold it back
   * until that transaction ends, so timeouts and unstable answers are retried up to a deadline
   * beyond transaction.timeout.ms.
   */
  async function committedPositions(tps: TopicPartition[]): Promise<TopicPartitionOffset[]> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await committedOnce(tps);
        return tps.map((tp) => {
          const c = r.find((x) => x.topic === tp.topic && x.partition === tp.partition);
          return { ...tp, offset: c && c.offset >= 0 ? c.offset : resetOffset };
        });
      } catch (err) {
        const code = (err as LibrdKafkaError).code;
        const waitedMs = Date.now() - started;
        if (!COMMITTED_RETRY_CODES.has(code) || waitedMs >= COMMITTED_WAIT_MS || abort.signal.aborted) {
          throw new WikiMonitorError('KAFKA_CONSUME_FAILED', `reading the committed offsets of ${tps.length} assigned partition(s) of ${opts.groupId}: ${(err as Error).message}`, { cause: err, retriable: true });
        }
        log.warn({ partitions: tps.length, waitedMs, attempt: attempt + 1, err: (err as Error).message }, 'committed offsets not readable yet; retrying');
        await sleep(Math.min(2_000, 100 * 2 ** attempt), abort.signal).catch(() => undefined);
      }
    }
  }

  const consumeBatch = () =>
    new Promise<Message[]>((resolve, reject) =>
      consumer.consume(batchSize, (err, messages) => (err ? reject(err) : resolve(messages ?? []))),
    );

  const commit = (offsets: TopicPartitionOffset[]) =>
    new Promise<void>((resolve, reject) =>
      consumer.commitCb(offsets, (err) => (err ? reject(new WikiMonitorError('KAFKA_CONSUME_FAILED', `commit failed: ${err.message}`, { cause: err, retriable: true })) : resolve())),
    );

  async function runLoop(): Promise<void> {
    while (running) {
      await pendingRebalance;
      let batch: Message[];
      try {
        consumingSince = Date.now();
        batch = await consumeBatch();
      } catch (err) {
        // A fatal consumer (e.g. a static member fenced after a broker restart) never recovers:
        // stop and let the service exit (its restart rejoins), instead of retrying forever.
        if ((err as LibrdKafkaError).code === ERR_FATAL) {
          running = false;
          log.error({ err: (err as Error).message }, 'consumer hit a fatal error; stopping');
          opts.onFatal?.(err);
          return;
        }
        log.warn({ err: (err as Error).message }, 'consume failed, retrying');
        await sleep(500, abort.signal);
        continue;
      } finally {
        consumingSince = null;
      }
      if (!batch.length) continue;
      lastDelivery = Date.now();
      let release!: () => void;
      busy = new Promise<void>((r) => (release = r));
      handling = true;
      try {
        await opts.handle(batch, { consumer, signal: abort.signal });
        consumedCount += batch.length;
        if (opts.offsets === 'kafka') {
          const next = nextOffsets(batch);
          await retry(() => commit(next), { attempts: 5, initialMs: 200, maxMs: 2_000 });
        }
      } catch (err) {
        running = false;
        log.error({ err: err instanceof Error ? err.message : String(err) }, 'batch handler failed; consumer stops without committing');
        opts.onFatal?.(err);
      } finally {
        handling = false;
        lastDelivery = Date.now();
        release();
      }
    }
  }

  /** A partition's watermarks; the native call's own timeout is not trusted: a stall check must not stall. */
  const watermarks = (tp: TopicPartition) =>
    new Promise<{ lowOffset: number; highOffset: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('watermark query did not answer in 6 s')), 6_000);
      consumer.queryWatermarkOffsets(tp.topic, tp.partition, 5_000, (err, w) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(w);
      });
    });

  /**
   * Records between a resumed position and the log start are gone (retention or a delete-records):
   * the consumer restarts at the log start without a word, so the loss is logged here, per partition.
   */
  async function reportDeletedBeforeRead(positions: TopicPartitionOffset[]): Promise<void> {
    for (const p of positions) {
      if (p.offset < 0) continue;
      let w: { lowOffset: number; highOffset: number };
      try {
        w = await watermarks(p);
      } catch {
        continue; // the stall check reports a partition that stays unreadable
      }
      if (p.offset < w.lowOffset) {
        log.warn(
          { code: 'RECORDS_DELETED_BEFORE_READ', topic: p.topic, partition: p.partition, position: p.offset, logStart: w.lowOffset, lost: w.lowOffset - p.offset },
          `${w.lowOffset - p.offset} record(s) of ${p.topic}[${p.partition}] were deleted (retention) before ${opts.groupId} read them: resuming at the log start ${w.lowOffset}, not ${p.offset}`,
        );
      }
    }
  }

  /** A consumer that is assigned, not busy, and gets nothing although records wait is a stall: say so. */
  async function checkStall(): Promise<void> {
    const idleMs = Date.now() - lastDelivery;
    if (!running || handling || !assigned.length || idleMs < stallWarnMs) return;
    const consumeMs = consumingSince === null ? null : Date.now() - consumingSince;
    const behind: Array<{ topic: string; partition: number; position: number; end: number }> = [];
    const unreadable: string[] = [];
    for (const tp of assigned) {
      let position: number;
      let w: { lowOffset: number; highOffset: number };
      try {
        position = consumer.position([tp])[0]?.offset ?? -1;
      } catch (err) {
        unreadable.push(`${tp.topic}[${tp.partition}]: ${(err as Error).message}`);
        continue;
      }
      try {
        w = await watermarks(tp);
      } catch (err) {
        // No position after a whole stall period: the fetcher never started, whatever the end is.
        if (position < 0) behind.push({ ...tp, position, end: -1 });
        else unreadable.push(`${tp.topic}[${tp.partition}]: ${(err as Error).message}`);
        continue;
      }
      if ((position >= 0 && position < w.highOffset) || (position < 0 && w.highOffset > w.lowOffset)) behind.push({ ...tp, position, end: w.highOffset });
    }
    if (!behind.length && unreadable.length < assigned.length) return;
    log.warn(
      { idleMs, behind, assigned: assigned.length, unreadable, consumeCallMs: consumeMs },
      `consumer of ${opts.groupId} received nothing for ${Math.round(idleMs / 1000)} s although ${behind.length} assigned partition(s) hold records past its position (read_committed: an open transaction of a writer also holds them back)`,
    );
    lastDelivery = Date.now(); // next warning after another stallWarnMs
  }


  return {
    name: `kafka-consumer(${opts.groupId})`,
    consumer,
    async start() {
      await connectClient(consumer, opts.connection, log, `consumer of ${opts.groupId}`);
      connected = true;
      consumer.setDefaultConsumeTimeout(500);
      // Wait only for a batch's first record: otherwise consume(batchSize) waits up to the timeout
      // for each further record, so a trickle of input holds a batch (and close()) for minutes.
      consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
      consumer.subscribe(opts.topics);
      running = true;
      lastDelivery = Date.now();
      loop = runLoop();
      stallTimer = setInterval(() => {
        stallCheck ??= checkStall()
          .catch(() => undefined)
          .finally(() => (stallCheck = undefined));
      }, Math.max(10, Math.min(5_000, Math.floor(stallWarnMs / 4))));
      stallTimer.unref();
      if (opts.mirrorOffsets) {
        mirrorTimer = setInterval(flushMirror, 1_000);
        mirrorTimer.unref();
      }
    },
    close() {
      closed ??= (async () => {
        running = false;
        abort.abort();
        clearInterval(stallTimer);
        clearInterval(mirrorTimer);
        await stallCheck;
        await loop;
        await busy;
        if (connected) {
          connected = false;
          await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
        }
      })();
      return closed;
    },
    assignments: () => [...assigned],
    consumed: () => consumedCount,
    mirror,
    isLive: () => true,
    isReady: () => connected && running,
  };
}
