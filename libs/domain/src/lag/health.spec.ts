import { type CycleHealthSettings, type CycleHealthState, cycleHealth, initialCycleHealth, recordCycle } from './health';

const T0 = 1_700_000_000_000;
const SETTINGS: CycleHealthSettings = { unreadyAfterFailures: 3, overdueMs: 30_000 };

/** Cycles one second apart from T0: 'ok' or 'fail'. */
function cycles(outcomes: Array<'ok' | 'fail'>): CycleHealthState {
  return outcomes.reduce((s, o, i) => recordCycle(s, o === 'ok' ? { at: T0 + i * 1000 } : { at: T0 + i * 1000, error: `failure ${i}` }), initialCycleHealth());
}

describe('cycleHealth', () => {
  const cases: Array<[string, Array<'ok' | 'fail'>, number, { stale: boolean; staleSince: number | null; ready: boolean; consecutiveFailures: number }]> = [
    ['before the first cycle', [], T0, { stale: false, staleSince: null, ready: false, consecutiveFailures: 0 }],
    ['failing from the start: nothing served, not ready', ['fail', 'fail', 'fail', 'fail'], T0 + 4000, { stale: false, staleSince: null, ready: false, consecutiveFailures: 4 }],
    ['healthy', ['ok', 'ok', 'ok'], T0 + 3000, { stale: false, staleSince: null, ready: true, consecutiveFailures: 0 }],
    ['one failed cycle: stale, still ready', ['ok', 'ok', 'fail'], T0 + 3000, { stale: true, staleSince: T0 + 2000, ready: true, consecutiveFailures: 1 }],
    ['N-1 failed cycles: still ready', ['ok', 'fail', 'fail'], T0 + 3000, { stale: true, staleSince: T0 + 1000, ready: true, consecutiveFailures: 2 }],
    ['N failed cycles: not ready, stale since the first failure', ['ok', 'fail', 'fail', 'fail'], T0 + 4000, { stale: true, staleSince: T0 + 1000, ready: false, consecutiveFailures: 3 }],
    ['a success after failures: fresh and ready again', ['ok', 'fail', 'fail', 'fail', 'ok'], T0 + 5000, { stale: false, staleSince: null, ready: true, consecutiveFailures: 0 }],
    ['no cycle ends at all (a hung cycle): overdue, stale and not ready', ['ok'], T0 + 31_000, { stale: true, staleSince: T0 + 30_000, ready: false, consecutiveFailures: 0 }],
    ['exactly at the overdue bound: not yet', ['ok'], T0 + 30_000, { stale: false, staleSince: null, ready: true, consecutiveFailures: 0 }],
  ];
  it.each(cases)('cycleHealth should report %s', (_name, outcomes, now, expected) => {
    expect(cycleHealth(cycles(outcomes), now, SETTINGS)).toMatchObject(expected);
  });

  it('cycleHealth should keep the time of the last success and the last error', () => {
    const h = cycleHealth(cycles(['ok', 'ok', 'fail']), T0 + 3000, SETTINGS);
    expect(h).toMatchObject({ lastSuccessAt: T0 + 1000, lastError: 'failure 2' });
  });
});
