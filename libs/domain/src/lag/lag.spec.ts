import { type FirstUnconsumed, type PartitionLag, type PartitionPosition, firstUnconsumedOffset, partitionLag } from './lag';

const NOW = 1_700_000_100_000;

describe('partitionLag', () => {
  const cases: Array<[string, PartitionPosition, FirstUnconsumed | null | undefined, PartitionLag]> = [
    ['group never committed', { committed: null, low: 0, high: 10 }, undefined, { lag: null, lagSeconds: null, note: 'no-commit', messagesLost: 0 }],
    ['group never committed, a record to read: unknown (where would it start?)', { committed: null, low: 0, high: 10 }, { offset: 0, timestamp: NOW - 1_000 }, { lag: null, lagSeconds: null, note: 'no-commit', messagesLost: 0 }],
    ['group never committed an empty partition: nothing to read, lag 0', { committed: null, low: 4, high: 4 }, undefined, { lag: 0, lagSeconds: 0, note: 'no-commit', messagesLost: 0 }],
    ['group never committed a partition of aborted records only: nothing to read, lag 0', { committed: null, low: 0, high: 3 }, null, { lag: 0, lagSeconds: 0, note: 'no-commit', messagesLost: 0 }],
    ['caught up', { committed: 10, low: 0, high: 10 }, undefined, { lag: 0, lagSeconds: 0, note: null, messagesLost: 0 }],
    ['empty partition', { committed: 0, low: 0, high: 0 }, undefined, { lag: 0, lagSeconds: 0, note: null, messagesLost: 0 }],
    ['behind: age of the record at the committed offset', { committed: 4, low: 0, high: 10 }, { offset: 4, timestamp: NOW - 12_500 }, { lag: 6, lagSeconds: 12.5, note: null, messagesLost: 0 }],
    ['idle topic, group behind: the age keeps counting', { committed: 9, low: 0, high: 10 }, { offset: 9, timestamp: NOW - 3_600_000 }, { lag: 1, lagSeconds: 3600, note: null, messagesLost: 0 }],
    ['compacted: the first surviving record is later than the committed offset', { committed: 4, low: 0, high: 10 }, { offset: 7, timestamp: NOW - 2_000 }, { lag: 6, lagSeconds: 2, note: null, messagesLost: 0 }],
    ['records deleted before being read', { committed: 2, low: 5, high: 10 }, { offset: 5, timestamp: NOW - 1_000 }, { lag: 5, lagSeconds: 1, note: 'out-of-range', messagesLost: 3 }],
    ['everything deleted, nothing left', { committed: 2, low: 10, high: 10 }, undefined, { lag: 0, lagSeconds: 0, note: 'out-of-range', messagesLost: 8 }],
    ['committed beyond the end (topic recreated)', { committed: 50, low: 0, high: 10 }, undefined, { lag: 0, lagSeconds: 0, note: 'ahead-of-end', messagesLost: 0 }],
    ['only a transaction marker left', { committed: 9, low: 0, high: 10 }, null, { lag: 0, lagSeconds: 0, note: 'no-records', messagesLost: 0 }],
    ['timestamp read failed', { committed: 4, low: 0, high: 10 }, undefined, { lag: 6, lagSeconds: null, note: 'timestamp-unknown', messagesLost: 0 }],
    ['producer clock ahead of ours', { committed: 4, low: 0, high: 10 }, { offset: 4, timestamp: NOW + 5_000 }, { lag: 6, lagSeconds: 0, note: null, messagesLost: 0 }],
    ['unread records deleted by retention while the group was caught up to them', { committed: 7, low: 10, high: 10 }, undefined, { lag: 0, lagSeconds: 0, note: 'out-of-range', messagesLost: 3 }],
  ];
  it.each(cases)('partitionLag should handle %s', (_name, position, first, expected) => {
    expect(partitionLag(position, first, NOW)).toEqual(expected);
  });
});

describe('firstUnconsumedOffset', () => {
  const cases: Array<[PartitionPosition, number | null]> = [
    [{ committed: null, low: 2, high: 10 }, 2],
    [{ committed: null, low: 10, high: 10 }, null],
    [{ committed: 10, low: 0, high: 10 }, null],
    [{ committed: 3, low: 0, high: 10 }, 3],
    [{ committed: 3, low: 6, high: 10 }, 6],
    [{ committed: 3, low: 10, high: 10 }, null],
  ];
  it.each(cases)('firstUnconsumedOffset should read %j at %p', (position, expected) => {
    expect(firstUnconsumedOffset(position)).toBe(expected);
  });
});
