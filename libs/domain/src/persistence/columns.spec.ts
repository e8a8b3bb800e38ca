import type { WikiAggregate, WikiAlert } from '@wikimonitor/contracts';
import { loadRecordedEvents } from '@wikimonitor/testing';
import { normalizeRecentChange } from '../recentchange/normalize';
import { type SqlType, type SqlValue, type Table, WIKI_AGGREGATES, WIKI_ALERTS, WIKI_CHANGES, recordFromRow, rowOf, writtenColumns } from './columns';

const at = { topic: 'wiki.changes.all', partition: 4, offset: 1234 };

/** A written value as `pg` hands it back: timestamptz as Date, int8 as string, jsonb parsed. */
function asStored(type: SqlType, v: SqlValue): unknown {
  if (v === null) return null;
  if (type === 'timestamptz') return new Date(v as string);
  if (type === 'int8') return String(v);
  if (type === 'jsonb') return JSON.parse(v as string) as unknown;
  return v;
}

function stored<R>(table: Table<R>, record: R): Record<string, unknown> {
  const row = rowOf(table, record, at);
  const cols = writtenColumns(table);
  return Object.fromEntries(cols.map((c, i) => [c.name, asStored(c.type, row[i] ?? null)]));
}

const aggregate: WikiAggregate = {
  wiki: 'enwiki',
  window_start: 1_700_000_000_000,
  window_end: 1_700_000_060_000,
  total: 7,
  by_type: { edit: 3, new: 1, log: 1, categorize: 1, external: 0, unknown: 1 },
  bot: 2,
  human: 5,
  bytes_added: 120,
  bytes_removed: 30,
  distinct_editors: 4,
  top_pages: [
    { title: 'Main Page', count: 3 },
    { title: 'Other', count: 1 },
  ],
  first_event_time: 1_700_000_001_000,
  last_event_time: 1_700_000_059_000,
};

const alert: WikiAlert = {
  id: 'a1',
  kind: 'spike',
  source: 'aggregator',
  subject: 'enwiki',
  severity: 'warning',
  observed: 10.5,
  expected: 2,
  score: 3.25,
  window_start: null,
  window_end: 60_000,
  status: null,
  previous_status: null,
  message: 'm',
  created_at: 0,
};

describe('column declarations', () => {
  it('recordFromRow should give back every recorded change exactly as it was written', () => {
    const changes = loadRecordedEvents().map((r, i) => normalizeRecentChange(r.json, { receivedTime: 1_700_000_000_000 + i, sseId: i % 2 ? `[{"offset":${i}}]` : null }));
    expect(changes.length).toBeGreaterThan(4000);
    for (const n of changes) {
      if (n.kind !== 'change') throw new Error('recorded event did not normalize');
      expect(recordFromRow(WIKI_CHANGES, stored(WIKI_CHANGES, n.change))).toEqual(n.change);
    }
  });

  it('recordFromRow should give back an aggregate and an alert exactly as they were written', () => {
    expect(recordFromRow(WIKI_AGGREGATES, stored(WIKI_AGGREGATES, aggregate))).toEqual(aggregate);
    expect(recordFromRow(WIKI_ALERTS, stored(WIKI_ALERTS, alert))).toEqual(alert);
  });

  it('recordFromRow should render times as ISO text and add database-filled columns when asked', () => {
    const row = { ...stored(WIKI_ALERTS, alert), persisted_at: new Date(5_000) };
    const out = recordFromRow(WIKI_ALERTS, row, { times: 'iso', withDefaults: true });
    expect(out['created_at']).toBe('1970-01-01T00:00:00.000Z');
    expect(out['window_start']).toBeNull();
    expect(out['persisted_at']).toBe('1970-01-01T00:00:05.000Z');
    expect(out['kafka_offset']).toBeUndefined();
  });

  it('rowOf should write the Kafka position, not a record field, into the kafka_* columns', () => {
    const cols = writtenColumns(WIKI_AGGREGATES).map((c) => c.name);
    const row = rowOf(WIKI_AGGREGATES, aggregate, at);
    expect(cols.slice(-3)).toEqual(['kafka_topic', 'kafka_partition', 'kafka_offset']);
    expect(row.slice(-3)).toEqual(['wiki.changes.all', 4, 1234]);
    expect(cols).not.toContain('persisted_at');
  });

  it('every declared record field should exist on a normalized change', () => {
    const n = normalizeRecentChange(loadRecordedEvents()[0]?.json ?? {}, { receivedTime: 0, sseId: null });
    if (n.kind !== 'change') throw new Error('recorded event did not normalize');
    const missing = WIKI_CHANGES.columns.flatMap((c) => {
      if (!('field' in c.source)) return [];
      const value = c.source.field.split('.').reduce<unknown>((o, p) => (o as Record<string, unknown> | undefined)?.[p], n.change);
      return value === undefined ? [c.source.field] : [];
    });
    expect(missing).toEqual([]);
  });
});
