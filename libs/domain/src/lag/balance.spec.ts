import { offsetRate, partitionBalance } from './balance';

describe('offsetRate', () => {
  const cases: Array<[string, { at: number; value: number }, { at: number; value: number }, number]> = [
    ['steady growth', { at: 0, value: 100 }, { at: 2000, value: 300 }, 100],
    ['no time elapsed', { at: 5, value: 1 }, { at: 5, value: 9 }, 0],
    ['counter went down', { at: 0, value: 500 }, { at: 1000, value: 10 }, 0],
    ['idle', { at: 0, value: 7 }, { at: 1000, value: 7 }, 0],
  ];
  it.each(cases)('offsetRate should handle %s', (_n, from, to, expected) => {
    expect(offsetRate(from, to)).toBe(expected);
  });
});

describe('partitionBalance', () => {
  it.each([
    ['even', [10, 10, 10, 10], { totalRate: 40, skew: 1, cv: 0, hottest: 0 }],
    ['all on one partition of four', [0, 0, 40, 0], { totalRate: 40, skew: 4, hottest: 2 }],
    ['idle', [0, 0, 0], { totalRate: 0, skew: 0, cv: 0, hottest: -1 }],
    ['no partitions', [], { totalRate: 0, skew: 0, hottest: -1 }],
    ['two to one', [20, 10], { totalRate: 30, meanRate: 15, maxRate: 20, minRate: 10, hottest: 0 }],
  ] as Array<[string, number[], Record<string, number>]>)('partitionBalance should describe %s traffic', (_n, rates, expected) => {
    expect(partitionBalance(rates)).toMatchObject(expected);
  });

  it('partitionBalance should give a skew of max over mean and a coefficient of variation', () => {
    const b = partitionBalance([20, 10]);
    expect(b.skew).toBeCloseTo(20 / 15, 10);
    expect(b.cv).toBeCloseTo(5 / 15, 10);
  });
});
