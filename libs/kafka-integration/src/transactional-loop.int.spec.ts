import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, readTopic, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { type KafkaConnection, type KafkaProducer, type StepResult, type TransactionalLoop, createAdmin, createProducer, createTransactionalLoop, ensureTopics } from '@wikimonitor/kafka';

const log = createLogger('test', 'silent');
const PARTITIONS = 4;

/** Per partition: how many inputs it has seen (kept in a changelog), and one output per input. */
type Seen = { count: number };

function startLoop(conn: KafkaConnection, t: { input: string; output: string; changelog: string; dlq: string; group: string }, id: string): { loop: TransactionalLoop<Seen>; producer: KafkaProducer; fatal: unknown[] } {
  const producer = createProducer({ connection: conn, log, transactionalId: `${t.group}-${id}` });
  const fatal: unknown[] = [];
  const loop = createTransactionalLoop<Seen>({
    connection: conn,
    log,
    groupId: t.group,
    topic: t.input,
    producer,
    app: 'loop-test',
    dlqTopic: t.dlq,
    batchSize: 25,
    step: (batch, state): StepResult<Seen> => ({
      // The output carries the running count: a batch applied twice, or a state lost in a handover, shows.
      records: batch.map((m, i) => ({ topic: t.output, key: m.value, value: Buffer.from(`${m.partition}:${state.count + i + 1}`) })),
      deadLetters: [],
      nextState: { count: state.count + batch.length },
    }),
    initialState: () => ({ count: 0 }),
    changelog: {
      topic: t.changelog,
      restore: (_p, messages) => ({ count: Number(messages.at(-1)?.value?.toString() ?? '0') }),
      encode: (partition, next) => [{ topic: t.changelog, partition, key: 'count', value: Buffer.from(String(next.count)) }],
    },
    onFatal: (e) => void fatal.push(e),
  });
  return { loop, producer, fatal };
}

describe('transactional loop on the real broker', () => {
  it('two loops sharing a group through a rebalance and a shutdown should write each input exactly once, state handed over by the changelog', async () => {
    const conn = testConnection(await getTestEnv());
    const n = uniqueName('it.kafka.loop');
    const t = { input: `${n}.in`, output: `${n}.out`, changelog: `${n}.changelog`, dlq: `${n}.dlq`, group: `${n}.group` };
    const admin = await createAdmin(conn);
    await ensureTopics(admin, [
      { topic: t.input, partitions: PARTITIONS, replicationFactor: 1 },
      { topic: t.output, partitions: 1, replicationFactor: 1 },
      { topic: t.changelog, partitions: PARTITIONS, replicationFactor: 1, configs: { 'cleanup.policy': 'compact' } },
      { topic: t.dlq, partitions: 1, replicationFactor: 1 },
    ]);
    await admin.disconnect();
    const input = createProducer({ connection: conn, log });
    await input.start();
    const produce = async (from: number, to: number) => {
      await Promise.all(Array.from({ length: to - from }, (_, i) => input.send({ topic: t.input, partition: (from + i) % PARTITIONS, value: Buffer.from(`in-${from + i}`) })));
    };
    let produced = 0;
    const more = async (count: number) => {
      await produce(produced, produced + count);
      produced += count;
    };
    await more(500);
    // Input keeps arriving while members come and go.
    let feeding = true;
    const feed = (async () => {
      while (feeding) {
        await more(20);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const a = startLoop(conn, t, 'a');
    await a.producer.start();
    await a.loop.start();
    const b = startLoop(conn, t, 'b');
    try {
      await waitFor(() => a.loop.stats().committedRecords >= 200, 'the first loop to commit some input', 60_000, 50);
      // A second member joins mid-stream (rebalance), then the first one leaves (its partitions move back).
      await b.producer.start();
      await b.loop.start();
      await waitFor(() => b.loop.stats().committedRecords > 0, 'the second loop to take over partitions', 90_000, 50);
      const aCommitted = a.loop.stats().committedRecords;
      await waitFor(() => a.loop.stats().committedRecords > aCommitted, 'the first loop to go on with the partitions it kept', 60_000, 50);
      await a.loop.close();
      await a.producer.close();
      await new Promise((r) => setTimeout(r, 1_000));
      feeding = false;
      await feed;
      await waitFor(async () => (await readTopic(conn, t.output)).length >= produced, 'every input written', 120_000, 500);
    } finally {
      feeding = false;
      await feed;
      await a.loop.close();
      await a.producer.close();
      await b.loop.close();
      await b.producer.close();
      await input.close();
    }
    expect([...a.fatal, ...b.fatal]).toEqual([]);
    const total = produced;
    const out = await readTopic(conn, t.output);
    const keys = out.map((m) => m.key?.toString());
    expect(new Set(keys).size).toBe(total);
    expect(keys).toHaveLength(total);
    // Per partition the counts run 1..n without a gap or a repeat: the state moved with the partition.
    const perPartition = new Map<string, number[]>();
    for (const m of out) {
      const [p, c] = (m.value?.toString() ?? '').split(':') as [string, string];
      perPartition.set(p, [...(perPartition.get(p) ?? []), Number(c)]);
    }
    for (const counts of perPartition.values()) expect([...counts].sort((x, y) => x - y)).toEqual(Array.from({ length: counts.length }, (_, i) => i + 1));
    expect([...perPartition.values()].reduce((s, c) => s + c.length, 0)).toBe(total);
  }, 240_000);
});
