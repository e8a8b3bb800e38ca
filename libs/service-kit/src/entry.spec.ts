import { WikiMonitorError } from './errors';
import { runMain } from './entry';

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

  it('runMain should turn a start-up failure into exit code 1 and one fatal JSON line with the code', async () => {
    const code = await runMain('svc', 'usage', async () => Promise.reject(new WikiMonitorError('CONFIG_INVALID', 'KAFKA_BOOTSTRAP_SERVERS: required')), ['node', 'main.js']);
    expect(code).toBe(1);
    expect(JSON.parse(err.mock.calls[0][0] as string)).toEqual({ level: 'fatal', service: 'svc', code: 'CONFIG_INVALID', msg: 'KAFKA_BOOTSTRAP_SERVERS: required' });
  });
});
