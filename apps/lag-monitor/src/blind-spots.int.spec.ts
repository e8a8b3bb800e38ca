import { type GroupAdmin, type KafkaConnection, type KafkaProducer, createGroupAdmin } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';
import { type TestEnv, getTestEnv, loadRecordedEvents, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { type LagMonitorApp, createApp } from './app';
import { changeCodec, createTopics, fetchGroup, newProducer, produceChanges, setGroupOffsets, startFeed, startStuckConsumer, testMonitorConfig, toChanges } from '../testing/int-support';
import { monitorHarness } from '../testing/monitor-harness';
import type { CycleHealth } from './monitor';

// What the monitor used to report as lag 0 / OK, or keep serving as current: each on the real broker.
const log = createLogger('test', 'silent');
const WINDOW_CYCLES = 6;
const STUCK_MS = 4_000;
const changes = toChanges(loadRecordedEvents());

async function metricsOf(base: string): Promise<string> {
  return (await fetch(`${base}/metrics`)).text();
}

describe('lag-monitor blind spots on the real broker', () => {
  let env: TestEnv;
  let conn: KafkaConnection;
  let prefix: string;
  let app: LagMonitorApp;
  let base: string;
  let producer: KafkaProducer;
  let admin: GroupAdmin;

  const h = monitorHarness(() => ({ conn, registryUrl: env.registryUrl, base, alertsTopic: `${prefix}.alerts` }), log);
  const { until, alertOnTopic, runner } = h;

  beforeAll(async () => {
    env = await getTestEnv();
    conn = testConnection(env);
    prefix = uniqueName('it.lm.blind');
    app = createApp({
      config: testMonitorConfig(conn, env.registryUrl, prefix, {
        WINDOW_CYCLES: String(WINDOW_CYCLES),
        STUCK_TRANSACTION_MS: String(STUCK_MS),
        ALERTS_ENABLED: 'true',
        ALERTS_TOPIC: `${prefix}.alerts`,
      }),
      log: createLogger('lm', process.env['LM_DEBUG'] ? 'debug' : 'silent'),
      handleSignals: false,
    });
    await app.nextCycle();
    base = `http://127.0.0.1:${app.port()}`;
    producer = newProducer(conn, log);
    await producer.start();
    admin = await createGroupAdmin({ connection: conn, timeoutMs: 10_000, isolation: 'read_uncommitted' });
  });

  afterAll(async () => {
    await h.closeRunners();
    await admin?.close();
    await producer?.close();
    await app?.service.close();
  });

  it('a group whose unread records were deleted by retention should be DATA_LOST with the number of messages lost, and alert with it', async () => {
    const topic = `${prefix}.lost`;
    const groupId = `${prefix}.lost`;
    await createTopics(conn, [topic], 1);
    const codec = await changeCodec(env.registryUrl, topic);
    await produceChanges(producer, codec, topic, changes.slice(0, 50));
    await setGroupOffsets(conn, groupId, topic, 5); // read 5 and stopped
    await until(groupId, (g) => g.partitions[0]?.committedOffset === 5, 'seen at offset 5');

    // What retention does to the oldest segments: the log start moves past the committed offset.
    await admin.deleteRecordsBefore(topic, [{ partition: 0, before: 30 }]);
    const g = await until(groupId, (x) => x.status === 'DATA_LOST', 'DATA_LOST');
    expect(g).toMatchObject({ messagesLost: 25, totalLag: 20 });
    expect(g.partitions[0]).toMatchObject({ committedOffset: 5, lowWatermark: 30, lag: 20, note: 'out-of-range', messagesLost: 25, status: 'DATA_LOST', rule: 'data-lost' });

    const alert = await alertOnTopic(groupId, 'DATA_LOST');
    expect(alert).toMatchObject({ kind: 'consumer_status', severity: 'critical', observed: 25 });
    expect(alert.message).toContain(`25 messages of ${topic}/0 deleted by retention before being read (committed offset 5, log start 30)`);
    const metrics = await metricsOf(base);
    expect(metrics).toContain(`lag_monitor_group_messages_lost{group="${groupId}",service="lag-monitor"} 25`);
    expect(metrics).toContain(`lag_monitor_partition_status_code{group="${groupId}",topic="${topic}",partition="0",service="lag-monitor"} 8`);
  });

  it('a hung transaction should make the partition STUCK_TRANSACTION (last stable offset stuck, high watermark growing) and alert naming the topic-partition', async () => {
    const topic = `${prefix}.txn`;
    const groupId = `${prefix}.txn`;
    await createTopics(conn, [topic], 1);
    const codec = await changeCodec(env.registryUrl, topic);
    await produceChanges(producer, codec, topic, changes.slice(0, 20));
    const { runner: r, consumed } = runner(groupId, topic);
    await r.start();
    await waitFor(() => consumed() >= 20, '20 records consumed');
    await until(groupId, (x) => x.status === 'OK' && x.totalLag === 0, 'OK at lag 0');

    // A transactional producer that begins, writes and never commits, while a plain producer keeps writing.
    const hung = newProducer(conn, log, uniqueName('lm-hung'));
    await hung.start();
    await hung.beginTransaction();
    const [open] = await produceChanges(hung, codec, topic, changes.slice(20, 21));
    const feed = startFeed(producer, codec, topic, changes, 20);
    try {
      const g = await until(groupId, (x) => x.status === 'STUCK_TRANSACTION', 'STUCK_TRANSACTION');
      const p = g.partitions[0];
      expect(p).toMatchObject({ lastStableOffset: open?.offset, status: 'STUCK_TRANSACTION', rule: 'stuck-transaction' });
      expect(p?.logHighWatermark).toBeGreaterThan(p?.lastStableOffset ?? Number.POSITIVE_INFINITY);
      // The read_committed consumer is "caught up": to the pinned last stable offset.
      expect(p?.lag).toBe(0);
      expect(g.stuckPartitions).toEqual([`${topic}/0`]);
      const topics = (await (await fetch(`${base}/api/topics`)).json()) as { stuckTransactions: Array<{ topic: string; partition: number; lastStable: number }> };
      expect(topics.stuckTransactions).toContainEqual(expect.objectContaining({ topic, partition: 0, lastStable: open?.offset }));

      const alert = await alertOnTopic(groupId, 'STUCK_TRANSACTION');
      expect(alert).toMatchObject({ kind: 'consumer_status', severity: 'critical', previous_status: 'OK' });
      expect(alert.message).toContain(`last stable offset of ${topic}/0 stuck at ${open?.offset}`);
      expect(await metricsOf(base)).toMatch(new RegExp(`lag_monitor_stuck_transaction_seconds\\{topic="${topic.replace(/\./g, '\\.')}",partition="0",service="lag-monitor"\\} \\d`));
    } finally {
      await feed.stop();
      await hung.abortTransaction();
      await hung.close();
    }
    // The transaction ended: the last stable offset moves on and the group recovers.
    await until(groupId, (x) => x.status === 'OK' && x.stuckPartitions.length === 0, 'OK after the abort');
  });

  it('a partition the group was assigned but never committed should have an unknown lag (null, UNKNOWN), never 0, unless it holds nothing to read', async () => {
    const topic = `${prefix}.unknown`;
    const groupId = `${prefix}.unknown`;
    await createTopics(conn, [topic], 3);
    const codec = await changeCodec(env.registryUrl, topic);
    await produceChanges(producer, codec, topic, changes.slice(0, 10), undefined, 0);
    await produceChanges(producer, codec, topic, changes.slice(10, 40), undefined, 1);
    // One member, all three partitions assigned; it commits partition 0 at its end and never partitions 1
    // (30 records: where would the group start?) and 2 (empty: lag 0 wherever it starts).
    const member = startStuckConsumer(conn, groupId, topic, 10);
    try {
      const g = await until(groupId, (x) => x.memberCount === 1 && x.partitions.length === 3 && x.partitions[0]?.committedOffset === 10, 'partition 0 committed, all assigned');
      const settled = g.status === 'UNKNOWN' ? g : await until(groupId, (x) => x.status === 'UNKNOWN', 'UNKNOWN');
      expect(settled).toMatchObject({ totalLag: null, unknownLagPartitions: 1, status: 'UNKNOWN' });
      expect(settled.partitions.map((p) => [p.partition, p.committedOffset, p.lag, p.note, p.status])).toEqual([
        [0, 10, 0, null, 'OK'],
        [1, null, null, 'no-commit', 'UNKNOWN'],
        [2, null, 0, 'no-commit', 'OK'],
      ]);
      const metrics = await metricsOf(base);
      expect(metrics).toContain(`lag_monitor_group_unknown_lag_partitions{group="${groupId}",service="lag-monitor"} 1`);
      expect(metrics).not.toContain(`lag_monitor_group_lag_messages{group="${groupId}"`); // no series rather than 0
      expect(metrics).toContain(`lag_monitor_partition_status_code{group="${groupId}",topic="${topic}",partition="1",service="lag-monitor"} 5`);
    } finally {
      await member.stop();
    }
  });

  it('a group whose every member is gone but whose offsets remain should be INACTIVE, not lag 0 / OK', async () => {
    const topic = `${prefix}.crashed`;
    const groupId = `${prefix}.crashed`;
    await createTopics(conn, [topic], 2);
    const codec = await changeCodec(env.registryUrl, topic);
    await produceChanges(producer, codec, topic, changes.slice(0, 40));
    const { runner: r, consumed } = runner(groupId, topic);
    await r.start();
    await waitFor(() => consumed() >= 40, 'all consumed');
    await until(groupId, (x) => x.status === 'OK' && x.totalLag === 0 && x.memberCount === 1, 'OK at lag 0 with its member');
    await r.close();
    const g = await until(groupId, (x) => x.memberCount === 0, 'no member left');
    expect(g).toMatchObject({ totalLag: 0, memberless: true, status: 'INACTIVE' });
    expect(await alertOnTopic(groupId, 'INACTIVE')).toMatchObject({ previous_status: 'OK', severity: 'warning' });
    expect((await alertOnTopic(groupId, 'INACTIVE')).message).toContain('no active members');
  });
});

describe('lag-monitor whose cycles fail (real broker, real admin client)', () => {
  it('lag-monitor should keep serving its last report marked stale, export the last success time and turn unready after N failed cycles, then recover', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.lm.stale');
    const topic = `${prefix}.in`;
    const groupId = `${prefix}.g`;
    await createTopics(conn, [topic], 1);
    await setGroupOffsets(conn, groupId, topic, 0);
    // The monitor's admin is a real client on the real broker, swapped under it: closing it makes
    // every cycle fail with the client's own errors (what a dead connection looks like), a new one heals it.
    let current = await createGroupAdmin({ connection: conn, timeoutMs: 2_000, isolation: 'read_committed' });
    const admin = {
      listGroups: () => current.listGroups(),
      describeGroups: (ids: string[]) => current.describeGroups(ids),
      fetchCommitted: (id: string) => current.fetchCommitted(id),
      fetchPartitions: (topics: string[]) => current.fetchPartitions(topics),
      fetchWatermarks: (tps: Parameters<GroupAdmin['fetchWatermarks']>[0]) => current.fetchWatermarks(tps),
      close: () => current.close(),
    };
    const app = createApp({
      config: testMonitorConfig(conn, env.registryUrl, prefix, { UNREADY_AFTER_FAILED_CYCLES: '3', COMMIT_LOG_ENABLED: 'false' }),
      log,
      handleSignals: false,
      overrides: { admin: async () => admin },
    });
    try {
      await app.nextCycle();
      const base = `http://127.0.0.1:${app.port()}`;
      await waitFor(async () => (await fetchGroup(base, groupId)) !== undefined, 'the group reported');
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const before = app.monitor.health();
      expect(before).toMatchObject({ stale: false, ready: true, consecutiveFailures: 0 });
      const lastSuccess = Number(/lag_monitor_last_success_timestamp\{service="lag-monitor"\} ([\d.e+]+)/.exec(await metricsOf(base))?.[1]);
      expect(lastSuccess).toBeGreaterThan(Date.now() / 1000 - 60);

      await current.close();
      const failedOnce = await waitFor(() => {
        const h = app.monitor.health();
        return h.consecutiveFailures >= 1 ? h : undefined;
      }, 'a failed cycle');
      // One failure: stale at once, still ready.
      expect(failedOnce.stale).toBe(true);
      const stale = await waitFor(async () => {
        const snap = (await (await fetch(`${base}/api/snapshot`)).json()) as { observedAt: number; health: CycleHealth };
        return snap.health.consecutiveFailures >= 3 ? snap : undefined;
      }, 'three failed cycles');
      expect(stale.health).toMatchObject({ stale: true, ready: false });
      expect(stale.health.staleSince).toBeGreaterThan(before.lastSuccessAt ?? 0);
      expect(stale.health.lastSuccessAt).toBeLessThan(stale.health.staleSince ?? 0);
      expect(stale.health.lastError).toBe('KAFKA_ADMIN_FAILED'); // the code of the client's error, not its text
      // The last report is still served, as it was, and says when it was observed.
      expect(stale.observedAt).toBeLessThanOrEqual(stale.health.lastSuccessAt ?? 0);
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      const metrics = await metricsOf(base);
      expect(metrics).toContain('lag_monitor_stale{service="lag-monitor"} 1');
      expect(Number(/lag_monitor_last_success_timestamp\{service="lag-monitor"\} ([\d.e+]+)/.exec(metrics)?.[1])).toBeCloseTo((stale.health.lastSuccessAt ?? 0) / 1000, 3);
      expect(metrics).toMatch(/lag_monitor_consecutive_failed_cycles\{service="lag-monitor"\} [3-9]/);

      current = await createGroupAdmin({ connection: conn, timeoutMs: 2_000, isolation: 'read_committed' });
      await app.nextCycle();
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect(app.monitor.health()).toMatchObject({ stale: false, staleSince: null, consecutiveFailures: 0 });
    } finally {
      await app.service.close();
    }
  });
});
