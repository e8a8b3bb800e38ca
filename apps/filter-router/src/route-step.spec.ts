import type { WikiChange } from '@wikimonitor/contracts';
import { normalizeRecentChange, parseRoutingRules, routeChange } from '@wikimonitor/domain';
import type { Message } from '@wikimonitor/kafka';
import { WikiMonitorError } from '@wikimonitor/service-kit';
import { loadRecordedEvents } from '@wikimonitor/testing';
import { parseDeadLetter, headersFromMessage } from '@wikimonitor/kafka';
import { type ChangeCodec, createRouteStep } from './route-step';

const n = normalizeRecentChange(loadRecordedEvents()[0]?.json, { receivedTime: 1, sseId: null });
if (n.kind !== 'change') throw new Error('fixture');
const change: WikiChange = n.change;

const codec = (id: number): ChangeCodec => ({
  schemaId: () => id,
  encode: (c) => Buffer.concat([Buffer.from([0, 0, 0, 0, id]), Buffer.from(JSON.stringify(c))]),
  decode: async (buf) => JSON.parse(buf.subarray(5).toString()) as WikiChange,
});
const rules = (() => {
  const r = parseRoutingRules({ version: 1, routes: [{ name: 'all', topic: 'out', key: 'id', match: {} }, { name: 'none', topic: 'never', key: 'wiki', match: { type: 'external' } }] });
  if (!r.ok) throw new Error(r.problems.join());
  return r.rules;
})();
const message = (value: Buffer | null): Message => ({ topic: 'in', partition: 1, offset: 5, value, size: 0, key: 'k', headers: [{ h: 'v' }] });

const ctx = { topic: 'in', partition: 1, now: 0 };

describe('route step', () => {
  it.each([
    ['forward the input bytes untouched when the route schema id is the writer id', 1, true],
    ['re-encode when the route topic registered another schema id', 2, false],
  ])('route step should %s', async (_name, outputId, same) => {
    const step = createRouteStep({ route: (c) => routeChange(rules, c), input: codec(1), outputs: new Map([['out', codec(outputId)], ['never', codec(1)]]), dlqTopic: 'dlq', tracer: null });
    const value = codec(1).encode(change);
    const m = message(value);
    const o = await step([m], undefined, ctx);
    expect(o.summary?.outcomes).toEqual([{ kind: 'routed', routes: ['all'], span: undefined }]);
    expect(o.deadLetters).toEqual([]);
    expect(o.records).toHaveLength(1);
    expect(o.records[0]?.value === value).toBe(same);
    expect(o.records[0]?.value?.readInt32BE(1)).toBe(outputId);
    expect(o.records[0]).toMatchObject({ topic: 'out', key: change.id, headers: { h: 'v' } });
    // The loop dead-letters an unwritable output from its source input.
    expect(o.records[0]?.source).toBe(m);
  });

  it('route step should dead-letter a null value with the source position and go on with the batch', async () => {
    const step = createRouteStep({ route: (c) => routeChange(rules, c), input: codec(1), outputs: new Map([['out', codec(1)], ['never', codec(1)]]), dlqTopic: 'dlq', tracer: null });
    const o = await step([message(null), { ...message(codec(1).encode(change)), offset: 6 }], undefined, ctx);
    expect(o.summary?.outcomes.map((x) => x.kind)).toEqual(['dead-letter', 'routed']);
    expect(o.summary?.outcomes[0]).toMatchObject({ code: 'DESERIALIZE_FAILED' });
    expect(o.records).toHaveLength(1);
    expect(o.deadLetters).toHaveLength(1);
    const dl = o.deadLetters[0];
    expect(dl?.topic).toBe('dlq');
    expect(dl?.headers).toMatchObject({ 'dlq.source.topic': 'in', 'dlq.source.partition': '1', 'dlq.source.offset': '5', 'dlq.error.code': 'DESERIALIZE_FAILED', 'dlq.app': 'filter-router', h: 'v' });
    expect(parseDeadLetter(dl?.key, dl?.value ?? null, dl?.headers ?? {})).toMatchObject({ key: 'k', value: null, attempts: 1, originalHeaders: { h: 'v' } });
  });

  it('route step should keep a dead-lettered input readable: the original bytes, untouched', async () => {
    const step = createRouteStep({ route: (c) => routeChange(rules, c), input: codec(1), outputs: new Map([['out', codec(1)], ['never', codec(1)]]), dlqTopic: 'dlq', tracer: null });
    const bad = Buffer.from('{"not":"avro"}');
    const decodeFails: ChangeCodec = { ...codec(1), decode: () => Promise.reject(new WikiMonitorError('DESERIALIZE_FAILED', 'not Confluent wire format')) };
    const o = await createRouteStep({ route: (c) => routeChange(rules, c), input: decodeFails, outputs: new Map([['out', codec(1)], ['never', codec(1)]]), dlqTopic: 'dlq', tracer: null })([message(bad)], undefined, ctx);
    expect(o.deadLetters[0]?.value?.equals(bad)).toBe(true);
    expect(headersFromMessage(message(bad).headers)).toEqual({ h: 'v' });
    expect((await step([], undefined, ctx)).records).toEqual([]);
  });

  it('route step should throw, not dead-letter, when decoding fails retriably', async () => {
    const down: ChangeCodec = { ...codec(1), decode: () => Promise.reject(new WikiMonitorError('SCHEMA_REGISTRY_FAILED', 'down', { retriable: true })) };
    const step = createRouteStep({ route: (c) => routeChange(rules, c), input: down, outputs: new Map([['out', codec(1)], ['never', codec(1)]]), dlqTopic: 'dlq', tracer: null });
    await expect(step([message(codec(1).encode(change))], undefined, ctx)).rejects.toMatchObject({ code: 'SCHEMA_REGISTRY_FAILED' });
  });
});
