import { loadRecordedEvents } from '@wikimonitor/testing';
import { normalizeRecentChange } from '../recentchange/normalize';
import { pgText } from './columns';
import { ALERT_COLUMNS, ALERT_COLUMN_TYPES, CHANGE_COLUMNS, CHANGE_COLUMN_TYPES, alertRow, changeRow, copyTextLine } from './rows';

const at = { topic: 't', partition: 2, offset: 7 };

describe('copyTextLine', () => {
  it.each([
    [['a', 'b'], 'a\tb\n'],
    [[null, 1, true, false], '\\N\t1\tt\tf\n'],
    [['tab\there'], 'tab\\there\n'],
    [['line\nbreak\r'], 'line\\nbreak\\r\n'],
    [['back\\slash'], 'back\\\\slash\n'],
    [['\\N'], '\\\\N\n'], // the text "\N" is not NULL
    [[''], '\n'],
    [[-12.5], '-12.5\n'],
  ])('copyTextLine should render %j as %j', (values, line) => {
    expect(copyTextLine(values)).toBe(line);
  });
});

describe('changeRow', () => {
  const changes = loadRecordedEvents().map((r) => normalizeRecentChange(r.json, { receivedTime: 1_700_000_000_000, sseId: null }));

  it('changeRow should give one value per column for every recorded event', () => {
    expect(Object.keys(CHANGE_COLUMN_TYPES)).toEqual([...CHANGE_COLUMNS]);
    for (const n of changes) {
      if (n.kind !== 'change') throw new Error('recorded event did not normalize');
      const row = changeRow(n.change, at);
      expect(row).toHaveLength(CHANGE_COLUMNS.length);
      expect(row[0]).toBe(n.change.id);
      expect(row[1]).toBe(new Date(n.change.event_time).toISOString());
      expect(row.slice(-3)).toEqual(['t', 2, 7]);
    }
  });

  it('changeRow should drop NUL characters, which PostgreSQL text cannot hold', () => {
    const n = changes[0];
    if (n?.kind !== 'change') throw new Error('no change');
    const row = changeRow({ ...n.change, title: 'a\u0000b', comment: '\u0000' }, at);
    expect(row[CHANGE_COLUMNS.indexOf('title')]).toBe('ab');
    expect(row[CHANGE_COLUMNS.indexOf('comment')]).toBe('');
    expect(pgText('plain')).toBe('plain');
  });
});

describe('alertRow', () => {
  it('alertRow should keep nullable windows and turn non-finite doubles into NULL', () => {
    expect(Object.keys(ALERT_COLUMN_TYPES)).toEqual([...ALERT_COLUMNS]);
    const row = alertRow(
      {
        id: 'a1',
        kind: 'spike',
        source: 'aggregator',
        subject: 'enwiki',
        severity: 'warning',
        observed: 10,
        expected: 2,
        score: Number.POSITIVE_INFINITY,
        window_start: null,
        window_end: 60_000,
        status: null,
        previous_status: null,
        message: 'm',
        created_at: 0,
      },
      at,
    );
    expect(row).toEqual(['a1', 'spike', 'aggregator', 'enwiki', 'warning', 10, 2, null, null, '1970-01-01T00:01:00.000Z', null, null, 'm', '1970-01-01T00:00:00.000Z', 't', 2, 7]);
  });
});
