import type { WikiChange } from '@wikimonitor/contracts';
import { normalizeRecentChange, parseRoutingRules } from '@wikimonitor/domain';
import type { Message } from '@wikimonitor/kafka';
import { WikiMonitorError } from '@wikimonitor/service-kit';
import { loadRecordedEvents } from '@wikimonitor/testing';
import { type ChangeCodec, createRecordRouter } from './record-router';

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

describe('record router', () => {
  it.each([
    ['forward the input bytes untouched when the route schema id is the writer id', 1, true],
    ['re-encode when the route topic registered another schema id', 2, false],
  ])('record router should %s', async (_name, outputId, same) => {
    const router = createRecordRouter({ rules, input: codec(1), outputs: new Map([['out', codec(outputId)], ['never', codec(1)]]), dlqTopic: 'dlq', tracer: null });
    const value = codec(1).encode(change);
    const o = await router.route(message(value));
    expect(o.kind).toBe('routed');
    expect(o.records).toHaveLength(1);
    expect(o.records[0]?.value === value).toBe(same);
    expect(o.records[0]?.value?.readInt32BE(1)).toBe(outputId);
    expect(o.records[0]).toMatchObject({ topic: 'out', key: change.id, headers: { h: 'v' } });
  });

  it('record router should dead-letter a null value with the source position', async () => {
    const router = createRecordRouter({ rules, input: codec(1), outputs: new Map([['out', codec(1)], ['never', codec(1)]]), dlqTopic: 'dlq', tracer: null });
    const o = await router.route(message(null));
    expect(o).toMatchObject({ kind: 'dead-letter', code: 'DESERIALIZE_FAILED' });
    expect(o.records[0]?.headers).toMatchObject({ 'dlq.source.topic': 'in', 'dlq.source.partition': '1', 'dlq.source.offset': '5', h: 'v' });
  });

  it('record router should throw, not dead-letter, when decoding fails retriably', async () => {
    const down: ChangeCodec = { ...codec(1), decode: () => Promise.reject(new WikiMonitorError('SCHEMA_REGISTRY_FAILED', 'down', { retriable: true })) };
    const router = createRecordRouter({ rules, input: down, outputs: new Map([['out', codec(1)], ['never', codec(1)]]), dlqTopic: 'dlq', tracer: null });
    await expect(router.route(message(codec(1).encode(change)))).rejects.toMatchObject({ code: 'SCHEMA_REGISTRY_FAILED' });
  });
});
