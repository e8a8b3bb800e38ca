import type { KafkaConsumer, Message, TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import type { WikiAggregate, WikiAlert, WikiChange } from '@wikimonitor/contracts';
import { type AggregationOutput, type ReduceResult, type WikiState, type WindowConfig, closeIdleWikis, encodeWikiState, reduceChanges } from '@wikimonitor/domain';
import { type Headers, type KafkaProducer, type OutgoingRecord, type TopicPartition, deadLetterRecord, headersFromMessage } from '@wikimonitor/kafka';
import { type Lifecycle, type Logger, backoffDelay, describeError, isRetriable, sleep } from '@wikimonitor/service-kit';
import { type Span, type Tracer, context, injectTraceHeaders, startBatchProcessSpan, trace } from '@wikimonitor/telemetry';
import type { AggregatorMetrics } from './metrics';
import type { StateStore } from './state-store';

export const LATE_HEADERS = {
  windowStart: 'late.window.start',
  watermark: 'late.watermark',
  sourceTopic: 'late.source.topic',
  sourcePartition: 'late.source.partition',
  sourceOffset: 'late.source.offset',
} as const;

export interface ProcessorTopics {
  input: string;
  aggregates: string;
  alerts: string;
  late: string;
  dlq: string;
  changelog: string;
}

export interface ProcessorDeps {
  topics: ProcessorTopics;
  window: WindowConfig;
  idleCloseMs: number;
  maxTransactionRetries: number;
  /** Transactional producer (initTransactions done by its start()). */
  producer: KafkaProducer;
  store: StateStore;
  decode: (value: Buffer) => Promise<WikiChange>;
  encodeAggregate: (a: WikiAggregate) => Buffer;
  encodeAlert: (a: WikiAlert) => Buffer;
  /** The group consumer, for sendOffsetsToTransaction (fencing by group generation) and rewinds. */
  consumer: () => KafkaConsumer;
  log: Logger;
  metrics: AggregatorMetrics;
  tracer: Tracer | null;
  appName: string;
  /** Called when the producer became unusable outside a batch (the service should stop). */
  onFatal: (err: unknown) => void;
  now?: () => number;
}

interface PartitionState {
  wikis: Map<string, WikiState>;
  /** Processing time of each wiki's last change (or of the restore): drives idle closing. */
  lastSeen: Map<string, number>;
  /** Next input offset to process (what the last committed transaction sent), null if unknown. */
  next: number | null;
}

interface Staged {
  records: OutgoingRecord[];
  offsets: TopicPartitionOffset[];
  apply: () => void;
  counts: { consumed: number; late: number; windows: Record<'watermark' | 'idle', number>; alerts: Array<'warning' | 'critical' | 'info' | 'unknown'>; dead: string[] };
}

/**
 * Consume-transform-produce with state, exactly once: one Kafka transaction per batch holds the
 * closed-window aggregates, alerts, late records and dead letters, the changed wiki states (to the
 * compacted changelog, partition = input partition) and the consumed offsets (offset + 1). New state
 * is computed on copies and becomes current only after the commit; on failure the transaction is
 * aborted and the consumer rewound to the batch's first offsets, so a retry starts from the same
 * state and input. On assignment a partition's state is restored from the changelog.
 */
export function createProcessor(deps: ProcessorDeps) {
  const { log, metrics, topics } = deps;
  const now = deps.now ?? Date.now;
  const partitions = new Map<number, PartitionState>();
  let chain: Promise<unknown> = Promise.resolve();
  let failures = 0;
  let closing = false;
  let idleTimer: NodeJS.Timeout | undefined;
  let maxEventTime = 0;

  /** One thing at a time: batches, idle closing, assignment and revocation never interleave. */
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = chain.then(fn);
    chain = run.catch(() => undefined);
    return run;
  }

  function updateGauges(): void {
    let wikis = 0;
    let windows = 0;
    for (const ps of partitions.values()) {
      wikis += ps.wikis.size;
      for (const s of ps.wikis.values()) windows += s.windows.length;
    }
    metrics.wikis.set(wikis);
    metrics.openWindows.set(windows);
  }

  function emptyCounts(): Staged['counts'] {
    return { consumed: 0, late: 0, windows: { watermark: 0, idle: 0 }, alerts: [], dead: [] };
  }

  /** Turns reducer outputs of one partition into records (late ones need their source message). */
  function stage(p: number, r: ReduceResult, source: (index: number) => Message, out: OutgoingRecord[], counts: Staged['counts'], span: Span | undefined): void {
    const traced = (): Headers => (span ? (injectTraceHeaders({}, trace.setSpan(context.active(), span)) as Headers) : {});
    for (const o of r.outputs as AggregationOutput[]) {
      if (o.kind === 'aggregate') {
        out.push({ topic: topics.aggregates, key: o.aggregate.wiki, value: deps.encodeAggregate(o.aggregate), headers: traced() });
        counts.windows[o.reason]++;
      } else if (o.kind === 'alert') {
        out.push({ topic: topics.alerts, key: o.alert.subject, value: deps.encodeAlert(o.alert), headers: traced() });
        counts.alerts.push(o.alert.severity);
      } else {
        const m = source(o.index);
        out.push({
          topic: topics.late,
          key: m.key ?? null,
          value: m.value ?? null,
          headers: {
            ...headersFromMessage(m.headers),
            [LATE_HEADERS.windowStart]: new Date(o.windowStart).toISOString(),
            [LATE_HEADERS.watermark]: new Date(o.watermark).toISOString(),
            [LATE_HEADERS.sourceTopic]: m.topic,
            [LATE_HEADERS.sourcePartition]: String(m.partition),
            [LATE_HEADERS.sourceOffset]: String(m.offset),
          },
        });
        counts.late++;
      }
    }
    for (const [wiki, s] of r.states) out.push({ topic: topics.changelog, partition: p, key: wiki, value: Buffer.from(encodeWikiState(s), 'utf8') });
  }

  async function stageBatch(batch: Message[], span: Span | undefined): Promise<Staged> {
    const t = now();
    const records: OutgoingRecord[] = [];
    const offsets: TopicPartitionOffset[] = [];
    const counts = emptyCounts();
    const applies: Array<() => void> = [];
    const byPartition = new Map<number, Message[]>();
    for (const m of batch) {
      let list = byPartition.get(m.partition);
      if (!list) byPartition.set(m.partition, (list = []));
      list.push(m);
    }
    for (const [p, messages] of byPartition) {
      const ps = partitions.get(p) as PartitionState;
      const changes: WikiChange[] = [];
      const sources: Message[] = [];
      for (const m of messages) {
        try {
          if (!m.value) throw Object.assign(new Error('record has no value'), { code: 'DESERIALIZE_FAILED' });
          changes.push(await deps.decode(m.value));
          sources.push(m);
        } catch (err) {
          if (isRetriable(err)) throw err; // e.g. registry unreachable: retry the batch, do not dead-letter
          const e = describeError(err);
          const code = e.code === 'INTERNAL' ? 'DESERIALIZE_FAILED' : e.code;
          records.push(
            deadLetterRecord(topics.dlq, {
              sourceTopic: m.topic,
              sourcePartition: m.partition,
              sourceOffset: m.offset,
              key: m.key ?? null,
              value: m.value ?? null,
              headers: headersFromMessage(m.headers),
              error: { code, message: e.message },
              attempts: 1,
              app: deps.appName,
            }),
          );
          counts.dead.push(code);
        }
      }
      const r = reduceChanges(ps.wikis, changes, deps.window, t);
      stage(p, r, (i) => sources[i] as Message, records, counts, span);
      const next = (messages[messages.length - 1] as Message).offset + 1;
      offsets.push({ topic: topics.input, partition: p, offset: next });
      counts.consumed += messages.length;
      applies.push(() => {
        for (const [wiki, s] of r.states) ps.wikis.set(wiki, s);
        for (const c of changes) ps.lastSeen.set(c.wiki, t);
        ps.next = next;
        for (const c of changes) if (c.event_time > maxEventTime) maxEventTime = c.event_time;
        metrics.maxEventTime.set(maxEventTime / 1000);
      });
    }
    return { records, offsets, counts, apply: () => applies.forEach((f) => f()) };
  }

  async function transact(staged: Staged): Promise<void> {
    const started = process.hrtime.bigint();
    const { producer } = deps;
    await producer.beginTransaction();
    try {
      await Promise.all(staged.records.map((r) => producer.send(r)));
      if (staged.offsets.length) await producer.sendOffsetsToTransaction(staged.offsets, deps.consumer());
      await producer.commitTransaction();
    } catch (err) {
      metrics.transactions.inc({ result: 'aborted' });
      await producer.abortTransaction().catch((e: unknown) => log.error({ err: describeError(e) }, 'abort failed'));
      throw err;
    }
    staged.apply();
    metrics.transactions.inc({ result: 'committed' });
    metrics.transactionSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    const c = staged.counts;
    metrics.consumed.inc(c.consumed);
    if (c.late) metrics.late.inc(c.late);
    for (const reason of ['watermark', 'idle'] as const) if (c.windows[reason]) metrics.windowsClosed.inc({ reason }, c.windows[reason]);
    for (const severity of c.alerts) metrics.alerts.inc({ severity });
    for (const code of c.dead) metrics.deadLettered.inc({ code });
    updateGauges();
  }

  const seek = (tpo: TopicPartitionOffset) =>
    new Promise<void>((resolve) =>
      deps.consumer().seek(tpo, 5_000, (err) => {
        if (err) log.warn({ partition: tpo.partition, offset: tpo.offset, err: err.message }, 'rewind failed (partition probably revoked)');
        resolve();
      }),
    );

  function batchSpan(batch: Message[]): Span | undefined {
    return deps.tracer ? startBatchProcessSpan(deps.tracer, topics.input, batch.map((m) => headersFromMessage(m.headers))) : undefined;
  }

  async function handleBatch(batch: Message[]): Promise<void> {
    return exclusive(async () => {
      // Records of partitions revoked meanwhile are not ours any more: their new owner reads them.
      const mine = batch.filter((m) => m.topic === topics.input && partitions.has(m.partition));
      if (!mine.length) return;
      const span = batchSpan(mine);
      try {
        await transact(await stageBatch(mine, span));
        failures = 0;
      } catch (err) {
        span?.recordException(err as Error);
        failures++;
        const firsts = new Map<number, number>();
        for (const m of mine) if (!firsts.has(m.partition)) firsts.set(m.partition, m.offset);
        for (const [partition, offset] of firsts) if (partitions.has(partition)) await seek({ topic: topics.input, partition, offset });
        if (!deps.producer.isLive() || failures > deps.maxTransactionRetries) {
          log.error({ err: describeError(err), failures }, 'transaction failed; giving up');
          throw err;
        }
        const delay = backoffDelay(failures, { initialMs: 200, maxMs: 5_000 });
        log.warn({ err: describeError(err), failures, delay }, 'transaction aborted; input rewound, retrying');
        await sleep(delay);
      } finally {
        span?.end();
      }
    });
  }

  /** Closes the windows of wikis that saw no change for idleCloseMs (e.g. the end of a replay, a quiet wiki). */
  function flushIdle(): Promise<void> {
    return exclusive(async () => {
      if (closing) return;
      const t = now();
      const records: OutgoingRecord[] = [];
      const offsets: TopicPartitionOffset[] = [];
      const counts = emptyCounts();
      const applies: Array<() => void> = [];
      for (const [p, ps] of partitions) {
        const idle = [...ps.wikis.values()].filter((s) => s.windows.length && t - (ps.lastSeen.get(s.wiki) ?? t) >= deps.idleCloseMs).map((s) => s.wiki);
        if (!idle.length) continue;
        const r = closeIdleWikis(ps.wikis, idle, deps.window, t);
        stage(p, r, () => {
          throw new Error('idle closing yields no late records');
        }, records, counts, undefined);
        if (ps.next !== null) offsets.push({ topic: topics.input, partition: p, offset: ps.next });
        applies.push(() => {
          for (const [wiki, s] of r.states) ps.wikis.set(wiki, s);
        });
      }
      if (!records.length) return;
      try {
        await transact({ records, offsets, counts, apply: () => applies.forEach((f) => f()) });
        log.debug({ windows: counts.windows.idle }, 'idle windows closed');
      } catch (err) {
        log.warn({ err: describeError(err) }, 'closing idle windows failed; retrying on the next tick');
        if (!deps.producer.isLive()) throw err;
      }
    });
  }

  async function onAssign(tps: TopicPartition[]): Promise<TopicPartitionOffset[]> {
    return exclusive(async () => {
      const ps = tps.filter((tp) => tp.topic === topics.input).map((tp) => tp.partition);
      if (!ps.length) return [];
      const end = metrics.restoreSeconds.startTimer();
      const [states, committed] = await Promise.all([deps.store.restore(ps), deps.store.committed(topics.input, ps)]);
      const t = now();
      const positions: TopicPartitionOffset[] = [];
      for (const p of ps) {
        const wikis = states.get(p) ?? new Map<string, WikiState>();
        const next = committed.get(p) ?? null;
        partitions.set(p, { wikis, lastSeen: new Map([...wikis.keys()].map((w) => [w, t])), next });
        metrics.restoredWikis.inc(wikis.size);
        if (next !== null) positions.push({ topic: topics.input, partition: p, offset: next });
      }
      end();
      updateGauges();
      log.info({ partitions: ps, wikis: ps.map((p) => partitions.get(p)?.wikis.size ?? 0), positions }, 'state restored');
      return positions;
    });
  }

  async function onRevoke(tps: TopicPartition[]): Promise<void> {
    return exclusive(async () => {
      for (const tp of tps) if (tp.topic === topics.input) partitions.delete(tp.partition);
      updateGauges();
    });
  }

  const lifecycle: Lifecycle = {
    name: 'aggregator-processor',
    async start() {
      const every = Math.max(50, Math.min(1_000, Math.floor(deps.idleCloseMs / 4)));
      idleTimer = setInterval(() => {
        flushIdle().catch((err: unknown) => {
          log.error({ err: describeError(err) }, 'producer unusable while closing idle windows');
          deps.onFatal(err);
        });
      }, every);
    },
    async close() {
      closing = true;
      clearInterval(idleTimer);
      await exclusive(async () => undefined);
    },
    isLive: () => deps.producer.isLive(),
    isReady: () => true,
  };

  return {
    handleBatch,
    onAssign,
    onRevoke,
    flushIdle,
    lifecycle,
    /** Assigned input partitions and their state (tests and diagnostics). */
    snapshot: () => new Map([...partitions].map(([p, ps]) => [p, { wikis: new Map(ps.wikis), next: ps.next }])),
  };
}

export type Processor = ReturnType<typeof createProcessor>;
