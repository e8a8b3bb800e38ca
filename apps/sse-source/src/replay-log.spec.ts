import { PASS_GAP_MS, ReplayLog } from './replay-log';
import { type RecordedEvent, toRecordedEvent } from './recording';

const rec = (i: number, dt: string | undefined, extra: Record<string, unknown> = {}): RecordedEvent => {
  const ev = toRecordedEvent('f.jsonl', i + 1, JSON.stringify({ meta: { id: `id-${i}`, ...(dt ? { dt } : {}) }, wiki: i % 2 ? 'dewiki' : 'enwiki', ...extra }));
  if (typeof ev === 'string') throw new Error(ev);
  return ev;
};

// Times deliberately out of order, as across the shared recordings: 10s, 5s, 20s, (none -> 20s), 12s.
const events = [
  rec(0, '1970-01-01T00:00:10Z'),
  rec(1, '1970-01-01T00:00:05Z', { meta: { id: 'id-1', dt: '1970-01-01T00:00:05Z', topic: 'eqiad.x' } }),
  rec(2, '1970-01-01T00:00:20Z'),
  rec(3, undefined),
  rec(4, '1970-01-01T00:00:12.500Z'),
];
const log = new ReplayLog(events, { defaultTopic: 'local.t', deriveId: (name) => `uuid(${name})` });
const span = 15_000 + PASS_GAP_MS; // ceil((20 - 5) s) + gap

describe('ReplayLog', () => {
  it('ReplayLog should advance each pass by the recording span rounded to seconds plus a gap', () => {
    expect(log.passSpanMs).toBe(span);
  });

  it.each([
    [0, 0, 'id-0', 10_000, 'local.t'],
    [1, 0, 'id-1', 5_000, 'eqiad.x'],
    [3, 0, 'id-3', 20_000, 'local.t'],
    [5, 1, 'uuid(loop:id-0:1)', 10_000 + span, 'local.t'],
    [12, 2, 'uuid(loop:id-2:2)', 20_000 + 2 * span, 'local.t'],
  ])('ReplayLog should serve offset %d from pass %d', (offset, pass, metaId, timeMs, topic) => {
    const ev = log.eventAt(offset);
    expect(ev).toMatchObject({ offset, pass, metaId, timeMs, topic, index: offset % 5 });
    expect(JSON.parse(ev.text).meta.id).toBe(metaId);
    if (pass > 0 && offset % 5 !== 3) expect(Date.parse(JSON.parse(ev.text).meta.dt)).toBe(timeMs);
  });

  it('ReplayLog should serve pass 0 with the recorded text unchanged', () => {
    for (let i = 0; i < 5; i++) expect(log.eventAt(i).text).toBe(events[i]?.text);
  });

  it('ReplayLog should make every event of a pass later than every event of the pass before', () => {
    const times = (pass: number) => [0, 1, 2, 3, 4].map((i) => log.timeAt(pass * 5 + i));
    expect(Math.min(...times(1))).toBeGreaterThan(Math.max(...times(0)));
    expect(Math.min(...times(2))).toBeGreaterThan(Math.max(...times(1)));
  });

  it.each([
    [0, 1, 0],
    [5_000, 1, 0],
    [10_001, 1, 2],
    [20_000, 1, 2],
    [20_001, 1, 5],
    [20_001, 3, 5],
    [5_000 + span, 3, 5],
    [12_000 + span, 3, 7],
    [999_999_999, 3, 15],
    // pass 62499 is the first reaching 999,999,999 ms; in it, index 2 (20 s + 62499 passes) is the first event that late.
    [999_999_999, Infinity, 62_499 * 5 + 2],
  ])('ReplayLog should find the first offset at or after %d ms with %d passes: %d', (ms, passes, offset) => {
    expect(log.firstOffsetAtOrAfter(ms, passes)).toBe(offset);
  });

  // Events 0-3 are written in whole seconds (or have no meta.dt: 1 ms), event 4 with milliseconds.
  const recordedPrecision = (index: number) => (index === 3 || index === 4 ? 1 : 1000);
  it.each([
    [0, 0, 'id-0'],
    [3, 0, 'id-3'],
    [5, 1, 'uuid(loop:id-0:1)'],
    [14, 2, 'uuid(loop:id-4:2)'],
  ])('ReplayLog should date offset %d (pass %d) at the send time in time mode now', (offset, pass, metaId) => {
    const sentAtMs = Date.UTC(2026, 10, 21, 21, 30, 5, 789);
    const precisions: number[] = [];
    const ev = log.eventAt(offset, (precisionMs = 1) => {
      precisions.push(precisionMs);
      return sentAtMs;
    });
    expect(precisions).toEqual([recordedPrecision(offset % 5)]);
    expect(ev).toMatchObject({ offset, pass, metaId, timeMs: sentAtMs, index: offset % 5 });
    const json = JSON.parse(ev.text);
    expect(json.meta.id).toBe(metaId);
    const recorded = JSON.parse(events[offset % 5]?.text ?? '');
    if (recorded.meta.dt === undefined) expect(json.meta.dt).toBeUndefined();
    else expect(json.meta.dt).toBe(recorded.meta.dt.endsWith('.500Z') ? '2026-11-21T21:30:05.789Z' : '2026-11-21T21:30:05Z');
    expect({ ...json, meta: { ...json.meta, id: undefined, dt: undefined } }).toEqual({ ...recorded, meta: { ...recorded.meta, id: undefined, dt: undefined } });
  });

  describe('upstream partitions', () => {
    // eqiad 0 (offset 100), codfw 0 (offset 7), eqiad 0 (offset 105): times 10 s, 30 s, 20 s.
    const upstreamLog = new ReplayLog(
      [
        rec(0, '1970-01-01T00:00:10Z', { meta: { id: 'a', dt: '1970-01-01T00:00:10Z', topic: 'eqiad.mediawiki.recentchange', partition: 0, offset: 100 } }),
        rec(1, '1970-01-01T00:00:30Z', { meta: { id: 'b', dt: '1970-01-01T00:00:30Z', topic: 'codfw.mediawiki.recentchange', partition: 0, offset: 7 } }),
        rec(2, '1970-01-01T00:00:20Z', { meta: { id: 'c', dt: '1970-01-01T00:00:20Z', topic: 'eqiad.mediawiki.recentchange', partition: 0, offset: 105 } }),
        rec(3, '1970-01-01T00:00:25Z', { meta: { id: 'd', dt: '1970-01-01T00:00:25Z', topic: 'other', partition: 2 } }),
      ],
      { defaultTopic: 'eqiad.mediawiki.recentchange', deriveId: (name) => `uuid(${name})` },
    );

    it('ReplayLog should list both datacenter topics first, then the others of the recordings', () => {
      expect(upstreamLog.partitions).toEqual([
        { topic: 'eqiad.mediawiki.recentchange', partition: 0 },
        { topic: 'codfw.mediawiki.recentchange', partition: 0 },
        { topic: 'other', partition: 2 },
      ]);
      expect([0, 1, 2, 3, 4].map((o) => upstreamLog.partitionAt(o))).toEqual([0, 1, 0, 2, 0]);
    });

    it.each([
      [15_000, 0, 2],
      [15_000, 1, 1],
      [31_000, 1, 4 + 1],
      [21_000, 0, 4],
    ])('ReplayLog should find the first offset at or after %d ms of partition %d: %d', (ms, partition, offset) => {
      expect(upstreamLog.firstOffsetAtOrAfter(ms, 2, partition)).toBe(offset);
    });

    it('ReplayLog should move meta.offset by the datacenter shift and by whole passes of the partition offset span', () => {
      const offsetOf = (o: number, shift?: number) => (JSON.parse(upstreamLog.eventAt(o, undefined, shift).text) as { meta: { offset: number } }).meta.offset;
      expect([offsetOf(0), offsetOf(2), offsetOf(0, 1000)]).toEqual([100, 105, 1100]);
      // eqiad's recorded offsets span 100..105 (6); codfw's one offset spans 1.
      expect([offsetOf(4), offsetOf(6), offsetOf(5)]).toEqual([106, 111, 8]);
      expect(upstreamLog.eventAt(0).text).toBe(upstreamLog.events[0]?.text);
    });

    it('ReplayLog should give the upstream time as meta.dt writes it, also in time mode now', () => {
      expect(upstreamLog.eventAt(2).upstreamMs).toBe(20_000);
      const sent = upstreamLog.eventAt(2, () => 1_234_567);
      expect({ timeMs: sent.timeMs, upstreamMs: sent.upstreamMs }).toEqual({ timeMs: 1_234_567, upstreamMs: 1_234_000 });
    });
  });

  it('ReplayLog should index events by wiki', () => {
    expect(log.indexByWiki()).toEqual(
      new Map([
        ['enwiki', [0, 2, 4]],
        ['dewiki', [1, 3]],
      ]),
    );
  });

  it('ReplayLog should refuse an empty recording', () => {
    expect(() => new ReplayLog([], { defaultTopic: 't', deriveId: String })).toThrow(RangeError);
  });
});
