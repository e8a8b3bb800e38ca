import { createProducer, provisionTopics } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, testConnection } from './env';
import { readTopic } from './kafka';
import { uniqueName } from './names';

describe('readTopic (regression)', () => {
  it('readTopic should return the record of a partition that holds exactly one', async () => {
    // Broke: a partition whose end offset is 1 counted as already read, so its record was missed.
    const conn = testConnection(await getTestEnv());
    const topic = uniqueName('it.testing.one');
    await provisionTopics(conn, [{ topic, partitions: 3, replicationFactor: 1 }]);
    const producer = createProducer({ connection: conn, log: createLogger('test', 'silent') });
    await producer.start();
    await producer.send({ topic, partition: 2, key: 'k', value: Buffer.from('only') });
    await producer.close();
    const got = await readTopic(conn, topic);
    expect(got.map((m) => [m.partition, m.value?.toString()])).toEqual([[2, 'only']]);
  });
});
