import {
  type ContentFields,
  checkAggregates,
  contentKey,
  copyAndAggregateFailures,
  countCopies,
  countTopicCopies,
  distinctInReadOrder,
  letterHolds,
  poisonOutcomes,
  rowDuplicates,
  windowKey,
} from './checks';
import type { ServedPoison } from './input';
import { type CountedChange, recountAggregates } from './recount';

const opts = { windowMs: 10_000, latenessMs: 2_000, topPages: 3 };
const base: CountedChange = { id: 'x', wiki: 'enwiki', event_time: 0, type: 'edit', bot: false, user: 'A', title: 'T', length_old: 10, length_new: 15 };
const ch = (id: string, event_time: number, extra: Partial<CountedChange> = {}): CountedChange => ({ ...base, id, event_time, ...extra });
// Two wikis, several windows each, the last events close every earlier window.
const input = [ch('a', 1_000), ch('b', 2_000, { user: 'B' }), ch('c', 3_000, { wiki: 'dewiki' }), ch('d', 12_000), ch('e', 15_000, { wiki: 'dewiki' }), ch('f', 40_000), ch('g', 40_000, { wiki: 'dewiki' })];
const ids = input.map((c) => c.id);
const row = (c: Partial<ContentFields> = {}): ContentFields => ({ wiki: 'enwiki', type: 'edit', title: 'T', user: 'A', rc_id: 1, log_id: null, revision_new: 5, ...c });

describe('countTopicCopies', () => {
  const expected = new Set(ids);
  it('countTopicCopies should find nothing wrong when every expected id is on the topic once', () => {
    expect(countTopicCopies('t', ids, { mustHold: expected, allowed: expected })).toMatchObject({ records: 7, distinct: 7, extraCopies: 0, missing: 0, unexpected: 0 });
  });
  it('countTopicCopies should count a planted duplicate as an extra copy', () => {
    const r = countTopicCopies('t', [...ids, 'c', 'c'], { mustHold: expected, allowed: expected });
    expect(r).toMatchObject({ extraCopies: 2, missing: 0, examples: ['c x3'] });
    expect(copyAndAggregateFailures([r], 0, undefined)).toEqual(['t: 2 extra copies (c x3)']);
  });
  it('countTopicCopies should count a lost event as missing and a foreign one as unexpected', () => {
    const r = countTopicCopies('t', [...ids.filter((id) => id !== 'd'), 'zz'], { mustHold: expected, allowed: expected });
    expect(r).toMatchObject({ extraCopies: 0, missing: 1, unexpected: 1 });
    expect(copyAndAggregateFailures([r], 0, undefined)).toHaveLength(2);
  });
  it('countTopicCopies should count windows by wiki, start and end', () => {
    const w = { wiki: 'enwiki', window_start: 0, window_end: 10_000 };
    expect(countTopicCopies('aggs', [windowKey(w), windowKey({ ...w, window_end: 20_000 }), windowKey(w)]).extraCopies).toBe(1);
  });
});

describe('rowDuplicates', () => {
  it('rowDuplicates should be 0 when each input change is stored once', () => {
    expect(rowDuplicates([row(), row({ rc_id: 2 })], [row(), row({ rc_id: 2 })])).toBe(0);
  });
  it('rowDuplicates should count the same change stored a second time (under another meta.id)', () => {
    expect(rowDuplicates([row(), row(), row({ rc_id: 2 })], [row(), row({ rc_id: 2 })])).toBe(1);
  });
  it('rowDuplicates should accept as many rows as the input has changes with that key', () => {
    const noIds = row({ rc_id: null, log_id: null });
    expect(rowDuplicates([noIds, noIds], [noIds, noIds])).toBe(0);
    expect(rowDuplicates([noIds, noIds, noIds], [noIds, noIds])).toBe(1);
  });
  it('contentKey should fall back from rc_id to the log id to the page, user and revision', () => {
    expect(contentKey(row())).toBe('enwiki#rc:1');
    expect(contentKey(row({ rc_id: null, log_id: 9 }))).toBe('enwiki#log:9');
    expect(contentKey(row({ rc_id: null }))).toBe('enwiki#edit#T#A#5');
  });
});

describe('distinctInReadOrder', () => {
  it('distinctInReadOrder should follow the read order, keep one copy of each id and append what was never read', () => {
    expect(distinctInReadOrder(input, ['c', 'a', 'a', 'zz', 'b']).map((c) => c.id)).toEqual(['c', 'a', 'b', 'd', 'e', 'f', 'g']);
  });
});

describe('checkAggregates', () => {
  // What an aggregator that counts whatever it reads would write, from the topic as it was read.
  const aggregatorOf = (read: CountedChange[]) => {
    const r = recountAggregates(read, opts);
    return { stored: r.closed, topic: r.closed, lateIds: r.lateIds };
  };

  it('checkAggregates should hold when the aggregator read the distinct input', () => {
    const agg = checkAggregates(input, ids, aggregatorOf(input), opts);
    expect(agg.recount.closed.length).toBeGreaterThan(2);
    expect(copyAndAggregateFailures([], 0, agg)).toEqual([]);
  });

  it('checkAggregates should fail when a duplicate reached the aggregator (the recount counts the distinct input)', () => {
    const withDup = [...input.slice(0, 2), ch('b', 2_000, { user: 'B' }), ...input.slice(2)];
    const agg = checkAggregates(input, withDup.map((c) => c.id), aggregatorOf(withDup), opts);
    expect(agg.stored.different).toEqual([{ key: 'enwiki@0', field: 'total', expected: 2, actual: 3 }]);
    expect(copyAndAggregateFailures([], 0, agg).join(' ')).toMatch(/stored aggregates differ.*1 different/);
  });

  it('checkAggregates should fail when an event was lost before the aggregator', () => {
    const without = input.filter((c) => c.id !== 'a');
    const agg = checkAggregates(input, without.map((c) => c.id), aggregatorOf(without), opts);
    // Never read, it is counted after everything else: late for the recount, so the late topic disagrees.
    expect(agg.recount.lateIds).toEqual(['a']);
    expect(copyAndAggregateFailures([], 0, agg)).toEqual(['late topic: 1 late events missing, 0 unexpected (recount: 1)']);
  });

  it('checkAggregates should fail on a wrong window in PostgreSQL or on the topic alone', () => {
    const good = aggregatorOf(input);
    const [first, ...rest] = good.stored;
    if (!first) throw new Error('no closed window');
    const wrong = [{ ...first, distinct_editors: 9 }, ...rest];
    const onlyStored = checkAggregates(input, ids, { ...good, stored: wrong }, opts);
    expect(onlyStored.stored.different).toHaveLength(1);
    expect(onlyStored.topic.different).toHaveLength(0);
    const onTopic = checkAggregates(input, ids, { ...good, topic: [...good.topic, { ...first, window_start: 990_000, window_end: 1_000_000 }] }, opts);
    expect(onTopic.topic.unexpected).toEqual([`${first.wiki}@990000`]);
    expect(copyAndAggregateFailures([], 0, onTopic).join(' ')).toMatch(/aggregates topic differs.*1 unexpected/);
  });

  it('checkAggregates should fail when the late topic differs from the recount', () => {
    const late = [...input, ch('late', 500)];
    const agg = checkAggregates(late, late.map((c) => c.id), { ...aggregatorOf(late), lateIds: [] }, opts);
    expect(agg.recount.lateIds).toEqual(['late']);
    expect(agg.lateMissing).toBe(1);
    expect(copyAndAggregateFailures([], 0, agg).join(' ')).toMatch(/late topic: 1 late events missing/);
  });
});

describe('poisonOutcomes', () => {
  const data = Buffer.from('{"meta":{"id":"p1"},"comment":"' + 'x'.repeat(100) + '"}');
  const served = (expected: ServedPoison['expected'], metaId: string | undefined = 'p1'): ServedPoison => ({ name: 'p', expected, metaId, data });
  const letter = { app: 'producer', value: data };

  it('poisonOutcomes should accept a poison event dead-lettered once, whole or cut to a prefix', () => {
    const cut = { app: 'producer', value: data.subarray(0, 40) };
    expect(letterHolds(cut, data)).toBe(true);
    expect(letterHolds({ app: 'producer', value: Buffer.concat([data.subarray(0, 39), Buffer.from('!')]) }, data)).toBe(false);
    expect(letterHolds({ app: 'producer', value: Buffer.concat([data, Buffer.from(' ')]) }, data)).toBe(false);
    expect(poisonOutcomes([served('dead-letter')], [letter], new Map(), new Set())[0]?.ok).toBe(true);
    expect(poisonOutcomes([served('dead-letter')], [cut], new Map(), new Set())[0]?.ok).toBe(true);
  });

  it('poisonOutcomes should fail a dead letter written twice, missing, or by another app', () => {
    expect(poisonOutcomes([served('dead-letter')], [letter, letter], new Map(), new Set())[0]).toMatchObject({ ok: false, deadLetters: 2 });
    expect(poisonOutcomes([served('dead-letter')], [], new Map(), new Set())[0]?.ok).toBe(false);
    expect(poisonOutcomes([served('dead-letter')], [{ ...letter, app: 'filter-router' }], new Map(), new Set())[0]?.ok).toBe(false);
  });

  it('poisonOutcomes should fail a dead letter with another code than the builder expects', () => {
    const withCode = { ...served('dead-letter'), code: 'EVENT_TOO_LARGE' };
    expect(poisonOutcomes([withCode], [{ ...letter, code: 'EVENT_TOO_LARGE' }], new Map(), new Set())[0]?.ok).toBe(true);
    expect(poisonOutcomes([withCode], [{ ...letter, code: 'INVALID_EVENT' }], new Map(), new Set())[0]).toMatchObject({ ok: false, codes: ['INVALID_EVENT'] });
  });

  it('poisonOutcomes should fail a dropped event that was published and a published one that was not stored', () => {
    expect(poisonOutcomes([served('dropped')], [], countCopies(['p1']), new Set())[0]?.ok).toBe(false);
    expect(poisonOutcomes([served('dropped')], [], new Map(), new Set())[0]?.ok).toBe(true);
    expect(poisonOutcomes([served('published')], [], countCopies(['p1']), new Set())[0]?.ok).toBe(false);
    expect(poisonOutcomes([served('published')], [], countCopies(['p1', 'p1']), new Set(['p1']))[0]?.ok).toBe(false);
    expect(poisonOutcomes([served('published')], [], countCopies(['p1']), new Set(['p1']))[0]?.ok).toBe(true);
  });
});
