import { type SignalChange, type StoredSignal, changeSignals, findLargeRemovals, findRevertBursts, isAnonymousUser, isRevertComment, isTemporaryAccount } from './heuristics';

const change = (over: Partial<SignalChange> = {}): SignalChange => ({
  id: 'x',
  event_time: 0,
  wiki: 'enwiki',
  domain: 'en.wikipedia.org',
  user: 'Ann',
  bot: false,
  type: 'edit',
  title: 'T',
  comment: '',
  length_old: 5_000,
  length_new: 5_100,
  revision_old: 1,
  revision_new: 2,
  server_name: 'en.wikipedia.org',
  ...over,
});

describe('suspicious-activity predicates', () => {
  it.each([
    ['Reverted edits by [[Special:Contributions/1.2.3.4|1.2.3.4]]', true],
    ['Undid revision 123 by Foo', true],
    ['rv vandalism', true],
    ['Rollback to last good version', true],
    ['Added reference', false],
    ['Reverse chronological order fixed', false],
    ['/* wbsetclaim-create:2||1 */ [[Property:P31]]', false],
  ])('isRevertComment should read %j as %s', (comment, expected) => expect(isRevertComment(comment)).toBe(expected));

  it.each([
    ['203.0.113.7', true, false],
    ['2001:db8::1', true, false],
    ['~2025-31245-77', false, true],
    ['Ann', false, false],
    ['Ann 2025', false, false],
  ])('user %j should be anonymous=%s, temporary=%s', (user, anon, temp) => {
    expect(isAnonymousUser(user)).toBe(anon);
    expect(isTemporaryAccount(user)).toBe(temp);
  });

  it.each([
    ['a revert edit', change({ comment: 'Undid revision 1 by X' }), ['revert']],
    ['a revert comment on a log event', change({ type: 'log', comment: 'revert' }), []],
    ['a large removal by an IP', change({ user: '203.0.113.7', length_new: 2_900 }), ['large_removal']],
    ['a large removal by a temporary account that is also a revert', change({ user: '~2025-1-1', length_new: 100, comment: 'rv' }), ['revert', 'large_removal']],
    ['a large removal by a registered account', change({ length_new: 100 }), []],
    ['a large removal by a bot', change({ user: '203.0.113.7', bot: true, length_new: 100 }), []],
    ['a removal just under the threshold', change({ user: '203.0.113.7', length_new: 3_001 }), []],
    ['a new page (no old length)', change({ user: '203.0.113.7', type: 'new', length_old: null }), []],
  ])('changeSignals should flag %s', (_n, c, expected) => expect(changeSignals(c)).toEqual(expected));
});

const sig = (id: string, t: number, user = 'Ann', kind: StoredSignal['kind'] = 'revert', bytes: number | null = null): StoredSignal => ({ id, kind, event_time: t * 60_000, wiki: 'enwiki', user, title: 'T', bytes_delta: bytes, diff_url: null });

describe('findRevertBursts', () => {
  it.each([
    ['5 reverts in 10 minutes', [0, 2, 4, 6, 8].map((m, i) => sig(`r${i}`, m)), [5]],
    ['4 reverts are not a burst', [0, 2, 4, 6].map((m, i) => sig(`r${i}`, m)), []],
    ['5 reverts spread over 20 minutes are not a burst', [0, 5, 10, 15, 20].map((m, i) => sig(`r${i}`, m)), []],
    ['one long burst is one finding', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((m, i) => sig(`r${i}`, m)), [12]],
    ['two editors are counted apart', [...[0, 1, 2].map((m, i) => sig(`a${i}`, m)), ...[0, 1, 2].map((m, i) => sig(`b${i}`, m, 'Bob'))], []],
    ['large removals are not reverts', [0, 1, 2, 3, 4].map((m, i) => sig(`l${i}`, m, 'Ann', 'large_removal', -5000)), []],
  ])('findRevertBursts should find %s', (_n, signals, sizes) => {
    expect(findRevertBursts(signals).map((f) => f.value)).toEqual(sizes);
  });

  it('findLargeRemovals should list large removals, largest first', () => {
    const f = findLargeRemovals([sig('a', 1, 'x', 'large_removal', -2500), sig('b', 2, 'y', 'large_removal', -9000), sig('c', 3)]);
    expect(f.map((x) => [x.user, x.value])).toEqual([
      ['y', 9000],
      ['x', 2500],
    ]);
  });
});
