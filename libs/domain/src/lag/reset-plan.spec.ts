import { type ResetPartitionState, type ResetTarget, planOffsetReset, resetRefusal } from './reset-plan';

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
