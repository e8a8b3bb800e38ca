import type { KafkaConnection, KafkaProducer } from '@wikimonitor/kafka';
import { createLogger, sleep } from '@wikimonitor/service-kit';
import { type TestEnv, getTestEnv, loadRecordedEvents, readTopic, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { type LagMonitorApp, createApp } from './app';
import { changeCodec, createTopics, fetchGroup, newProducer, produceChanges, startFeed, startStuckConsumer, testMonitorConfig, toChanges, setGroupOffsets } from '../testing/int-support';
import { monitorHarness } from '../testing/monitor-harness';
import type { GroupDetailView } from './monitor';
import { METRIC_ALIASES } from './metrics';
import { aliasDifferences, parsePromText, seriesOf } from '../testing/prom-text';

const log = createLogger('test', 'silent');
const WINDOW_CYCLES = 6;
const changes = toChanges(loadRecordedEvents());

describe('lag-monitor status on the real broker', () => {
  let env: TestEnv;
  let conn: KafkaConnection;
  let prefix: string;
  let app: LagMonitorApp;
  let base: string;
  let producer: KafkaProducer;

  const group = (id: string) => fetchGroup(base, id);
  const h = monitorHarness(() => ({ conn, registryUrl: env.registryUrl, base, alertsTopic: `${prefix}.alerts`, context: () => ({ commitTimes: app.monitor.snapshot()?.commitTimes }) }), log);
  const { until, alertOnTopic } = h;
  const runner = (groupId: string, topic: string, handle?: (n: number) => Promise<void>, batchSize = 100) => h.runner(groupId, topic, handle, batchSize);

  beforeAll(async () => {
    env = await getTestEnv();
    conn = testConnection(env);
    prefix = uniqueName('it.lm.status');
    app = createApp({
      config: testMonitorConfig(conn, env.registryUrl, prefix, { WINDOW_CYCLES: String(WINDOW_CYCLES), ALERTS_ENABLED: 'true', ALERTS_TOPIC: `${prefix}.alerts` }),
      log: createLogger('lm', process.env['LM_DEBUG'] ? 'debug' : 'silent'),
      handleSignals: false,
    });
    await app.nextCycle();
    base = `http://127.0.0.1:${app.port()}`;
    producer = newProducer(conn, log);
    await producer.start();
  });

  afterAll(async () => {
    await h.closeRunners();
    await producer?.close();
    await app?.service.close();
  });

  it('a caught-up consumer should be OK with lag 0, also on a transactional topic whose end is a commit marker', async () => {
    const topic = `${prefix}.txn`;
    await createTopics(conn, [topic], 3);
    const codec = await changeCodec(env.registryUrl, topic);
    const txn = newProducer(conn, log, uniqueName('lm-txn'));
    await txn.start();
    await txn.beginTransaction();
    await produceChanges(txn, codec, topic, changes.slice(0, 300));
    await txn.commitTransaction();
    await txn.close();

    const { runner: r, consumed } = runner(`${prefix}.ok`, topic);
    await r.start();
    await waitFor(() => consumed() >= 300, '300 records consumed');
    const g = await until(`${prefix}.ok`, (x) => x.history.length >= WINDOW_CYCLES && x.history.slice(-WINDOW_CYCLES).every((h) => h.totalLag === 0), 'a full window caught up');
    expect(g.status).toBe('OK');
    expect(g.totalLag).toBe(0);
    expect(g.maxLagSeconds).toBe(0);
    expect(g.partitions.every((p) => p.lag === 0 && p.lagSeconds === 0 && p.status === 'OK')).toBe(true);
    // The transaction marker sits after the last record: one offset "behind" but nothing to read.
    expect(g.partitions.filter((p) => (p.highWatermark ?? 0) - (p.committedOffset ?? 0) === 1).map((p) => p.note)).toEqual(['no-records', 'no-records', 'no-records']);
    await r.close();
  });

  it('a consumer slower than its input should be WARN (committing, falling behind)', async () => {
    const topic = `${prefix}.slow`;
    await createTopics(conn, [topic], 1);
    const codec = await changeCodec(env.registryUrl, topic);
    const feed = startFeed(producer, codec, topic, changes, 30);
    const { runner: r } = runner(`${prefix}.slow`, topic, (n) => sleep(200 * n), 1);
    await r.start();
    try {
      const g = await until(`${prefix}.slow`, (x) => x.status === 'WARN', 'WARN');
      expect(g.partitions[0]).toMatchObject({ status: 'WARN', rule: 'falling-behind' });
      expect(g.consumeRate).toBeGreaterThan(0);
    } finally {
      await r.close();
      await feed.stop();
    }
  });

  it('a consumer that keeps committing the same offset while lag exists should be STALL', async () => {
    const topic = `${prefix}.stall`;
    await createTopics(conn, [topic], 1);
    const codec = await changeCodec(env.registryUrl, topic);
    await produceChanges(producer, codec, topic, changes.slice(0, 50));
    const stuck = startStuckConsumer(conn, `${prefix}.stall`, topic, 10);
    try {
      const g = await until(`${prefix}.stall`, (x) => x.status === 'STALL', 'STALL');
      expect(g.partitions[0]).toMatchObject({ committedOffset: 10, lag: 40, status: 'STALL', rule: 'stalled' });
      expect(g.memberCount).toBe(1);
      expect(stuck.commits()).toBeGreaterThan(WINDOW_CYCLES);
      expect(app.monitor.snapshot()?.commitTimes).toBe('observed');
    } finally {
      await stuck.stop();
    }
  });

  it('the kafka-lag-exporter and kminion names on /metrics should equal their lag_monitor twins for a real lagging group', async () => {
    const topic = `${prefix}.names`;
    const groupId = `${prefix}.names`;
    await createTopics(conn, [topic], 1);
    const codec = await changeCodec(env.registryUrl, topic);
    await produceChanges(producer, codec, topic, changes.slice(0, 50));
    const stuck = startStuckConsumer(conn, groupId, topic, 10);
    try {
      const g = await until(groupId, (x) => x.memberCount === 1 && x.partitions[0]?.lag === 40 && x.partitions[0]?.lagSeconds != null && x.partitions[0]?.owner != null, 'lagging by 40, assigned, lag seconds measured');
      const samples = parsePromText(await (await fetch(`${base}/metrics`)).text());
      expect(aliasDifferences(samples, METRIC_ALIASES)).toEqual([]);
      const owner = g.partitions[0]?.owner;
      const partitionKey = `client_id=${owner?.clientId},cluster_name=default,consumer_id=${owner?.memberId},group=${groupId},member_host=${owner?.host},partition=0,topic=${topic}`;
      expect(owner?.memberId).toMatch(/./);
      expect(seriesOf(samples, 'kafka_consumergroup_group_lag').get(partitionKey)).toBe(40);
      expect(seriesOf(samples, 'kafka_consumergroup_group_offset').get(partitionKey)).toBe(10);
      expect(seriesOf(samples, 'kafka_consumergroup_group_lag_seconds').get(partitionKey)).toBeGreaterThan(0);
      expect(seriesOf(samples, 'kafka_consumergroup_group_sum_lag').get(`cluster_name=default,group=${groupId}`)).toBe(40);
      expect(seriesOf(samples, 'kafka_consumergroup_group_max_lag').get(`cluster_name=default,group=${groupId}`)).toBe(40);
      expect(seriesOf(samples, 'kafka_consumergroup_group_topic_sum_lag').get(`cluster_name=default,group=${groupId},topic=${topic}`)).toBe(40);
      expect(seriesOf(samples, 'kminion_kafka_consumer_group_topic_lag').get(`group_id=${groupId},topic_name=${topic}`)).toBe(40);
      expect(seriesOf(samples, 'kafka_partition_latest_offset').get(`cluster_name=default,partition=0,topic=${topic}`)).toBe(50);
      expect(seriesOf(samples, 'kafka_partition_earliest_offset').get(`cluster_name=default,partition=0,topic=${topic}`)).toBe(0);
    } finally {
      await stuck.stop();
    }
  });

  it('a consumer that stops should reach STOP within two windows, and its lag seconds should grow with wall time', async () => {
    const topic = `${prefix}.stop`;
    await createTopics(conn, [topic], 1);
    const codec = await changeCodec(env.registryUrl, topic);
    const feed = startFeed(producer, codec, topic, changes, 20);
    const { runner: r, consumed } = runner(`${prefix}.stop`, topic);
    await r.start();
    try {
      await waitFor(() => consumed() >= 40, 'the consumer at work');
      await until(`${prefix}.stop`, (x) => x.status === 'OK' && (x.partitions[0]?.committedOffset ?? 0) > 0, 'OK while consuming');
      await r.close();
      const stoppedAtCycle = app.monitor.snapshot()?.cycle ?? 0;
      const stopped = await until(`${prefix}.stop`, (x) => x.status === 'STOP', 'STOP');
      const cyclesToStop = (app.monitor.snapshot()?.cycle ?? 0) - stoppedAtCycle;
      expect(cyclesToStop).toBeLessThanOrEqual(2 * WINDOW_CYCLES);
      expect(stopped.partitions[0]).toMatchObject({ status: 'STOP', rule: 'stopped' });
      expect(stopped.memberCount).toBe(0);

      const first = stopped;
      await app.nextCycle();
      await app.nextCycle();
      await app.nextCycle();
      const later = (await group(`${prefix}.stop`)) as GroupDetailView;
      const p1 = first.partitions[0];
      const p2 = later.partitions[0];
      // Same committed offset, same first unconsumed record: its age grows exactly with wall time.
      expect(p2?.committedOffset).toBe(p1?.committedOffset);
      expect(p2?.firstUnconsumed?.offset).toBe(p1?.committedOffset);
      expect((p2?.lagSeconds ?? 0) - (p1?.lagSeconds ?? 0)).toBeCloseTo((later.observedAt - first.observedAt) / 1000, 1);
      expect(later.observedAt).toBeGreaterThan(first.observedAt);
      expect(later.totalLag).toBeGreaterThan(first.totalLag ?? Number.POSITIVE_INFINITY); // input continues, lag keeps growing
      expect(later.status).toBe('STOP');
      // The status before STOP is INACTIVE once the closed consumer has left the group (committed
      // offsets, no member); OK or WARN if the window passed before the broker showed it gone (WARN when
      // the window's last observations while consuming showed the lag never falling, rule 8): all real
      // transitions; what matters is that STOP is alerted once, from a live status.
      expect(await alertOnTopic(`${prefix}.stop`, 'STOP')).toMatchObject({ kind: 'consumer_status', previous_status: expect.stringMatching(/^(OK|WARN|INACTIVE)$/), severity: 'critical' });
      console.log(`STOP after ${cyclesToStop} cycles (window ${WINDOW_CYCLES}); lag seconds ${p1?.lagSeconds} -> ${p2?.lagSeconds} over ${(later.observedAt - first.observedAt) / 1000} s`);
    } finally {
      await feed.stop();
    }
  });

  it('an offset reset backwards should be REWIND and raise a consumer_status alert on wiki.alerts', async () => {
    const topic = `${prefix}.rewind`;
    const groupId = `${prefix}.rewind`;
    await createTopics(conn, [topic], 2);
    const codec = await changeCodec(env.registryUrl, topic);
    await produceChanges(producer, codec, topic, changes.slice(0, 100));
    const { runner: r, consumed } = runner(groupId, topic);
    await r.start();
    await waitFor(() => consumed() >= 100, 'all consumed');
    await until(groupId, (x) => x.status === 'OK' && x.totalLag === 0, 'caught up');
    await r.close();
    // Committed offsets and no member: INACTIVE, not OK (the monitor sees it with the empty state).
    await until(groupId, (x) => x.state === 'EMPTY' && x.status === 'INACTIVE', 'the group empty and INACTIVE');

    await setGroupOffsets(conn, groupId, topic, 'earliest');
    const g = await until(groupId, (x) => x.status === 'REWIND' && x.partitions.every((p) => p.committedOffset === 0), 'REWIND at offset 0');
    expect(g.totalLag).toBe(100);
    expect(g.partitions.map((p) => p.rule)).toEqual(['rewind', 'rewind']);

    const alert = await alertOnTopic(groupId, 'REWIND');
    expect(alert).toMatchObject({ kind: 'consumer_status', source: 'lag-monitor', previous_status: 'INACTIVE', severity: 'warning', observed: 100 });
    const keys = (await readTopic(conn, `${prefix}.alerts`)).map((m) => m.key?.toString());
    expect(keys).toContain(groupId);
  });
});
