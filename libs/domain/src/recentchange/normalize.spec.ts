import { loadRecordedEvents } from '@wikimonitor/testing';
import { changeKey, normalizeRecentChange, normalizeRecentChangeText, sizeDelta } from './normalize';

const ctx = { receivedTime: 1_700_000_000_000, sseId: null };

describe('normalizeRecentChange', () => {
  const recorded = loadRecordedEvents();

  it('normalizeRecentChange should turn every recorded real event into a change', () => {
    const results = recorded.map((r) => normalizeRecentChange(r.json, ctx));
    const invalid = results.filter((r) => r.kind !== 'change');
    expect(invalid).toEqual([]);
    expect(results).toHaveLength(4053);
    const ids = new Set(results.map((r) => (r.kind === 'change' ? r.change.id : '')));
    expect(ids.size).toBe(4053);
  });

  it('normalizeRecentChange should parse all three meta.dt formats to epoch ms', () => {
    const cases: Array<[string, number]> = [
      ['2026-02-26T15:49:36.569Z', Date.UTC(2026, 1, 26, 15, 49, 36, 569)],
      ['2023-07-29T07:51:39Z', Date.UTC(2023, 6, 29, 7, 51, 39)],
      ['2018-03-07T16:16:17+00:00', Date.UTC(2018, 2, 7, 16, 16, 17)],
    ];
    for (const [dt, ms] of cases) {
      const r = normalizeRecentChange({ meta: { id: 'a', dt, domain: 'x' }, wiki: 'w', title: 't', namespace: 0, type: 'edit' }, ctx);
      expect(r.kind === 'change' && r.change.event_time).toBe(ms);
    }
  });

  it('normalizeRecentChange should keep the 2018 shape (schema_uri, no stream, null id on log)', () => {
    const old = recorded.find((r) => r.file.includes('2018') && r.json['type'] === 'log' && r.json['id'] === null);
    expect(old).toBeDefined();
    const r = normalizeRecentChange(old?.json, ctx);
    expect(r.kind).toBe('change');
    if (r.kind !== 'change') return;
    expect(r.change.stream).toBeNull();
    expect(r.change.schema_uri).toBe('mediawiki/recentchange/1');
    expect(r.change.rc_id).toBeNull();
    expect(r.change.length_new).toBeNull();
  });

  it('normalizeRecentChange should handle a log event without a top-level id and log_params object or array', () => {
    const noId = recorded.find((r) => r.json['type'] === 'log' && !('id' in r.json));
    expect(noId).toBeDefined();
    const r = normalizeRecentChange(noId?.json, ctx);
    expect(r.kind === 'change' && r.change.rc_id).toBeNull();
    const arr = normalizeRecentChange({ meta: { id: 'b', dt: '2020-01-01T00:00:00Z' }, wiki: 'w', title: 't', namespace: 3, type: 'log', log_params: [] }, ctx);
    expect(arr.kind === 'change' && arr.change.log_params).toBe('[]');
    const obj = normalizeRecentChange({ meta: { id: 'c', dt: '2020-01-01T00:00:00Z' }, wiki: 'w', title: 't', namespace: 3, type: 'log', log_params: { a: 1 } }, ctx);
    expect(obj.kind === 'change' && obj.change.log_params).toBe('{"a":1}');
  });

  it.each([
    [null, 'event is not a JSON object'],
    [[1, 2], 'event is not a JSON object'],
    [{ foo: 1 }, 'meta is missing'],
    [{ meta: {} }, 'meta.id is missing'],
    [{ meta: { id: 'x', dt: 'yesterday' } }, 'meta.dt is not a date: "yesterday"'],
    [{ meta: { id: 'x', dt: '2020-01-01T00:00:00Z' } }, 'wiki is missing'],
    [{ meta: { id: 'x', dt: '2020-01-01T00:00:00Z' }, wiki: 'w' }, 'title is missing'],
    [{ meta: { id: 'x', dt: '2020-01-01T00:00:00Z' }, wiki: 'w', title: 't' }, 'namespace is missing'],
    [{ meta: { id: 'x', dt: '2020-01-01T00:00:00Z' }, wiki: 'w', title: 't', namespace: 0 }, 'type is missing'],
  ])('normalizeRecentChange should reject %j with "%s"', (event, reason) => {
    expect(normalizeRecentChange(event, ctx)).toEqual({ kind: 'invalid', code: 'INVALID_EVENT', reason });
  });

  it('normalizeRecentChange should recognise canary events', () => {
    expect(normalizeRecentChange({ meta: { id: 'k', domain: 'canary', dt: '2020-01-01T00:00:00Z' } }, ctx)).toEqual({ kind: 'canary', id: 'k' });
  });

  it('normalizeRecentChange should map unknown types to unknown instead of failing', () => {
    const r = normalizeRecentChange({ meta: { id: 'x', dt: '2020-01-01T00:00:00Z' }, wiki: 'w', title: 't', namespace: 0, type: 'suppress' }, ctx);
    expect(r.kind === 'change' && r.change.type).toBe('unknown');
  });

  it.each([
    ['{not json', 'NOT_JSON'],
    ['<html>502 Bad Gateway</html>', 'NOT_JSON'],
    ['"a JSON string"', 'INVALID_EVENT'],
    ['42', 'INVALID_EVENT'],
    ['[{"meta":{}}]', 'INVALID_EVENT'],
    ['{"meta":{"id":"x"}}', 'INVALID_EVENT'],
  ])('normalizeRecentChangeText should report %j as invalid with code %s', (text, code) => {
    const r = normalizeRecentChangeText(text, ctx);
    expect(r.kind === 'invalid' && r.code).toBe(code);
  });

  it('changeKey and sizeDelta should follow wiki+title and new-old', () => {
    expect(changeKey({ wiki: 'enwiki', title: 'Foo' })).toBe('enwiki:Foo');
    expect(sizeDelta({ length_old: 10, length_new: 25 })).toBe(15);
    expect(sizeDelta({ length_old: null, length_new: 7 })).toBe(7);
    expect(sizeDelta({ length_old: null, length_new: null })).toBe(0);
  });
});
