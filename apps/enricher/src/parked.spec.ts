import type { Message } from '@wikimonitor/kafka';
import { type ParkedPage, type ParkedState, consumedOf, heldFrom, parkedChangelog, parkedCounts } from './parked';

const message = (offset: number, key: string): Message => ({
  topic: 'wiki.changes.human-content',
  partition: 2,
  offset,
  key: Buffer.from(key),
  value: Buffer.from([0, 0, 0, 0, 7, offset]),
  headers: [{ traceparent: Buffer.from('00-abc-def-01') }, { 'x-bin': Buffer.from([0xff, 0x00]) }],
  timestamp: 1_520_439_377_000,
  size: 6,
});

describe('parked records', () => {
  it('heldFrom and consumedOf should keep key, value bytes, headers in order, position and timestamp', () => {
    const m = message(41, 'wikidatawiki:Q42');
    const back = consumedOf(JSON.parse(JSON.stringify(heldFrom(m))));
    expect(back).toEqual({ topic: m.topic, partition: 2, offset: 41, key: 'wikidatawiki:Q42', value: m.value, headers: m.headers, timestamp: m.timestamp });
  });

  it('parkedChangelog should write only the pages that changed, a tombstone for a page released, and restore the latest state', () => {
    const cl = parkedChangelog('wiki.enricher.parked');
    const page = (offsets: number[], attempts: number): ParkedPage => ({ records: offsets.map((o) => heldFrom(message(o, 'p'))), attempts, dueAt: 1000 + attempts, reason: 'maxlag', status: 200 });
    const kept = page([1], 1);
    const s0: ParkedState = new Map();
    const s1: ParkedState = new Map([['enwiki:A', kept], ['enwiki:B', page([2, 3], 1)]]);
    const s2: ParkedState = new Map([['enwiki:A', kept], ['enwiki:C', page([4], 2)]]);
    const r1 = cl.encode(2, s1, s0);
    expect(r1.map((r) => [r.key, r.partition, r.value === null])).toEqual([['enwiki:A', 2, false], ['enwiki:B', 2, false]]);
    const r2 = cl.encode(2, s2, s1);
    expect(r2.map((r) => [r.key, r.value === null])).toEqual([['enwiki:C', false], ['enwiki:B', true]]);
    const asMessages = [...r1, ...r2].map((r, i) => ({ ...message(i, String(r.key)), value: r.value }) as Message);
    const restored = cl.restore(2, asMessages);
    expect([...restored.keys()].sort()).toEqual(['enwiki:A', 'enwiki:C']);
    expect(JSON.parse(JSON.stringify(restored.get('enwiki:C')))).toEqual(JSON.parse(JSON.stringify(s2.get('enwiki:C'))));
    expect(parkedCounts(s1)).toEqual({ pages: 2, records: 3 });
  });
});
