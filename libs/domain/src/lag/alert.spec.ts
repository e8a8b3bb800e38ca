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
  ] as Array<[ConsumerStatus, string]>)('consumerStatusAlert should rate %s as %s', (status, severity) => {
    expect(consumerStatusAlert({ ...change, status }).severity).toBe(severity);
  });
});
