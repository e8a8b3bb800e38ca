import { encodeEventId } from './event-id';
import { type PositionIndex, parseSince, positionIndexFor, resolveStartPosition } from './resume';

// A log of 10 events whose times are 1000, 2000, ... 10000 ms.
const index: PositionIndex = {
  endOffset: 10,
  baseOffset: 0,
  partitions: [],
  firstOffsetAtOrAfter: (ms) => Math.min(10, Math.max(0, Math.ceil(ms / 1000) - 1)),
};

describe('resolveStartPosition', () => {
  const cases: Array<{ name: string; req: { lastEventId?: string; since?: string }; expected: unknown }> = [
    { name: 'start at 0 without hints', req: {}, expected: { ok: true, offset: 0, from: 'beginning' } },
    { name: 'resume at the id offset', req: { lastEventId: encodeEventId('t', 4, 4000) }, expected: { ok: true, offset: 4, from: 'last-event-id-offset' } },
    { name: 'take the largest offset of several entries', req: { lastEventId: '[{"offset":3},{"offset":7},{"offset":-1}]' }, expected: { ok: true, offset: 7, from: 'last-event-id-offset' } },
    { name: 'clamp an offset past the end', req: { lastEventId: '[{"offset":99}]' }, expected: { ok: true, offset: 10, from: 'last-event-id-offset' } },
    { name: 'use the timestamp when no offset is usable', req: { lastEventId: '[{"timestamp":3000},{"offset":-1}]' }, expected: { ok: true, offset: 2, from: 'last-event-id-timestamp' } },
    { name: 'use the earliest of several timestamps', req: { lastEventId: '[{"timestamp":6000},{"timestamp":3000}]' }, expected: { ok: true, offset: 2, from: 'last-event-id-timestamp' } },
    { name: 'prefer Last-Event-ID over since', req: { lastEventId: '[{"offset":5}]', since: '1000' }, expected: { ok: true, offset: 5, from: 'last-event-id-offset' } },
    { name: 'treat an empty Last-Event-ID as absent', req: { lastEventId: ' ', since: '2500' }, expected: { ok: true, offset: 2, from: 'since' } },
    { name: 'resume at since in epoch ms', req: { since: '7000' }, expected: { ok: true, offset: 6, from: 'since' } },
    { name: 'resume at since in ISO-8601', req: { since: '1970-01-01T00:00:05Z' }, expected: { ok: true, offset: 4, from: 'since' } },
    { name: 'reject a broken Last-Event-ID', req: { lastEventId: '[{' }, expected: expect.objectContaining({ ok: false, error: 'invalid_last_event_id' }) },
    { name: 'reject an id with only negative offsets', req: { lastEventId: '[{"offset":-1}]' }, expected: expect.objectContaining({ ok: false, error: 'invalid_last_event_id' }) },
    { name: 'reject a bad since', req: { since: 'last tuesday' }, expected: expect.objectContaining({ ok: false, error: 'invalid_since' }) },
  ];
  it.each(cases)('resolveStartPosition should $name', ({ req, expected }) => {
    expect(resolveStartPosition(req, index)).toEqual(expected);
  });
});

describe('parseSince', () => {
  it.each([
    ['1690617099000', 1690617099000],
    ['2023-07-29T07:51:39Z', 1690617099000],
    ['2023-07-29T09:51:39+02:00', 1690617099000],
    ['2023-07-29', Date.UTC(2023, 6, 29)],
  ])('parseSince should read %s', (raw, ms) => {
    expect(parseSince(raw)).toEqual({ ok: true, value: ms });
  });
  it.each(['', 'soon', '2023-13-45T00:00:00Z', '-5'])('parseSince should reject %j', (raw) => {
    expect(parseSince(raw).ok).toBe(false);
  });
});

describe('positionIndexFor', () => {
  // The same 10-event log (times 1000 ... 10000 ms per pass of 10 s).
  const log = {
    partitions: [],
    partitionAt: () => 0,
    precisionAt: () => 1,
    endOffset: (passes: number) => (passes === Infinity ? Infinity : 10 * passes),
    firstOffsetAtOrAfter: (ms: number, passes: number) => Math.min(10 * passes, Math.max(0, Math.ceil(ms / 1000) - 1)),
  };
  const now = Date.now();
  const cases: Array<{ name: string; mode: 'original' | 'now'; passes: number; req: { lastEventId?: string; since?: string }; offset: number; from: string }> = [
    { name: 'original: since finds the recorded time', mode: 'original', passes: 1, req: { since: '7000' }, offset: 6, from: 'since' },
    { name: 'original: since after the last pass ends the stream', mode: 'original', passes: 2, req: { since: '99000' }, offset: 20, from: 'since' },
    { name: 'now: a past since starts at the beginning of the log', mode: 'now', passes: 3, req: { since: '7000' }, offset: 0, from: 'since' },
    { name: 'now: since a second ago starts at the beginning', mode: 'now', passes: Infinity, req: { since: String(now - 1000) }, offset: 0, from: 'since' },
    { name: 'now: a future since is not waited for', mode: 'now', passes: 1, req: { since: new Date(now + 3_600_000).toISOString() }, offset: 0, from: 'since' },
    { name: 'now: a timestamp-only Last-Event-ID starts at the beginning', mode: 'now', passes: 3, req: { lastEventId: `[{"timestamp":${now - 5000}}]` }, offset: 0, from: 'last-event-id-timestamp' },
    { name: 'now: a Last-Event-ID offset resumes exactly', mode: 'now', passes: 3, req: { lastEventId: `[{"offset":17,"timestamp":${now}}]` }, offset: 17, from: 'last-event-id-offset' },
  ];
  it.each(cases)('positionIndexFor should resolve $name', ({ mode, passes, req, offset, from }) => {
    expect(resolveStartPosition(req, positionIndexFor(log, passes, mode))).toEqual({ ok: true, offset, from });
  });
});

describe('resolveStartPosition in id mode timestamp', () => {
  // 10 events, times 1000 ... 10000 ms; even offsets are eqiad's, odd ones codfw's.
  const partitions = [
    { topic: 'eqiad.mediawiki.recentchange', partition: 0 },
    { topic: 'codfw.mediawiki.recentchange', partition: 0 },
  ];
  const times = Array.from({ length: 10 }, (_, i) => (i + 1) * 1000);
  const two: PositionIndex = {
    endOffset: 10,
    baseOffset: 0,
    partitions,
    firstOffsetAtOrAfter: (ms, p) => {
      const i = times.findIndex((t, o) => t >= ms && (p === undefined || o % 2 === p));
      return i === -1 ? 10 : i;
    },
  };
  const eqiad = (pos: object) => ({ topic: 'eqiad.mediawiki.recentchange', partition: 0, ...pos });
  const codfw = (pos: object) => ({ topic: 'codfw.mediawiki.recentchange', partition: 0, ...pos });
  const cases: Array<{ name: string; req: { lastEventId?: string; since?: string }; expected: unknown }> = [
    { name: 'start at 0 without hints', req: {}, expected: { ok: true, offset: 0, from: 'beginning' } },
    {
      name: 'seek a partition to its first event at or after the timestamp; -1 partitions start with it',
      req: { lastEventId: JSON.stringify([eqiad({ timestamp: 4001 }), codfw({ offset: -1 })]) },
      expected: { ok: true, offset: 4, from: 'last-event-id-timestamp', partitionStarts: [4, 4], resumedFrom: [{ timestamp: 4001 }, undefined] },
    },
    {
      name: 'repeat the events of the given millisecond (timestamp = an event time)',
      req: { lastEventId: JSON.stringify([eqiad({ timestamp: 5000 })]) },
      expected: { ok: true, offset: 4, from: 'last-event-id-timestamp', partitionStarts: [4, 4], resumedFrom: [{ timestamp: 5000 }, undefined] },
    },
    {
      name: 'resume each partition on its own',
      req: { lastEventId: JSON.stringify([eqiad({ timestamp: 7001 }), codfw({ timestamp: 2001 })]) },
      expected: { ok: true, offset: 3, from: 'last-event-id-timestamp', partitionStarts: [8, 3], resumedFrom: [{ timestamp: 7001 }, { timestamp: 2001 }] },
    },
    {
      name: 'take an offset >= 0 as a log offset',
      req: { lastEventId: JSON.stringify([eqiad({ offset: 6 }), codfw({ timestamp: 9500 })]) },
      expected: { ok: true, offset: 6, from: 'last-event-id-timestamp', partitionStarts: [6, 9], resumedFrom: [{ offset: 6 }, { timestamp: 9500 }] },
    },
    {
      name: 'apply an entry without a topic to every partition without its own',
      req: { lastEventId: JSON.stringify([{ timestamp: 3000 }, codfw({ offset: 9 })]) },
      expected: { ok: true, offset: 2, from: 'last-event-id-timestamp', partitionStarts: [2, 9], resumedFrom: [{ timestamp: 3000 }, { offset: 9 }] },
    },
    {
      name: 'seek every partition to since and carry it',
      req: { since: '6000' },
      expected: { ok: true, offset: 5, from: 'since', partitionStarts: [6, 5], resumedFrom: [{ timestamp: 6000 }, { timestamp: 6000 }] },
    },
    {
      name: 'refuse an unknown topic-partition',
      req: { lastEventId: JSON.stringify([{ topic: 'local.mediawiki.recentchange', partition: 0, offset: 3 }]) },
      expected: expect.objectContaining({ ok: false, error: 'invalid_last_event_id', detail: expect.stringContaining('local.mediawiki.recentchange/0') }),
    },
    {
      name: 'refuse an id without any position',
      req: { lastEventId: JSON.stringify([eqiad({ offset: -1 }), codfw({ offset: -1 })]) },
      expected: expect.objectContaining({ ok: false, error: 'invalid_last_event_id' }),
    },
  ];
  it.each(cases)('resolveStartPosition should $name', ({ req, expected }) => {
    expect(resolveStartPosition(req, two, 'timestamp')).toEqual(expected);
  });
});
