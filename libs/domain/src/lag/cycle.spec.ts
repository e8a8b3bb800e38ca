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
const SETTINGS: LagSettings = { windowCycles: 3, intervalMs: 1000, historyCycles: 4, goneRetentionMs: 10_000 };

interface Given {
  at?: number;
  /** group -> committed offsets of topic `t` by partition (null = the fetch failed). */
  groups?: Record<string, Record<number, number> | null>;
  members?: Record<string, GroupMember[]>;
  /** partition -> [low, high] of topic `t`. */
  marks?: Record<number, [number, number]>;
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
  const watermarks: Watermark[] = Object.entries(marks).map(([p, [low, high]]) => ({ topic: 't', partition: Number(p), low, high }));
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
    described: Object.entries(g.members ?? {}).map(([groupId, members]) => ({ groupId, state: 'STABLE', members })),
    committed,
    partitions: new Map([['t', Object.keys(marks).map(Number)]]),
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
      'assigned but never committed: no-data, whatever else is known',
      { groups: { g: {} }, members: { g: [{ memberId: 'm', clientId: 'c', host: 'h', assignment: [{ topic: 't', partition: 0 }] }] } },
      { committedOffset: null, lag: null, note: 'no-commit', status: 'OK', rule: 'no-data', owner: { clientId: 'c', host: 'h' } },
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

  it('evaluateCycle should keep a group whose offsets could not be fetched at its last known partitions, without a status change', () => {
    const [, second] = run([{ groups: { g: { 0: 4 } } }, { groups: { g: null }, marks: { 0: [0, 12] }, at: T0 + 60_000 }]);
    expect(second?.changes).toEqual([]);
    expect(second?.report.groups[0]).toMatchObject({ groupId: 'g', totalLag: 8, status: 'OK' });
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

describe('measuredPartitions and firstRecordRequests', () => {
  it('firstRecordRequests should ask each distinct (partition, offset) once and skip caught-up partitions', () => {
    const snap = snapshot({ groups: { a: { 0: 3 }, b: { 0: 3 }, c: { 0: 7 }, d: { 0: 10 } } });
    const requests = firstRecordRequests(measuredPartitions(snap, emptyLagHistory()), snap.watermarks);
    expect(requests.map((r) => `${r.partition}/${r.offset}<${r.end}`).sort()).toEqual(['0/3<10', '0/7<10']);
  });
});
