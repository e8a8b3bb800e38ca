import { firstRecordKey as requestKey } from '@wikimonitor/domain';
import { createAdmin } from '@wikimonitor/kafka';
import { createFirstRecordReader } from '@wikimonitor/lag';
import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, testConnection, uniqueName } from '@wikimonitor/testing';
import { createTopics, newProducer } from '../testing/int-support';

const log = createLogger('test', 'silent');
const T0 = Date.now() - 60_000;

describe('record reader on the real broker', () => {
  it('record reader should find the first unconsumed record, see through transaction markers and aborted records, and cache answers', async () => {
    const conn = testConnection(await getTestEnv());
    const topic = uniqueName('it.lm.reader');
    await createTopics(conn, [topic], 2);
    const plain = newProducer(conn, log);
    await plain.start();
    // Partition 0: ten records, timestamps T0 + offset seconds.
    for (let i = 0; i < 10; i++) await plain.send({ topic, partition: 0, key: 'k', value: Buffer.from(`r${i}`), timestamp: T0 + i * 1000 });
    await plain.close();
    // Partition 1: a committed transaction of 5 records (commit marker at 5), then an aborted one.
    const txn = newProducer(conn, log, uniqueName('lm-reader-txn'));
    await txn.start();
    await txn.beginTransaction();
    for (let i = 0; i < 5; i++) await txn.send({ topic, partition: 1, key: 'k', value: Buffer.from(`t${i}`), timestamp: T0 });
    await txn.commitTransaction();
    await txn.beginTransaction();
    for (let i = 0; i < 3; i++) await txn.send({ topic, partition: 1, key: 'k', value: Buffer.from(`a${i}`), timestamp: T0 });
    await txn.abortTransaction();
    await txn.close();

    const reader = createFirstRecordReader({ connection: conn, log, timeoutMs: 10_000, isolation: 'read_committed' });
    await reader.start();
    try {
      const ask = async (partition: number, offset: number, end: number) => (await reader.read([{ topic, partition, offset, end }])).get(requestKey({ topic, partition, offset }));
      expect(await ask(0, 3, 10)).toEqual({ offset: 3, timestamp: T0 + 3000 });
      // Same partition again at other offsets, before and after: a leftover end-of-partition event
      // from an earlier read must not answer for a later one.
      expect(await ask(0, 9, 10)).toEqual({ offset: 9, timestamp: T0 + 9000 });
      expect(await ask(0, 1, 10)).toEqual({ offset: 1, timestamp: T0 + 1000 });
      expect(await ask(0, 8, 10)).toEqual({ offset: 8, timestamp: T0 + 8000 });
      // After the committed records: the commit marker, three aborted records, the abort marker.
      expect(await ask(1, 5, 10)).toBeNull();
      expect(await ask(1, 2, 10)).toEqual({ offset: 2, timestamp: T0 });

      // The answers of the last two reads are cached (a lagging group asks again every cycle).
      const before = reader.stats();
      const again = await reader.read([
        { topic, partition: 1, offset: 5, end: 10 },
        { topic, partition: 1, offset: 2, end: 10 },
      ]);
      expect(again.size).toBe(2);
      expect(reader.stats()).toEqual({ ...before, hits: before.hits + 2 });

      // Records deleted below the asked offset's range: the first retained one answers.
      const admin = await createAdmin(conn);
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '6' }] });
      await admin.disconnect();
      expect(await ask(0, 6, 10)).toEqual({ offset: 6, timestamp: T0 + 6000 });
    } finally {
      await reader.close();
    }
  });
});
