import { loadConfig } from './config';

describe('aggregator config', () => {
  it('aggregator config should apply the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      INPUT_TOPIC: 'wiki.changes.all',
      AGGREGATES_TOPIC: 'wiki.aggregates',
      ALERTS_TOPIC: 'wiki.alerts',
      LATE_TOPIC: 'wiki.changes.late',
      DLQ_TOPIC: 'wiki.dlq',
      CHANGELOG_TOPIC: 'wiki.aggregator.changelog',
      GROUP_ID: 'aggregator',
      WINDOW_SIZE_MS: 60_000,
      ALLOWED_LATENESS_MS: 30_000,
      IDLE_CLOSE_MS: 120_000,
      SPIKE_ALPHA: 0.2,
      SPIKE_THRESHOLD: 4,
    });
  });

  it('aggregator config should name every bad setting', () => {
    expect(() => loadConfig({ HTTP_PORT: 'abc', LOG_LEVEL: 'loud', WINDOW_SIZE_MS: '10', SPIKE_ALPHA: '2' })).toThrow(/HTTP_PORT[\s\S]*LOG_LEVEL[\s\S]*WINDOW_SIZE_MS[\s\S]*SPIKE_ALPHA/);
  });
});
