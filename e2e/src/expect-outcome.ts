import type { ScenarioResult } from './chaos';

/**
 * The exact outcome every chaos run must reach (used by the plaintext and the SASL_SSL suites): the
 * input and the published poison all stored, nothing lost or duplicated on any topic or table, exactly
 * the expected dead letters, aggregates equal to the recount, and the three groups back at lag 0 / OK.
 */
export function expectExactOutcome(r: ScenarioResult, events: number): void {
  expect(r.failures).toEqual([]);
  expect({ eventsIn: r.eventsIn, stored: r.stored, lost: r.lost, topicDuplicates: r.topicDuplicates, rowDuplicates: r.rowDuplicates, unexpected: r.unexpected, aggregatesEqualRecount: r.aggregatesEqualRecount }).toEqual({
    eventsIn: r.poison.filter((p) => p.expected === 'published').length + events,
    stored: r.eventsIn,
    lost: 0,
    topicDuplicates: 0,
    rowDuplicates: 0,
    unexpected: 0,
    aggregatesEqualRecount: true,
  });
  expect(r.deadLettered).toBe(r.expectedDeadLetters);
  expect(r.aggregates?.compared).toBeGreaterThan(0);
  expect(r.groups.map((g) => [g.totalLag, g.status])).toEqual([
    [0, 'OK'],
    [0, 'OK'],
    [0, 'OK'],
  ]);
}
