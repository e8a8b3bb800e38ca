import { encodeEventId, parseEventId } from './event-id';

describe('encodeEventId', () => {
  it('encodeEventId should produce an EventStreams id array with the next offset', () => {
    const id = encodeEventId('eqiad.mediawiki.recentchange', 42, 1690617099000);
    expect(id).toBe('[{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":42,"timestamp":1690617099000}]');
    expect(JSON.parse(id)).toEqual([{ topic: 'eqiad.mediawiki.recentchange', partition: 0, offset: 42, timestamp: 1690617099000 }]);
  });
});

describe('parseEventId', () => {
  const valid: Array<[string, string, unknown]> = [
    ['an id this source sent', encodeEventId('t', 5, 10), [{ topic: 't', partition: 0, offset: 5, timestamp: 10 }]],
    ['a timestamp-only entry', '[{"topic":"t","partition":0,"timestamp":1670732822001}]', [{ topic: 't', partition: 0, offset: undefined, timestamp: 1670732822001 }]],
    [
      'the recorded wiki-visualizer id (two topics, offset -1)',
      '[{"topic":"eqiad.mediawiki.recentchange","partition":0,"timestamp":1670732822001},{"topic":"codfw.mediawiki.recentchange","partition":0,"offset":-1}]',
      [
        { topic: 'eqiad.mediawiki.recentchange', partition: 0, offset: undefined, timestamp: 1670732822001 },
        { topic: 'codfw.mediawiki.recentchange', partition: 0, offset: -1, timestamp: undefined },
      ],
    ],
  ];
  it.each(valid)('parseEventId should accept %s', (_name, raw, expected) => {
    expect(parseEventId(raw)).toEqual({ ok: true, value: expected });
  });

  const invalid: Array<[string, string, RegExp]> = [
    ['non-JSON', 'abc', /not JSON/],
    ['a non-array', '{"offset":1}', /Last-Event-ID: Expected array/],
    ['an empty array', '[]', /empty/],
    ['an entry without offset or timestamp', '[{"topic":"t","partition":0}]', /offset or a timestamp/],
    ['a string offset', '[{"offset":"5"}]', /\[0\]\.offset/],
    ['a fractional offset', '[{"offset":1.5}]', /\[0\]\.offset/],
  ];
  it.each(invalid)('parseEventId should reject %s and name the problem', (_name, raw, problem) => {
    const result = parseEventId(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.join('; ')).toMatch(problem);
  });
});
