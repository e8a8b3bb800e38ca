import avro from 'avsc';
import { WikiChangeSchema } from '@wikimonitor/contracts';
import { loadRecordedEvents, poisonEvents } from '@wikimonitor/testing';
import { normalizeRecentChange, normalizeRecentChangeText } from './normalize';

describe('normalized events against schemas/wiki-change.avsc', () => {
  it('WikiChange schema should accept every normalized recorded event and round-trip it', () => {
    const type = avro.Type.forSchema(WikiChangeSchema as unknown as avro.Schema);
    for (const r of loadRecordedEvents()) {
      const n = normalizeRecentChange(r.json, { receivedTime: 1, sseId: '[]' });
      if (n.kind !== 'change') throw new Error(`not a change: ${r.text.slice(0, 80)}`);
      expect(type.isValid(n.change)).toBe(true);
      expect(type.fromBuffer(type.toBuffer(n.change))).toEqual(n.change);
    }
  });

  it('ChangeType should fall back to its default for a symbol an old reader does not know', () => {
    const reader = avro.Type.forSchema(WikiChangeSchema as unknown as avro.Schema);
    const evolved = JSON.parse(JSON.stringify(WikiChangeSchema));
    evolved.fields.find((f: { name: string }) => f.name === 'type').type.symbols.push('page_move');
    const writer = avro.Type.forSchema(evolved);
    const n = normalizeRecentChange(loadRecordedEvents()[0]?.json, { receivedTime: 1 });
    if (n.kind !== 'change') throw new Error('fixture');
    const buf = writer.toBuffer({ ...n.change, type: 'page_move' });
    expect((reader.fromBuffer(buf, reader.createResolver(writer)) as { type: string }).type).toBe('unknown');
  });

  it('WikiChange schema should accept every poison event the producer publishes (coerced fields fit their Avro types)', () => {
    const type = avro.Type.forSchema(WikiChangeSchema as unknown as avro.Schema);
    const published = poisonEvents().filter((p) => p.expected.outcome === 'published');
    expect(published.length).toBeGreaterThan(0);
    for (const p of published) {
      const n = normalizeRecentChangeText(p.data.toString('utf8'), { receivedTime: 1 });
      if (n.kind !== 'change') throw new Error(`${p.class}: ${JSON.stringify(n)}`);
      expect([p.class, type.isValid(n.change)]).toEqual([p.class, true]);
    }
    const odd = normalizeRecentChange({ meta: { id: 'x', dt: '2020-01-01T00:00:00Z', partition: '3', offset: 2 ** 60 }, wiki: 'w', title: 't', namespace: '4', type: 'edit', length: { old: -(2 ** 70) } }, { receivedTime: 1 });
    expect(odd.kind === 'change' && type.isValid(odd.change)).toBe(true);
  });
});
