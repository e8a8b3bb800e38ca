import {
  type CommittedOffset,
  type GroupMember,
  type LagClusterSnapshot,
  type LagHistory,
  type LagSettings,
  type Watermark,
  commitKey,
  emptyLagHistory,
  evaluateCycle,
  firstRecordKey,
  firstRecordRequests,
  groupDetail,
  measuredPartitions,
} from './cycle';
import type { FirstUnconsumed } from './lag';

const T0 = 1_700_000_000_000;
const SETTINGS: LagSettings = { windowCycles: 3, intervalMs: 1000, historyCycles: 4, goneRetentionMs: 10_000, stuckTransactionMs: 2_000 };
const MEMBER: GroupMember = { memberId: 'm0', clientId: 'c0', host: 'h0', assignment: [] };

interface Given {
  at?: number;
  /** group -> committed offsets of topic `t` by partition (null = the fetch failed). */
  groups?: Record<string, Record<number, number> | null>;
  /** Members per group (default: one member without assignment). */
  members?: Record<string, GroupMember[]>;
  /** partition -> [low, high] of topic `t`. */
  marks?: Record<number, [number, number]>;
  /** partition -> [last stable, high watermark] of topic `t` (default: both = high). */
  txn?: Record<number, [number, number]>;
  /** Partitions of `t` the metadata lists (default: those of `marks`). */
  partitionIds?: number[];
  /** "partition/offset" -> record timestamp (null: nothing consumable before the end). */
  records?: Record<string, number | null>;
  lastCommits?: Record<string, number>;
}

function snapshot(g: Given): LagClusterSnapshot {
  const groups = g.groups ?? {};
  const committed = new Map<string, CommittedOffset[]>();
  for (const [id, offsets] of Object.entries(groups)) {
    if (offsets) committed.set(id, Object.entries(offsets).map(([p, offset]) => ({ topic: 't', partition: Number(p), offset })));
  }
  const marks = g.marks ?? { 0: [0, 10] };
  const watermarks: Watermark[] = Object.entries(marks).map(([p, [low, high]]) => {
    const [lastStable, highWatermark] = g.txn?.[Number(p)] ?? [high, high];
    return { topic: 't', partition: Number(p), low, high, lastStable, highWatermark };
  });
  const firstRecords = new Map<string, FirstUnconsumed | null>();
  for (const [k, ts] of Object.entries(g.records ?? {})) {
    const [p, o] = k.split('/').map(Number) as [number, number];
    firstRecords.set(firstRecordKey({ topic: 't', partition: p, offset: o }), ts === null ? null : { offset: o, timestamp: ts });
  }
  const lastCommits = new Map(Object.entries(g.lastCommits ?? {}).map(([k, at]) => {
    const [group, p] = k.split('/') as [string, string];
    return [commitKey(group, 't', Number(p)), { offset: 0, at }] as const;
  }));
  return {
    at: g.at ?? T0,
    listed: Object.keys(groups).map((groupId) => ({ groupId, state: 'EMPTY', protocolType: 'consumer' })),
    described: Object.keys(groups).map((groupId) => {
      const members = g.members?.[groupId] ?? [MEMBER];
      return { groupId, state: members.length ? 'STABLE' : 'EMPTY', members };
    }),
    committed,
    partitions: new Map([['t', g.partitionIds ?? Object.keys(marks).map(Number)]]),
    watermarks,
    firstRecords,
    commitsObserved: !!g.lastCommits,
    lastCommits,
  };
}

describe('evaluateCycle', () => {
  const one: Array<[string, Given, Record<string, unknown>]> = [
    ['a lagging partition: lag in messages and the age of the first unconsumed record', { groups: { g: { 0: 4 } }, records: { '0/4': T0 - 30_000 } }, { lag: 6, lagSeconds: 30, note: null, status: 'OK', rule: 'window-filling' }],
    ['a caught-up partition', { groups: { g: { 0: 10 } } }, { lag: 0, lagSeconds: 0, note: null, rule: 'caught-up' }],
    ['records deleted below the committed offset', { groups: { g: { 0: 2 } }, marks: { 0: [6, 10] }, records: { '0/6': T0 - 1_000 } }, { lag: 4, lagSeconds: 1, note: 'out-of-range' }],
    ['only transaction markers left', { groups: { g: { 0: 8 } }, records: { '0/8': null } }, { lag: 0, lagSeconds: 0, note: 'no-records', rule: 'caught-up' }],
    ['the first record not read in time', { groups: { g: { 0: 8 } } }, { lag: 2, lagSeconds: null, note: 'timestamp-unknown' }],
    ['committed beyond the end', { groups: { g: { 0: 15 } } }, { lag: 0, note: 'ahead-of-end' }],
    [
      'assigned but never committed: unknown (no-commit), never OK with lag 0',
      { groups: { g: {} }, members: { g: [{ memberId: 'm', clientId: 'c', host: 'h', assignment: [{ topic: 't', partition: 0 }] }] } },
      { committedOffset: null, lag: null, note: 'no-commit', status: 'UNKNOWN', rule: 'no-commit', owner: { clientId: 'c', host: 'h' } },
    ],
    ['a commit seen in the commit log longer ago than the window: STOP at once', { groups: { g: { 0: 4 } }, records: { '0/4': T0 }, lastCommits: { 'g/0': T0 - 60_000 } }, { status: 'STOP', rule: 'stopped', lastCommitAt: T0 - 60_000 }],
  ];
  it.each(one)('evaluateCycle should report %s', (_name, given, expected) => {
    const { history, report } = evaluateCycle(snapshot(given), emptyLagHistory(), SETTINGS);
    expect(groupDetail(history, 'g', SETTINGS)?.partitions[0]).toMatchObject(expected);
    expect(report.groups.map((s) => s.groupId)).toEqual(['g']);
  });

  /** Runs cycles one interval apart, each from a `Given`, threading the history. */
  function run(cycles: Given[], from: LagHistory = emptyLagHistory()) {
    let history = from;
    return cycles.map((g, i) => {
      const r = evaluateCycle(snapshot({ at: T0 + i * 1000, ...g }), history, SETTINGS);
      history = r.history;
      return r;
    });
  }

  it('evaluateCycle should report a status change once, with the previous status, and STOP a group that stopped committing', () => {
    const results = run([{ groups: { g: { 0: 4 } } }, { groups: { g: { 0: 4 } }, marks: { 0: [0, 20] } }, { groups: { g: { 0: 4 } }, marks: { 0: [0, 30] } }, { groups: { g: { 0: 4 } }, marks: { 0: [0, 40] }, at: T0 + 10_000 }]);
    expect(results.flatMap((r) => r.changes.map((c) => `${c.previous ?? 'NONE'}->${c.status}`))).toEqual(['NONE->OK', 'OK->STOP']);
    expect(results.at(-1)?.changes[0]).toMatchObject({ group: 'g', totalLag: 36, worst: { topic: 't', partition: 0, status: 'STOP', rule: 'stopped' } });
  });

  it('evaluateCycle should show a group UNKNOWN before its first commit at once, but report it only when that lasts a window', () => {
    const assigned = { g: [{ memberId: 'm', clientId: 'c', host: 'h', assignment: [{ topic: 't', partition: 0 }] }] };
    // The usual start: assigned, nothing committed yet, the first commit two cycles later.
    const starting = run([{ groups: { g: {} }, members: assigned }, { groups: { g: {} }, members: assigned }, { groups: { g: { 0: 10 } }, members: assigned }]);
    expect(starting.map((r) => r.report.groups[0]?.status)).toEqual(['UNKNOWN', 'UNKNOWN', 'OK']);
    expect(starting.map((r) => r.report.groups[0]?.totalLag)).toEqual([null, null, 0]);
    expect(starting.flatMap((r) => r.changes.map((c) => `${c.previous ?? 'NONE'}->${c.status}`))).toEqual(['NONE->OK']); // not alerted: first seen healthy
    // Never committing: reported once the window (3 cycles) has passed, dated from the start.
    const never = run([0, 1, 2, 3, 4].map(() => ({ groups: { g: {} }, members: assigned })));
    expect(never.map((r) => r.changes.map((c) => `${c.previous ?? 'NONE'}->${c.status}`))).toEqual([[], [], [], ['NONE->UNKNOWN'], []]);
    expect(never.at(-1)?.report.groups[0]).toMatchObject({ status: 'UNKNOWN', statusSince: T0 });
    // A group that was OK and turns UNKNOWN (its end offsets not listed) for less than a window: no report either way.
    const blip = run([{ groups: { g: { 0: 4 } } }, { groups: { g: { 0: 4 } }, marks: {}, partitionIds: [0] }, { groups: { g: { 0: 4 } } }]);
    expect(blip.map((r) => r.report.groups[0]?.status)).toEqual(['OK', 'UNKNOWN', 'OK']);
    expect(blip.flatMap((r) => r.changes.map((c) => `${c.previous ?? 'NONE'}->${c.status}`))).toEqual(['NONE->OK']);
  });

  it('evaluateCycle should keep a group whose offsets could not be fetched at its last known partitions, without a status change', () => {
    const [, second] = run([{ groups: { g: { 0: 4 } } }, { groups: { g: null }, marks: { 0: [0, 12] }, at: T0 + 60_000 }]);
    expect(second?.changes).toEqual([]);
    expect(second?.report.groups[0]).toMatchObject({ groupId: 'g', totalLag: 8, status: 'OK' });
  });

  it('evaluateCycle should make a group whose offsets stay unavailable for a window UNKNOWN, and one known by nothing else UNKNOWN at once', () => {
    const results = run([
      { groups: { g: { 0: 4 } } },
      { groups: { g: null }, at: T0 + 1000 },
      { groups: { g: null }, at: T0 + 2000 },
      { groups: { g: null }, at: T0 + 4000 },
      { groups: { g: { 0: 5 } }, at: T0 + 5000 },
    ]);
    expect(results.map((r) => r.report.groups[0]?.status)).toEqual(['OK', 'OK', 'OK', 'UNKNOWN', 'OK']);
    expect(results.map((r) => r.report.groups[0]?.offsetsUnavailableSince)).toEqual([null, T0 + 1000, T0 + 1000, T0 + 1000, null]);
    expect(results.flatMap((r) => r.changes.map((c) => `${c.previous ?? 'NONE'}->${c.status}`))).toEqual(['NONE->OK', 'OK->UNKNOWN', 'UNKNOWN->OK']);
    const [fresh] = run([{ groups: { g: null } }]);
    expect(fresh?.report.groups[0]).toMatchObject({ groupId: 'g', status: 'UNKNOWN', totalLag: null, partitionCount: 0 });
  });

  it('evaluateCycle should keep reporting a group the broker forgot, as gone with growing lag, until the retention passes', () => {
    const results = run([{ groups: { g: { 0: 4 } } }, { groups: {}, marks: { 0: [0, 14] }, at: T0 + 5_000 }, { groups: {}, marks: { 0: [0, 20] }, at: T0 + 20_000 }]);
    expect(results[1]?.report.groups[0]).toMatchObject({ groupId: 'g', gone: true, state: 'GONE', totalLag: 10 });
    expect(results[2]?.report.groups).toEqual([]);
  });

  it('evaluateCycle should not modify the history it is given', () => {
    const [first] = run([{ groups: { g: { 0: 4 } } }]);
    const before = JSON.stringify([...(first?.history.groups.get('g')?.partitions.values() ?? [])]);
    evaluateCycle(snapshot({ at: T0 + 1000, groups: { g: { 0: 2 } } }), first?.history ?? emptyLagHistory(), SETTINGS);
    expect(JSON.stringify([...(first?.history.groups.get('g')?.partitions.values() ?? [])])).toBe(before);
    expect(first?.history.cycle).toBe(1);
  });

  it('evaluateCycle should give production rates per partition over the window and name the hottest', () => {
    const [, second] = run([{ groups: { g: { 0: 0, 1: 0 } }, marks: { 0: [0, 0], 1: [0, 0] } }, { groups: { g: { 0: 0, 1: 0 } }, marks: { 0: [0, 30], 1: [0, 10] }, at: T0 + 2000 }]);
    const t = second?.report.topics[0];
    expect(t?.partitions.map((p) => p.rate)).toEqual([15, 5]);
    expect(t?.balance.hottestPartition).toBe(0);
  });
});

describe('evaluateCycle: what must never look like lag 0 / OK', () => {
  const first = (given: Given) => evaluateCycle(snapshot(given), emptyLagHistory(), SETTINGS);
  function run(cycles: Given[]) {
    let history = emptyLagHistory();
    return cycles.map((g, i) => {
      const r = evaluateCycle(snapshot({ at: T0 + i * 1000, ...g }), history, SETTINGS);
      history = r.history;
      return r;
    });
  }

  it('evaluateCycle should report an unknown lag as unknown (null), never as 0, and the group as UNKNOWN', () => {
    const { report, history } = first({
      groups: { g: { 0: 10 } },
      marks: { 0: [0, 10], 1: [0, 50] },
      members: { g: [{ ...MEMBER, assignment: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] }] },
    });
    expect(report.groups[0]).toMatchObject({ groupId: 'g', totalLag: null, maxLag: null, maxLagSeconds: null, unknownLagPartitions: 1, status: 'UNKNOWN' });
    expect(report.groups[0]?.byTopic[0]?.lag).toBeNull();
    expect(groupDetail(history, 'g', SETTINGS)?.partitions.map((p) => [p.partition, p.lag, p.status, p.rule])).toEqual([
      [0, 0, 'OK', 'caught-up'],
      [1, null, 'UNKNOWN', 'no-commit'],
    ]);
  });

  it('evaluateCycle should count a never-committed partition with nothing consumable in it as lag 0 (wherever the group starts), and one with records as unknown', () => {
    const assigned = { members: { g: [{ ...MEMBER, assignment: [0, 1, 2].map((partition) => ({ topic: 't', partition })) }] } };
    const { report, history } = first({ groups: { g: {} }, marks: { 0: [5, 5], 1: [0, 3], 2: [0, 8] }, records: { '1/0': null, '2/0': T0 - 1000 }, ...assigned });
    expect(groupDetail(history, 'g', SETTINGS)?.partitions.map((p) => [p.partition, p.lag, p.status, p.rule])).toEqual([
      [0, 0, 'OK', 'nothing-to-read'],
      [1, 0, 'OK', 'nothing-to-read'],
      [2, null, 'UNKNOWN', 'no-commit'],
    ]);
    expect(report.groups[0]).toMatchObject({ totalLag: null, unknownLagPartitions: 1, status: 'UNKNOWN' });
    const requests = firstRecordRequests(measuredPartitions(snapshot({ groups: { g: {} }, marks: { 0: [5, 5], 2: [0, 8] }, ...assigned }), emptyLagHistory()), [
      { topic: 't', partition: 0, low: 5, high: 5, lastStable: 5, highWatermark: 5 },
      { topic: 't', partition: 2, low: 0, high: 8, lastStable: 8, highWatermark: 8 },
    ]);
    expect(requests.map((r) => `${r.partition}/${r.offset}`)).toEqual(['2/0']);
  });

  it('evaluateCycle should keep a partition whose offsets could not be listed, as unknown, instead of dropping it from the sum', () => {
    const { report, history } = first({ groups: { g: { 0: 4, 1: 2 } }, marks: { 0: [0, 10] }, partitionIds: [0, 1] });
    expect(report.groups[0]).toMatchObject({ totalLag: null, unknownLagPartitions: 1, status: 'UNKNOWN', partitionCount: 2 });
    expect(groupDetail(history, 'g', SETTINGS)?.partitions[1]).toMatchObject({ partition: 1, lag: null, note: 'end-unknown', status: 'UNKNOWN', rule: 'end-unknown', highWatermark: null });
  });

  it('evaluateCycle should report the largest partition lag of a group (maxLag) and each partition\'s owner from the group description', () => {
    const member = { memberId: 'consumer-1-abc', clientId: 'client-1', host: '/10.0.0.9', assignment: [{ topic: 't', partition: 1 }] };
    const { report, history } = first({ groups: { g: { 0: 4, 1: 2 } }, marks: { 0: [0, 10], 1: [0, 20] }, members: { g: [member] } });
    expect(report.groups[0]).toMatchObject({ totalLag: 24, maxLag: 18 });
    expect(groupDetail(history, 'g', SETTINGS)?.partitions.map((p) => [p.partition, p.owner])).toEqual([
      [0, null],
      [1, { memberId: 'consumer-1-abc', clientId: 'client-1', host: '/10.0.0.9' }],
    ]);
  });

  it('evaluateCycle should still drop the partitions of a deleted topic', () => {
    const { report } = first({ groups: { g: { 0: 4, 1: 2 } }, marks: { 0: [0, 10] }, partitionIds: [0] });
    expect(report.groups[0]).toMatchObject({ totalLag: 6, partitionCount: 1 });
  });

  it('evaluateCycle should report a group whose unread records were deleted as DATA_LOST with the messages lost, even when nothing is left to read', () => {
    const [r] = run([{ groups: { g: { 0: 2 } }, marks: { 0: [10, 10] } }]);
    expect(r?.report.groups[0]).toMatchObject({ totalLag: 0, messagesLost: 8, status: 'DATA_LOST' });
    expect(groupDetail(r?.history ?? emptyLagHistory(), 'g', SETTINGS)?.partitions[0]).toMatchObject({ lag: 0, note: 'out-of-range', messagesLost: 8, status: 'DATA_LOST', rule: 'data-lost' });
    expect(r?.changes[0]).toMatchObject({ previous: null, status: 'DATA_LOST', messagesLost: 8, worst: { topic: 't', partition: 0, status: 'DATA_LOST', committedOffset: 2, lowWatermark: 10, messagesLost: 8 } });
  });

  it('evaluateCycle should report a group with committed offsets and no active member as INACTIVE, not OK, even at lag 0', () => {
    const { report } = first({ groups: { g: { 0: 10 }, live: { 0: 10 } }, members: { g: [] } });
    const byId = new Map(report.groups.map((x) => [x.groupId, x]));
    expect(byId.get('g')).toMatchObject({ totalLag: 0, memberCount: 0, memberless: true, status: 'INACTIVE' });
    expect(byId.get('live')).toMatchObject({ totalLag: 0, memberless: false, status: 'OK' });
  });

  it('evaluateCycle should let STOP win over INACTIVE for a memberless group that falls behind', () => {
    const results = run([
      { groups: { g: { 0: 4 } }, members: { g: [] } },
      { groups: { g: { 0: 4 } }, members: { g: [] }, marks: { 0: [0, 20] } },
      { groups: { g: { 0: 4 } }, members: { g: [] }, marks: { 0: [0, 30] }, at: T0 + 10_000 },
    ]);
    expect(results.flatMap((r) => r.changes.map((c) => `${c.previous ?? 'NONE'}->${c.status}`))).toEqual(['NONE->INACTIVE', 'INACTIVE->STOP']);
  });

  it('evaluateCycle should report a partition whose last stable offset is stuck while its high watermark grows as STUCK_TRANSACTION, for a group caught up to it', () => {
    const results = run([
      { groups: { g: { 0: 10 } }, marks: { 0: [0, 10] }, txn: { 0: [10, 11] } },
      { groups: { g: { 0: 10 } }, marks: { 0: [0, 10] }, txn: { 0: [10, 30] } },
      { groups: { g: { 0: 10 } }, marks: { 0: [0, 10] }, txn: { 0: [10, 50] } },
      { groups: { g: { 0: 10 } }, marks: { 0: [0, 60] }, txn: { 0: [60, 60] } },
    ]);
    expect(results.map((r) => r.report.groups[0]?.status)).toEqual(['OK', 'OK', 'STUCK_TRANSACTION', 'OK']);
    const stuck = results[2];
    expect(stuck?.report.groups[0]).toMatchObject({ totalLag: 0, stuckPartitions: ['t/0'] });
    expect(stuck?.report.stuckTransactions).toEqual([{ topic: 't', partition: 0, lastStable: 10, highWatermark: 50, since: T0 }]);
    expect(stuck?.report.topics[0]?.partitions[0]).toMatchObject({ lastStable: 10, highWatermark: 50, stuckTransactionSince: T0 });
    expect(stuck?.changes[0]).toMatchObject({ previous: 'OK', status: 'STUCK_TRANSACTION', worst: { topic: 't', partition: 0, rule: 'stuck-transaction', lastStableOffset: 10, logHighWatermark: 50, stuckTransactionSince: T0 } });
    expect(results[3]?.report.stuckTransactions).toEqual([]);
  });
});

describe('measuredPartitions and firstRecordRequests', () => {
  it('firstRecordRequests should ask each distinct (partition, offset) once and skip caught-up partitions', () => {
    const snap = snapshot({ groups: { a: { 0: 3 }, b: { 0: 3 }, c: { 0: 7 }, d: { 0: 10 } } });
    const requests = firstRecordRequests(measuredPartitions(snap, emptyLagHistory()), snap.watermarks);
    expect(requests.map((r) => `${r.partition}/${r.offset}<${r.end}`).sort()).toEqual(['0/3<10', '0/7<10']);
  });
});
