import { parseEventId } from '@wikimonitor/domain';
import { encodeEventId } from './event-id';

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
