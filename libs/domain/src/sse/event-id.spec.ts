import { parseEventId } from './event-id';

describe('parseEventId', () => {
  const valid: Array<[string, string, unknown]> = [
    ['an EventStreams id', '[{"topic":"t","partition":0,"offset":5,"timestamp":10}]', [{ topic: 't', partition: 0, offset: 5, timestamp: 10 }]],
    ['a timestamp-only entry', '[{"topic":"t","partition":0,"timestamp":1670732822001}]', [{ topic: 't', partition: 0, timestamp: 1670732822001 }]],
    ['an entry without topic and partition', '[{"offset":17}]', [{ offset: 17 }]],
    [
      'the recorded wiki-visualizer id (two topics, offset -1)',
      '[{"topic":"eqiad.mediawiki.recentchange","partition":0,"timestamp":1670732822001},{"topic":"codfw.mediawiki.recentchange","partition":0,"offset":-1}]',
      [
        { topic: 'eqiad.mediawiki.recentchange', partition: 0, timestamp: 1670732822001 },
        { topic: 'codfw.mediawiki.recentchange', partition: 0, offset: -1 },
      ],
    ],
    ['an entry with extra keys', '[{"topic":"t","partition":2,"offset":3,"dc":"eqiad"}]', [{ topic: 't', partition: 2, offset: 3 }]],
  ];
  it.each(valid)('parseEventId should accept %s', (_name, raw, expected) => {
    expect(parseEventId(raw)).toStrictEqual({ ok: true, value: expected });
  });

  const invalid: Array<[string, string, RegExp]> = [
    ['non-JSON', 'abc', /not JSON/],
    ['a non-array', '{"offset":1}', /^Last-Event-ID: expected an array/],
    ['an empty array', '[]', /empty/],
    ['a non-object entry', '[5]', /\[0\]: expected an object/],
    ['an entry without offset or timestamp', '[{"topic":"t","partition":0}]', /\[0\]: each entry needs an offset or a timestamp/],
    ['a string offset', '[{"offset":"5"}]', /\[0\]\.offset/],
    ['a fractional offset', '[{"offset":1.5}]', /\[0\]\.offset/],
    ['a negative partition', '[{"partition":-1,"offset":1}]', /\[0\]\.partition/],
    ['a numeric topic', '[{"topic":1,"offset":1}]', /\[0\]\.topic/],
    ['a negative timestamp', '[{"timestamp":-5}]', /\[0\]\.timestamp/],
    ['a bad second entry', '[{"offset":1},{"offset":"x"}]', /\[1\]\.offset/],
  ];
  it.each(invalid)('parseEventId should reject %s and name the problem', (_name, raw, problem) => {
    const result = parseEventId(raw);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.problems.join('; ')).toMatch(problem);
  });
});
