import { normalizeRecentChange } from '@wikimonitor/domain';
import { loadRecordedEvents } from '@wikimonitor/testing';
import { type CountedChange, diffAggregates, recountAggregates } from './recount';

const base: CountedChange = { id: 'x', wiki: 'enwiki', event_time: 0, type: 'edit', bot: false, user: 'A', title: 'T', length_old: 10, length_new: 15 };
const ch = (id: string, event_time: number, extra: Partial<CountedChange> = {}): CountedChange => ({ ...base, id, event_time, ...extra });
const opts = { windowMs: 10_000, latenessMs: 2_000, topPages: 2 };

describe('recountAggregates', () => {
  it.each([
    { name: 'one change: its window stays open', input: [ch('a', 1_000)], closed: 0, open: 1, late: [] as string[] },
    { name: 'a later change past end + lateness closes the first window', input: [ch('a', 1_000), ch('b', 12_000)], closed: 1, open: 1, late: [] },
    { name: 'not yet past end + lateness: both open', input: [ch('a', 1_000), ch('b', 11_999)], closed: 0, open: 2, late: [] },
    { name: 'a change into a closed window is late and not counted', input: [ch('a', 1_000), ch('b', 12_000), ch('c', 9_999)], closed: 1, open: 1, late: ['c'] },
    { name: 'out of order within lateness is counted', input: [ch('a', 11_000), ch('b', 9_500)], closed: 0, open: 2, late: [] },
    { name: 'wikis have their own clocks', input: [ch('a', 1_000), ch('b', 50_000, { wiki: 'dewiki' }), ch('c', 2_000)], closed: 0, open: 2, late: [] },
  ])('recountAggregates should follow the watermark rule: $name', ({ input, closed, open, late }) => {
    const r = recountAggregates(input, opts);
    expect(r.closed).toHaveLength(closed);
    expect(r.open).toHaveLength(open);
    expect(r.lateIds).toEqual(late);
  });

  it('recountAggregates should count every field of a window as the README defines it', () => {
    const r = recountAggregates(
      [
        ch('a', 1_000, { title: 'P', user: 'A', length_old: 10, length_new: 30 }),
        ch('b', 2_000, { title: 'Q', user: 'B', bot: true, type: 'new', length_old: null, length_new: 7 }),
        ch('c', 3_000, { title: 'Q', user: 'A', length_old: 50, length_new: 20 }),
        ch('d', 4_000, { title: 'R', user: 'C', type: 'log', length_old: null, length_new: null }),
        ch('e', 30_000),
      ],
      opts,
    );
    expect(r.closed[0]).toEqual({
      wiki: 'enwiki',
      window_start: 0,
      window_end: 10_000,
      total: 4,
      by_type: { edit: 2, new: 1, log: 1, categorize: 0, external: 0, unknown: 0 },
      bot: 1,
      human: 3,
      bytes_added: 27,
      bytes_removed: 30,
      distinct_editors: 3,
      top_pages: [
        { title: 'Q', count: 2 },
        { title: 'P', count: 1 },
      ],
      first_event_time: 1_000,
      last_event_time: 4_000,
    });
  });

  it('recountAggregates should find the 12 late events the aggregator README documents for the recordings (10 s windows, no lateness, oldest file first)', () => {
    const byFile = new Map<string, CountedChange[]>();
    for (const e of loadRecordedEvents()) {
      const n = normalizeRecentChange(e.json, { receivedTime: 0 });
      if (n.kind !== 'change') throw new Error(`recorded event ${e.json.meta.id} did not normalize`);
      byFile.set(e.file, [...(byFile.get(e.file) ?? []), n.change]);
    }
    const ordered = [...byFile.values()].sort((a, b) => Math.min(...a.map((c) => c.event_time)) - Math.min(...b.map((c) => c.event_time))).flat();
    expect(ordered).toHaveLength(4053);
    const r = recountAggregates(ordered, { windowMs: 10_000, latenessMs: 0, topPages: 5 });
    expect(r.lateIds).toHaveLength(12);
    const counted = [...r.closed, ...r.open].reduce((n, a) => n + a.total, 0);
    expect(counted + r.lateIds.length).toBe(4053);
  });
});

describe('diffAggregates', () => {
  it('diffAggregates should report missing, unexpected and differing windows', () => {
    const { closed } = recountAggregates([ch('a', 1_000), ch('b', 15_000), ch('c', 30_000)], opts);
    expect(closed).toHaveLength(2);
    const [first, second] = closed as [(typeof closed)[number], (typeof closed)[number]];
    const extra = { ...first, window_start: 90_000, window_end: 100_000 };
    const d = diffAggregates(closed, [{ ...first, total: 5 }, extra]);
    expect(d.equal).toBe(0);
    expect(d.missing).toEqual([`enwiki@${second.window_start}`]);
    expect(d.unexpected).toEqual(['enwiki@90000']);
    expect(d.different).toEqual([{ key: 'enwiki@0', field: 'total', expected: 1, actual: 5 }]);
    expect(diffAggregates(closed, closed)).toEqual({ equal: 2, missing: [], unexpected: [], different: [] });
  });
});
