import type { WikiChange } from '@wikimonitor/contracts';
import { loadRecordedEvents } from '@wikimonitor/testing';
import { normalizeRecentChange } from '../recentchange/normalize';
import { DEFAULT_SPIKE_CONFIG } from './spike';
import { decodeWikiState, encodeWikiState } from './state-codec';
import { type AggregatableChange, type AggregationOutput, type WikiState, type WindowConfig, closeIdleWikis, distrustFutureState, reduceChanges, windowStartOf } from './window';

const MIN = 60_000;
const T0 = Date.UTC(2026, 1, 26, 15, 0, 0);
const cfg: WindowConfig = { sizeMs: MIN, allowedLatenessMs: 10_000, topPages: 3, spike: DEFAULT_SPIKE_CONFIG, alertSource: 'aggregator' };

function ch(wiki: string, offsetMs: number, extra: Partial<AggregatableChange> = {}): AggregatableChange {
  return { wiki, event_time: T0 + offsetMs, type: 'edit', bot: false, user: 'U', title: 'P', length_old: 100, length_new: 110, ...extra };
}

const summary = (outs: AggregationOutput[]) =>
  outs.map((o) => (o.kind === 'aggregate' ? `agg ${o.aggregate.wiki}@${(o.aggregate.window_start - T0) / 1000}s=${o.aggregate.total}` : o.kind === 'late' ? `late #${o.index}` : `alert ${o.alert.subject}`));

describe('windowStartOf', () => {
  it.each([
    [0, 0],
    [59_999, 0],
    [60_000, 60_000],
    [-1, -60_000],
  ])('windowStartOf should put %d in the window starting at %d', (t, start) => expect(windowStartOf(t, MIN)).toBe(start));
});

describe('reduceChanges', () => {
  it.each<[string, AggregatableChange[], string[]]>([
    ['in-order events: a window closes once the watermark (max - 10s) passes its end', [ch('a', 1_000), ch('a', 30_000), ch('a', 69_999), ch('a', 70_000)], ['agg a@0s=2']],
    ['out of order within the lateness is counted', [ch('a', 1_000), ch('a', 65_000), ch('a', 59_000), ch('a', 75_000)], ['agg a@0s=2']],
    ['an event in a closed window is late and not counted', [ch('a', 1_000), ch('a', 75_000), ch('a', 59_000)], ['agg a@0s=1', 'late #2']],
    ['a late event into an empty (never opened) closed window is late too', [ch('a', 200_000), ch('a', 1_000)], ['late #1']],
    ['a jump forward closes every older window in order', [ch('a', 1_000), ch('a', 61_000), ch('a', 121_000), ch('a', 600_000)], ['agg a@0s=1', 'agg a@60s=1', 'agg a@120s=1']],
    ['wikis have independent clocks: an old wiki is not late because another is newer', [ch('new', 10 * MIN), ch('old', 1_000), ch('old', 2_000)], []],
    ['a wiki\'s own clock decides lateness', [ch('b', 0), ch('a', 5 * MIN), ch('b', 1_000), ch('a', 1_000)], ['late #3']],
  ])('reduceChanges should handle %s', (_name, changes, want) => {
    const r = reduceChanges(new Map(), changes, cfg, 0);
    expect(summary(r.outputs)).toEqual(want);
  });

  it('reduceChanges should count types, bot/human, bytes, distinct editors and top pages', () => {
    const changes = [
      ch('w', 1_000, { type: 'edit', user: 'A', title: 'X', length_old: 100, length_new: 150 }),
      ch('w', 2_000, { type: 'edit', user: 'A', title: 'X', length_old: 150, length_new: 120 }),
      ch('w', 3_000, { type: 'new', user: 'B', title: 'Y', length_old: null, length_new: 500 }),
      ch('w', 4_000, { type: 'log', user: 'Bot', bot: true, title: 'Z', length_old: null, length_new: null }),
      ch('w', 5_000, { type: 'categorize', user: 'Bot', bot: true, title: 'Y', length_old: null, length_new: null }),
      ch('w', 6_000, { type: 'edit', user: 'C', title: 'A', length_old: 10, length_new: 10 }),
    ];
    const r = closeIdleWikis(reduceChanges(new Map(), changes, cfg, 0).states, ['w'], cfg, 0);
    expect(r.outputs).toHaveLength(1);
    const out = r.outputs[0];
    expect(out?.kind === 'aggregate' && out.reason).toBe('idle');
    expect(out?.kind === 'aggregate' && out.aggregate).toEqual({
      wiki: 'w',
      window_start: T0,
      window_end: T0 + MIN,
      total: 6,
      by_type: { edit: 3, new: 1, log: 1, categorize: 1, external: 0, unknown: 0 },
      bot: 2,
      human: 4,
      bytes_added: 550,
      bytes_removed: 30,
      distinct_editors: 4,
      top_pages: [
        { title: 'X', count: 2 },
        { title: 'Y', count: 2 },
        { title: 'A', count: 1 },
      ],
      first_event_time: T0 + 1_000,
      last_event_time: T0 + 6_000,
    });
  });

  it('reduceChanges should not modify the states it is given', () => {
    const first = reduceChanges(new Map(), [ch('a', 1_000)], cfg, 0).states;
    const before = encodeWikiState(first.get('a') as WikiState);
    reduceChanges(first, [ch('a', 2_000), ch('a', 500_000)], cfg, 0);
    expect(encodeWikiState(first.get('a') as WikiState)).toBe(before);
  });

  it('closeIdleWikis should emit open windows and make later events in them late', () => {
    const s1 = reduceChanges(new Map(), [ch('a', 1_000), ch('a', 61_000)], cfg, 0).states;
    const idle = closeIdleWikis(s1, ['a', 'unknown-wiki'], cfg, 0);
    expect(summary(idle.outputs)).toEqual(['agg a@0s=1', 'agg a@60s=1']);
    const after = reduceChanges(idle.states, [ch('a', 100_000), ch('a', 121_000)], cfg, 0);
    expect(summary(after.outputs)).toEqual(['late #0']);
  });

  it('reduceChanges should raise exactly one alert for a burst and none for steady wikis', () => {
    const changes: AggregatableChange[] = [];
    for (let m = 0; m < 12; m++) {
      for (let i = 0; i < 30; i++) changes.push(ch('steady', m * MIN + i * 1000), ch('bursty', m * MIN + i * 1000 + 1));
      if (m === 8 || m === 9) for (let i = 0; i < 400; i++) changes.push(ch('bursty', m * MIN + 40_000 + i * 10));
    }
    const r = reduceChanges(new Map(), changes, cfg, 0);
    const alerts = r.outputs.flatMap((o) => (o.kind === 'alert' ? [o.alert] : []));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ id: `spike:bursty:${T0 + 8 * MIN}`, kind: 'spike', subject: 'bursty', observed: 430, expected: 30, window_start: T0 + 8 * MIN });
  });
});

describe('aggregation of the recorded events', () => {
  const recorded = loadRecordedEvents();
  const changes: WikiChange[] = recorded.flatMap((e) => {
    const n = normalizeRecentChange(e.json, { receivedTime: 0 });
    return n.kind === 'change' ? [n.change] : [];
  });
  const big: WindowConfig = { ...cfg, allowedLatenessMs: 30_000 };
  const byFileStart = [...new Set(recorded.map((e) => e.file))]
    .map((file) => changes.filter((_, i) => recorded[i]?.file === file))
    .sort((a, b) => Math.min(...a.map((c) => c.event_time)) - Math.min(...b.map((c) => c.event_time)))
    .flat();

  const run = (input: WikiChange[], batchSize: number, viaChangelog: boolean) => {
    let states = new Map<string, WikiState>();
    const outputs: AggregationOutput[] = [];
    for (let i = 0; i < input.length; i += batchSize) {
      const r = reduceChanges(states, input.slice(i, i + batchSize), big, 0);
      for (const o of r.outputs) outputs.push(o.kind === 'late' ? { ...o, index: o.index + i } : o);
      for (const [w, s] of r.states) states.set(w, viaChangelog ? decodeWikiState(encodeWikiState(s)) : s);
      states = new Map(states);
    }
    outputs.push(...closeIdleWikis(states, states.keys(), big, 0).outputs);
    return outputs;
  };

  it('replaying the files in file order should make the 2018 wikidatawiki events late (its clock is already in 2026)', () => {
    expect(changes).toHaveLength(4053);
    const outs = run(changes, 4053, false);
    const late = outs.filter((o) => o.kind === 'late');
    const lateWikis = new Set(late.map((o) => (o.kind === 'late' ? o.wiki : '')));
    expect(late).toHaveLength(3900); // both 2018 files; in-file disorder (at most 5 s) is within the lateness
    expect([...lateWikis]).toEqual(['wikidatawiki']);
  });

  it('replaying the files oldest first should count every event once, whatever the batch size, through a changelog round trip', () => {
    const reference = run(byFileStart, byFileStart.length, false);
    const aggregates = reference.flatMap((o) => (o.kind === 'aggregate' ? [o.aggregate] : []));
    expect(reference.filter((o) => o.kind === 'late')).toHaveLength(0);
    expect(aggregates.reduce((n, a) => n + a.total, 0)).toBe(4053);
    for (const batch of [1, 7, 500]) expect(run(byFileStart, batch, true)).toEqual(reference);
  });
});

describe('distrustFutureState', () => {
  it('distrustFutureState should keep a state within the limit as it is', () => {
    const s = reduceChanges(new Map(), [ch('a', 1_000), ch('a', 75_000)], cfg, 0).states.get('a') as WikiState;
    expect(distrustFutureState(s, T0 + 80_000, cfg)).toEqual({ state: s, distrusted: false });
  });

  it('distrustFutureState should drop the windows after the limit, rebuild the watermark, and keep emitted windows closed', () => {
    // The 10-years-ahead change closed the 0s window at once (emitted early with 1 change).
    const s = reduceChanges(new Map(), [ch('a', 1_000), ch('a', 10 * 365 * 86_400_000)], cfg, 0).states.get('a') as WikiState;
    expect(s.lastScoredEnd).toBe(T0 + MIN);
    const r = distrustFutureState(s, T0 + 3_600_000, cfg);
    expect(r.distrusted).toBe(true);
    expect(r.state.windows).toEqual([]);
    expect([r.state.maxEventTime, r.state.closedUpTo, r.state.lastScoredEnd]).toEqual([null, T0 + MIN, T0 + MIN]);
    expect(s.windows).toHaveLength(1); // the input is left untouched
    // The emitted window stays closed (late), the next ones count again.
    const next = reduceChanges(new Map([['a', r.state]]), [ch('a', 2_000), ch('a', 61_000), ch('a', 130_000)], cfg, 0);
    expect(summary(next.outputs)).toEqual(['late #0', 'agg a@60s=1']);
  });

  it('distrustFutureState should keep the open windows within the limit and their newest event time', () => {
    const s = { ...(reduceChanges(new Map(), [ch('a', 1_000), ch('a', 30_000)], cfg, 0).states.get('a') as WikiState) };
    s.maxEventTime = T0 + 10 * 365 * 86_400_000;
    s.closedUpTo = s.maxEventTime - cfg.allowedLatenessMs;
    const r = distrustFutureState(s, T0 + 3_600_000, cfg);
    expect(r.state.windows.map((w) => [w.start - T0, w.total])).toEqual([[0, 2]]);
    expect([r.state.maxEventTime, r.state.closedUpTo]).toEqual([T0 + 30_000, T0 + 20_000]);
  });
});
