import { parseEventId } from '@wikimonitor/domain';
import { TimestampIdWriter, encodeEventId } from './event-id';

describe('encodeEventId', () => {
  it('encodeEventId should produce an EventStreams id array with the next offset', () => {
    const id = encodeEventId('eqiad.mediawiki.recentchange', 42, 1690617099000);
    expect(id).toBe('[{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":42,"timestamp":1690617099000}]');
    expect(JSON.parse(id)).toEqual([{ topic: 'eqiad.mediawiki.recentchange', partition: 0, offset: 42, timestamp: 1690617099000 }]);
  });
});

describe('encodeEventId with parseEventId', () => {
  it('parseEventId should read back an id this source sent', () => {
    expect(parseEventId(encodeEventId('t', 5, 10))).toStrictEqual({ ok: true, value: [{ topic: 't', partition: 0, offset: 5, timestamp: 10 }] });
  });
});

describe('TimestampIdWriter', () => {
  const partitions = [
    { topic: 'eqiad.mediawiki.recentchange', partition: 0 },
    { topic: 'codfw.mediawiki.recentchange', partition: 0 },
  ];

  it('TimestampIdWriter should write the real EventStreams form: ts + 1 ms for served partitions, offset -1 for the others', () => {
    const ids = new TimestampIdWriter(partitions);
    expect(ids.id()).toBe('[{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":-1},{"topic":"codfw.mediawiki.recentchange","partition":0,"offset":-1}]');
    ids.served(0, 1670732822000);
    expect(ids.id()).toBe('[{"topic":"eqiad.mediawiki.recentchange","partition":0,"timestamp":1670732822001},{"topic":"codfw.mediawiki.recentchange","partition":0,"offset":-1}]');
    ids.served(1, 1670732823500);
    ids.served(0, 1670732824000);
    expect(JSON.parse(ids.id())).toEqual([
      { topic: 'eqiad.mediawiki.recentchange', partition: 0, timestamp: 1670732824001 },
      { topic: 'codfw.mediawiki.recentchange', partition: 0, timestamp: 1670732823501 },
    ]);
  });

  it('TimestampIdWriter should carry the position a partition resumed from until it serves an event', () => {
    const ids = new TimestampIdWriter(partitions, [{ offset: 17 }, { timestamp: 99 }]);
    expect(JSON.parse(ids.id())).toEqual([
      { topic: 'eqiad.mediawiki.recentchange', partition: 0, offset: 17 },
      { topic: 'codfw.mediawiki.recentchange', partition: 0, timestamp: 99 },
    ]);
    ids.served(1, 200);
    expect(parseEventId(ids.id())).toStrictEqual({
      ok: true,
      value: [
        { topic: 'eqiad.mediawiki.recentchange', partition: 0, offset: 17 },
        { topic: 'codfw.mediawiki.recentchange', partition: 0, timestamp: 201 },
      ],
    });
  });
});
