import { type StreamOptions, applyQueryOverrides, parseLoop } from './stream-options';

const defaults: StreamOptions = {
  rate: 0,
  burst: undefined,
  injections: [],
  passes: 1,
  end: 'hold',
  keepaliveMs: 15_000,
  fault: { kind: 'none', every: 100, stallMs: 2000 },
  status: undefined,
  statusKey: undefined,
  idMode: 'timestamp',
  lifetimeMs: 900_000,
  datacenter: 'eqiad',
  canaryEvery: 0,
  time: 'auto',
};

describe('applyQueryOverrides', () => {
  const cases: Array<[string, Record<string, string>, Partial<StreamOptions>]> = [
    ['no parameters', {}, {}],
    ['drop every 100', { fault: 'drop', every: '100' }, { fault: { kind: 'drop', every: 100, stallMs: 2000 } }],
    ['stall', { fault: 'stall', every: '5', ms: '250' }, { fault: { kind: 'stall', every: 5, stallMs: 250 } }],
    ['429 twice', { status: '429', times: '2', key: 't1' }, { status: { status: 429, times: 2 }, statusKey: 't1' }],
    ['503 once by default', { status: '503' }, { status: { status: 503, times: 1 } }],
    ['rate and burst', { rate: '12.5', burst: 'every=10s,duration=1s,factor=3' }, { rate: 12.5, burst: { everyMs: 10_000, durationMs: 1000, factor: 3, startMs: 10_000 } }],
    ['endless loop', { loop: 'true' }, { passes: Infinity }],
    ['3 passes, close at the end', { loop: '3', end: 'close' }, { passes: 3, end: 'close' }],
    ['injection', { inject: 'wiki=dewiki,count=3' }, { injections: [{ wiki: 'dewiki', domain: 'de.wikipedia.org', atMs: 0, count: 3, rate: 0 }] }],
    ['canaries and keep-alive', { canary: '1000', keepalive: '50' }, { canaryEvery: 1000, keepaliveMs: 50 }],
    ['time now', { time: 'now' }, { time: 'now' }],
    ['time original with a loop', { time: 'original', loop: '25' }, { time: 'original', passes: 25 }],
    ['time auto', { time: 'auto' }, { time: 'auto' }],
    ['the old offset ids', { idmode: 'offset' }, { idMode: 'offset' }],
    ['a 5 s lifetime', { lifetime: '5s' }, { lifetimeMs: 5000 }],
    ['no lifetime', { lifetime: '0' }, { lifetimeMs: 0 }],
    ['a datacenter', { dc: 'alternate' }, { datacenter: 'alternate' }],
    ['unrelated parameters (ignored)', { since: 'x', foo: 'bar' }, {}],
  ];
  it.each(cases)('applyQueryOverrides should apply %s', (_name, query, changes) => {
    expect(applyQueryOverrides(defaults, query)).toEqual({ ok: true, value: { ...defaults, ...changes } });
  });

  it('applyQueryOverrides should switch server-wide settings off with none', () => {
    const server: StreamOptions = {
      ...defaults,
      burst: { everyMs: 2, durationMs: 1, factor: 2, startMs: 0 },
      status: { status: 503, times: 1 },
      injections: [{ wiki: 'dewiki', domain: 'de.wikipedia.org', atMs: 0, count: 1, rate: 0 }],
      fault: { kind: 'drop', every: 5, stallMs: 0 },
    };
    const r = applyQueryOverrides(server, { burst: 'none', status: 'none', inject: 'none', fault: 'none' });
    expect(r).toEqual({ ok: true, value: { ...server, burst: undefined, status: undefined, injections: [], fault: { kind: 'none', every: 5, stallMs: 0 } } });
    expect(server.fault.kind).toBe('drop');
  });

  it('applyQueryOverrides should report every bad parameter at once', () => {
    const r = applyQueryOverrides(defaults, { rate: 'fast', fault: 'explode', every: '0', status: '500', loop: '0', end: 'never', inject: 'wiki=x', time: 'later' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems).toEqual([
        expect.stringMatching(/^rate must be a number/),
        expect.stringMatching(/inject: count is required/),
        expect.stringMatching(/cannot derive a domain/),
        expect.stringMatching(/^loop must be/),
        expect.stringMatching(/^end must be hold or close/),
        expect.stringMatching(/^fault must be one of none, drop, stall, malformed/),
        'every must be >= 1',
        expect.stringMatching(/^status must be 429 or 503/),
        'time must be auto, original, now (got "later")',
      ]);
    }
  });

  it('applyQueryOverrides should reject bad id modes, lifetimes and datacenters', () => {
    expect(applyQueryOverrides(defaults, { idmode: 'kafka', lifetime: 'soon', dc: 'esams' })).toEqual({
      ok: false,
      problems: [expect.stringMatching(/^idmode must be timestamp or offset/), expect.stringMatching(/^lifetime must be a duration/), expect.stringMatching(/^datacenter must be eqiad, codfw, alternate/)],
    });
  });

  it('applyQueryOverrides should want a status for times', () => {
    expect(applyQueryOverrides(defaults, { times: '2' })).toEqual({ ok: false, problems: ['times needs status=429 or status=503'] });
  });
});

describe('parseLoop', () => {
  it.each([
    ['true', Infinity],
    ['forever', Infinity],
    ['false', 1],
    ['1', 1],
    ['25', 25],
  ])('parseLoop should read %s', (raw, passes) => {
    expect(parseLoop(raw)).toEqual({ ok: true, value: passes });
  });
  it.each(['0', '-1', 'maybe', '2.5'])('parseLoop should reject %s', (raw) => {
    expect(parseLoop(raw).ok).toBe(false);
  });
});
