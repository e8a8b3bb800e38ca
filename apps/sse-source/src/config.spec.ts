import { DEFAULT_KEEPALIVE_MS, DEFAULT_PORT, defaultConfig, loadConfig } from './config';

describe('loadConfig', () => {
  it('loadConfig should default to port 8092, the shared data, one pass at full speed', () => {
    const c = defaultConfig();
    expect(c).toMatchObject({ port: DEFAULT_PORT, host: '0.0.0.0', data: undefined, streams: ['recentchange'], topic: 'eqiad.mediawiki.recentchange', maxConnections: 0, retention: 1_000_000, logLevel: 'info' });
    expect(c.stream).toEqual({
      rate: 0,
      burst: undefined,
      injections: [],
      passes: 1,
      end: 'hold',
      keepaliveMs: DEFAULT_KEEPALIVE_MS,
      fault: { kind: 'none', every: 100, stallMs: 2000 },
      status: undefined,
      statusKey: undefined,
      canaryEvery: 0,
      time: 'auto',
      idMode: 'timestamp',
      lifetimeMs: 900_000,
      datacenter: 'eqiad',
    });
  });

  it.each([
    [{ HTTP_PORT: '9000' }, { port: 9000 }],
    [{ HTTP_PORT: '9000', SSE_SOURCE_PORT: '9100' }, { port: 9100 }],
    [{ SSE_SOURCE_DATA: 'a.jsonl, dir ,' }, { data: ['a.jsonl', 'dir'] }],
    [{ SSE_SOURCE_STREAMS: 'recentchange,mediawiki.recentchange' }, { streams: ['recentchange', 'mediawiki.recentchange'] }],
  ])('loadConfig should read %j', (env, expected) => {
    expect(loadConfig({}, env)).toMatchObject(expected);
  });

  it.each([
    [{ SSE_SOURCE_LOOP: 'true' }, { passes: Infinity }],
    [{ SSE_SOURCE_LOOP: 'true', SSE_SOURCE_LOOP_COUNT: '3' }, { passes: 3 }],
    [{ SSE_SOURCE_LOOP_COUNT: '2' }, { passes: 2 }],
    [{ SSE_SOURCE_RATE: '100', SSE_SOURCE_BURST: 'every=10s,duration=2s,factor=10' }, { rate: 100, burst: { everyMs: 10_000, durationMs: 2000, factor: 10, startMs: 10_000 } }],
    [{ SSE_SOURCE_INJECT: 'wiki=dewiki,at=5s,count=300' }, { injections: [{ wiki: 'dewiki', domain: 'de.wikipedia.org', atMs: 5000, count: 300, rate: 0 }] }],
    [{ SSE_SOURCE_FAULT: 'stall', SSE_SOURCE_FAULT_EVERY: '10', SSE_SOURCE_FAULT_MS: '50' }, { fault: { kind: 'stall', every: 10, stallMs: 50 } }],
    [{ SSE_SOURCE_STATUS: '429', SSE_SOURCE_STATUS_TIMES: '3' }, { status: { status: 429, times: 3 } }],
    [{ SSE_SOURCE_CANARY_EVERY: '1000', SSE_SOURCE_END: 'close' }, { canaryEvery: 1000, end: 'close' }],
    [{ SSE_SOURCE_BURST: '' }, { burst: undefined }],
    [{ SSE_SOURCE_TIME: 'now' }, { time: 'now', passes: 1 }],
    [{ SSE_SOURCE_TIME: 'original', SSE_SOURCE_LOOP: 'true' }, { time: 'original', passes: Infinity }],
    [{ SSE_SOURCE_LOOP: 'true' }, { time: 'auto', passes: Infinity }],
    [{ SSE_SOURCE_ID_MODE: 'offset', SSE_SOURCE_LIFETIME_MS: '5s', SSE_SOURCE_DATACENTER: 'alternate' }, { idMode: 'offset', lifetimeMs: 5000, datacenter: 'alternate' }],
    [{ SSE_SOURCE_LIFETIME_MS: '0' }, { lifetimeMs: 0 }],
  ])('loadConfig should build stream defaults from %j', (env, expected) => {
    expect(loadConfig({}, env).stream).toMatchObject(expected);
  });

  it('loadConfig should read the connection limit and the upstream retention', () => {
    expect(loadConfig({}, { SSE_SOURCE_MAX_CONNECTIONS: '2', SSE_SOURCE_RETENTION: '500' })).toMatchObject({ maxConnections: 2, retention: 500 });
  });

  it('loadConfig should let overrides (CLI flags) win over the environment', () => {
    expect(loadConfig({ SSE_SOURCE_RATE: '5' }, { SSE_SOURCE_RATE: '9' }).stream.rate).toBe(5);
  });

  it('loadConfig should report every problem at once, naming the variables', () => {
    expect(() =>
      loadConfig({}, { SSE_SOURCE_PORT: 'http', SSE_SOURCE_RATE: '-1', SSE_SOURCE_BURST: 'every=1s', SSE_SOURCE_FAULT: 'boom', SSE_SOURCE_LOOP_COUNT: '0', SSE_SOURCE_INJECT: 'wiki=dewiki', SSE_SOURCE_TIME: 'live', SSE_SOURCE_ID_MODE: 'kafka', SSE_SOURCE_LIFETIME_MS: 'soon', SSE_SOURCE_DATACENTER: 'ulsfo' }),
    ).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        details: {
          problems: [
            expect.stringMatching(/^SSE_SOURCE_PORT:/),
            expect.stringMatching(/^SSE_SOURCE_RATE:/),
            expect.stringMatching(/^SSE_SOURCE_BURST: burst: duration is required/),
            expect.stringMatching(/^SSE_SOURCE_BURST: burst: factor is required/),
            expect.stringMatching(/^SSE_SOURCE_INJECT: inject: count is required/),
            expect.stringMatching(/^SSE_SOURCE_LOOP_COUNT:/),
            expect.stringMatching(/^SSE_SOURCE_FAULT:/),
            expect.stringMatching(/^SSE_SOURCE_TIME:/),
            expect.stringMatching(/^SSE_SOURCE_ID_MODE:/),
            expect.stringMatching(/^SSE_SOURCE_LIFETIME_MS:/),
            expect.stringMatching(/^SSE_SOURCE_DATACENTER:/),
          ],
        },
      }),
    );
  });
});
