import { aggregateDedupKey, alertDedupKey, changeDedupKey, dedupeByKey } from './dedup';

describe('dedupeByKey', () => {
  const items = [
    { k: 'x', v: 1 },
    { k: 'y', v: 2 },
    { k: 'x', v: 3 },
    { k: 'z', v: 4 },
    { k: 'x', v: 5 },
  ];
  it.each([
    ['first', [1, 2, 4]],
    ['last', [5, 2, 4]],
  ] as const)('dedupeByKey should keep the %s occurrence of each key', (keep, values) => {
    const r = dedupeByKey(items, (i) => i.k, keep);
    expect(r.unique.map((i) => i.v)).toEqual(values);
    expect(r.duplicates).toBe(2);
  });

  it('dedupeByKey should report no duplicates for distinct keys', () => {
    expect(dedupeByKey([{ id: 'a' }, { id: 'b' }], changeDedupKey)).toEqual({ unique: [{ id: 'a' }, { id: 'b' }], duplicates: 0 });
  });
});

describe('dedup keys', () => {
  it('changeDedupKey should be meta.id alone, so events sharing a request_id stay distinct', () => {
    expect(changeDedupKey({ id: 'e1' })).toBe('e1');
  });
  it('aggregateDedupKey should separate wikis and windows', () => {
    const k = (wiki: string, s: number, e: number) => aggregateDedupKey({ wiki, window_start: s, window_end: e });
    expect(new Set([k('enwiki', 0, 60), k('enwiki', 60, 120), k('dewiki', 0, 60), k('enwiki', 0, 120)]).size).toBe(4);
    expect(k('enwiki', 0, 60)).toBe(k('enwiki', 0, 60));
  });
  it('alertDedupKey should be the deterministic alert id', () => {
    expect(alertDedupKey({ id: 'spike:enwiki:1' })).toBe('spike:enwiki:1');
  });
});
