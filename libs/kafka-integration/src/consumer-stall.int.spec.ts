import { type Logger, createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { commitGroupOffsets, createConsumerRunner, createGroupAdmin, createProducer, provisionTopics } from '@wikimonitor/kafka';

/** A logger whose lines the test reads. */
function recordingLog(level: 'warn' | 'info' = 'warn'): { log: Logger; lines: Array<Record<string, unknown> & { msg: string }> } {
  const lines: Array<Record<string, unknown> & { msg: string }> = [];
  return { lines, log: createLogger('test', level, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string }) }) };
}

describe('consumer runner stall warning (real broker)', () => {
  it('consumer runner should warn when its assigned partition holds records it does not receive, and stay quiet once caught up', async () => {
    const conn = testConnection(await getTestEnv());
    const topic = uniqueName('it.kafka.stall');
    await provisionTopics(conn, [{ topic, partitions: 1, replicationFactor: 1 }]);
    const producer = createProducer({ connection: conn, log: createLogger('test', 'silent') });
    await producer.start();
    for (let i = 0; i < 200; i++) await producer.send({ topic, key: 'k', value: Buffer.from(String(i)) });

    // Caught up: every record handled, nothing behind: no warning however long it stays idle.
    const quiet = recordingLog();
    let handled = 0;
    const idle = createConsumerRunner({ connection: conn, log: quiet.log, groupId: uniqueName('g'), topics: [topic], offsets: 'kafka', batchSize: 50, stallWarnMs: 400, handle: async (b) => void (handled += b.length) });
    try {
      await idle.start();
      await waitFor(async () => handled === 200, '200 records handled');
      await new Promise((r) => setTimeout(r, 1_500));
    } finally {
      await idle.close();
    }
    expect(quiet.lines.filter((l) => /received nothing/.test(l.msg))).toEqual([]);

    // Stalled: the first batch pauses the partition (a stand-in for a fetcher that stopped), 150 records stay behind.
    const loud = recordingLog();
    const stalled = createConsumerRunner({
      connection: conn,
      log: loud.log,
      groupId: uniqueName('g'),
      topics: [topic],
      offsets: 'kafka',
      batchSize: 50,
      stallWarnMs: 400,
      handle: async (_batch, ctx) => void ctx.consumer.pause([{ topic, partition: 0 }]),
    });
    try {
      await stalled.start();
      await waitFor(async () => loud.lines.some((l) => /received nothing/.test(l.msg)), 'a stall warning', 30_000, 50);
    } finally {
      await stalled.close();
      await producer.close();
    }
    const warning = loud.lines.find((l) => /received nothing/.test(l.msg)) as unknown as { behind: Array<{ partition: number; position: number; end: number }> };
    expect(warning.behind).toEqual([{ topic, partition: 0, position: expect.any(Number), end: 200 }]);
    expect(warning.behind[0]?.position).toBeLessThan(200);
  });

  it('consumer runner should assign every partition at an explicit position: the committed offset, or the beginning where none is committed', async () => {
    // The runner knows where it resumes (and so can tell when retention deleted records there).
    const conn = testConnection(await getTestEnv());
    const topic = uniqueName('it.kafka.positions');
    const groupId = uniqueName('g');
    await provisionTopics(conn, [{ topic, partitions: 2, replicationFactor: 1 }]);
    const producer = createProducer({ connection: conn, log: createLogger('test', 'silent') });
    await producer.start();
    for (let i = 0; i < 10; i++) await producer.send({ topic, partition: 0, key: 'k', value: Buffer.from(String(i)) });
    await producer.close();
    // A first member commits partition 0's records (10 records: next offset 10); partition 1 has none.
    let handled = 0;
    const first = createConsumerRunner({ connection: conn, log: createLogger('test', 'silent'), groupId, topics: [topic], offsets: 'kafka', handle: async (b) => void (handled += b.length) });
    await first.start();
    try {
      await waitFor(async () => handled === 10, '10 records handled');
    } finally {
      await first.close();
    }
    const rec = recordingLog('info');
    const second = createConsumerRunner({ connection: conn, log: rec.log, groupId, topics: [topic], offsets: 'kafka', handle: async () => undefined });
    await second.start();
    try {
      await waitFor(async () => rec.lines.some((l) => l.msg === 'partitions assigned'), 'an assignment', 30_000, 50);
    } finally {
      await second.close();
    }
    const assigned = rec.lines.find((l) => l.msg === 'partitions assigned') as unknown as { partitions: Array<{ partition: number; offset?: number }> };
    expect([...assigned.partitions].sort((a, b) => a.partition - b.partition)).toEqual([
      { topic, partition: 0, offset: 10 },
      { topic, partition: 1, offset: -2 },
    ]);
  });

  it('consumer runner should warn with the count when records were deleted before the group read them, and resume at the log start', async () => {
    // What retention does to a group that stopped: its committed offset falls below the log start,
    // and librdkafka's reset to the log start says nothing.
    const conn = testConnection(await getTestEnv());
    const topic = uniqueName('it.kafka.deleted');
    const groupId = uniqueName('g');
    await provisionTopics(conn, [{ topic, partitions: 1, replicationFactor: 1 }]);
    const producer = createProducer({ connection: conn, log: createLogger('test', 'silent') });
    await producer.start();
    for (let i = 0; i < 30; i++) await producer.send({ topic, partition: 0, key: 'k', value: Buffer.from(String(i)) });
    await producer.close();
    // The group read 4 records and stopped.
    await commitGroupOffsets(conn, groupId, [{ topic, partition: 0, offset: 4 }]);
    const admin = await createGroupAdmin({ connection: conn, timeoutMs: 10_000, isolation: 'read_committed' });
    try {
      await admin.deleteRecordsBefore(topic, [{ partition: 0, before: 20 }]);
    } finally {
      await admin.close();
    }
    const rec = recordingLog('info');
    const after: string[] = [];
    const second = createConsumerRunner({ connection: conn, log: rec.log, groupId, topics: [topic], offsets: 'kafka', handle: async (b) => void after.push(...b.map((m) => String(m.value))) });
    await second.start();
    try {
      await waitFor(async () => after.length >= 10 && rec.lines.some((l) => l['code'] === 'RECORDS_DELETED_BEFORE_READ'), 'the rest read and the loss reported', 30_000, 50);
    } finally {
      await second.close();
    }
    expect(after).toEqual(Array.from({ length: 10 }, (_, i) => String(20 + i)));
    expect(rec.lines.find((l) => l['code'] === 'RECORDS_DELETED_BEFORE_READ')).toMatchObject({ topic, partition: 0, position: 4, logStart: 20, lost: 16 });
  });
});
