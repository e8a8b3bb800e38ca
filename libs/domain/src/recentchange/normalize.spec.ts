import { createHash } from 'node:crypto';
import { loadRecordedEvents, poisonEvents, poisonSseFrame } from '@wikimonitor/testing';
import { SseParser } from '../sse/parser';
import { DEFAULT_MAX_FUTURE_SKEW_MS, MAX_LOG_PARAMS_DEPTH, eventTimeProblem, normalizeRecentChange, normalizeRecentChangeText, normalizeSseEvent, changeKey, sizeDelta } from './normalize';

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
    expect(normalizeRecentChange({ meta: { domain: 'canary' } }, ctx)).toEqual({ kind: 'canary', id: null });
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
    ['{"meta":{"dt":"2020-01-01T00:00:00Z"},"wiki":"w"}', 'MISSING_META_ID'],
    ['{"meta":{"id":"","dt":"2020-01-01T00:00:00Z"},"wiki":"w"}', 'MISSING_META_ID'],
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

  const edit = (extra: Record<string, unknown>, meta: Record<string, unknown> = {}) => ({
    meta: { id: 'x', dt: '2026-02-26T15:49:36Z', domain: 'en.wikipedia.org', ...meta },
    wiki: 'enwiki',
    title: 't',
    namespace: 0,
    type: 'edit',
    ...extra,
  });

  it.each([
    ['1999-12-31T23:59:59Z', undefined, 'EVENT_TIME_TOO_OLD'],
    ['1970-01-01T00:00:00Z', undefined, 'EVENT_TIME_TOO_OLD'],
    ['2099-01-01T00:00:00Z', DEFAULT_MAX_FUTURE_SKEW_MS, 'EVENT_TIME_FUTURE'],
    ['2026-02-26T15:55:37Z', DEFAULT_MAX_FUTURE_SKEW_MS, 'EVENT_TIME_FUTURE'],
  ])('normalizeRecentChange should reject meta.dt %s (skew %s) with %s', (dt, maxFutureSkewMs, code) => {
    const r = normalizeRecentChange(edit({}, { dt }), { receivedTime: Date.UTC(2026, 1, 26, 15, 50, 36), maxFutureSkewMs });
    expect(r.kind === 'invalid' && r.code).toBe(code);
  });

  it('normalizeRecentChange should accept an event within the clock skew, and any future date when no skew is given', () => {
    const receivedTime = Date.UTC(2026, 1, 26, 15, 50, 36);
    expect(normalizeRecentChange(edit({}, { dt: '2026-02-26T15:55:36Z' }), { receivedTime, maxFutureSkewMs: DEFAULT_MAX_FUTURE_SKEW_MS }).kind).toBe('change');
    expect(normalizeRecentChange(edit({}, { dt: '2099-01-01T00:00:00Z' }), { receivedTime }).kind).toBe('change');
    expect(eventTimeProblem(Date.UTC(2001, 0, 1), 0, undefined)).toBeNull();
  });

  it('normalizeRecentChange should coerce or drop wrong-typed optional fields and name them, never throw', () => {
    const r = normalizeRecentChange(
      edit({ user: 42, bot: 'true', minor: 'no', patrolled: {}, comment: ['a'], length: { old: '10', new: 1.5 }, revision: 7, id: 1e300, log_id: '12', title_url: false }, { stream: 5, partition: 2 ** 40 }),
      ctx,
    );
    if (r.kind !== 'change') throw new Error(JSON.stringify(r));
    expect(r.change).toMatchObject({ user: '42', bot: true, minor: null, patrolled: null, comment: '', length_old: 10, length_new: 1, revision_old: null, rc_id: null, log_id: 12, title_url: 'false', stream: '5' });
    expect(r.change.source.partition).toBeNull();
    expect([...r.fixed].sort()).toEqual(['bot', 'comment', 'id', 'length.new', 'length.old', 'log_id', 'meta.partition', 'meta.stream', 'minor', 'patrolled', 'revision', 'title_url', 'user'].sort());
    const clean = normalizeRecentChange(recorded[0]?.json, ctx);
    expect(clean.kind === 'change' && clean.fixed).toEqual([]);
  });

  it('normalizeRecentChange should drop log_params deeper or longer than the bounds and keep the event', () => {
    const nest = (depth: number) => {
      let v: unknown = 1;
      for (let i = 0; i < depth; i++) v = [v];
      return v;
    };
    const atBound = normalizeRecentChange(edit({ type: 'log', log_params: nest(MAX_LOG_PARAMS_DEPTH) }), ctx);
    expect(atBound.kind === 'change' && atBound.change.log_params).toBe(JSON.stringify(nest(MAX_LOG_PARAMS_DEPTH)));
    for (const logParams of [nest(MAX_LOG_PARAMS_DEPTH + 1), nest(100_000), { blob: 'y'.repeat(70_000) }]) {
      const r = normalizeRecentChange(edit({ type: 'log', log_params: logParams }), ctx);
      expect(r.kind === 'change' && [r.change.log_params, r.fixed]).toEqual([null, ['log_params']]);
    }
  });

  it('normalizeRecentChangeText should never throw on a 250,000-deep value in any field', () => {
    const deep = `${'['.repeat(250_000)}${']'.repeat(250_000)}`;
    const base = recorded.find((r) => r.json['type'] === 'log') ?? recorded[0];
    const fields = [...Object.keys(base?.json ?? {}).filter((k) => k !== 'meta').map((k) => [k]), ...Object.keys(base?.json.meta ?? {}).map((k) => ['meta', k])];
    expect(fields.length).toBeGreaterThan(10);
    for (const path of fields) {
      const e = JSON.parse(base?.text ?? '{}') as Record<string, Record<string, unknown>>;
      const holder = path.length === 1 ? (e as Record<string, unknown>) : (e['meta'] as Record<string, unknown>);
      holder[path[path.length - 1] as string] = 'DEEP';
      const text = JSON.stringify(e).replace('"DEEP"', deep);
      expect(() => normalizeRecentChangeText(text, ctx)).not.toThrow();
    }
  });

  it('normalizeSseEvent should end every poison class of libs/testing as its expected outcome', () => {
    const receivedTime = Date.UTC(2026, 11, 1);
    const digest = () => {
      const h = createHash('sha256');
      return { update: (b: Uint8Array) => h.update(b), digest: () => h.digest('hex') };
    };
    const parser = new SseParser('', { digest });
    const cases = poisonEvents();
    expect(new Set(cases.map((c) => c.class)).size).toBe(cases.length);
    for (const c of cases) {
      const [ev, ...rest] = parser.push(poisonSseFrame(c, `[{"i":"${c.class}"}]`)).events;
      expect(rest).toEqual([]);
      if (!ev) throw new Error(`no event for ${c.class}`);
      const r = normalizeSseEvent(ev, { receivedTime });
      const got =
        r.kind === 'change'
          ? { outcome: 'published', fixed: [...r.fixed].sort(), id: r.change.id }
          : r.kind === 'canary'
            ? { outcome: 'dropped' }
            : { outcome: 'dead-letter', code: r.code, truncated: ev.problem?.code === 'EVENT_TOO_LARGE' };
      const want = c.expected.outcome === 'published' ? { ...c.expected, fixed: [...c.expected.fixed].sort(), id: c.id } : c.expected;
      expect([c.class, got]).toEqual([c.class, want]);
      if (ev.problem?.code === 'EVENT_TOO_LARGE') expect(ev.problem).toMatchObject({ size: c.data.length, sha256: createHash('sha256').update(c.data).digest('hex') });
    }
  });
});
