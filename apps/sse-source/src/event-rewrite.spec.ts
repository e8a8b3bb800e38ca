import { buildCanaryEvent, buildInjectedEvent, compileEventTemplate, restampEvent, rewriteLoopedEvent } from './event-rewrite';
import { type RecordedEvent, toRecordedEvent } from './recording';

const record = (text: string): RecordedEvent => {
  const ev = toRecordedEvent('f.jsonl', 1, text);
  if (typeof ev === 'string') throw new Error(ev);
  return ev;
};

const DAY = 86_400_000;

describe('rewriteLoopedEvent', () => {
  it.each([
    [
      'python-style spacing, +00:00 times',
      '{"meta": {"id": "dd8c5690-2222-11e8-a2ad-1418776134f3", "dt": "2018-03-07T16:16:17+00:00"}, "timestamp": 1520439377, "title": "Q1"}',
      '{"meta": {"id": "NEW", "dt": "2018-03-08T16:16:17+00:00"}, "timestamp": 1520525777, "title": "Q1"}',
    ],
    [
      'compact with milliseconds',
      '{"meta":{"dt":"2026-02-26T15:49:36.569Z","id":"x"},"timestamp":1772120976,"log_params":{"meta":{"id":"keep"}}}',
      '{"meta":{"dt":"2026-02-27T15:49:36.569Z","id":"NEW"},"timestamp":1772207376,"log_params":{"meta":{"id":"keep"}}}',
    ],
    ['no time fields', '{"meta":{"id":"x"},"type":"log"}', '{"meta":{"id":"NEW"},"type":"log"}'],
  ])('rewriteLoopedEvent should change only meta.id, meta.dt and timestamp (%s)', (_name, text, expected) => {
    expect(rewriteLoopedEvent(record(text), { metaId: 'NEW', shiftMs: DAY })).toBe(expected);
  });

  it('rewriteLoopedEvent should add a meta.id to an event without one', () => {
    const out = JSON.parse(rewriteLoopedEvent(record('{"type":"log","timestamp":10}'), { metaId: 'NEW', shiftMs: 5000 }));
    expect(out).toEqual({ type: 'log', timestamp: 15, meta: { id: 'NEW' } });
  });
});

describe('restampEvent', () => {
  // Sent at 2026-11-21T21:30:05.789Z.
  const sentAtMs = Date.UTC(2026, 10, 21, 21, 30, 5, 789);
  const sec = Math.floor(sentAtMs / 1000);
  it.each([
    [
      'python-style spacing, +00:00 without fraction (2018 files)',
      '{"meta": {"id": "dd8c5690", "dt": "2018-03-07T16:16:17+00:00"}, "timestamp": 1520439377, "title": "Q1"}',
      undefined,
      `{"meta": {"id": "dd8c5690", "dt": "2026-11-21T21:30:05+00:00"}, "timestamp": ${sec}, "title": "Q1"}`,
    ],
    [
      'compact, Z with milliseconds (2026 file), timestamp before meta',
      '{"timestamp":1772120976,"meta":{"dt":"2026-02-26T15:49:36.569Z","id":"x"},"log_params":{"meta":{"dt":"keep"}}}',
      undefined,
      `{"timestamp":${sec},"meta":{"dt":"2026-11-21T21:30:05.789Z","id":"x"},"log_params":{"meta":{"dt":"keep"}}}`,
    ],
    [
      'compact, Z without fraction (2022/2023 files), with a fresh id',
      '{"meta":{"id":"orig","dt":"2023-07-29T07:51:39Z"},"timestamp":1690617099,"wiki":"enwiki"}',
      'NEW',
      `{"meta":{"id":"NEW","dt":"2026-11-21T21:30:05Z"},"timestamp":${sec},"wiki":"enwiki"}`,
    ],
    [
      'another zone and micro-seconds',
      '{"meta":{"id":"a","dt":"2018-03-07T18:16:17.123456+02:00"}}',
      undefined,
      '{"meta":{"id":"a","dt":"2026-11-21T23:30:05.789000+02:00"}}',
    ],
    ['a fractional timestamp, no meta.dt', '{"meta":{"id":"a"},"timestamp":1520439377.25}', undefined, `{"meta":{"id":"a"},"timestamp":${sentAtMs / 1000}}`],
    ['an unreadable meta.dt (written like toISOString)', '{"meta":{"id":"a","dt":"yesterday"}}', undefined, '{"meta":{"id":"a","dt":"2026-11-21T21:30:05.789Z"}}'],
    ['no time fields', '{"meta":{"id":"a"},"type":"log"}', 'NEW', '{"meta":{"id":"NEW"},"type":"log"}'],
    ['an escaped id kept as recorded', '{"meta":{"id":"a\\u002db","dt":"2023-07-29T07:51:39Z"}}', undefined, '{"meta":{"id":"a\\u002db","dt":"2026-11-21T21:30:05Z"}}'],
  ])('restampEvent should date the event at its send time, changing nothing else (%s)', (_name, text, metaId, expected) => {
    expect(restampEvent(record(text), { sentAtMs, metaId })).toBe(expected);
    expect(JSON.parse(expected)).toBeDefined();
  });

  it('restampEvent should add a meta.id (and restamp by parsing) when the event has none', () => {
    const out = JSON.parse(restampEvent(record('{"type":"log","timestamp":10,"meta":{"dt":"2018-03-07T16:16:17+00:00"}}'), { sentAtMs, metaId: 'NEW' }));
    expect(out).toEqual({ type: 'log', timestamp: sec, meta: { dt: '2026-11-21T21:30:05+00:00', id: 'NEW' } });
  });

  it('restampEvent should give the same text with a precompiled template', () => {
    const ev = record('{"meta":{"id":"x","dt":"2023-07-29T07:51:39Z"},"timestamp":1690617099}');
    const template = compileEventTemplate(ev);
    for (const t of [sentAtMs, sentAtMs + 1, sentAtMs + 1000]) {
      expect(restampEvent(ev, { sentAtMs: t }, template)).toBe(restampEvent(ev, { sentAtMs: t }));
    }
  });
});

describe('compileEventTemplate', () => {
  it('compileEventTemplate should cut the text at meta.id, meta.dt and timestamp in text order', () => {
    const t = compileEventTemplate(record('{"timestamp":5,"meta":{"dt":"2023-07-29T07:51:39Z","id":"x"},"title":"T"}'));
    expect(t.slots).toEqual(['timestamp', 'metaDt', 'metaId']);
    expect(t.pieces).toEqual(['{"timestamp":', ',"meta":{"dt":', ',"id":', '},"title":"T"}']);
    expect(t.original).toEqual({ timestamp: '5', metaDt: '"2023-07-29T07:51:39Z"', metaId: '"x"' });
    expect(t.dtMs).toBe(Date.parse('2023-07-29T07:51:39Z'));
  });
});

describe('buildInjectedEvent', () => {
  const template = JSON.stringify({
    meta: { id: 'orig', dt: '2020-01-01T00:00:00Z', domain: 'en.wikipedia.org', uri: 'https://en.wikipedia.org/wiki/X' },
    wiki: 'enwiki',
    server_name: 'en.wikipedia.org',
    server_url: 'https://en.wikipedia.org',
    title_url: 'https://en.wikipedia.org/wiki/X',
    timestamp: 1577836800,
    title: 'X',
  });

  it('buildInjectedEvent should clone with a fresh id and the given time', () => {
    const out = JSON.parse(buildInjectedEvent(template, { metaId: 'fresh', timeMs: Date.UTC(2021, 0, 1) }));
    expect(out.meta).toEqual({ id: 'fresh', dt: '2021-01-01T00:00:00.000Z', domain: 'en.wikipedia.org', uri: 'https://en.wikipedia.org/wiki/X' });
    expect(out.timestamp).toBe(Date.UTC(2021, 0, 1) / 1000);
    expect(out.wiki).toBe('enwiki');
  });

  it('buildInjectedEvent should move the event to another wiki', () => {
    const out = JSON.parse(buildInjectedEvent(template, { metaId: 'fresh', timeMs: 0, retarget: { wiki: 'dewiki', domain: 'de.wikipedia.org' } }));
    expect(out).toMatchObject({
      wiki: 'dewiki',
      server_name: 'de.wikipedia.org',
      server_url: 'https://de.wikipedia.org',
      title_url: 'https://de.wikipedia.org/wiki/X',
      meta: { id: 'fresh', domain: 'de.wikipedia.org', uri: 'https://de.wikipedia.org/wiki/X' },
      title: 'X',
    });
  });
});

describe('buildCanaryEvent', () => {
  it('buildCanaryEvent should mark the clone with meta.domain "canary" and a fresh id', () => {
    const out = JSON.parse(buildCanaryEvent('{"meta":{"id":"a","domain":"en.wikipedia.org","dt":"x"},"wiki":"enwiki"}', 'c-1'));
    expect(out).toEqual({ meta: { id: 'c-1', domain: 'canary', dt: 'x' }, wiki: 'enwiki' });
  });
});
