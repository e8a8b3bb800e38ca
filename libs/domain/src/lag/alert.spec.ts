import { type StatusChange, consumerStatusAlert, shouldAlert } from './alert';
import type { ConsumerStatus } from './types';

const change: StatusChange = {
  group: 'filter-router',
  previous: 'OK',
  status: 'STOP',
  at: 1_700_000_010_000,
  windowStart: 1_700_000_000_000,
  windowMs: 10_000,
  totalLag: 1234,
  maxLagSeconds: 56.78,
  worst: { topic: 'wiki.raw.changes', partition: 3, status: 'STOP', rule: 'stopped' },
};

describe('consumer status alerts', () => {
  it.each([
    [null, 'OK', false],
    [null, 'STOP', true],
    ['OK', 'OK', false],
    ['OK', 'WARN', true],
    ['STOP', 'OK', true],
  ] as Array<[ConsumerStatus | null, ConsumerStatus, boolean]>)('shouldAlert should answer %s -> %s with %p', (previous, status, expected) => {
    expect(shouldAlert({ previous, status })).toBe(expected);
  });

  it('consumerStatusAlert should build a WikiAlert of kind consumer_status with both statuses', () => {
    const alert = consumerStatusAlert(change);
    expect(alert).toMatchObject({
      kind: 'consumer_status',
      source: 'lag-monitor',
      subject: 'filter-router',
      severity: 'critical',
      observed: 1234,
      score: 56.78,
      status: 'STOP',
      previous_status: 'OK',
      window_start: change.windowStart,
      window_end: change.at,
      created_at: change.at,
    });
    expect(alert.message).toContain('filter-router is STOP (was OK)');
    expect(alert.message).toContain('wiki.raw.changes/3');
  });

  it('consumerStatusAlert should give the same id for the same change within a window and another for the next one', () => {
    expect(consumerStatusAlert({ ...change, at: change.at + 1 }).id).toBe(consumerStatusAlert(change).id);
    expect(consumerStatusAlert({ ...change, at: change.at + change.windowMs }).id).not.toBe(consumerStatusAlert(change).id);
    expect(consumerStatusAlert({ ...change, previous: null }).previous_status).toBeNull();
  });

  it.each([
    ['OK', 'info'],
    ['WARN', 'warning'],
    ['REWIND', 'warning'],
    ['STALL', 'critical'],
    ['STOP', 'critical'],
    ['UNKNOWN', 'warning'],
    ['INACTIVE', 'warning'],
    ['STUCK_TRANSACTION', 'critical'],
    ['DATA_LOST', 'critical'],
  ] as Array<[ConsumerStatus, string]>)('consumerStatusAlert should rate %s as %s', (status, severity) => {
    expect(consumerStatusAlert({ ...change, status }).severity).toBe(severity);
  });

  it('consumerStatusAlert should report DATA_LOST with the number of messages lost as observed, naming the partition', () => {
    const alert = consumerStatusAlert({
      ...change,
      status: 'DATA_LOST',
      totalLag: 0,
      messagesLost: 25,
      worst: { topic: 'wiki.changes.all', partition: 1, status: 'DATA_LOST', rule: 'data-lost', committedOffset: 5, lowWatermark: 30, messagesLost: 25 },
    });
    expect(alert).toMatchObject({ status: 'DATA_LOST', severity: 'critical', observed: 25 });
    expect(alert.message).toContain('25 messages of wiki.changes.all/1 deleted by retention before being read (committed offset 5, log start 30)');
  });

  it('consumerStatusAlert should name the topic-partition of a STUCK_TRANSACTION with its last stable offset and high watermark', () => {
    const alert = consumerStatusAlert({
      ...change,
      status: 'STUCK_TRANSACTION',
      totalLag: 0,
      worst: { topic: 'wiki.changes.all', partition: 2, status: 'STUCK_TRANSACTION', rule: 'stuck-transaction', lastStableOffset: 42, logHighWatermark: 900, stuckTransactionSince: 1_700_000_000_000 },
    });
    expect(alert.message).toContain('last stable offset of wiki.changes.all/2 stuck at 42 since 2023-11-14T22:13:20.000Z while its high watermark grew to 900');
    expect(alert.observed).toBe(0);
  });

  it('consumerStatusAlert should say an unknown lag is unknown (observed -1), never 0, and name a memberless group', () => {
    const alert = consumerStatusAlert({ ...change, status: 'UNKNOWN', totalLag: null, unknownLagPartitions: 2, memberless: true, worst: undefined });
    expect(alert.observed).toBe(-1);
    expect(alert.message).toContain('lag unknown (2 partition(s) not measurable)');
    expect(alert.message).toContain('no active members');
  });
});
