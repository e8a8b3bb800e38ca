import { locateJsonValues, spliceJson } from './json-spans';

describe('locateJsonValues', () => {
  const cases: Array<{ name: string; text: string; paths: string[]; expected: Record<string, string> }> = [
    { name: 'compact nested fields', text: '{"meta":{"id":"a","dt":"2020-01-01T00:00:00Z"},"timestamp":1}', paths: ['meta.id', 'meta.dt', 'timestamp'], expected: { 'meta.id': '"a"', 'meta.dt': '"2020-01-01T00:00:00Z"', timestamp: '1' } },
    { name: 'python-style spacing', text: '{"timestamp": 12, "meta": {"dt": "x", "id": "b"}}', paths: ['meta.id', 'timestamp'], expected: { 'meta.id': '"b"', timestamp: '12' } },
    { name: 'same key names at other depths', text: '{"id":1,"x":{"meta":{"id":"no"}},"meta":{"id":"yes"}}', paths: ['meta.id', 'id'], expected: { 'meta.id': '"yes"', id: '1' } },
    { name: 'keys inside arrays and strings with escapes', text: '{"log_params":[{"meta":{"id":"no"}}],"s":"a\\"meta\\":{","meta":{"id":"ok"}}', paths: ['meta.id'], expected: { 'meta.id': '"ok"' } },
    { name: 'escaped key names', text: '{"m\\u0065ta":{"id":"esc"}}', paths: ['meta.id'], expected: { 'meta.id': '"esc"' } },
    { name: 'null, negative and exponent numbers', text: '{"id":null,"timestamp":-1.5e3}', paths: ['id', 'timestamp'], expected: { id: 'null', timestamp: '-1.5e3' } },
    { name: 'missing paths', text: '{"meta":{"uri":"u"}}', paths: ['meta.id', 'timestamp'], expected: {} },
    { name: 'duplicate keys (last wins, like JSON.parse)', text: '{"meta":{"id":"first","id":"second"}}', paths: ['meta.id'], expected: { 'meta.id': '"second"' } },
  ];
  it.each(cases)('locateJsonValues should find $name', ({ text, paths, expected }) => {
    const spans = locateJsonValues(text, paths);
    const got = Object.fromEntries([...spans].map(([k, s]) => [k, text.slice(s.start, s.end)]));
    expect(got).toEqual(expected);
  });

  it('locateJsonValues should reject malformed JSON', () => {
    expect(() => locateJsonValues('{"meta":{"id":"x"', ['meta.id'])).toThrow(SyntaxError);
  });
});

describe('spliceJson', () => {
  it('spliceJson should replace spans and keep every other byte', () => {
    const text = '{"a": 1, "meta": {"id": "old"}, "b": "é"}';
    const spans = locateJsonValues(text, ['a', 'meta.id']);
    const id = spans.get('meta.id');
    const a = spans.get('a');
    if (!id || !a) throw new Error('spans not found');
    const out = spliceJson(text, [
      { span: id, json: '"new"' },
      { span: a, json: '2' },
    ]);
    expect(out).toBe('{"a": 2, "meta": {"id": "new"}, "b": "é"}');
  });
});
