import { CODFW_OFFSET_SHIFT, DatacenterRotation, UpstreamTimes, datacenterOffsetShift, parseDatacenter } from './upstream';

/** A clock that reads the given instants in turn (the last one repeats). */
const readings = (...ms: number[]) => {
  let i = 0;
  return () => ms[Math.min(i++, ms.length - 1)] ?? 0;
};

describe('UpstreamTimes', () => {
  it('UpstreamTimes should date an offset once and give every later reader the same time', () => {
    const up = new UpstreamTimes(10, readings(1000, 2000, 3000));
    expect([up.timeFor(1, 0), up.timeFor(1, 1)]).toEqual([1000, 2000]);
    expect([up.timeFor(1, 0), up.timeFor(1, 1)]).toEqual([1000, 2000]);
    expect(up.frontier).toBe(2);
  });

  it('UpstreamTimes should date a gap before an offset served beyond the frontier, in order', () => {
    const up = new UpstreamTimes(10, readings(1000, 1500, 2000));
    expect(up.timeFor(1, 2)).toBe(2000);
    expect([up.timeFor(1, 0), up.timeFor(1, 1)]).toEqual([1000, 1500]);
    expect(up.frontier).toBe(3);
  });

  it('UpstreamTimes should keep only the latest retention offsets (base moves on)', () => {
    const up = new UpstreamTimes(3, readings(10, 20, 30, 40, 50));
    for (let o = 0; o <= 4; o++) up.timeFor(1, o);
    expect({ base: up.base, frontier: up.frontier }).toEqual({ base: 2, frontier: 5 });
    // An offset beyond retention reads as the oldest kept one.
    expect(up.timeFor(1, 0)).toBe(30);
  });

  it('UpstreamTimes should jump to an offset far beyond the frontier without dating what falls out of retention', () => {
    const up = new UpstreamTimes(3, readings(10, 20, 30, 40));
    expect(up.timeFor(1, 1e12)).toBe(30);
    expect({ base: up.base, frontier: up.frontier }).toEqual({ base: 1e12 - 2, frontier: 1e12 + 1 });
    expect([up.timeFor(1, 1e12 - 2), up.timeFor(1, 1e12 - 1)]).toEqual([10, 20]);
  });

  it('UpstreamTimes should find the first kept offset at or after a time, of an accepted partition, else the frontier', () => {
    const up = new UpstreamTimes(100, readings(1000, 1000, 2000, 2000, 3000));
    up.timeFor(1, 4);
    const written = (ms: number) => ms;
    expect(up.firstOffsetAtOrAfter(1000, written)).toBe(0);
    expect(up.firstOffsetAtOrAfter(1001, written)).toBe(2);
    expect(up.firstOffsetAtOrAfter(2000, written, (o) => o % 2 === 1)).toBe(3);
    expect(up.firstOffsetAtOrAfter(3001, written)).toBe(5);
    expect(up.firstOffsetAtOrAfter(0, written)).toBe(0);
  });

  it('UpstreamTimes should search by the time as written (meta.dt precision)', () => {
    const up = new UpstreamTimes(100, readings(1200, 1700, 2100));
    up.timeFor(1, 2);
    const seconds = (ms: number) => ms - (ms % 1000);
    // 1200 and 1700 are both written 1000: a resume at 1001 (the id of either) skips both.
    expect(up.firstOffsetAtOrAfter(1001, seconds)).toBe(2);
    expect(up.firstOffsetAtOrAfter(1000, seconds)).toBe(0);
  });
});

describe('DatacenterRotation', () => {
  it('DatacenterRotation should alternate per client, starting with eqiad, and pass fixed settings through', () => {
    const dc = new DatacenterRotation();
    expect(['a', 'a', 'b', 'a', 'b'].map((c) => dc.serve('alternate', c))).toEqual(['eqiad', 'codfw', 'eqiad', 'eqiad', 'codfw']);
    expect(dc.serve('codfw', 'a')).toBe('codfw');
  });

  it('DatacenterRotation should forget the oldest client beyond its bound', () => {
    const dc = new DatacenterRotation(2);
    dc.serve('alternate', 'a');
    dc.serve('alternate', 'b');
    dc.serve('alternate', 'c');
    expect(dc.serve('alternate', 'a')).toBe('eqiad');
    expect(dc.serve('alternate', 'c')).toBe('codfw');
  });
});

describe('datacenters', () => {
  it('datacenterOffsetShift should move only codfw offsets', () => {
    expect([datacenterOffsetShift('eqiad'), datacenterOffsetShift('codfw')]).toEqual([0, CODFW_OFFSET_SHIFT]);
  });
  it('parseDatacenter should read the settings and reject others', () => {
    expect(parseDatacenter(' CODFW ')).toEqual({ ok: true, value: 'codfw' });
    expect(parseDatacenter('esams').ok).toBe(false);
  });
});
