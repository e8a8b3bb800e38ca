import { AckTracker } from './ack-tracker';

describe('AckTracker', () => {
  it('AckTracker should advance the watermark only over a contiguous done prefix', () => {
    const t = new AckTracker<string>();
    const a = t.add('a');
    const b = t.add('b');
    const c = t.add('c');
    expect(t.watermark()).toBeUndefined();
    t.complete(c);
    expect(t.watermark()).toBeUndefined();
    t.complete(a);
    expect(t.watermark()).toBe('a');
    t.complete(b);
    expect(t.watermark()).toBe('c');
    expect(t.outstanding()).toBe(0);
    expect(t.completedCount()).toBe(3);
  });

  it.each([
    [[0, 1, 2, 3], 'p3'],
    [[3, 2, 1, 0], 'p3'],
    [[1, 2, 3], undefined],
    [[0, 2, 3], 'p0'],
    [[0, 0, 1], 'p1'],
  ])('AckTracker should give watermark for completion order %j = %s', (order, expected) => {
    const t = new AckTracker<string>();
    for (let i = 0; i < 4; i++) t.add(`p${i}`);
    for (const s of order) t.complete(s);
    expect(t.watermark()).toBe(expected);
  });
});
