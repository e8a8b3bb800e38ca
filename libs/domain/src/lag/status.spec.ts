import { evaluatePartitionStatus, statusCode, worstStatus } from './status';
import type { ConsumerStatus, OffsetObservation, PartitionStatusInput, StatusRule } from './types';

const INTERVAL = 1000;
const N = 5;
const T0 = 1_700_000_000_000;

/** Observations one cycle apart from [offset, lag] pairs; the last one is "now". */
function obs(pairs: Array<[number, number]>): OffsetObservation[] {
  return pairs.map(([offset, lag], i) => ({ at: T0 + i * INTERVAL, offset, lag }));
}

function input(pairs: Array<[number, number]>, lastCommitAgoMs: number | null, commitsObserved = true): PartitionStatusInput {
  const window = obs(pairs);
  const now = window.length ? (window[window.length - 1] as OffsetObservation).at : T0;
  return { committed: window.length ? (window[window.length - 1] as OffsetObservation).offset : null, window, windowCycles: N, windowMs: N * INTERVAL, now, lastCommitAt: lastCommitAgoMs === null ? null : now - lastCommitAgoMs, commitsObserved };
}

describe('evaluatePartitionStatus', () => {
  const cases: Array<[string, PartitionStatusInput, ConsumerStatus, StatusRule]> = [
    ['no observations', { ...input([], 0), committed: 10 }, 'UNKNOWN', 'no-data'],
    ['never committed, no observation: unknown, not OK', input([], 0), 'UNKNOWN', 'no-commit'],
    ['never committed, but nothing to read in the partition', { ...input([], 0), nothingToRead: true }, 'OK', 'nothing-to-read'],
    ['assigned but never committed, with observations left from before', { ...input([[10, 5], [10, 9], [10, 12], [10, 20], [10, 25]], 3_600_000), committed: null }, 'UNKNOWN', 'no-commit'],
    ['end offset not listed this cycle, even with a caught-up window', { ...input([[15, 0], [15, 0]], 100), endKnown: false }, 'UNKNOWN', 'end-unknown'],
    ['committed below the log start: records deleted unread, though lag is 0', { ...input([[15, 0], [15, 0]], 100), messagesLost: 25 }, 'DATA_LOST', 'data-lost'],
    ['data lost wins over STOP', { ...input([[10, 5], [10, 9], [10, 12], [10, 20], [10, 25]], N * INTERVAL + 1), messagesLost: 3 }, 'DATA_LOST', 'data-lost'],
    ['caught up to a stuck last stable offset', { ...input([[15, 0], [15, 0], [15, 0], [15, 0], [15, 0]], 100), stuckTransaction: true }, 'STUCK_TRANSACTION', 'stuck-transaction'],
    ['data lost wins over a stuck transaction', { ...input([[15, 0]], 100), stuckTransaction: true, messagesLost: 1 }, 'DATA_LOST', 'data-lost'],
    ['caught up now', input([[10, 5], [12, 3], [15, 0]], 100), 'OK', 'caught-up'],
    ['caught up now even with a stale commit', input([[15, 0], [15, 0], [15, 0], [15, 0], [15, 0]], 3_600_000), 'OK', 'caught-up'],
    ['offset went backwards (reset to earliest of a stopped group)', input([[100, 0], [100, 0], [0, 100], [0, 100]], 500), 'REWIND', 'rewind'],
    ['offset went backwards while busy', input([[100, 5], [120, 5], [90, 40], [95, 38], [99, 36]], 200), 'REWIND', 'rewind'],
    ['lag zero earlier in the window', input([[10, 0], [10, 4], [12, 4], [14, 4], [16, 4]], 200), 'OK', 'recently-caught-up'],
    ['no commit for longer than the window', input([[10, 5], [10, 9], [10, 12], [10, 20], [10, 25]], N * INTERVAL + 1), 'STOP', 'stopped'],
    ['stopped group seen on the first cycle', input([[10, 500]], 3_600_000), 'STOP', 'stopped'],
    ['commit exactly one window ago is not yet STOP', input([[10, 5], [10, 5], [10, 5], [10, 5], [10, 5]], N * INTERVAL), 'OK', 'not-moving'],
    ['window still filling', input([[10, 5], [11, 7]], 100), 'OK', 'window-filling'],
    ['same offset committed all window long', input([[10, 5], [10, 6], [10, 8], [10, 8], [10, 9]], 300), 'STALL', 'stalled'],
    ['same offset but commit times unobservable', input([[10, 5], [10, 6], [10, 8], [10, 8], [10, 9]], 300, false), 'OK', 'not-moving'],
    ['same offset, last commit before the window but within its length', input([[10, 5], [10, 5], [10, 5], [10, 5], [10, 5]], (N - 1) * INTERVAL + 500), 'OK', 'not-moving'],
    ['moving but lag never falls and grows', input([[10, 5], [12, 8], [14, 8], [16, 11], [18, 20]], 100), 'WARN', 'falling-behind'],
    ['moving with a constant lag keeps pace', input([[10, 5], [12, 5], [14, 5], [16, 5], [18, 5]], 100), 'OK', 'keeping-up'],
    ['moving and lag falls once', input([[10, 5], [12, 8], [14, 7], [16, 11], [18, 20]], 100), 'OK', 'keeping-up'],
    ['unknown last commit never means STOP', input([[10, 5], [10, 6], [10, 8], [10, 8], [10, 9]], null), 'OK', 'not-moving'],
    ['inferred commit time still gives STOP', input([[10, 5], [10, 6], [10, 8], [10, 8], [10, 9]], 60_000, false), 'STOP', 'stopped'],
  ];
  it.each(cases)('evaluatePartitionStatus should judge %s', (_name, given, status, rule) => {
    expect(evaluatePartitionStatus(given)).toEqual({ status, rule });
  });
});

describe('worstStatus', () => {
  const cases: Array<[ConsumerStatus[], ConsumerStatus]> = [
    [[], 'OK'],
    [['OK', 'OK'], 'OK'],
    [['OK', 'WARN'], 'WARN'],
    [['WARN', 'REWIND', 'OK'], 'REWIND'],
    [['STALL', 'REWIND'], 'STALL'],
    [['OK', 'STOP', 'STALL', 'WARN'], 'STOP'],
    [['OK', 'UNKNOWN'], 'UNKNOWN'],
    [['UNKNOWN', 'INACTIVE'], 'INACTIVE'],
    [['INACTIVE', 'WARN'], 'WARN'],
    [['STALL', 'STUCK_TRANSACTION'], 'STUCK_TRANSACTION'],
    [['STUCK_TRANSACTION', 'STOP'], 'STOP'],
    [['STOP', 'DATA_LOST', 'OK'], 'DATA_LOST'],
  ];
  it.each(cases)('worstStatus should pick the worst of %j', (statuses, expected) => {
    expect(worstStatus(statuses)).toBe(expected);
  });
});

describe('statusCode', () => {
  it('statusCode should keep the codes of the first five statuses and append the new ones', () => {
    expect((['OK', 'WARN', 'REWIND', 'STALL', 'STOP', 'UNKNOWN', 'INACTIVE', 'STUCK_TRANSACTION', 'DATA_LOST'] as ConsumerStatus[]).map(statusCode)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
