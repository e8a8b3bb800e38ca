import type { KafkaConsumer, Message, TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import type { WikiChange } from '@wikimonitor/contracts';
import { DEFAULT_SPIKE_CONFIG, decodeWikiState } from '@wikimonitor/domain';
import type { KafkaProducer, OutgoingRecord } from '@wikimonitor/kafka';
import { WikiMonitorError, createLogger, createMetricsRegistry } from '@wikimonitor/service-kit';
import { createAggregatorMetrics } from './metrics';
import { createProcessor } from './processor';
import type { StateStore } from './state-store';

const T0 = Date.UTC(2026, 1, 26, 15, 0, 0);
const topics = { input: 'in', aggregates: 'agg', alerts: 'alerts', late: 'late', dlq: 'dlq', changelog: 'cl' };

function change(wiki: string, offsetMs: number): WikiChange {
  return {
    id: `${wiki}-${offsetMs}`, event_time: T0 + offsetMs, received_time: 0, wiki, domain: 'x', stream: null, type: 'edit', namespace: 0, title: 'P', title_url: null,
    user: 'U', bot: false, minor: null, patrolled: null, length_old: 1, length_new: 2, revision_old: null, revision_new: null, comment: '', rc_id: null,
    server_name: null, request_id: null, schema_uri: null, log_id: null, log_type: null, log_action: null, log_action_comment: null, log_params: null,
    source: { topic: null, partition: null, offset: null, sse_id: null },
  };
}

function msg(offset: number, value: Buffer | null, partition = 0): Message {
  return { topic: 'in', partition, offset, key: Buffer.from('k'), value, size: value?.length ?? 0, timestamp: 0 };
}
const encode = (c: WikiChange) => Buffer.from(JSON.stringify(c));

function harness(opts: { failCommits?: number; decodeError?: WikiMonitorError } = {}) {
  const log: string[] = [];
  const sent: OutgoingRecord[] = [];
  const offsets: TopicPartitionOffset[][] = [];
  const seeks: TopicPartitionOffset[] = [];
  let pending: OutgoingRecord[] = [];
  let failCommits = opts.failCommits ?? 0;
  let time = T0 + 3_600_000;
  const producer = {
    beginTransaction: async () => void log.push('begin'),
    send: async (r: OutgoingRecord) => {
      pending.push(r);
      return { topic: r.topic, partition: 0, offset: 0 };
    },
    sendOffsetsToTransaction: async (o: TopicPartitionOffset[]) => void offsets.push(o),
    commitTransaction: async () => {
      if (failCommits-- > 0) {
        log.push('commit-failed');
        throw new WikiMonitorError('KAFKA_TRANSACTION_FAILED', 'broker said no', { retriable: true });
      }
      log.push('commit');
      sent.push(...pending);
      pending = [];
    },
    abortTransaction: async () => {
      log.push('abort');
      pending = [];
    },
    isLive: () => true,
  } as unknown as KafkaProducer;
  const consumer = { seek: (tpo: TopicPartitionOffset, _t: number, cb: (e: null) => void) => (seeks.push(tpo), cb(null)) } as unknown as KafkaConsumer;
  const store: StateStore = {
    name: 'store', start: async () => undefined, close: async () => undefined, isLive: () => true, isReady: () => true,
    restore: async (ps) => new Map(ps.map((p) => [p, new Map()])),
    committed: async (_t, ps) => new Map(ps.map((p) => [p, null])),
  };
  const fatal: unknown[] = [];
  const processor = createProcessor({
    topics,
    window: { sizeMs: 60_000, allowedLatenessMs: 0, topPages: 3, spike: DEFAULT_SPIKE_CONFIG, alertSource: 'aggregator' },
    idleCloseMs: 1_000,
    maxTransactionRetries: 2,
    producer,
    store,
    decode: async (v) => {
      if (opts.decodeError && v.toString() === 'bad') throw opts.decodeError;
      return JSON.parse(v.toString()) as WikiChange;
    },
    encodeAggregate: (a) => Buffer.from(JSON.stringify(a)),
    encodeAlert: (a) => Buffer.from(JSON.stringify(a)),
    consumer: () => consumer,
    log: createLogger('test', 'silent'),
    metrics: createAggregatorMetrics(createMetricsRegistry('aggregator')),
    tracer: null,
    appName: 'aggregator',
    onFatal: (e) => void fatal.push(e),
    now: () => time,
  });
  return { processor, log, sent, offsets, seeks, fatal, advance: (ms: number) => (time += ms) };
}

describe('aggregator processor', () => {
  it('processor should abort, rewind to the batch start and keep its state when a commit fails, then succeed on the retry', async () => {
    const h = harness({ failCommits: 1 });
    await h.processor.onAssign([{ topic: 'in', partition: 0 }]);
    const batch = [msg(10, encode(change('a', 1_000))), msg(11, encode(change('a', 61_000)))];
    await h.processor.handleBatch(batch);
    expect(h.log).toEqual(['begin', 'commit-failed', 'abort']);
    expect(h.seeks).toEqual([{ topic: 'in', partition: 0, offset: 10 }]);
    expect(h.processor.snapshot().get(0)?.wikis.size).toBe(0);

    await h.processor.handleBatch(batch);
    expect(h.log.slice(3)).toEqual(['begin', 'commit']);
    expect(h.offsets.at(-1)).toEqual([{ topic: 'in', partition: 0, offset: 12 }]);
    expect(h.sent.filter((r) => r.topic === 'agg').map((r) => JSON.parse(String(r.value)).window_start)).toEqual([T0]);
    const changelog = h.sent.filter((r) => r.topic === 'cl');
    expect(changelog).toHaveLength(1);
    expect(changelog[0]).toMatchObject({ partition: 0, key: 'a' });
    expect(decodeWikiState(String(changelog[0]?.value)).windows.map((w) => w.start)).toEqual([T0 + 60_000]);
    expect(h.processor.snapshot().get(0)?.next).toBe(12);
  });

  it('processor should give up after the bounded number of consecutive failed transactions', async () => {
    const h = harness({ failCommits: 100 });
    await h.processor.onAssign([{ topic: 'in', partition: 0 }]);
    const batch = [msg(0, encode(change('a', 1_000)))];
    await h.processor.handleBatch(batch);
    await h.processor.handleBatch(batch);
    await expect(h.processor.handleBatch(batch)).rejects.toThrow('broker said no');
    expect(h.sent).toHaveLength(0);
  });

  it('processor should dead-letter an undecodable record inside the transaction and go on', async () => {
    const h = harness({ decodeError: new WikiMonitorError('DESERIALIZE_FAILED', 'bad magic') });
    await h.processor.onAssign([{ topic: 'in', partition: 0 }]);
    await h.processor.handleBatch([msg(0, Buffer.from('bad')), msg(1, encode(change('a', 1_000)))]);
    const dlq = h.sent.filter((r) => r.topic === 'dlq');
    expect(dlq).toHaveLength(1);
    expect(dlq[0]?.headers).toMatchObject({ 'dlq.error.code': 'DESERIALIZE_FAILED', 'dlq.source.offset': '0', 'dlq.source.topic': 'in' });
    expect(h.offsets.at(-1)).toEqual([{ topic: 'in', partition: 0, offset: 2 }]);
  });

  it('processor should retry (not dead-letter) a batch whose decoding failed retriably', async () => {
    const h = harness({ decodeError: new WikiMonitorError('SCHEMA_REGISTRY_FAILED', 'registry down', { retriable: true }) });
    await h.processor.onAssign([{ topic: 'in', partition: 0 }]);
    await h.processor.handleBatch([msg(5, Buffer.from('bad'))]);
    expect(h.sent).toHaveLength(0);
    expect(h.seeks).toEqual([{ topic: 'in', partition: 0, offset: 5 }]);
  });

  it('processor should ignore records of a partition revoked while the batch waited', async () => {
    const h = harness();
    await h.processor.onAssign([{ topic: 'in', partition: 0 }, { topic: 'in', partition: 1 }]);
    await h.processor.onRevoke([{ topic: 'in', partition: 1 }]);
    await h.processor.handleBatch([msg(0, encode(change('a', 1_000)), 0), msg(0, encode(change('b', 1_000)), 1)]);
    expect(h.offsets.at(-1)).toEqual([{ topic: 'in', partition: 0, offset: 1 }]);
    expect(h.sent.filter((r) => r.topic === 'cl').map((r) => r.key)).toEqual(['a']);
  });

  it('processor should close an idle wiki\'s windows in a transaction that also carries the partition\'s offsets', async () => {
    const h = harness();
    await h.processor.onAssign([{ topic: 'in', partition: 0 }]);
    await h.processor.handleBatch([msg(7, encode(change('a', 1_000)))]);
    await h.processor.flushIdle();
    expect(h.sent.filter((r) => r.topic === 'agg')).toHaveLength(0);
    h.advance(1_000);
    await h.processor.flushIdle();
    expect(h.sent.filter((r) => r.topic === 'agg').map((r) => JSON.parse(String(r.value)).total)).toEqual([1]);
    expect(h.offsets.at(-1)).toEqual([{ topic: 'in', partition: 0, offset: 8 }]);
    // the window is closed now: a change in it is late
    await h.processor.handleBatch([msg(8, encode(change('a', 2_000)))]);
    expect(h.sent.filter((r) => r.topic === 'late')).toHaveLength(1);
  });
});
