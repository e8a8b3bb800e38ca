import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { createAdmin, createGroupAdmin, ensureTopics, type Message, createConsumerRunner, createProducer, deadLetterRecord, parseDeadLetter, headersFromMessage, provisionTopics } from '@wikimonitor/kafka';

const log = createLogger('test', 'silent');

async function setup(partitions = 3) {
  const env = await getTestEnv();
  const conn = testConnection(env);
  const topic = uniqueName('it.kafka');
  await provisionTopics(conn, [{ topic, partitions, replicationFactor: 1 }]);
  return { conn, topic };
}

describe('kafka lib on the real broker', () => {
  it('consumer runner should commit offset+1 after each batch so a restarted group neither skips nor repeats', async () => {
    const { conn, topic } = await setup();
    const producer = createProducer({ connection: conn, log });
    await producer.start();
    await Promise.all(Array.from({ length: 300 }, (_, i) => producer.send({ topic, key: `k${i % 17}`, value: Buffer.from(String(i)) })));

    const groupId = uniqueName('g');
    const seen: string[] = [];
    const run = async (stopAt: number) => {
      const runner = createConsumerRunner({
        connection: conn,
        log,
        groupId,
        topics: [topic],
        offsets: 'kafka',
        batchSize: 50,
        handle: async (batch: Message[]) => {
          for (const m of batch) seen.push(m.value?.toString() ?? '');
        },
      });
      await runner.start();
      await waitFor(() => seen.length >= stopAt, `${stopAt} records`);
      await runner.close();
    };
    await run(100);
    const firstRun = seen.length;
    await Promise.all(Array.from({ length: 100 }, (_, i) => producer.send({ topic, key: 'x', value: Buffer.from(String(300 + i)) })));
    await run(400);
    await producer.close();
    expect(firstRun).toBeGreaterThanOrEqual(100);
    expect(seen).toHaveLength(400);
    expect(new Set(seen).size).toBe(400);
  });

  it('group admin should retry a failed offsets request once on a new offsets client, and keep working on it (regression: lag-monitor stale for minutes after a long broker outage, every cycle "Local: No such entry")', async () => {
    const { conn, topic } = await setup(2);
    const lines: Array<Record<string, unknown>> = [];
    const recording = createLogger('test', 'warn');
    const spy = { ...recording, warn: (obj: Record<string, unknown>, msg?: string) => void lines.push({ ...obj, msg }) } as typeof recording;
    const admin = await createGroupAdmin({ connection: conn, timeoutMs: 5_000, isolation: 'read_committed', log: spy });
    try {
      // A request whose every partition has no leader fails whole (librdkafka: "No leaders found").
      await expect(admin.fetchWatermarks([{ topic: uniqueName('it.kafka.absent'), partition: 0 }])).rejects.toThrow(/No such entry/);
      expect(lines.filter((l) => l['msg'] === 'listing offsets failed: retrying on a new offsets client').length).toBeGreaterThanOrEqual(1);
      const marks = await admin.fetchWatermarks([0, 1].map((partition) => ({ topic, partition })));
      expect(marks.map((m) => [m.partition, m.low, m.high])).toEqual([
        [0, 0, 0],
        [1, 0, 0],
      ]);
    } finally {
      await admin.close();
    }
  });

  it('ensureTopics should return only once the created topics are in the metadata with every partition led (regression: the aggregator failed its start with "Unknown topic or partition" right after creating its topics)', async () => {
    const conn = testConnection(await getTestEnv());
    const topics = Array.from({ length: 8 }, () => uniqueName('it.visible'));
    await provisionTopics(conn, topics.map((topic) => ({ topic, partitions: 6, replicationFactor: 1 })));
    const other = await createAdmin(conn);
    try {
      const meta = await other.fetchTopicMetadata({ topics });
      expect(meta.map((t) => [t.name, t.partitions.length, t.partitions.every((p) => p.leader >= 0)]).sort()).toEqual(topics.map((t) => [t, 6, true]).sort());
    } finally {
      await other.disconnect();
    }
  });

  it('ensureTopics should be idempotent and reject a topic with fewer partitions than wanted', async () => {
    const { conn, topic } = await setup(2);
    const admin = await createAdmin(conn);
    try {
      await expect(ensureTopics(admin, [{ topic, partitions: 2, replicationFactor: 1 }])).resolves.toEqual({ created: [], existing: [topic] });
      await expect(ensureTopics(admin, [{ topic, partitions: 4, replicationFactor: 1 }])).rejects.toMatchObject({ code: 'TOPIC_MISMATCH' });
    } finally {
      await admin.disconnect();
    }
  });

  it('a dead letter should keep the original bytes and headers and carry its source and error', async () => {
    const { conn, topic } = await setup(1);
    const producer = createProducer({ connection: conn, log });
    await producer.start();
    await producer.send(
      deadLetterRecord(topic, {
        sourceTopic: 'wiki.raw.changes',
        sourcePartition: 2,
        sourceOffset: 41,
        key: 'enwiki:Foo',
        value: Buffer.from([0, 1, 2, 255]),
        headers: { traceparent: 'tp' },
        error: { code: 'DESERIALIZE_FAILED', message: 'bad magic' },
        attempts: 3,
        app: 'test',
      }),
    );
    await producer.close();
    const groupId = uniqueName('g');
    let got: Message | undefined;
    const runner = createConsumerRunner({
      connection: conn,
      log,
      groupId,
      topics: [topic],
      offsets: 'kafka',
      handle: async (b) => {
        got = b[0];
      },
    });
    await runner.start();
    await waitFor(() => got, 'dead letter');
    await runner.close();
    const dl = parseDeadLetter(got?.key, got?.value ?? null, headersFromMessage(got?.headers));
    expect(dl).toMatchObject({ sourceTopic: 'wiki.raw.changes', sourcePartition: 2, sourceOffset: 41, attempts: 3, app: 'test', error: { code: 'DESERIALIZE_FAILED', message: 'bad magic' } });
    expect(dl.value).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(dl.key?.toString()).toBe('enwiki:Foo');
    expect(dl.originalHeaders['traceparent']?.toString()).toBe('tp');
  });
});
