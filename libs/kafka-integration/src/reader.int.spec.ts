import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, testConnection, uniqueName } from '@wikimonitor/testing';
import { createAdmin, createPartitionReader, createProducer, partitionKey, readToEnd, provisionTopics } from '@wikimonitor/kafka';

const log = createLogger('test', 'silent');

async function setup(partitions: number) {
  const conn = testConnection(await getTestEnv());
  const topic = uniqueName('it.reader');
  await provisionTopics(conn, [{ topic, partitions, replicationFactor: 1 }]);
  return { conn, topic };
}

describe('partition reader on the real broker', () => {
  it('readToEnd should return every committed record and skip aborted ones and transaction markers', async () => {
    const { conn, topic } = await setup(2);
    const txn = createProducer({ connection: conn, log, transactionalId: uniqueName('txn') });
    await txn.start();
    await txn.beginTransaction();
    await Promise.all(Array.from({ length: 20 }, (_, i) => txn.send({ topic, partition: i % 2, key: 'c', value: Buffer.from(`committed-${i}`) })));
    await txn.commitTransaction();
    await txn.beginTransaction();
    await Promise.all(Array.from({ length: 7 }, (_, i) => txn.send({ topic, partition: i % 2, key: 'a', value: Buffer.from(`aborted-${i}`) })));
    await txn.abortTransaction();
    await txn.close();

    const committed = await readToEnd({ connection: conn, log, topics: [topic] });
    expect(committed.map((m) => m.value?.toString()).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `committed-${i}`).sort());
    const all = await readToEnd({ connection: conn, log, topics: [topic], isolation: 'read_uncommitted' });
    expect(all).toHaveLength(27);
  });

  it('read should stop a partition on request, report an empty range as at its end, and time out on a range beyond the log', async () => {
    const { conn, topic } = await setup(3);
    const producer = createProducer({ connection: conn, log });
    await producer.start();
    await Promise.all(Array.from({ length: 30 }, (_, i) => producer.send({ topic, partition: i % 2, value: Buffer.from(String(i)) })));
    await producer.close();
    const reader = createPartitionReader({ connection: conn, log, name: 'test', fetch: 'small' });
    await reader.start();
    try {
      const firsts: number[] = [];
      const outcome = await reader.read(
        [0, 1, 2].map((partition) => ({ topic, partition, from: 5 })),
        (m) => (firsts.push(m.offset), 'stop'),
      );
      expect(firsts).toEqual([5, 5]);
      expect(outcome.get(partitionKey(topic, 0))).toBe('stopped');
      expect(outcome.get(partitionKey(topic, 2))).toBe('end');
      const late = await reader.read([{ topic, partition: 0, from: 10, to: 99 }], () => undefined, { timeoutMs: 1_500, onTimeout: 'report' });
      expect(late.get(partitionKey(topic, 0))).toBe('timeout');
      await expect(reader.read([{ topic, partition: 0, from: 10, to: 99 }], () => undefined, { timeoutMs: 500 })).rejects.toMatchObject({ code: 'TIMEOUT' });
      expect(await reader.watermarks(topic, 1)).toEqual({ low: 0, high: 15 });
      expect(await reader.partitions(topic)).toEqual([0, 1, 2]);
    } finally {
      await reader.close();
    }
  });

  it('read should start at the log start when asked for an offset that retention already deleted, and end at once on an emptied partition', async () => {
    const { conn, topic } = await setup(2);
    const producer = createProducer({ connection: conn, log });
    await producer.start();
    await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send({ topic, partition: 0, value: Buffer.from(String(i)) })));
    await Promise.all(Array.from({ length: 4 }, (_, i) => producer.send({ topic, partition: 1, value: Buffer.from(String(i)) })));
    await producer.close();
    const admin = await createAdmin(conn);
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '6' }, { partition: 1, offset: '4' }] });
    await admin.disconnect();
    const reader = createPartitionReader({ connection: conn, log, name: 'retention' });
    await reader.start();
    try {
      const seen: number[] = [];
      const outcome = await reader.read([{ topic, partition: 0, from: 2, to: 10 }, { topic, partition: 1, from: 2 }], (m) => void seen.push(m.offset), { timeoutMs: 10_000, onTimeout: 'report' });
      expect(seen).toEqual([6, 7, 8, 9]);
      expect(outcome.get(partitionKey(topic, 0))).toBe('end');
      expect(outcome.get(partitionKey(topic, 1))).toBe('end');
    } finally {
      await reader.close();
    }
  });

  it('readToEnd should start each partition at the first record at or after a timestamp, and read nothing of a partition with none that recent', async () => {
    const { conn, topic } = await setup(2);
    const producer = createProducer({ connection: conn, log });
    await producer.start();
    const now = Date.now();
    for (const [minutesAgo, partition] of [[30, 0], [20, 0], [5, 0], [1, 0], [40, 1], [25, 1]] as const) {
      await producer.send({ topic, partition, value: Buffer.from(`${partition}:${minutesAgo}`), timestamp: now - minutesAgo * 60_000 });
    }
    await producer.close();
    const recent = await readToEnd({ connection: conn, log, topics: [topic], from: { timestamp: now - 10 * 60_000 } });
    expect(recent.map((m) => m.value?.toString())).toEqual(['0:5', '0:1']);
    const all = await readToEnd({ connection: conn, log, topics: [topic], from: { timestamp: now - 60 * 60_000 } });
    expect(all).toHaveLength(6);
  });

  it('tail should follow new records and say once when it caught up', async () => {
    const { conn, topic } = await setup(1);
    const producer = createProducer({ connection: conn, log });
    await producer.start();
    await Promise.all(Array.from({ length: 5 }, (_, i) => producer.send({ topic, value: Buffer.from(`old-${i}`) })));
    const reader = createPartitionReader({ connection: conn, log, name: 'tail' });
    await reader.start();
    const seen: string[] = [];
    const abort = new AbortController();
    let caughtUpAt = -1;
    const tail = reader.tail([{ topic, partition: 0, from: 'beginning' }], (m) => void seen.push(m.value?.toString() ?? ''), { signal: abort.signal, onCaughtUp: () => (caughtUpAt = seen.length) });
    const until = async (n: number) => {
      for (let i = 0; i < 200 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 50));
    };
    await until(5);
    await producer.send({ topic, value: Buffer.from('new') });
    await until(6);
    abort.abort();
    await tail;
    await reader.close();
    await producer.close();
    expect(seen).toEqual(['old-0', 'old-1', 'old-2', 'old-3', 'old-4', 'new']);
    expect(caughtUpAt).toBe(5);
  });
});
