import { fromSharedPoison, localPoisonEvents } from './poison-input';

describe('poison input', () => {
  it('fromSharedPoison should read both shapes of a builder entry (name + word, class + outcome object with code)', () => {
    const data = Buffer.from('{}');
    expect(fromSharedPoison({ name: 'a', data, expected: 'dropped' })).toEqual({ name: 'a', data, expected: 'dropped' });
    expect(fromSharedPoison({ class: 'huge-comment', data, expected: { outcome: 'dead-letter', code: 'EVENT_TOO_LARGE' } })).toEqual({ name: 'huge-comment', data, expected: 'dead-letter', code: 'EVENT_TOO_LARGE' });
    expect(() => fromSharedPoison({ data, expected: 'published' })).toThrow(/without a name/);
  });

  it('localPoisonEvents should cover the classes of issue 13 point 4 with an outcome each', () => {
    const list = localPoisonEvents();
    expect(list.map((p) => p.name).sort()).toEqual(['before-2001-meta-dt', 'canary-without-wiki', 'deep-log-params', 'future-meta-dt', 'invalid-utf8', 'missing-meta-id', 'oversized-comment', 'wrong-types-optional']);
    expect(list.find((p) => p.name === 'oversized-comment')?.data.length).toBeGreaterThan(2_000_000);
    expect(list.find((p) => p.name === 'canary-without-wiki')?.expected).toBe('dropped');
  });
});
