import { formatSseEvent } from '@wikimonitor/domain';
import { parseRecording, recordingFormatOf, toRecordedEvent } from './recording';

const python = '{"meta": {"id": "a1", "dt": "2026-02-26T15:49:36.569Z", "topic": "codfw.mediawiki.recentchange"}, "wiki": "enwiki", "timestamp": 1772120976}';
const compact = '{"meta":{"id":"b2","dt":"2018-03-07T16:16:17+00:00"},"wiki":"wikidatawiki","timestamp":1520439377}';

describe('recordingFormatOf', () => {
  it.each([
    ['a.jsonl', 'jsonl'],
    ['A.NDJSON', 'jsonl'],
    ['x.sse', 'sse'],
    ['README.md', undefined],
    ['data.json', undefined],
  ])('recordingFormatOf should classify %s', (name, format) => {
    expect(recordingFormatOf(name)).toBe(format);
  });
});

describe('toRecordedEvent', () => {
  it('toRecordedEvent should keep the text and read id, topic, wiki and time', () => {
    const ev = toRecordedEvent('f.jsonl', 1, python);
    expect(ev).toMatchObject({
      file: 'f.jsonl',
      position: 1,
      text: python,
      metaId: 'a1',
      topic: 'codfw.mediawiki.recentchange',
      wiki: 'enwiki',
      dt: '2026-02-26T15:49:36.569Z',
      timestampSec: 1772120976,
      timeMs: Date.UTC(2026, 1, 26, 15, 49, 36, 569),
    });
    if (typeof ev === 'string') throw new Error(ev);
    expect(python.slice(ev.spans.metaId?.start, ev.spans.metaId?.end)).toBe('"a1"');
    expect(python.slice(ev.spans.timestamp?.start, ev.spans.timestamp?.end)).toBe('1772120976');
  });

  it('toRecordedEvent should read the upstream partition and offset, and where meta.offset is written', () => {
    const text = '{"meta":{"id":"c3","dt":"2023-07-29T07:51:39Z","topic":"eqiad.mediawiki.recentchange","partition":0,"offset":4820784717},"wiki":"enwiki"}';
    const ev = toRecordedEvent('f.jsonl', 1, text);
    if (typeof ev === 'string') throw new Error(ev);
    expect(ev).toMatchObject({ topic: 'eqiad.mediawiki.recentchange', partition: 0, metaOffset: 4820784717 });
    expect(text.slice(ev.spans.metaOffset?.start, ev.spans.metaOffset?.end)).toBe('4820784717');
    const odd = toRecordedEvent('f.jsonl', 2, '{"meta":{"id":"d4","partition":-1,"offset":"12"}}');
    expect(odd).not.toHaveProperty('partition');
    expect(odd).not.toHaveProperty('metaOffset');
  });

  it.each([
    ['meta.dt', '{"meta":{"dt":"2023-07-29T07:51:39Z"},"timestamp":1}', Date.UTC(2023, 6, 29, 7, 51, 39)],
    ['timestamp when meta.dt is missing', '{"meta":{},"timestamp":1690617099}', 1690617099000],
    ['nothing', '{"meta":{"id":"x"}}', NaN],
  ])('toRecordedEvent should take the event time from %s', (_name, text, time) => {
    const ev = toRecordedEvent('f', 1, text);
    expect(typeof ev === 'string' ? ev : ev.timeMs).toEqual(time);
  });

  it.each([
    ['{not json', /not JSON/],
    ['[1,2]', /not a JSON object/],
    ['"text"', /not a JSON object/],
  ])('toRecordedEvent should reject %s', (text, reason) => {
    expect(toRecordedEvent('f', 1, text)).toMatch(reason);
  });
});

describe('parseRecording', () => {
  it('parseRecording should read JSON lines in order, skipping blank lines and reporting bad ones', () => {
    const r = parseRecording('x.jsonl', `\uFEFF${python}\r\n\n${compact}\n{broken\n`);
    expect(r.events.map((e) => [e.position, e.text])).toEqual([
      [1, python],
      [3, compact],
    ]);
    expect(r.skipped).toEqual([{ position: 4, reason: expect.stringMatching(/not JSON/) }]);
  });

  it('parseRecording should keep the data payloads of SSE frames, the last one even without a blank line', () => {
    const sse = `:ok\n\n${formatSseEvent({ id: '[{"offset":1}]', data: python })}event: message\nid: [2]\ndata: ${compact}\n`;
    const r = parseRecording('x.sse', sse);
    expect(r.format).toBe('sse');
    expect(r.events.map((e) => e.text)).toEqual([python, compact]);
    expect(r.skipped).toEqual([]);
  });

  it('parseRecording should refuse an unknown format', () => {
    expect(() => parseRecording('x.csv', 'a,b')).toThrow(/unknown recording format/);
  });
});
