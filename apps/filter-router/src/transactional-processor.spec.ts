import type { KafkaConsumer, TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import type { WikiChange } from '@wikimonitor/contracts';
import { normalizeRecentChange, parseRoutingRules } from '@wikimonitor/domain';
import { type Message, type OutgoingRecord, headersFromMessage, parseDeadLetter } from '@wikimonitor/kafka';
import { WikiMonitorError, createLogger } from '@wikimonitor/service-kit';
import { loadRecordedEvents } from '@wikimonitor/testing';
import { Registry } from 'prom-client';
import defaultRules from '../rules/default-rules.json';
import { createRouterMetrics } from './metrics';
import { type ChangeCodec, createRecordRouter } from './record-router';
import { type OffsetControl, type TransactionalProducer, createTransactionalProcessor, nextOffsets } from './transactional-processor';

const log = createLogger('test', 'silent');
const rules = (() => {
  const r = parseRoutingRules(defaultRules);
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.rules;
})();
const changes: WikiChange[] = loadRecordedEvents()
  .slice(0, 60)
  .flatMap((e) => {
    const n = normalizeRecentChange(e.json, { receivedTime: 1, sseId: null });
    return n.kind === 'change' ? [n.change] : [];
  });

/** Wire format stand-in: magic 0, schema id 1, JSON body. `registryDown` makes decode fail retriably. */
function fakeCodec(state = { registryDown: false }): ChangeCodec {
  return {
    schemaId: () => 1,
    encode: (c) => Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), Buffer.from(JSON.stringify(c))]),
    async decode(buf) {
      if (state.registryDown) throw new WikiMonitorError('SCHEMA_REGISTRY_FAILED', 'registry unreachable', { retriable: true });
      if (buf[0] !== 0) throw new WikiMonitorError('DESERIALIZE_FAILED', 'not Confluent wire format');
      return JSON.parse(buf.subarray(5).toString()) as WikiChange;
    },
  };
}

const rdError = (message: string, flags: { code?: number; isRetriable?: boolean; isTxnRequiresAbort?: boolean; isFatal?: boolean }) =>
  new WikiMonitorError('KAFKA_TRANSACTION_FAILED', message, { cause: { message, code: -1, ...flags } });

/** A producer that keeps what each transaction wrote and what was committed, in call order. */
function fakeProducer() {
  let open: OutgoingRecord[] = [];
  const p = {
    calls: [] as string[],
    committed: [] as OutgoingRecord[],
    offsets: [] as TopicPartitionOffset[][],
    failSend: undefined as ((r: OutgoingRecord) => Error | undefined) | undefined,
    failCommit: [] as Error[],
    live: true,
    async beginTransaction() {
      p.calls.push('begin');
      open = [];
    },
    async send(r: OutgoingRecord) {
      p.calls.push(`send ${r.topic}`);
      const err = p.failSend?.(r);
      if (err) throw err;
      open.push(r);
      return { topic: r.topic, partition: 0, offset: 0 };
    },
    async sendOffsetsToTransaction(o: TopicPartitionOffset[]) {
      p.calls.push('offsets');
      p.offsets.push(o);
    },
    async commitTransaction() {
      p.calls.push('commit');
      const err = p.failCommit.shift();
      if (err) throw err;
      p.committed.push(...open);
      open = [];
    },
    async abortTransaction() {
      p.calls.push('abort');
      open = [];
    },
    isLive: () => p.live,
  };
  return p;
}

function fakeOffsets(committed: TopicPartitionOffset[]) {
  const seeks: TopicPartitionOffset[] = [];
  const control: OffsetControl = {
    committed: async (tps) => tps.map((tp) => committed.find((c) => c.topic === tp.topic && c.partition === tp.partition) ?? { ...tp, offset: -1001 }),
    seek: async (pos) => void seeks.push(pos),
  };
  return { control, seeks };
}

const codec = fakeCodec();
const msg = (partition: number, offset: number, value: Buffer | null, key = `k${offset}`): Message => ({
  topic: 'in',
  partition,
  offset,
  value,
  key,
  size: value?.length ?? 0,
  timestamp: 1_700_000_000_000 + offset,
  headers: [{ traceparent: `tp-${partition}-${offset}` }],
});

function setup(opts: { committed?: TopicPartitionOffset[]; registry?: { registryDown: boolean }; input?: ChangeCodec } = {}) {
  const producer = fakeProducer();
  const offsets = fakeOffsets(opts.committed ?? []);
  const registry = new Registry();
  const outputs = new Map(rules.routes.map((r) => [r.topic, codec]));
  const processor = createTransactionalProcessor({
    producer: producer as TransactionalProducer,
    router: createRecordRouter({ rules, input: opts.input ?? fakeCodec(opts.registry), outputs, dlqTopic: 'dlq', tracer: null }),
    log,
    metrics: createRouterMetrics(registry),
    retry: { initialMs: 1, maxMs: 2 },
    offsetControl: () => offsets.control,
  });
  const ctx = { consumer: {} as KafkaConsumer, signal: new AbortController().signal };
  return { producer, offsets, processor, registry, ctx };
}

describe('transactional processor', () => {
  it.each<[string, Array<[number, number]>, Array<[number, number]>]>([
    ['one partition', [[0, 5], [0, 6], [0, 7]], [[0, 8]]],
    ['several partitions', [[0, 5], [1, 0], [0, 6], [2, 41]], [[0, 7], [1, 1], [2, 42]]],
    ['a single record at offset 0', [[3, 0]], [[3, 1]]],
  ])('nextOffsets should commit the last offset + 1 per partition (%s)', (_name, records, expected) => {
    const batch = records.map(([p, o]) => msg(p, o, null));
    expect(nextOffsets(batch)).toEqual(expected.map(([partition, offset]) => ({ topic: 'in', partition, offset })));
  });

  it('processor should write routes, dead letters and offset+1 in one committed transaction', async () => {
    const { producer, processor, ctx } = setup();
    const batch = [msg(0, 10, codec.encode(changes[0] as WikiChange)), msg(0, 11, Buffer.from('garbage')), msg(1, 3, codec.encode(changes[1] as WikiChange))];
    await processor.handle(batch, ctx);

    expect(producer.calls[0]).toBe('begin');
    expect(producer.calls.slice(-2)).toEqual(['offsets', 'commit']);
    expect(producer.calls).not.toContain('abort');
    expect(producer.offsets).toEqual([[{ topic: 'in', partition: 0, offset: 12 }, { topic: 'in', partition: 1, offset: 4 }]]);
    const dlq = producer.committed.filter((r) => r.topic === 'dlq');
    expect(dlq).toHaveLength(1);
    const dl = parseDeadLetter(dlq[0]?.key, dlq[0]?.value ?? null, dlq[0]?.headers ?? {});
    expect(dl).toMatchObject({ sourceTopic: 'in', sourcePartition: 0, sourceOffset: 11, app: 'filter-router', error: { code: 'DESERIALIZE_FAILED' } });
    expect(dl.value?.toString()).toBe('garbage');
    expect(dl.key?.toString()).toBe('k11');
    expect(dl.originalHeaders['traceparent']?.toString()).toBe('tp-0-11');
    expect(processor.stats()).toMatchObject({ transactions: 1, committedRecords: 3, deadLettered: 1, aborted: 0 });
  });

  it('processor should abort, rewind to the committed offsets and write nothing when a send fails, then commit the re-read batch once', async () => {
    const { producer, offsets, processor, ctx, registry } = setup({ committed: [{ topic: 'in', partition: 0, offset: 10 }] });
    const batch = [msg(0, 10, codec.encode(changes[0] as WikiChange)), msg(1, 7, codec.encode(changes[1] as WikiChange))];
    let failures = 1;
    producer.failSend = () => (failures-- > 0 ? rdError('broker went away', { isRetriable: true }) : undefined);

    await processor.handle(batch, ctx);
    expect(producer.calls).toContain('abort');
    expect(producer.calls).not.toContain('commit');
    expect(producer.committed).toEqual([]);
    // Partition 0 back to its committed offset; partition 1 has none yet, so back to where the batch began.
    expect(offsets.seeks).toEqual([
      { topic: 'in', partition: 0, offset: 10 },
      { topic: 'in', partition: 1, offset: 7 },
    ]);

    await processor.handle(batch, ctx); // what the runner reads again after the rewind
    const ids = producer.committed.filter((r) => r.topic === 'wiki.changes.all').map((r) => (JSON.parse((r.value as Buffer).subarray(5).toString()) as WikiChange).id);
    expect(ids).toEqual([changes[0]?.id, changes[1]?.id]);
    expect(processor.stats()).toMatchObject({ transactions: 1, aborted: 1, committedRecords: 2 });
    expect(await registry.getSingleMetricAsString('filter_router_transactions_aborted_total')).toContain('code="KAFKA_TRANSACTION_FAILED"} 1');
  });

  it('processor should retry a batch when the registry is unreachable instead of dead-lettering it', async () => {
    const registryState = { registryDown: true };
    const { producer, offsets, processor, ctx } = setup({ registry: registryState });
    const batch = [msg(2, 0, codec.encode(changes[2] as WikiChange))];
    await processor.handle(batch, ctx);
    expect(producer.calls).toEqual(['begin', 'abort']);
    expect(offsets.seeks).toEqual([{ topic: 'in', partition: 2, offset: 0 }]);
    registryState.registryDown = false;
    await processor.handle(batch, ctx);
    expect(producer.committed.some((r) => r.topic === 'dlq')).toBe(false);
    expect(producer.committed.filter((r) => r.topic === 'wiki.changes.all')).toHaveLength(1);
  });

  it('processor should leave no delivery rejection unhandled when a batch fails after some records were sent', async () => {
    const first = msg(0, 0, codec.encode(changes[0] as WikiChange));
    const second = msg(0, 1, codec.encode(changes[1] as WikiChange));
    // The second record's decode finds the registry gone, after the first record's sends are out.
    const input: ChangeCodec = { ...codec, decode: (buf) => (buf === second.value ? Promise.reject(new WikiMonitorError('SCHEMA_REGISTRY_FAILED', 'gone', { retriable: true })) : codec.decode(buf)) };
    const { producer, processor, ctx } = setup({ input });
    // Deliveries stay pending until the abort purges them, then reject (as librdkafka does).
    const pending: Array<(e: Error) => void> = [];
    producer.send = (r: OutgoingRecord) => {
      producer.calls.push(`send ${r.topic}`);
      return new Promise((_resolve, reject) => pending.push(reject));
    };
    producer.abortTransaction = async () => {
      producer.calls.push('abort');
      pending.splice(0).forEach((reject) => reject(new Error('Local: Purged in queue')));
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await processor.handle([first, second], ctx);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(producer.calls.filter((c) => c.startsWith('send')).length).toBeGreaterThan(0);
    expect(producer.calls.at(-1)).toBe('abort');
    expect(unhandled).toEqual([]);
  });

  it('processor should dead-letter only the record whose output can never be written (message too large)', async () => {
    const { producer, processor, ctx } = setup();
    const big = changes[3] as WikiChange;
    const batch = [msg(0, 0, codec.encode(changes[4] as WikiChange)), msg(0, 1, codec.encode(big)), msg(0, 2, codec.encode(changes[5] as WikiChange))];
    producer.failSend = (r) => (r.topic !== 'dlq' && (r.value as Buffer).includes(big.id) ? rdError('Broker: Message size too large', { code: 10 }) : undefined);

    await processor.handle(batch, ctx);
    expect(producer.calls).toContain('abort');
    await processor.handle(batch, ctx);
    const dlq = producer.committed.filter((r) => r.topic === 'dlq');
    expect(dlq).toHaveLength(1);
    expect(parseDeadLetter(dlq[0]?.key, dlq[0]?.value ?? null, dlq[0]?.headers ?? {})).toMatchObject({ sourceOffset: 1, attempts: 2, error: { code: 'KAFKA_TRANSACTION_FAILED' } });
    expect(producer.committed.filter((r) => r.topic === 'wiki.changes.all')).toHaveLength(2);
    expect(producer.offsets.at(-1)).toEqual([{ topic: 'in', partition: 0, offset: 3 }]);
  });

  it('processor should retry a retriable commit without aborting', async () => {
    const { producer, processor, ctx } = setup();
    producer.failCommit = [rdError('coordinator load in progress', { isRetriable: true })];
    await processor.handle([msg(0, 0, codec.encode(changes[0] as WikiChange))], ctx);
    expect(producer.calls.filter((c) => c === 'commit')).toHaveLength(2);
    expect(producer.calls).not.toContain('abort');
    expect(processor.stats().transactions).toBe(1);
  });

  it('processor should abort and rewind when the commit says the transaction must be aborted', async () => {
    const { producer, offsets, processor, ctx } = setup({ committed: [{ topic: 'in', partition: 0, offset: 0 }] });
    producer.failCommit = [rdError('Broker: Producer fenced for this generation', { isTxnRequiresAbort: true })];
    await processor.handle([msg(0, 0, codec.encode(changes[0] as WikiChange))], ctx);
    expect(producer.calls.slice(-2)).toEqual(['commit', 'abort']);
    expect(offsets.seeks).toEqual([{ topic: 'in', partition: 0, offset: 0 }]);
    expect(processor.stats()).toMatchObject({ transactions: 0, aborted: 1 });
  });

  it('processor should reject (stopping the runner) on a fatal error, without rewinding', async () => {
    const { producer, offsets, processor, ctx } = setup();
    producer.failCommit = [rdError('Broker: Producer fenced by a newer instance', { isFatal: true })];
    await expect(processor.handle([msg(0, 0, codec.encode(changes[0] as WikiChange))], ctx)).rejects.toThrow(/fenced/);
    expect(offsets.seeks).toEqual([]);
    expect(producer.calls).not.toContain('abort');
  });

  it('processor should pass the original headers and timestamp on, and key each route as its rule says', async () => {
    const { producer, processor, ctx } = setup();
    const human = changes.find((c) => c.type === 'edit' && !c.bot && c.namespace === 0) as WikiChange;
    await processor.handle([msg(4, 9, codec.encode(human), 'orig-key')], ctx);
    const byTopic = new Map(producer.committed.map((r) => [r.topic, r]));
    expect(byTopic.get('wiki.changes.all')?.key).toBe(human.wiki);
    expect(byTopic.get('wiki.changes.human-content')?.key).toBe(`${human.wiki}:${human.title}`);
    expect(byTopic.has('wiki.changes.bot')).toBe(false);
    expect(headersFromMessage([byTopic.get('wiki.changes.all')?.headers ?? {}])['traceparent']).toBe('tp-4-9');
    expect(byTopic.get('wiki.changes.all')?.timestamp).toBe(1_700_000_000_009);
  });
});
