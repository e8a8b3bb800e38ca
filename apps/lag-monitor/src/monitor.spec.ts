import { createLogger } from '@wikimonitor/service-kit';
import { createFakeCluster } from '../testing/fake-cluster';
import { createLagMonitor } from './monitor';

const log = createLogger('test', 'silent');
const INTERVAL = 1000;

function setup(windowCycles = 3) {
  const cluster = createFakeCluster();
  let now = 1_700_000_000_000;
  const monitor = createLagMonitor({
    admin: cluster.admin,
    reader: cluster.reader,
    includeGroup: (g) => !g.startsWith('ignored'),
    windowCycles,
    intervalMs: INTERVAL,
    historyCycles: 5,
    goneRetentionMs: 60_000,
    stuckTransactionMs: 2_000,
    health: { unreadyAfterFailures: 3, overdueMs: 30_000 },
    adminConcurrency: 4,
    log,
    now: () => now,
  });
  const tick = async (ms = INTERVAL) => {
    now += ms;
    return monitor.runCycle();
  };
  return { cluster, monitor, tick, now: () => now };
}

describe('lag monitor cycle', () => {
  it('monitor should measure lag in messages and the age of the record at the committed offset', async () => {
    const { cluster, monitor, tick, now } = setup();
    cluster.createTopic('t', 2);
    cluster.produce('t', 0, 10, now() - 30_000);
    cluster.produce('t', 0, 5, now() - 5_000);
    cluster.produce('t', 1, 4, now() - 1_000);
    cluster.commit('g', 't', 0, 10);
    cluster.commit('g', 't', 1, 4);
    cluster.setMembers('g', [{ memberId: 'm1', clientId: 'c', host: 'h', assignment: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] }]);
    await tick();
    const g = monitor.group('g');
    expect(g?.partitions.map((p) => [p.partition, p.lag, p.lagSeconds])).toEqual([
      [0, 5, 6],
      [1, 0, 0],
    ]);
    expect(g).toMatchObject({ totalLag: 5, maxLagSeconds: 6, status: 'OK', partitionCount: 2, byTopic: [{ topic: 't', lag: 5, partitions: 2 }] });
  });

  it('monitor should read each distinct (partition, offset) once even when several groups sit there', async () => {
    const { cluster, tick, now } = setup();
    cluster.createTopic('t', 1);
    cluster.produce('t', 0, 10, now());
    cluster.commit('a', 't', 0, 3);
    cluster.commit('b', 't', 0, 3);
    cluster.commit('c', 't', 0, 7);
    cluster.commit('ignored-x', 't', 0, 1);
    await tick();
    const asked = (cluster.requests.at(-1) ?? []).map((r) => r.offset).sort();
    expect(asked).toEqual([3, 7]);
    expect(cluster.calls.filter((c) => c.startsWith('fetchCommitted'))).not.toContain('fetchCommitted:ignored-x');
  });

  it('a stopped group should reach STOP, keep being reported, and its lag should keep growing in messages and seconds', async () => {
    const { cluster, monitor, tick, now } = setup(3);
    cluster.createTopic('t', 1);
    cluster.produce('t', 0, 5, now());
    cluster.setMembers('g', [{ memberId: 'm1', clientId: 'c', host: 'h', assignment: [{ topic: 't', partition: 0 }] }]);
    cluster.commit('g', 't', 0, 5);
    await tick();
    expect(monitor.group('g')?.status).toBe('OK');
    cluster.setMembers('g', []); // the consumer stops
    const seen: Array<{ status: string; lag: number; lagSeconds: number | null }> = [];
    for (let i = 0; i < 6; i++) {
      cluster.produce('t', 0, 10, now());
      const r = await tick();
      const g = r.snapshot.groups.find((x) => x.groupId === 'g');
      seen.push({ status: g?.status ?? '', lag: g?.totalLag ?? -1, lagSeconds: g?.maxLagSeconds ?? null });
    }
    expect(seen.at(-1)?.status).toBe('STOP');
    expect(seen.map((s) => s.lag)).toEqual([10, 20, 30, 40, 50, 60]);
    const ages = seen.map((s) => s.lagSeconds ?? 0);
    for (let i = 1; i < ages.length; i++) expect(ages[i]).toBeCloseTo((ages[i - 1] ?? 0) + INTERVAL / 1000, 5);
    // The broker forgets the group (offsets expired): still reported as gone, lag still growing.
    cluster.removeGroup('g');
    cluster.produce('t', 0, 10, now());
    const r = await tick();
    expect(r.snapshot.groups.find((x) => x.groupId === 'g')).toMatchObject({ gone: true, status: 'STOP', totalLag: 70 });
  });

  it('monitor should report each status change once, with the previous status', async () => {
    const { cluster, tick, now } = setup(3);
    cluster.createTopic('t', 1);
    cluster.produce('t', 0, 100, now());
    cluster.setMembers('g', [{ memberId: 'm1', clientId: 'c', host: 'h', assignment: [{ topic: 't', partition: 0 }] }]);
    cluster.commit('g', 't', 0, 50);
    const changes = [];
    for (let i = 0; i < 5; i++) changes.push(...(await tick()).changes);
    cluster.commit('g', 't', 0, 10); // reset backwards
    changes.push(...(await tick()).changes);
    expect(changes.map((c) => `${c.previous ?? 'NONE'}->${c.status}`)).toEqual(['NONE->OK', 'OK->STOP', 'STOP->REWIND']);
  });

  it('a group whose offsets cannot be fetched should keep its last known state and not change status', async () => {
    const { cluster, monitor, tick, now } = setup(3);
    cluster.createTopic('t', 1);
    cluster.produce('t', 0, 10, now());
    cluster.setMembers('g', [{ memberId: 'm1', clientId: 'c', host: 'h', assignment: [{ topic: 't', partition: 0 }] }]);
    cluster.commit('g', 't', 0, 4);
    await tick();
    cluster.failOffsetsOf.add('g');
    const r = await tick(60_000);
    expect(r.failedGroups).toEqual(['g']);
    expect(r.changes).toEqual([]);
    expect(monitor.group('g')).toMatchObject({ totalLag: 6, status: 'OK' });
  });

  it('monitor should report records deleted before being read as out-of-range and measure from the log start', async () => {
    const { cluster, monitor, tick, now } = setup();
    cluster.createTopic('t', 1);
    cluster.produce('t', 0, 10, now() - 9_000);
    cluster.deleteRecords('t', 0, 6);
    cluster.commit('g', 't', 0, 2);
    await tick();
    expect(monitor.group('g')?.partitions[0]).toMatchObject({ lag: 4, lagSeconds: 10, note: 'out-of-range', firstUnconsumed: { offset: 6 } });
  });

  it('monitor should report per-partition production rates and the topic skew', async () => {
    const { cluster, tick, now } = setup(3);
    cluster.createTopic('t', 2);
    cluster.commit('g', 't', 0, 0);
    await tick();
    cluster.produce('t', 0, 30, now());
    cluster.produce('t', 1, 10, now());
    const r = await tick(2000);
    const t = r.snapshot.topics.find((x) => x.topic === 't');
    expect(t?.partitions.map((p) => p.rate)).toEqual([15, 5]);
    expect(t?.produceRate).toBe(20);
    expect(t?.balance.skew).toBeCloseTo(1.5, 10);
    expect(t?.balance.hottestPartition).toBe(0);
  });

  it('monitor should keep serving its last report when cycles fail, marked stale since the first failure, and turn unready after N failures', async () => {
    const { cluster, monitor, tick, now } = setup();
    cluster.createTopic('t', 1);
    cluster.produce('t', 0, 10, now());
    cluster.commit('g', 't', 0, 4);
    await tick();
    expect(monitor.health()).toMatchObject({ stale: false, ready: true, consecutiveFailures: 0, lastSuccessAt: now() });
    const okAt = now();
    cluster.failing.on = true;
    await expect(tick()).rejects.toThrow('broker unreachable');
    const failedAt = now();
    expect(monitor.health()).toMatchObject({ stale: true, staleSince: failedAt, ready: true, consecutiveFailures: 1, lastSuccessAt: okAt, lastError: 'CYCLE_FAILED' });
    await expect(tick()).rejects.toThrow();
    await expect(tick()).rejects.toThrow();
    expect(monitor.health()).toMatchObject({ stale: true, staleSince: failedAt, ready: false, consecutiveFailures: 3 });
    expect(monitor.snapshot()?.observedAt).toBe(okAt); // the last report, still served
    cluster.failing.on = false;
    await tick();
    expect(monitor.health()).toMatchObject({ stale: false, staleSince: null, ready: true, consecutiveFailures: 0 });
  });

  it('monitor should report a hung transaction as STUCK_TRANSACTION for a group caught up to the pinned last stable offset', async () => {
    const { cluster, monitor, tick, now } = setup();
    cluster.createTopic('t', 1);
    cluster.produce('t', 0, 10, now());
    cluster.setMembers('g', [{ memberId: 'm1', clientId: 'c', host: 'h', assignment: [{ topic: 't', partition: 0 }] }]);
    cluster.commit('g', 't', 0, 10);
    cluster.setOpenTransaction('t', 0, 10);
    const statuses: string[] = [];
    for (let i = 0; i < 4; i++) {
      cluster.produce('t', 0, 5, now());
      statuses.push((await tick()).snapshot.groups[0]?.status ?? '');
    }
    expect(statuses).toEqual(['OK', 'OK', 'STUCK_TRANSACTION', 'STUCK_TRANSACTION']);
    expect(monitor.group('g')?.partitions[0]).toMatchObject({ lag: 0, lastStableOffset: 10, logHighWatermark: 30, status: 'STUCK_TRANSACTION' });
    expect(monitor.snapshot()?.stuckTransactions.map((t) => `${t.topic}/${t.partition}`)).toEqual(['t/0']);
  });

  it('monitor should report a memberless group at lag 0 as INACTIVE, and records deleted unread as DATA_LOST with the count', async () => {
    const { cluster, monitor, tick, now } = setup();
    cluster.createTopic('t', 2);
    cluster.produce('t', 0, 10, now());
    cluster.produce('t', 1, 10, now());
    cluster.commit('idle', 't', 0, 10);
    cluster.commit('lost', 't', 1, 3);
    cluster.setMembers('lost', [{ memberId: 'm1', clientId: 'c', host: 'h', assignment: [{ topic: 't', partition: 1 }] }]);
    cluster.deleteRecords('t', 1, 10);
    await tick();
    expect(monitor.group('idle')).toMatchObject({ totalLag: 0, memberless: true, status: 'INACTIVE' });
    expect(monitor.group('lost')).toMatchObject({ totalLag: 0, messagesLost: 7, status: 'DATA_LOST' });
  });
});
