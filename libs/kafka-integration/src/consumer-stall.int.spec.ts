import { type Logger, createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { createConsumerRunner, createProducer, provisionTopics } from '@wikimonitor/kafka';

/** A logger whose lines the test reads. */
function recordingLog(): { log: Logger; lines: Array<Record<string, unknown> & { msg: string }> } {
  const lines: Array<Record<string, unknown> & { msg: string }> = [];
  return { lines, log: createLogger('test', 'warn', { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string }) }) };
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
});
