import { SseParser } from '@wikimonitor/domain';
import { MALFORMED_LINE, canaryDueAfter, expectedMalformed, faultDueAfter, malformedFrame, malformedKindFor } from './faults';

describe('faultDueAfter', () => {
  it.each([
    [{ kind: 'drop', every: 100, stallMs: 0 }, 100, true],
    [{ kind: 'drop', every: 100, stallMs: 0 }, 99, false],
    [{ kind: 'drop', every: 100, stallMs: 0 }, 200, true],
    [{ kind: 'malformed', every: 1, stallMs: 0 }, 1, true],
    [{ kind: 'stall', every: 10, stallMs: 5 }, 0, false],
    [{ kind: 'none', every: 1, stallMs: 0 }, 5, false],
  ] as const)('faultDueAfter should fire for %j after %d events: %s', (plan, sent, due) => {
    expect(faultDueAfter(plan, sent)).toBe(due);
  });
});

describe('canaryDueAfter', () => {
  it.each([
    [999, 1000, true],
    [1000, 1000, false],
    [1999, 1000, true],
    [0, 1, true],
    [5, 0, false],
  ])('canaryDueAfter should follow offset %d when every=%d: %s', (offset, every, due) => {
    expect(canaryDueAfter(offset, every)).toBe(due);
  });
});

describe('malformedFrame', () => {
  it('malformedFrame should alternate between non-JSON and non-recentchange payloads', () => {
    expect([0, 1, 2, 3].map(malformedKindFor)).toEqual(['not-json', 'not-recentchange', 'not-json', 'not-recentchange']);
  });

  it.each([
    ['not-json', '{not json', [MALFORMED_LINE]],
    ['not-recentchange', '{"foo":1}', []],
  ] as const)('malformedFrame should frame %s as exactly one SSE message', (kind, data, extraLines) => {
    const frame = malformedFrame(kind, '[{"offset":3}]');
    for (const line of extraLines) expect(frame.split('\n')).toContain(line);
    const events = new SseParser().push(frame).events;
    expect(events).toEqual([{ type: 'message', data, lastEventId: '[{"offset":3}]', hasId: true }]);
  });
});

describe('expectedMalformed', () => {
  it.each([
    [4053, 100, { 'not-json': 20, 'not-recentchange': 20 }],
    [4053, 1000, { 'not-json': 2, 'not-recentchange': 2 }],
    [500, 100, { 'not-json': 3, 'not-recentchange': 2 }],
    [99, 100, { 'not-json': 0, 'not-recentchange': 0 }],
  ])('expectedMalformed should count extras for %d events every %d', (events, every, expected) => {
    expect(expectedMalformed(events, every)).toEqual(expected);
  });
});
