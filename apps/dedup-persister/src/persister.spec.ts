import type { WikiChange } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { type Message, type OutgoingRecord, parseDeadLetter } from '@wikimonitor/kafka';
import { WikiMonitorError, createLogger, createMetricsRegistry } from '@wikimonitor/service-kit';
import { loadRecordedEvents } from '@wikimonitor/testing';
import { createPersisterMetrics } from './metrics';
import { type Decoders, createPersister } from './persister';
import { type PersistStore, type RowBatch, type WriteResult, dbError } from './store';

const log = createLogger('test', 'silent');
const recorded: WikiChange[] = loadRecordedEvents()
  .slice(0, 200)
  .map((r) => {
    const n = normalizeRecentChange(r.json, { receivedTime: 1, sseId: null });
    if (n.kind !== 'change') throw new Error('recorded event did not normalize');
    return n.change;
  });

const msg = (topic: string, partition: number, offset: number, value: Buffer | null): Message =>
  ({ topic, partition, offset, value, key: null, size: value?.length ?? 0, timestamp: 0, headers: [{ traceparent: Buffer.from('tp') }] }) as Message;
const changeMsg = (c: WikiChange, offset: number, partition = 0) => msg('changes', partition, offset, Buffer.from(JSON.stringify(c)));

const decoders: Decoders = {
  change: async (_t, v) => {
    if (v[0] !== 0x7b) throw new WikiMonitorError('DESERIALIZE_FAILED', 'not Confluent wire format');
    return JSON.parse(v.toString()) as WikiChange;
  },
  aggregate: async () => {
    throw new WikiMonitorError('DESERIALIZE_FAILED', 'unused');
  },
  alert: async () => {
    throw new WikiMonitorError('DESERIALIZE_FAILED', 'unused');
  },
  bsky: async () => {
    throw new WikiMonitorError('DESERIALIZE_FAILED', 'unused');
  },
};

/** An in-memory store with the database's dedup semantics and programmable failures. */
function fakeStore(failures: Array<() => Error> = []) {
  const ids = new Set<string>();
  const offsets = new Map<string, number>();
  const writes: RowBatch[] = [];
  const store: PersistStore & { ids: Set<string>; offsets: Map<string, number>; writes: RowBatch[] } = {
    ids,
    offsets,
    writes,
    async write(batch): Promise<WriteResult> {
      const f = failures.shift();
      if (f) throw f();
      if (batch.changes.some((r) => r[3] === 'refusedwiki')) throw dbError(Object.assign(new Error('null value violates not-null constraint'), { code: '23502' }), 'writing');
      writes.push(batch);
      let n = 0;
      for (const r of batch.changes) if (!ids.has(String(r[0])) && ids.add(String(r[0]))) n++;
      for (const o of batch.offsets) offsets.set(`${o.topic}:${o.partition}`, o.nextOffset);
      return { written: { changes: n, aggregates: 0, alerts: 0, bsky: 0 } };
    },
    async findRejects(batch) {
      return batch.changes.flatMap((r, index) => (r[3] === 'refusedwiki' ? [{ table: 'changes' as const, index, error: { code: 'DB_FAILED', message: 'not-null' } }] : []));
    },
    async loadOffsets() {
      return [];
    },
    close: async () => undefined,
  };
  return store;
}

function setup(store = fakeStore(), extra: { owned?: () => ReadonlySet<string>; attempts?: number } = {}) {
  const metrics = createPersisterMetrics(createMetricsRegistry('dedup-persister'));
  const letters: OutgoingRecord[] = [];
  /** The dead letters sent so far, read back the way the replay CLI reads them. */
  const dead = () => letters.map((r) => parseDeadLetter(r.key ?? null, r.value, r.headers ?? {}));
  const dbStates: boolean[] = [];
  const committed: unknown[] = [];
  const published: Array<{ changes: WikiChange[] }> = [];
  const persister = createPersister({
    store,
    decoders,
    kindOf: (t) => (t === 'changes' ? 'change' : undefined),
    deadLetter: async (d) => void letters.push(...d),
    dlqTopic: 'wiki.dlq',
    metrics,
    log,
    retry: { attempts: extra.attempts ?? 5, initialMs: 1, maxMs: 2 },
    onDbState: (up) => dbStates.push(up),
    owned: extra.owned,
    afterCommit: (o) => committed.push(o),
    onCommitted: (c) => published.push(c),
  });
  return { persister, store, metrics, dead, dbStates, committed, published };
}

describe('persister (unit, fake store)', () => {
  it('persister should publish to live pages, after the commit, each stored record once and no dead letter', async () => {
    const failing = fakeStore([() => dbError(Object.assign(new Error('connection reset'), { code: '08006' }), 'writing')]);
    const { persister, published } = setup(failing);
    const batch = [changeMsg(recorded[0] as WikiChange, 0), changeMsg(recorded[0] as WikiChange, 1), msg('changes', 0, 2, Buffer.from('garbage')), changeMsg(recorded[1] as WikiChange, 3)];
    await persister.handle(batch);
    expect(published).toHaveLength(1); // the failed attempt published nothing
    expect(published[0]?.changes.map((c) => c.id)).toEqual([recorded[0]?.id, recorded[1]?.id]);
  });

  it('persister should write each meta.id once and count in-batch and stored duplicates', async () => {
    const { persister, store, metrics } = setup();
    const batch1 = recorded.slice(0, 100).map((c, i) => changeMsg(c, i));
    batch1.push(changeMsg(recorded[0] as WikiChange, 100), changeMsg(recorded[1] as WikiChange, 101)); // repeats inside the batch
    const r1 = await persister.handle(batch1);
    expect(r1.written.changes).toBe(100);
    expect(r1.duplicates.changes).toBe(2);
    const r2 = await persister.handle(recorded.slice(50, 150).map((c, i) => changeMsg(c, 102 + i))); // 50 already stored
    expect(r2.written.changes).toBe(50);
    expect(r2.duplicates.changes).toBe(50);
    expect(store.ids.size).toBe(150);
    expect(store.offsets.get('changes:0')).toBe(202);
    expect((await metrics.duplicates.get()).values[0]?.value).toBe(52);
  });

  it('persister should dead-letter an undecodable record with its source and still advance past it', async () => {
    const { persister, store, dead } = setup();
    const batch = [changeMsg(recorded[0] as WikiChange, 0), msg('changes', 0, 1, Buffer.from([0, 0, 0, 0, 9, 1])), msg('changes', 0, 2, null), changeMsg(recorded[1] as WikiChange, 3)];
    const r = await persister.handle(batch);
    expect(r.written.changes).toBe(2);
    expect(r.deadLettered).toBe(2);
    expect(dead().map((d) => [d.sourceTopic, d.sourcePartition, d.sourceOffset, d.error.code, d.app])).toEqual([
      ['changes', 0, 1, 'DESERIALIZE_FAILED', 'dedup-persister'],
      ['changes', 0, 2, 'DESERIALIZE_FAILED', 'dedup-persister'],
    ]);
    expect(dead()[0]?.value).toEqual(Buffer.from([0, 0, 0, 0, 9, 1]));
    expect(dead()[0]?.headers?.['traceparent']?.toString()).toBe('tp');
    expect(store.offsets.get('changes:0')).toBe(4);
  });

  it('persister should dead-letter a change whose event_time is out of range instead of throwing out of the handler (crash loop)', async () => {
    const { persister, store, dead, metrics } = setup();
    const far = { ...(recorded[2] as WikiChange), event_time: 9e15 };
    const before = { ...(recorded[3] as WikiChange), received_time: -9e15 };
    const batch = [changeMsg(recorded[0] as WikiChange, 0), changeMsg(far, 1), changeMsg(before, 2), changeMsg(far, 3), changeMsg(recorded[1] as WikiChange, 4)];
    const r = await persister.handle(batch);
    expect(r.written.changes).toBe(2);
    expect(r.deadLettered).toBe(2);
    expect(r.duplicates.changes).toBe(1); // the second copy of `far` (deduped before mapping)
    expect(dead().map((d) => [d.sourceOffset, d.error.code, d.error.message])).toEqual([
      [1, 'INVALID_EVENT', 'row mapping failed: timestamp 9000000000000000 is out of range'],
      [2, 'INVALID_EVENT', 'row mapping failed: timestamp -9000000000000000 is out of range'],
    ]);
    expect(store.offsets.get('changes:0')).toBe(5);
    expect((await metrics.deadLettered.get()).values).toEqual([expect.objectContaining({ labels: { code: 'INVALID_EVENT' }, value: 2 })]);
  });

  it('persister should retry a retriable database failure, report the database down then up, and write once', async () => {
    const down = () => dbError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'writing');
    const { persister, store, dbStates, metrics } = setup(fakeStore([down, down, down]));
    const r = await persister.handle(recorded.slice(0, 10).map((c, i) => changeMsg(c, i)));
    expect(r.written.changes).toBe(10);
    expect(store.writes).toHaveLength(1);
    expect(dbStates).toEqual([false, false, false, true]);
    expect((await metrics.dbErrors.get()).values).toEqual([expect.objectContaining({ labels: { class: 'retriable' }, value: 3 })]);
  });

  it('persister should give up after the bounded attempts without committing anything', async () => {
    const down = () => dbError(Object.assign(new Error('terminating connection'), { code: '57P01' }), 'writing');
    const { persister, store, committed } = setup(fakeStore([down, down, down]), { attempts: 3 });
    await expect(persister.handle([changeMsg(recorded[0] as WikiChange, 0)])).rejects.toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE' });
    expect(store.writes).toHaveLength(0);
    expect(store.offsets.size).toBe(0);
    expect(committed).toHaveLength(0);
  });

  it('persister should stop retrying when shutdown begins, leaving the batch uncommitted', async () => {
    const down = () => dbError(Object.assign(new Error('down'), { code: '08006' }), 'writing');
    const { persister, store } = setup(fakeStore(Array.from({ length: 50 }, () => down)), { attempts: 100 });
    const abort = new AbortController();
    const p = persister.handle([changeMsg(recorded[0] as WikiChange, 0)], abort.signal);
    setTimeout(() => abort.abort(), 20);
    await expect(p).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    expect(store.offsets.size).toBe(0);
  });

  it('persister should dead-letter a row the database refuses and write the rest of the batch', async () => {
    const { persister, store, dead } = setup();
    const bad = { ...(recorded[5] as WikiChange), wiki: 'refusedwiki' };
    const r = await persister.handle([changeMsg(recorded[0] as WikiChange, 0), changeMsg(bad, 1), changeMsg(recorded[1] as WikiChange, 2)]);
    expect(r.written.changes).toBe(2);
    expect(r.deadLettered).toBe(1);
    expect(dead()[0]).toMatchObject({ sourceOffset: 1, error: { code: 'DB_FAILED' } });
    expect(store.offsets.get('changes:0')).toBe(3);
  });

  it('persister should leave records of revoked partitions to their new owner', async () => {
    const { persister, store, metrics } = setup(fakeStore(), { owned: () => new Set(['changes:0']) });
    const r = await persister.handle([changeMsg(recorded[0] as WikiChange, 0, 0), changeMsg(recorded[1] as WikiChange, 0, 1)]);
    expect(r.records).toBe(1);
    expect([...store.offsets.keys()]).toEqual(['changes:0']);
    expect((await metrics.fenced.get()).values[0]?.value).toBe(1);
  });

  it('persister should dead-letter records of a topic with no configured kind', async () => {
    const { persister, dead } = setup();
    await persister.handle([msg('stray', 0, 0, Buffer.from('{}'))]);
    expect(dead()[0]?.error.code).toBe('INVALID_EVENT');
  });
});
