import { ALL_WIKIS, type ChangeFacts, type WindowCounts, type WindowRollup, applyEditorChanges, applyWindowWrites, changeRollupDeltas, mergeTop, rollupKey, topOfRange } from './rollups';

const MIN = Date.parse('2026-03-01T10:07:00Z');
const win = (over: Partial<WindowCounts> = {}): WindowCounts => ({
  wiki: 'enwiki',
  window_start: MIN,
  total: 10,
  by_type: { edit: 7, new: 1, log: 1, categorize: 1, external: 0, unknown: 0 },
  bot: 3,
  human: 7,
  bytes_added: 500,
  bytes_removed: 40,
  top_pages: [
    { title: 'A', count: 4 },
    { title: 'B', count: 2 },
  ],
  ...over,
});
const byKey = (rows: WindowRollup[]) => new Map(rows.map((r) => [rollupKey(r.level, r.wiki, r.bucket_start), r]));

describe('applyWindowWrites', () => {
  it('applyWindowWrites should add a new window to its minute, hour and day rows, per wiki and for all wikis', () => {
    const rows = applyWindowWrites(new Map(), [{ before: null, after: win() }]);
    expect(rows.map((r) => `${r.level}:${r.wiki}:${new Date(r.bucket_start).toISOString()}`).sort()).toEqual(
      [
        'day:*:2026-03-01T00:00:00.000Z',
        'day:enwiki:2026-03-01T00:00:00.000Z',
        'hour:*:2026-03-01T10:00:00.000Z',
        'hour:enwiki:2026-03-01T10:00:00.000Z',
        'minute:*:2026-03-01T10:07:00.000Z',
        'minute:enwiki:2026-03-01T10:07:00.000Z',
      ],
    );
    for (const r of rows) expect([r.windows, r.total, r.by_type.edit, r.bot, r.human, r.bytes_added, r.bytes_removed]).toEqual([1, 10, 7, 3, 7, 500, 40]);
    const all = rows.find((r) => r.wiki === ALL_WIKIS && r.level === 'day');
    expect(all?.top_pages).toEqual([
      { wiki: 'enwiki', name: 'A', count: 4 },
      { wiki: 'enwiki', name: 'B', count: 2 },
    ]);
  });

  it.each([
    ['a second window of the same hour adds', { before: null, after: win({ window_start: MIN + 60_000, total: 5 }) }, { windows: 2, total: 15 }],
    ['a re-emitted window with new counts adds only the difference', { before: win(), after: win({ total: 12, top_pages: [{ title: 'A', count: 6 }] }) }, { windows: 1, total: 12 }],
    ['a re-emitted window with fewer counts subtracts', { before: win(), after: win({ total: 8 }) }, { windows: 1, total: 8 }],
  ])('applyWindowWrites should handle %s', (_n, write, expected) => {
    const first = byKey(applyWindowWrites(new Map(), [{ before: null, after: win() }]));
    const next = applyWindowWrites(first, [write]);
    const hour = next.find((r) => r.level === 'hour' && r.wiki === 'enwiki');
    expect({ windows: hour?.windows, total: hour?.total }).toEqual(expected);
  });

  it('applyWindowWrites should move a changed top list: old counts out, new counts in', () => {
    const first = byKey(applyWindowWrites(new Map(), [{ before: null, after: win() }]));
    const next = applyWindowWrites(first, [{ before: win(), after: win({ top_pages: [{ title: 'C', count: 9 }] }) }]);
    expect(next.find((r) => r.level === 'minute' && r.wiki === 'enwiki')?.top_pages).toEqual([{ name: 'C', count: 9 }]);
  });
});

describe('mergeTop', () => {
  it('mergeTop should sum, drop entries at zero and keep the n largest', () => {
    const delta = new Map([
      ['\u0000A', { name: 'A', count: -4 }],
      ['\u0000C', { name: 'C', count: 3 }],
      ['\u0000D', { name: 'D', count: 1 }],
    ]);
    expect(mergeTop([{ name: 'A', count: 4 }, { name: 'B', count: 2 }], delta, 2)).toEqual([
      { name: 'C', count: 3 },
      { name: 'B', count: 2 },
    ]);
  });

  it('topOfRange should merge bucket lists into one ranking', () => {
    expect(topOfRange([[{ name: 'x', count: 2 }], [{ name: 'y', count: 1 }, { name: 'x', count: 1 }]], 5)).toEqual([
      { name: 'x', count: 3 },
      { name: 'y', count: 1 },
    ]);
  });
});

const fact = (over: Partial<ChangeFacts> = {}): ChangeFacts => ({ event_time: MIN + 5_000, wiki: 'enwiki', domain: 'en.wikipedia.org', namespace: 0, type: 'edit', bot: false, user: 'Ann', length_old: 100, length_new: 150, ...over });

describe('change rollups', () => {
  it('changeRollupDeltas should count changes and bytes per level, wiki, namespace, type and bot flag', () => {
    const d = changeRollupDeltas([fact(), fact({ length_new: 20 }), fact({ namespace: 1 }), fact({ type: 'new', length_old: null, length_new: 70 })]);
    const minute = d.filter((r) => r.level === 'minute');
    expect(minute.map((r) => [r.namespace, r.type, r.changes, r.bytes_added, r.bytes_removed])).toEqual([
      [0, 'edit', 2, 50, 80],
      [1, 'edit', 1, 50, 0],
      [0, 'new', 1, 70, 0],
    ]);
    expect(d.filter((r) => r.level === 'day')).toHaveLength(3);
  });

  it('applyEditorChanges should count editors per hour and day, per wiki and for all wikis', () => {
    const rows = applyEditorChanges(new Map(), [fact(), fact(), fact({ user: 'Bob' }), fact({ wiki: 'dewiki', user: 'Bob' })]);
    expect(rows).toHaveLength(6);
    expect(rows.find((r) => r.level === 'hour' && r.wiki === 'enwiki')).toMatchObject({ changes: 3, top_editors: [{ name: 'Ann', count: 2 }, { name: 'Bob', count: 1 }] });
    expect(rows.find((r) => r.level === 'day' && r.wiki === ALL_WIKIS)?.top_editors).toEqual([
      { wiki: 'enwiki', name: 'Ann', count: 2 },
      { wiki: 'dewiki', name: 'Bob', count: 1 },
      { wiki: 'enwiki', name: 'Bob', count: 1 },
    ]);
  });
});
