import { WikiMonitorError } from './errors';
import { formatStartupError, runMain } from './entry';
import { parseConfig, env } from './config';
import { z } from 'zod';

describe('runMain', () => {
  let out: jest.SpyInstance;
  let err: jest.SpyInstance;
  beforeEach(() => {
    out = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    err = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it.each([['--help'], ['-h']])('runMain should print the help for %s and not start the service', async (flag) => {
    const start = jest.fn(async () => 7);
    await expect(runMain('svc', 'usage text', start, ['node', 'main.js', flag])).resolves.toBe(0);
    expect(start).not.toHaveBeenCalled();
    expect(out).toHaveBeenCalledWith('usage text');
  });

  it("runMain should resolve to the service's own exit code", async () => {
    await expect(runMain('svc', 'usage', async () => 3, ['node', 'main.js'])).resolves.toBe(3);
    expect(err).not.toHaveBeenCalled();
  });

  it('runMain should refuse an unknown flag with exit code 2 and the usage, without starting the service', async () => {
    const start = jest.fn(async () => 7);
    await expect(runMain('svc', 'usage text', start, ['node', 'main.js', '--bogus'])).resolves.toBe(2);
    expect(start).not.toHaveBeenCalled();
    expect(err).toHaveBeenCalledWith('svc: error: unknown flag --bogus\n\nusage text');
  });

  it('runMain should hand the parsed flags of its spec to start', async () => {
    const spec = { usage: 'u', options: { rate: { type: 'string', int: { min: 0 } } } } as const;
    const start = jest.fn(async ({ values }: { values: { rate: number | undefined } }) => values.rate ?? -1);
    await expect(runMain('svc', spec, start, ['node', 'main.js', '--rate', '4'])).resolves.toBe(4);
    await expect(runMain('svc', spec, start, ['node', 'main.js', '--rate', 'x'])).resolves.toBe(2);
  });

  it('runMain should print a configuration error as one line per variable after the fatal JSON line', async () => {
    const schema = z.object({ KAFKA_BOOTSTRAP_SERVERS: env.string(), HTTP_PORT: env.int(8080, { min: 0, max: 65535 }) });
    const code = await runMain('producer', 'usage', async () => parseConfig(schema, { HTTP_PORT: 'eighty' }).HTTP_PORT, ['node', 'main.js']);
    expect(code).toBe(1);
    expect(JSON.parse(err.mock.calls[0][0] as string)).toEqual({
      level: 'fatal',
      service: 'producer',
      code: 'CONFIG_INVALID',
      msg: 'invalid configuration:\n  - KAFKA_BOOTSTRAP_SERVERS: required (missing)\n  - HTTP_PORT: must be an integer (got "eighty")',
      problems: ['KAFKA_BOOTSTRAP_SERVERS: required (missing)', 'HTTP_PORT: must be an integer (got "eighty")'],
    });
    expect(err.mock.calls[1][0]).toBe('producer: invalid configuration (CONFIG_INVALID)\n  KAFKA_BOOTSTRAP_SERVERS: required (missing)\n  HTTP_PORT: must be an integer (got "eighty")');
  });

  it('formatStartupError should keep a plain error on one line', () => {
    expect(formatStartupError('svc', new Error('boom')).text).toBe('svc: boom');
  });

  it('runMain should turn a start-up failure into exit code 1 and one fatal JSON line with the code', async () => {
    const code = await runMain('svc', 'usage', async () => Promise.reject(new WikiMonitorError('CONFIG_INVALID', 'KAFKA_BOOTSTRAP_SERVERS: required')), ['node', 'main.js']);
    expect(code).toBe(1);
    expect(JSON.parse(err.mock.calls[0][0] as string)).toEqual({ level: 'fatal', service: 'svc', code: 'CONFIG_INVALID', msg: 'KAFKA_BOOTSTRAP_SERVERS: required' });
  });
});
