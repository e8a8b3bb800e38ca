import { createLogger, sleep } from '@wikimonitor/service-kit';
import { getTestEnv, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { createConsumerRunner, createProducer, provisionTopics } from '@wikimonitor/kafka';

const log = createLogger('test', 'silent');

describe('consumer runner batching (regression)', () => {
  it('consumer runner should hand over what has arrived instead of waiting to fill a batch from a trickle of input', async () => {
    // Broke: consume(batchSize) waited up to the consume timeout for *each* further record, so at
    // 20 records/s a 500-record batch took 25 s to fill, delaying processing and close() alike.
    const conn = testConnection(await getTestEnv());
    const topic = uniqueName('it.kafka.trickle');
    await provisionTopics(conn, [{ topic, partitions: 1, replicationFactor: 1 }]);
    const producer = createProducer({ connection: conn, log, overrides: { 'linger.ms': 0 } });
    await producer.start();
    let feeding = true;
    const feed = (async () => {
      for (let i = 0; feeding; i++) {
        await producer.send({ topic, key: 'k', value: Buffer.from(String(i)) });
        await sleep(50);
      }
    })();
    const sizes: number[] = [];
    const runner = createConsumerRunner({ connection: conn, log, groupId: uniqueName('g'), topics: [topic], offsets: 'kafka', batchSize: 500, handle: async (b) => void sizes.push(b.length) });
    try {
      await runner.start();
      await waitFor(() => sizes.reduce((a, b) => a + b, 0) >= 20, '20 records handled');
    } finally {
      await runner.close();
      feeding = false;
      await feed;
      await producer.close();
    }
    expect(sizes.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThan(500);
  });
});
