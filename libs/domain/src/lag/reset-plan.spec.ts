import { type OffsetHome, type ResetPartitionState, type ResetTarget, offsetHomeOf, planOffsetReset, resetPolicyRefusal, resetRefusal, resetWarnings } from './reset-plan';

const P: ResetPartitionState = { topic: 't', partition: 0, current: 40, low: 10, high: 100 };

describe('planOffsetReset', () => {
  const cases: Array<[string, ResetPartitionState, ResetTarget, { target: number; lagAfter: number; clamped: boolean }]> = [
    ['earliest', P, { kind: 'earliest' }, { target: 10, lagAfter: 90, clamped: false }],
    ['latest', P, { kind: 'latest' }, { target: 100, lagAfter: 0, clamped: false }],
    ['an offset inside the range', P, { kind: 'offset', offset: 55 }, { target: 55, lagAfter: 45, clamped: false }],
    ['an offset below the log start', P, { kind: 'offset', offset: 0 }, { target: 10, lagAfter: 90, clamped: true }],
    ['an offset beyond the end', P, { kind: 'offset', offset: 1000 }, { target: 100, lagAfter: 0, clamped: true }],
    ['a timestamp with a record after it', { ...P, offsetForTimestamp: 70 }, { kind: 'timestamp', timestamp: 1 }, { target: 70, lagAfter: 30, clamped: false }],
    ['a timestamp after the last record', { ...P, offsetForTimestamp: -1 }, { kind: 'timestamp', timestamp: 1 }, { target: 100, lagAfter: 0, clamped: false }],
    ['a shift back', P, { kind: 'shift', by: -15 }, { target: 25, lagAfter: 75, clamped: false }],
    ['a shift back past the start of a group without commits', { ...P, current: null }, { kind: 'shift', by: -5 }, { target: 10, lagAfter: 90, clamped: true }],
  ];
  it.each(cases)('planOffsetReset should plan %s', (_n, state, target, expected) => {
    expect(planOffsetReset([state], target)[0]).toMatchObject({ topic: 't', partition: 0, current: state.current, ...expected });
  });
});

describe('resetRefusal', () => {
  it.each([
    [{ groupId: 'g', state: 'EMPTY', members: 0 }, false],
    [{ groupId: 'g', state: 'DEAD', members: 0 }, false],
    [{ groupId: 'g', state: 'STABLE', members: 2 }, true],
    [{ groupId: 'g', state: 'PREPARING_REBALANCE', members: 0 }, true],
    [{ groupId: 'g', state: 'EMPTY', members: 1 }, true],
  ])('resetRefusal should judge %j (refused: %p)', (group, refused) => {
    const reason = resetRefusal(group);
    expect(reason !== null).toBe(refused);
    if (reason) expect(reason).toMatch(/active member/);
  });
});

describe('planOffsetReset delta', () => {
  it('planOffsetReset should give target - current as the delta, and none without a position', () => {
    const [back, fresh] = planOffsetReset([P, { ...P, partition: 1, current: null }], { kind: 'offset', offset: 25 });
    expect(back).toMatchObject({ current: 40, target: 25, delta: -15 });
    expect(fresh).toMatchObject({ current: null, target: 25, delta: null });
  });
});

describe('offsetHomeOf', () => {
  const rules = { postgresGroups: ['dedup-persister'], changelogGroups: ['aggregator'] };
  it.each([
    ['dedup-persister', null, 'postgres'],
    ['dedup-persister', 0, 'postgres'],
    ['persister-under-another-name', 3, 'postgres'],
    ['aggregator', null, 'changelog'],
    ['aggregator', 2, 'changelog'],
    ['filter-router', null, 'kafka'],
    ['filter-router', 0, 'kafka'],
  ] as const)('offsetHomeOf should place group %s (%p rows in PostgreSQL) in %s', (group, rows, home) => {
    expect(offsetHomeOf(group, rules, rows)).toBe(home);
  });
});

describe('resetPolicyRefusal', () => {
  const plan = (target: ResetTarget, states: ResetPartitionState[] = [P, { ...P, partition: 1, current: 100 }]) => planOffsetReset(states, target);
  const cases: Array<[string, OffsetHome, ReturnType<typeof plan>, boolean, RegExp | null]> = [
    ['a Kafka group backwards', 'kafka', plan({ kind: 'earliest' }), false, null],
    ['the aggregator backwards', 'changelog', plan({ kind: 'earliest' }), false, /backwards \(t\/0 40 -> 10, t\/1 100 -> 10\).*changelog.*count them again/],
    ['the aggregator by a negative shift', 'changelog', plan({ kind: 'shift', by: -1 }), false, /t\/0 40 -> 39, t\/1 100 -> 99/],
    ['the aggregator to the end', 'changelog', plan({ kind: 'latest' }), false, null],
    ['the aggregator forward by a shift', 'changelog', plan({ kind: 'shift', by: 5 }), false, null],
    ['the aggregator where one partition only goes back', 'changelog', plan({ kind: 'offset', offset: 50 }), false, /t\/1 100 -> 50/],
    ['the aggregator without a position, not to the end', 'changelog', plan({ kind: 'offset', offset: 50 }, [{ ...P, current: null }]), false, /t\/0 none -> 50/],
    ['the aggregator without a position on an empty partition', 'changelog', plan({ kind: 'earliest' }, [{ ...P, current: null, low: 7, high: 7 }]), false, null],
    ['the persister with its database', 'postgres', plan({ kind: 'earliest' }), true, null],
    ['the persister without its database', 'postgres', plan({ kind: 'earliest' }), false, /PostgreSQL \(table consumer_offsets\).*no effect.*DATABASE_URL/],
  ];
  it.each(cases)('resetPolicyRefusal should judge %s', (_n, home, p, postgresAvailable, expected) => {
    const reason = resetPolicyRefusal({ groupId: 'g', home, plan: p, postgresAvailable });
    if (expected) expect(reason).toMatch(expected);
    else expect(reason).toBeNull();
  });

  it('resetWarnings should count the records a forward reset of the aggregator skips, and say where persister offsets go', () => {
    expect(resetWarnings('changelog', plan({ kind: 'latest' }))).toEqual([expect.stringMatching(/^60 record\(s\) skipped are never counted/)]);
    expect(resetWarnings('kafka', plan({ kind: 'latest' }))).toEqual([]);
    expect(resetWarnings('postgres', plan({ kind: 'earliest' }))[0]).toMatch(/PostgreSQL table consumer_offsets/);
  });
});
