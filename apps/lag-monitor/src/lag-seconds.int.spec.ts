import { createConsumerRunner } from '@wikimonitor/kafka';
import { createLogger, sleep } from '@wikimonitor/service-kit';
import { getTestEnv, loadRecordedEvents, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { createApp } from './app';
import { changeCodec, createTopics, fetchGroup, newProducer, produceChanges, testMonitorConfig, toChanges } from '../testing/int-support';

const log = createLogger('test', 'silent');

describe('lag seconds during a burst replay (real broker)', () => {
  it('reported lag seconds should stay within 1 s of the true age of the first unconsumed record', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.lm.burst');
    const topic = `${prefix}.in`;
    const groupId = `${prefix}.replayer`;
    await createTopics(conn, [topic], 2);

    // A producer catching up after an outage: ~2 minutes of real (2018 QuickStatements) traffic
    // replayed in one burst, each record keeping its original spacing in time, the newest 2 s old.
    const changes = toChanges(loadRecordedEvents().filter((e) => e.file.includes('one_qs_batch'))).slice(0, 1500);
    const newest = Math.max(...changes.map((c) => c.event_time));
    const shift = Date.now() - 2_000 - newest;
    const codec = await changeCodec(env.registryUrl, topic);
    const producer = newProducer(conn, log);
    await producer.start();
    const burstStart = Date.now();
    const produced = await produceChanges(producer, codec, topic, changes, (_i, c) => c.event_time + shift);
    const burstEnd = Date.now();
    await producer.close();
    const timestampAt = new Map(produced.map((p) => [`${p.partition}/${p.offset}`, p.timestamp]));

    const app = createApp({ config: testMonitorConfig(conn, env.registryUrl, prefix), log, handleSignals: false });
    let consumed = 0;
    const runner = createConsumerRunner({
      connection: conn,
      log,
      groupId,
      topics: [topic],
      offsets: 'kafka',
      batchSize: 25,
      handle: async (batch) => {
        await sleep(150); // about 170 records/s: the replay drains over several seconds
        consumed += batch.length;
      },
    });
    const samples: Array<{ reported: number; trueAge: number; trueAgeOnReceipt: number; interpolated: number }> = [];
    try {
      await app.nextCycle();
      await runner.start();
      const base = `http://127.0.0.1:${app.port()}`;
      await waitFor(
        async () => {
          const g = await fetchGroup(base, groupId);
          const receivedAt = Date.now();
          for (const p of g?.partitions ?? []) {
            if (!p.lag || p.lagSeconds === null || p.committedOffset === null || !g) continue;
            const ts = timestampAt.get(`${p.partition}/${p.committedOffset}`);
            if (ts === undefined) continue;
            // What an offset/arrival-time interpolation would say: every record arrived in the burst.
            const interpolated = (g.observedAt - (burstStart + ((burstEnd - burstStart) * p.committedOffset) / Math.max(1, p.highWatermark ?? 0))) / 1000;
            samples.push({ reported: p.lagSeconds, trueAge: (g.observedAt - ts) / 1000, trueAgeOnReceipt: (receivedAt - ts) / 1000, interpolated });
          }
          return consumed >= changes.length;
        },
        'the replay consumed',
        120_000,
        300,
      );
    } finally {
      await runner.close();
      await app.service.close();
    }
    const errors = samples.map((s) => Math.abs(s.reported - s.trueAge));
    const interpolationErrors = samples.map((s) => Math.abs(s.interpolated - s.trueAge));
    console.log(
      `burst replay: ${samples.length} samples, true age ${Math.min(...samples.map((s) => s.trueAge)).toFixed(1)}..${Math.max(...samples.map((s) => s.trueAge)).toFixed(1)} s; ` +
        `max |reported - true| = ${Math.max(...errors).toFixed(3)} s at the cycle's time, ${Math.max(...samples.map((s) => Math.abs(s.reported - s.trueAgeOnReceipt))).toFixed(3)} s when read by the client; an arrival-time interpolation would be off by up to ${Math.max(...interpolationErrors).toFixed(1)} s`,
    );
    expect(samples.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...errors)).toBeLessThan(1);
    expect(Math.max(...samples.map((s) => s.trueAge))).toBeGreaterThan(60); // the replay really carried old records
  });
});
