import { createHash } from 'node:crypto';
import type { KafkaConsumer, TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import { WikiMonitorError, createLogger } from '@wikimonitor/service-kit';
import type { ConsumerRunner, ConsumerRunnerOptions, Message } from './consumer';
import { DEAD_LETTER_MAX_HEADER_BYTES, DEAD_LETTER_MAX_KEY_BYTES, DLQ_TRUNCATION_HEADERS, parseDeadLetter } from './dlq';
import type { OutgoingRecord } from './producer';
import type { PartitionReader } from './reader';
import { nextOffsets } from './offsets';
import { type StepResult, type TransactionalLoopOptions, type TransactionalProducer, createTransactionalLoop } from './transactional-loop';

const log = createLogger('test', 'silent');

const rdError = (message: string, flags: { code?: number; isRetriable?: boolean; isTxnRequiresAbort?: boolean; isFatal?: boolean }) =>
  new WikiMonitorError('KAFKA_TRANSACTION_FAILED', message, { cause: { message, code: -1, ...flags } });

const msg = (partition: number, offset: number, value: string | null = `v${offset}`): Message => ({
  topic: 'in',
  partition,
  offset,
  value: value === null ? null : Buffer.from(value),
  key: `k${offset}`,
  size: value?.length ?? 0,
  timestamp: 1_700_000_000_000 + offset,
  headers: [{ traceparent: `tp-${partition}-${offset}` }],
});

const stateError = (state: string) => rdError(`Operation not valid in state ${state}`, { code: -172 });
const conflictError = () => rdError('Conflicting commit_transaction API call is already in progress', { code: -173 });

/**
 * A broker stand-in: records of a transaction become visible on commit, together with its offsets
 * (the group's committed offsets, which the loop reads to rewind and to resolve an ambiguous commit).
 * The producer side keeps librdkafka's transaction states: a commit that failed retriably stays
 * pending (other transactional calls conflict) until commitTransaction is called again.
 */
function fakeBroker() {
  let open: OutgoingRecord[] = [];
  let openOffsets: TopicPartitionOffset[] = [];
  let txn: 'ready' | 'open' | 'committing' | 'abortable' | 'fatal' = 'ready';
  const b = {
    calls: [] as string[],
    visible: [] as OutgoingRecord[],
    committed: new Map<number, number>(),
    seeks: [] as TopicPartitionOffset[],
    offsetsSent: [] as TopicPartitionOffset[][],
    failSend: undefined as ((r: OutgoingRecord) => Error | undefined) | undefined,
    /**
     * Errors thrown by commitTransaction; `afterCommit` ones are thrown after the broker committed. After a
     * retriable one the commit stays pending, after an abortable one the transaction must be aborted, after
     * any other the transaction is over (committed with `afterCommit`, dropped without).
     */
    failCommit: [] as Array<{ err: Error; afterCommit?: boolean }>,
    /** Errors thrown by reads of the committed offsets. */
    failCommitted: [] as Error[],
    failAbort: [] as Error[],
    live: true,
    txnState: () => txn,
  };
  const commitOpen = () => {
    b.visible.push(...open);
    for (const o of openOffsets) b.committed.set(o.partition, o.offset);
    open = [];
    openOffsets = [];
  };
  const producer: TransactionalProducer = {
    async beginTransaction() {
      b.calls.push('begin');
      if (txn === 'committing') throw conflictError();
      if (txn !== 'ready') throw stateError(txn);
      txn = 'open';
      open = [];
      openOffsets = [];
    },
    async send(r) {
      b.calls.push(`send ${r.topic}`);
      const err = b.failSend?.(r);
      if (err) throw err;
      open.push(r);
      return { topic: r.topic, partition: 0, offset: 0 };
    },
    async sendOffsetsToTransaction(o) {
      b.calls.push('offsets');
      b.offsetsSent.push(o);
      openOffsets = o;
    },
    async commitTransaction() {
      b.calls.push('commit');
      if (txn === 'ready' || txn === 'fatal') throw stateError(txn);
      if (txn === 'abortable') throw rdError('transaction must be aborted', { isTxnRequiresAbort: true });
      const f = b.failCommit.shift();
      if (f?.afterCommit) commitOpen();
      if (f) {
        const flags = (f.err as { cause?: { isRetriable?: boolean; isTxnRequiresAbort?: boolean; isFatal?: boolean } }).cause ?? {};
        txn = flags.isFatal ? 'fatal' : flags.isTxnRequiresAbort ? 'abortable' : flags.isRetriable ? 'committing' : 'ready';
        if (txn === 'ready') {
          open = [];
          openOffsets = [];
        }
        throw f.err;
      }
      commitOpen();
      txn = 'ready';
    },
    async abortTransaction() {
      b.calls.push('abort');
      const f = b.failAbort.shift();
      if (f) throw f;
      if (txn === 'committing') throw conflictError();
      if (txn === 'ready' || txn === 'fatal') throw stateError(txn);
      txn = 'ready';
      open = [];
      openOffsets = [];
    },
    isLive: () => b.live,
  };
  const offsetControl = () => ({
    committed: async (tps: Array<{ topic: string; partition: number }>) => {
      const err = b.failCommitted.shift();
      if (err) throw err;
      return tps.map((tp) => ({ ...tp, offset: b.committed.get(tp.partition) ?? -1001 }));
    },
    seek: async (pos: TopicPartitionOffset) => void b.seeks.push(pos),
  });
  return { b, producer, offsetControl };
}

/** Counts inputs per partition; writes one output per input (value = input value). */
type Count = { seen: number };
const countingStep = (batch: Message[], state: Count): StepResult<Count, string> => ({
  records: batch.filter((m) => m.value?.toString() !== 'bad').map((m) => ({ topic: 'out', key: m.key ?? null, value: m.value ?? null, source: m })),
  deadLetters: batch.filter((m) => m.value?.toString() === 'bad').map((m) => ({ topic: 'dlq', key: m.key ?? null, value: m.value ?? null })),
  nextState: { seen: state.seen + batch.length },
  summary: `p${batch[0]?.partition}`,
});

function setup(over: Partial<TransactionalLoopOptions<Count, string>> = {}, changelog?: Map<number, Message[]>) {
  const { b, producer, offsetControl } = fakeBroker();
  let runnerOpts: ConsumerRunnerOptions | undefined;
  const fatal: unknown[] = [];
  const hooks = { committed: [] as unknown[], aborted: [] as Array<{ code: string; summaries: string[] }> };
  const loop = createTransactionalLoop<Count, string>({
    connection: { bootstrapServers: 'x', clientId: 'test', securityProtocol: 'plaintext', connectAttempts: 1 },
    log,
    groupId: 'g',
    topic: 'in',
    producer,
    app: 'test-app',
    dlqTopic: 'dlq',
    step: countingStep,
    initialState: () => ({ seen: 0 }),
    retry: { initialMs: 1, maxMs: 2 },
    onFatal: (e) => void fatal.push(e),
    hooks: { committed: (i) => void hooks.committed.push(i), aborted: (i) => void hooks.aborted.push(i) },
    adapters: {
      offsetControl,
      createRunner: (o) => {
        runnerOpts = o;
        return { name: 'fake', consumer: {} as KafkaConsumer, start: async () => undefined, close: async () => undefined, isLive: () => true, isReady: () => true, assignments: () => [], consumed: () => 0, mirror: () => undefined } satisfies ConsumerRunner;
      },
      createReader: () =>
        ({
          read: async (ranges, onMessage) => {
            for (const r of ranges) for (const m of changelog?.get(r.partition) ?? []) onMessage(m);
            return new Map();
          },
        }) as Pick<PartitionReader, 'read'> as PartitionReader,
    },
    ...over,
  });
  const runner = () => runnerOpts as ConsumerRunnerOptions;
  const ctx = { consumer: {} as KafkaConsumer, signal: new AbortController().signal };
  const assign = (...partitions: number[]) => (runner().positionsOnAssign as NonNullable<ConsumerRunnerOptions['positionsOnAssign']>)(partitions.map((partition) => ({ topic: 'in', partition })));
  const handle = (batch: Message[]) => runner().handle(batch, ctx);
  return { b, producer, loop, fatal, hooks, assign, handle, runner };
}

describe('transactional loop', () => {
  it.each<[string, Array<[number, number]>, Array<[number, number]>]>([
    ['one partition', [[0, 5], [0, 6], [0, 7]], [[0, 8]]],
    ['several partitions', [[0, 5], [1, 0], [0, 6], [2, 41]], [[0, 7], [1, 1], [2, 42]]],
    ['a single record at offset 0', [[3, 0]], [[3, 1]]],
    ['highest offset per partition wins, whatever the order; sorted by partition', [[1, 9], [1, 3], [0, 0], [2, 4]], [[0, 1], [1, 10], [2, 5]]],
    ['empty batch', [], []],
  ])('nextOffsets should commit the last offset + 1 per partition (%s)', (_name, records, expected) => {
    expect(nextOffsets(records.map(([p, o]) => msg(p, o)))).toEqual(expected.map(([partition, offset]) => ({ topic: 'in', partition, offset })));
  });

  it('transactional loop should write outputs, dead letters and offset+1 in one committed transaction, then apply the state', async () => {
    const { b, loop, assign, handle, hooks } = setup();
    await assign(0, 1);
    await handle([msg(0, 10), msg(0, 11, 'bad'), msg(1, 3)]);
    expect(b.calls[0]).toBe('begin');
    expect(b.calls.slice(-2)).toEqual(['offsets', 'commit']);
    expect(b.calls).not.toContain('abort');
    expect(b.offsetsSent).toEqual([[{ topic: 'in', partition: 0, offset: 12 }, { topic: 'in', partition: 1, offset: 4 }]]);
    expect(b.visible.map((r) => `${r.topic}:${String(r.key)}`)).toEqual(['out:k10', 'dlq:k11', 'out:k3']);
    // `source` is the loop's business, never sent.
    expect(b.visible.every((r) => !('source' in r))).toBe(true);
    expect(loop.snapshot()).toEqual(new Map([[0, { state: { seen: 2 }, next: 12 }], [1, { state: { seen: 1 }, next: 4 }]]));
    expect(loop.stats()).toMatchObject({ transactions: 1, committedRecords: 3, aborted: 0 });
    expect(hooks.committed).toEqual([expect.objectContaining({ kind: 'batch', inputs: 3, summaries: ['p0', 'p1'], ambiguous: false })]);
  });

  it('transactional loop should position newly assigned partitions at the committed offsets with the state read from the changelog', async () => {
    const changelog = new Map([[0, [msg(0, 0, '5'), msg(0, 1, '7')]]]);
    const { b, loop, assign } = setup({ changelog: { topic: 'cl', restore: (_p, ms) => ({ seen: Number(ms.at(-1)?.value?.toString()) }), encode: () => [] } }, changelog);
    b.committed.set(0, 42);
    expect(await assign(0, 1)).toEqual([{ topic: 'in', partition: 0, offset: 42 }]);
    expect(loop.snapshot()).toEqual(new Map([[0, { state: { seen: 7 }, next: 42 }], [1, { state: { seen: 0 }, next: null }]]));
  });

  it('transactional loop should send the changelog records of the new state in the same transaction', async () => {
    const { b, assign, handle } = setup({ changelog: { topic: 'cl', restore: () => ({ seen: 0 }), encode: (p, next, prev) => [{ topic: 'cl', partition: p, key: 'n', value: Buffer.from(`${prev.seen}->${next.seen}`) }] } });
    await assign(0);
    await handle([msg(0, 0), msg(0, 1)]);
    expect(b.visible.filter((r) => r.topic === 'cl').map((r) => [r.partition, r.value?.toString()])).toEqual([[0, '0->2']]);
  });

  it('transactional loop should abort, rewind to the committed offsets (not the batch start) and keep the old state when a send fails', async () => {
    const { b, loop, assign, handle } = setup();
    b.committed.set(0, 8);
    await assign(0, 1);
    let failures = 1;
    b.failSend = () => (failures-- > 0 ? rdError('broker went away', { isRetriable: true }) : undefined);
    await handle([msg(0, 10), msg(1, 7)]);
    expect(b.calls).toContain('abort');
    expect(b.calls).not.toContain('commit');
    expect(b.visible).toEqual([]);
    // Partition 0 back to its committed offset (8, not the batch's 10); partition 1 has none: its beginning.
    expect(b.seeks).toEqual([
      { topic: 'in', partition: 0, offset: 8 },
      { topic: 'in', partition: 1, offset: -2 },
    ]);
    expect(loop.snapshot().get(0)).toEqual({ state: { seen: 0 }, next: 8 });
    await handle([msg(0, 8), msg(0, 9), msg(0, 10), msg(1, 7)]); // what the consumer reads again
    expect(b.visible.map((r) => String(r.key))).toEqual(['k8', 'k9', 'k10', 'k7']);
    expect(loop.snapshot().get(0)).toEqual({ state: { seen: 3 }, next: 11 });
    expect(loop.stats()).toMatchObject({ transactions: 1, aborted: 1, committedRecords: 4 });
  });

  it('transactional loop should retry a batch whose step failed retriably, without a transaction', async () => {
    let down = true;
    const { b, assign, handle } = setup({
      step: (batch, state) => {
        if (down) throw new WikiMonitorError('SCHEMA_REGISTRY_FAILED', 'registry unreachable', { retriable: true });
        return countingStep(batch, state);
      },
    });
    await assign(2);
    await handle([msg(2, 0)]);
    expect(b.calls).toEqual([]);
    expect(b.seeks).toEqual([{ topic: 'in', partition: 2, offset: -2 }]);
    down = false;
    await handle([msg(2, 0)]);
    expect(b.visible.map((r) => r.topic)).toEqual(['out']);
  });

  it('transactional loop should leave no delivery rejection unhandled when a transaction fails with sends in flight', async () => {
    const { b, producer, assign, handle } = setup();
    await assign(0);
    // The first send rejects at once, the others stay pending until the abort purges them (as librdkafka does).
    const pending: Array<(e: Error) => void> = [];
    let n = 0;
    producer.send = (r) => {
      b.calls.push(`send ${r.topic}`);
      if (n++ === 0) return Promise.reject(rdError('broker went away', { isRetriable: true }));
      return new Promise((_resolve, reject) => pending.push(reject));
    };
    const abort = producer.abortTransaction;
    producer.abortTransaction = async () => {
      pending.splice(0).forEach((reject) => reject(new Error('Local: Purged in queue')));
      return abort();
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const done = handle([msg(0, 0), msg(0, 1), msg(0, 2)]);
      // allSettled waits for the pending ones: purge them as the abort would.
      await new Promise((r) => setImmediate(r));
      pending.splice(0).forEach((reject) => reject(new Error('Local: Purged in queue')));
      await done;
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(b.calls.filter((c) => c.startsWith('send'))).toHaveLength(3);
    expect(b.calls.at(-1)).toBe('abort');
    expect(unhandled).toEqual([]);
  });

  it('transactional loop should stop waiting for the other deliveries once one is refused for good, and abort', async () => {
    const { b, producer, assign, handle } = setup();
    await assign(0);
    // librdkafka sends nothing more of the transaction: the others stay queued until the abort purges them.
    const pending: Array<(e: Error) => void> = [];
    const send = producer.send;
    let refusing = true;
    producer.send = (r) => {
      if (!refusing) return send(r);
      b.calls.push(`send ${r.topic}`);
      if (r.key === 'k1') return Promise.reject(rdError('Broker: Message size too large', { code: 10 }));
      return new Promise((_resolve, reject) => pending.push(reject));
    };
    const abort = producer.abortTransaction;
    producer.abortTransaction = async () => {
      pending.splice(0).forEach((reject) => reject(rdError('Local: Purged in queue', { code: -152 })));
      return abort();
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await handle([msg(0, 0), msg(0, 1), msg(0, 2)]);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(b.calls.at(-1)).toBe('abort');
    expect(unhandled).toEqual([]);
    // The refused one was alone: it is dead-lettered on the retry.
    refusing = false;
    b.failSend = (r) => (r.topic === 'out' && r.key === 'k1' ? rdError('Broker: Message size too large', { code: 10 }) : undefined);
    await handle([msg(0, 0), msg(0, 1), msg(0, 2)]);
    expect(b.visible.map((r) => `${r.topic}:${String(r.key)}`)).toEqual(['out:k0', 'dlq:k1', 'out:k2']);
  });

  it('transactional loop should retry a retriable commit without aborting', async () => {
    const { b, loop, assign, handle } = setup();
    await assign(0);
    b.failCommit = [{ err: rdError('coordinator load in progress', { isRetriable: true }) }];
    await handle([msg(0, 0)]);
    expect(b.calls.filter((c) => c === 'commit')).toHaveLength(2);
    expect(b.calls).not.toContain('abort');
    expect(loop.stats().transactions).toBe(1);
  });

  it('transactional loop should abort and rewind when the commit says the transaction must be aborted', async () => {
    const { b, loop, assign, handle, hooks } = setup();
    b.committed.set(0, 0);
    await assign(0);
    b.failCommit = [{ err: rdError('Broker: Producer fenced for this generation', { isTxnRequiresAbort: true }) }];
    await handle([msg(0, 0)]);
    expect(b.calls.slice(-2)).toEqual(['commit', 'abort']);
    expect(b.seeks).toEqual([{ topic: 'in', partition: 0, offset: 0 }]);
    expect(loop.stats()).toMatchObject({ transactions: 0, aborted: 1 });
    expect(loop.snapshot().get(0)?.state).toEqual({ seen: 0 });
    expect(hooks.aborted).toEqual([expect.objectContaining({ code: 'KAFKA_TRANSACTION_FAILED', summaries: ['p0'] })]);
  });

  it('transactional loop should count an ambiguous commit (failure reported, offsets committed) as committed and not re-run the batch', async () => {
    const { b, loop, assign, handle, hooks } = setup();
    await assign(0);
    b.failCommit = [{ err: new WikiMonitorError('KAFKA_TRANSACTION_FAILED', 'commit timed out'), afterCommit: true }];
    await handle([msg(0, 0), msg(0, 1)]);
    expect(b.calls).not.toContain('abort');
    expect(b.seeks).toEqual([]);
    expect(loop.snapshot().get(0)).toEqual({ state: { seen: 2 }, next: 2 });
    expect(loop.stats()).toMatchObject({ transactions: 1, ambiguousCommits: 1, aborted: 0, committedRecords: 2 });
    expect(hooks.committed).toEqual([expect.objectContaining({ ambiguous: true })]);
    expect(b.visible).toHaveLength(2);
  });

  it('transactional loop should treat a failed commit whose offsets are not committed as aborted: old state, rewound', async () => {
    const { b, loop, assign, handle } = setup();
    b.committed.set(0, 0);
    await assign(0);
    b.failCommit = [{ err: new WikiMonitorError('KAFKA_TRANSACTION_FAILED', 'commit timed out') }];
    await handle([msg(0, 0), msg(0, 1)]);
    // Called once more, the commit finds no transaction in progress: nothing to abort, the offsets say it did not commit.
    expect(b.calls.slice(-2)).toEqual(['commit', 'commit']);
    expect(b.calls).not.toContain('abort');
    expect(b.seeks).toEqual([{ topic: 'in', partition: 0, offset: 0 }]);
    expect(loop.snapshot().get(0)).toEqual({ state: { seen: 0 }, next: 0 });
    expect(loop.stats()).toMatchObject({ transactions: 0, ambiguousCommits: 0, aborted: 1 });
    await handle([msg(0, 0), msg(0, 1)]);
    expect(loop.snapshot().get(0)).toEqual({ state: { seen: 2 }, next: 2 });
    expect(b.visible).toHaveLength(2);
  });

  it('transactional loop should resume a commit that keeps timing out until it completes, so the next transaction can begin', async () => {
    const { b, loop, assign, handle, fatal } = setup();
    b.committed.set(0, 0);
    await assign(0);
    // The broker committed on the first call, but the acknowledgement does not come back for a while:
    // librdkafka keeps the commit pending, and every other transactional call conflicts until it is resumed.
    const timedOut = () => rdError('Local: Timed out', { code: -185, isRetriable: true });
    b.failCommit = [{ err: timedOut(), afterCommit: true }, ...Array.from({ length: 7 }, () => ({ err: timedOut() }))];
    await handle([msg(0, 0), msg(0, 1)]);
    expect(b.calls.filter((c) => c === 'commit')).toHaveLength(9);
    expect(b.txnState()).toBe('ready');
    await handle([msg(0, 2)]);
    expect(b.calls).not.toContain('abort');
    expect(b.seeks).toEqual([]);
    expect(b.visible.map((r) => String(r.key))).toEqual(['k0', 'k1', 'k2']);
    expect(loop.snapshot().get(0)).toEqual({ state: { seen: 3 }, next: 3 });
    expect(loop.stats()).toMatchObject({ transactions: 2, ambiguousCommits: 0, aborted: 0 });
    expect(fatal).toEqual([]);
  });

  it('transactional loop should resume a tick\'s commit that times out instead of leaving it pending', async () => {
    const { b, loop, assign, handle } = setup({
      tick: { everyMs: 60_000, run: (state) => (state.seen ? { records: [{ topic: 'out', key: 'tick', value: null }], deadLetters: [], nextState: { seen: 0 } } : null) },
    });
    await assign(0);
    await handle([msg(0, 0)]);
    b.failCommit = Array.from({ length: 6 }, () => ({ err: rdError('Local: Timed out', { code: -185, isRetriable: true }) }));
    await loop.tick();
    expect(b.txnState()).toBe('ready');
    expect(b.calls).not.toContain('abort');
    expect(b.visible.map((r) => String(r.key))).toEqual(['k0', 'tick']);
    expect(loop.snapshot().get(0)?.state).toEqual({ seen: 0 });
  });

  it('transactional loop should stop the service when the abort after a failed tick fails', async () => {
    const { b, loop, assign, handle } = setup({
      tick: { everyMs: 60_000, run: (state) => (state.seen ? { records: [{ topic: 'out', key: 'tick', value: null }], deadLetters: [], nextState: { seen: 0 } } : null) },
    });
    await assign(0);
    await handle([msg(0, 0)]);
    b.failCommit = [{ err: rdError('must abort', { isTxnRequiresAbort: true }) }];
    b.failAbort = [conflictError()];
    await expect(loop.tick()).rejects.toThrow(/abort failed/);
  });

  it('transactional loop should wait for committed offsets held back by an open transaction of a crashed member (assignment and rewind)', async () => {
    const { b, loop, assign, handle, fatal } = setup();
    b.committed.set(0, 5);
    const timedOut = () => new WikiMonitorError('KAFKA_CONSUME_FAILED', 'reading committed offsets: Local: Timed out', { cause: { message: 'Local: Timed out', code: -185 }, retriable: true });
    b.failCommitted = [timedOut(), timedOut(), timedOut()];
    expect(await assign(0)).toEqual([{ topic: 'in', partition: 0, offset: 5 }]);
    expect(loop.snapshot().get(0)).toEqual({ state: { seen: 0 }, next: 5 });
    // The rewind after an abort waits too instead of stopping the service.
    b.failSend = () => rdError('broker went away', { isRetriable: true });
    b.failCommitted = [timedOut(), timedOut()];
    await handle([msg(0, 5)]);
    expect(b.seeks).toEqual([{ topic: 'in', partition: 0, offset: 5 }]);
    expect(fatal).toEqual([]);
    // Other errors still fail at once.
    b.failCommitted = [new WikiMonitorError('KAFKA_CONSUME_FAILED', 'reading committed offsets: Broker: Group authorization failed', { cause: { message: 'denied', code: 30 } })];
    await expect(assign(1)).rejects.toThrow(/authorization/);
  });

  it('transactional loop should run no tick while a batch is failing (its inputs are not in the state yet)', async () => {
    let down = true;
    const ticks: number[] = [];
    const { b, loop, assign, handle } = setup({
      step: (batch, state) => {
        if (down) throw new WikiMonitorError('SCHEMA_REGISTRY_FAILED', 'registry unreachable', { retriable: true });
        return countingStep(batch, state);
      },
      tick: { everyMs: 60_000, run: (state, ctx) => (ticks.push(ctx.partition), state.seen ? { records: [{ topic: 'out', key: 'tick', value: null }], deadLetters: [], nextState: { seen: 0 } } : null) },
    });
    await assign(0);
    await handle([msg(0, 0)]);
    await loop.tick();
    expect(ticks).toEqual([]);
    expect(b.calls).toEqual([]);
    down = false;
    await handle([msg(0, 0)]);
    await loop.tick();
    expect(ticks).toEqual([0]);
    expect(b.visible.map((r) => String(r.key))).toEqual(['k0', 'tick']);
  });

  it('transactional loop should queue at most one timer tick behind a long batch', async () => {
    jest.useFakeTimers();
    try {
      let release = () => undefined as void;
      const blocked = new Promise<void>((r) => (release = r));
      let runs = 0;
      const { loop, assign, handle } = setup({
        step: async (batch, state) => {
          await blocked;
          return countingStep(batch, state);
        },
        tick: { everyMs: 10, run: () => (runs++, null) },
      });
      await loop.start();
      await assign(0);
      const done = handle([msg(0, 0)]);
      jest.advanceTimersByTime(100);
      release();
      await done;
      await loop.tick();
      expect(runs).toBe(2);
      await loop.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('transactional loop should clear the tick timer even when closing the consumer fails', async () => {
    jest.useFakeTimers();
    try {
      const { loop } = setup({
        tick: { everyMs: 10, run: () => null },
        adapters: {
          createRunner: () => ({ name: 'fake', consumer: {} as KafkaConsumer, start: async () => undefined, close: async () => Promise.reject(new Error('close failed')), isLive: () => true, isReady: () => true, assignments: () => [], consumed: () => 0, mirror: () => undefined }),
        },
      });
      await loop.start();
      expect(jest.getTimerCount()).toBe(2); // the tick and the slow-phase watchdog
      await expect(loop.close()).rejects.toThrow(/close failed/);
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('transactional loop should not carry a failing batch\'s retry state over to other partitions once its partitions are revoked', async () => {
    let t = 1_000;
    const nows: Array<[number, number]> = [];
    const { loop, assign, handle, hooks, runner } = setup({
      now: () => t,
      step: (batch, state, ctx) => {
        nows.push([ctx.partition, ctx.now]);
        if (ctx.partition === 1 || batch.some((m) => m.value?.toString() === 'fail')) throw new WikiMonitorError('SCHEMA_REGISTRY_FAILED', 'registry unreachable', { retriable: true });
        return countingStep(batch, state);
      },
    });
    await assign(0, 1);
    await handle([msg(1, 0)]);
    await (runner().onRevoke as NonNullable<ConsumerRunnerOptions['onRevoke']>)([{ topic: 'in', partition: 1 }]);
    t = 2_000;
    await handle([msg(0, 0, 'fail')]);
    // Partition 0's batch gets its own processing time and starts its own count of attempts.
    expect(nows).toEqual([[1, 1_000], [0, 2_000]]);
    expect(hooks.aborted.map((a) => (a as unknown as { attempt: number }).attempt)).toEqual([1, 1]);
    expect(loop.stats().aborted).toBe(2);
  });

  it('transactional loop should trim the suspects after a tick too', async () => {
    let keys = Array.from({ length: 1_500 }, (_, i) => `t${i}`);
    const { b, loop, assign, handle } = setup({
      tick: { everyMs: 60_000, run: (state) => (state.seen ? { records: keys.map((k) => ({ topic: 'out', key: k, value: null })), deadLetters: [], nextState: { seen: 0 } } : null) },
    });
    await assign(0);
    await handle([msg(0, 0)]);
    // Refused together: all 1500 become suspects, more than the bound.
    b.failSend = (r) => (r.topic === 'out' && String(r.key).startsWith('t') ? rdError('Broker: Message size too large', { code: 10 }) : undefined);
    await loop.tick();
    // Trimmed to the bound, the first 500 are no suspects any more: a tick of only those sends them in bulk
    // (all fail), not one at a time (the first fails alone).
    keys = keys.slice(0, 500);
    const before = b.calls.length;
    await loop.tick();
    expect(b.calls.slice(before).filter((c) => c === 'send out')).toHaveLength(500);
  });

  it('transactional loop should dead-letter an output whose timestamp the topic refuses (INVALID_TIMESTAMP) and commit the rest', async () => {
    const { b, loop, assign, handle } = setup();
    await assign(0);
    b.failSend = (r) => (r.topic === 'out' && r.key === 'k1' ? rdError('Broker: Invalid timestamp', { code: 32 }) : undefined);
    const batch = [msg(0, 0), msg(0, 1), msg(0, 2)];
    await handle(batch);
    await handle(batch);
    expect(b.visible.filter((r) => r.topic === 'out').map((r) => String(r.key))).toEqual(['k0', 'k2']);
    expect(b.visible.filter((r) => r.topic === 'dlq').map((r) => String(r.key))).toEqual(['k1']);
    expect(loop.stats()).toMatchObject({ transactions: 1, isolated: 1 });
  });

  it('transactional loop should bound the key and headers of the dead letter that replaces an unwritable output', async () => {
    const { b, assign, handle } = setup({ deadLetterMaxValueBytes: 16 });
    await assign(0);
    const bigKey = 'K'.repeat(100_000);
    const source: Message = { ...msg(0, 0), key: bigKey, headers: [{ traceparent: 'tp' }, { huge: 'h'.repeat(200_000) }, { after: 'a' }] };
    b.failSend = (r) => (r.topic === 'out' ? rdError('Broker: Message size too large', { code: 10 }) : undefined);
    await handle([source]);
    await handle([source]);
    const dl = b.visible.find((r) => r.topic === 'dlq');
    expect(Buffer.byteLength(dl?.key ?? '')).toBeLessThanOrEqual(DEAD_LETTER_MAX_KEY_BYTES);
    expect(dl?.key?.toString()).toBe('K'.repeat(DEAD_LETTER_MAX_KEY_BYTES));
    expect(dl?.headers?.[DLQ_TRUNCATION_HEADERS.originalKeySize]).toBe('100000');
    expect(dl?.headers?.[DLQ_TRUNCATION_HEADERS.originalKeySha256]).toBe(createHash('sha256').update(bigKey).digest('hex'));
    expect(dl?.headers?.['huge']).toBeUndefined();
    expect(dl?.headers?.[DLQ_TRUNCATION_HEADERS.headersDropped]).toBe('huge');
    expect(dl?.headers).toMatchObject({ traceparent: 'tp', after: 'a' });
    const size = Object.entries(dl?.headers ?? {}).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    expect(size).toBeLessThanOrEqual(DEAD_LETTER_MAX_HEADER_BYTES + 4096);
  });

  it('transactional loop should reject (stopping the runner) on a fatal error, without rewinding or aborting', async () => {
    const { b, assign, handle } = setup();
    await assign(0);
    b.failCommit = [{ err: rdError('Broker: Producer fenced by a newer instance', { isFatal: true }) }];
    await expect(handle([msg(0, 0)])).rejects.toThrow(/fenced/);
    expect(b.seeks).toEqual([]);
    expect(b.calls).not.toContain('abort');
  });

  it('transactional loop should give up after the bounded number of consecutive failed transactions', async () => {
    const { b, assign, handle } = setup({ retry: { initialMs: 1, maxMs: 2, maxAttempts: 2 } });
    await assign(0);
    b.failCommit = Array.from({ length: 10 }, () => ({ err: rdError('must abort', { isTxnRequiresAbort: true }) }));
    await handle([msg(0, 0)]);
    await handle([msg(0, 0)]);
    await expect(handle([msg(0, 0)])).rejects.toThrow(/must abort/);
  });

  it('transactional loop should replace an output the broker refuses (too large) by a dead letter with its size and digest, and commit the rest', async () => {
    const { b, loop, assign, handle } = setup({ deadLetterMaxValueBytes: 16 });
    await assign(0);
    const big = 'x'.repeat(100);
    b.failSend = (r) => (r.topic === 'out' && r.value?.toString() === big ? rdError('Broker: Message size too large', { code: 10 }) : undefined);
    const batch = [msg(0, 0), msg(0, 1, big), msg(0, 2)];
    await handle(batch);
    expect(b.calls).toContain('abort');
    await handle(batch);
    expect(b.visible.filter((r) => r.topic === 'out').map((r) => String(r.key))).toEqual(['k0', 'k2']);
    const dlq = b.visible.filter((r) => r.topic === 'dlq');
    expect(dlq).toHaveLength(1);
    const dl = parseDeadLetter(dlq[0]?.key, dlq[0]?.value ?? null, dlq[0]?.headers ?? {});
    expect(dl).toMatchObject({ sourceTopic: 'in', sourcePartition: 0, sourceOffset: 1, attempts: 2, app: 'test-app', error: { code: 'KAFKA_TRANSACTION_FAILED' } });
    expect(dl.value?.toString()).toBe('x'.repeat(16));
    expect(dlq[0]?.headers?.[DLQ_TRUNCATION_HEADERS.originalSize]).toBe('100');
    expect(dlq[0]?.headers?.[DLQ_TRUNCATION_HEADERS.originalSha256]).toBe(createHash('sha256').update(big).digest('hex'));
    expect(dlq[0]?.headers?.[DLQ_TRUNCATION_HEADERS.targetTopic]).toBe('out');
    expect(b.offsetsSent.at(-1)).toEqual([{ topic: 'in', partition: 0, offset: 3 }]);
    expect(loop.stats()).toMatchObject({ transactions: 1, isolated: 1 });
  });

  it('transactional loop should find the one unwritable output among several refused together (one produce batch) and dead-letter only it', async () => {
    // The search is progress, not failure: even with no retries allowed it runs to the end.
    const { b, assign, handle, fatal } = setup({ retry: { initialMs: 1, maxMs: 2, maxAttempts: 0 } });
    await assign(0);
    const big = 'y'.repeat(50);
    let bulk = true;
    // While the big record is in flight with others, the broker refuses them all (a too-large batch).
    b.failSend = (r) => {
      if (r.topic !== 'out') return undefined;
      if (bulk && (r.key === 'k1' || r.key === 'k2' || r.key === 'k3')) return rdError('Broker: Message size too large', { code: 10 });
      return r.value?.toString() === big ? rdError('Broker: Message size too large', { code: 10 }) : undefined;
    };
    const batch = [msg(0, 0), msg(0, 1), msg(0, 2, big), msg(0, 3)];
    await handle(batch);
    bulk = false;
    await handle(batch); // suspects one by one: k2 is the culprit
    await handle(batch);
    expect(b.visible.filter((r) => r.topic === 'out').map((r) => String(r.key))).toEqual(['k0', 'k1', 'k3']);
    expect(b.visible.filter((r) => r.topic === 'dlq').map((r) => String(r.key))).toEqual(['k2']);
    expect(b.calls.filter((c) => c === 'abort')).toHaveLength(2);
    expect(fatal).toEqual([]);
  });

  it('transactional loop should keep the step\'s order of one key\'s records while it searches for an unwritable output', async () => {
    const { b, assign, handle } = setup();
    await assign(0);
    let bulk = true;
    b.failSend = (r) => (bulk && r.topic === 'out' && (r.value?.toString() ?? '').startsWith('a') ? rdError('Broker: Message size too large', { code: 10 }) : undefined);
    const batch = [
      { ...msg(0, 0, 'a1'), key: 'x' },
      { ...msg(0, 1, 'a2'), key: 'x' },
      { ...msg(0, 2, 'b'), key: 'x' },
    ];
    await handle(batch); // a1 and a2 refused together: both suspects
    bulk = false;
    await handle(batch);
    expect(b.visible.filter((r) => r.topic === 'out').map((r) => r.value?.toString())).toEqual(['a1', 'a2', 'b']);
  });

  it('transactional loop should stop the service when even a dead letter cannot be written', async () => {
    const { b, assign, handle } = setup();
    await assign(0);
    b.failSend = (r) => (r.topic === 'dlq' ? rdError('Broker: Message size too large', { code: 10 }) : undefined);
    await expect(handle([msg(0, 0, 'bad')])).rejects.toThrow(/cannot be written/);
  });

  it('transactional loop should ignore records of a partition revoked while the batch waited', async () => {
    const { b, assign, handle, runner } = setup();
    await assign(0, 1);
    await (runner().onRevoke as NonNullable<ConsumerRunnerOptions['onRevoke']>)([{ topic: 'in', partition: 1 }]);
    await handle([msg(0, 0), msg(1, 0)]);
    expect(b.offsetsSent).toEqual([[{ topic: 'in', partition: 0, offset: 1 }]]);
  });

  it('transactional loop should run the tick in a transaction carrying the partitions\' current offsets, and apply its state on commit', async () => {
    const { b, loop, assign, handle } = setup({
      tick: { everyMs: 60_000, run: (state) => (state.seen ? { records: [{ topic: 'out', key: 'tick', value: null }], deadLetters: [], nextState: { seen: 0 } } : null) },
    });
    await assign(0, 1);
    await handle([msg(0, 7)]);
    await loop.tick();
    expect(b.offsetsSent.at(-1)).toEqual([{ topic: 'in', partition: 0, offset: 8 }]);
    expect(b.visible.map((r) => String(r.key))).toEqual(['k7', 'tick']);
    expect(loop.snapshot().get(0)).toEqual({ state: { seen: 0 }, next: 8 });
    const calls = b.calls.length;
    await loop.tick(); // nothing to do: no transaction
    expect(b.calls.length).toBe(calls);
  });
  it('transactional loop should log a step that does not finish, with its name, and say nothing of an idle loop', async () => {
    const lines: Array<{ msg: string; phase?: string }> = [];
    const sink = { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string; phase?: string }) };
    const slowLog = createLogger('test', 'warn', sink);
    let release!: () => void;
    const hang = new Promise<void>((r) => (release = r));
    const { loop, assign, handle } = setup({
      log: slowLog,
      slowPhaseWarnMs: 40,
      step: async (batch, state) => {
        await hang;
        return countingStep(batch, state);
      },
    });
    await loop.start();
    try {
      await assign(0);
      await new Promise((r) => setTimeout(r, 150));
      expect(lines).toEqual([]); // idle: waiting for input is not a stall
      const handled = handle([msg(0, 1)]);
      await new Promise((r) => setTimeout(r, 200));
      expect(loop.phase()).toEqual({ name: 'step of partition 0 (1 records)', sinceMs: expect.any(Number) });
      const warned = lines.filter((l) => l.phase === 'step of partition 0 (1 records)');
      // Repeated while it lasts (every slowPhaseWarnMs), not once per check.
      expect(warned.length).toBeGreaterThanOrEqual(2);
      expect(warned.length).toBeLessThanOrEqual(6);
      release();
      await handled;
      expect(loop.phase()).toBeNull();
    } finally {
      release();
      await loop.close();
    }
  });
});
