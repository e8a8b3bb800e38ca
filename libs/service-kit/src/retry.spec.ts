import { WikiMonitorError } from './errors';
import { backoffDelay, retry } from './retry';

describe('retry', () => {
  it.each([
    [0, 1, 100],
    [1, 1, 200],
    [3, 1, 800],
    [10, 1, 5000],
    [3, 0.5, 400],
  ])('backoffDelay should cap attempt %i (random %f) at %i ms', (attempt, rnd, expected) => {
    expect(backoffDelay(attempt, { initialMs: 100, maxMs: 5000 }, () => rnd)).toBe(expected);
  });

  it('retry should retry retriable errors and stop on success', async () => {
    let calls = 0;
    const v = await retry(
      async () => {
        if (++calls < 3) throw new WikiMonitorError('TIMEOUT', 't', { retriable: true });
        return 'ok';
      },
      { attempts: 5, initialMs: 1, maxMs: 2 },
    );
    expect(v).toBe('ok');
    expect(calls).toBe(3);
  });

  it('retry should not retry non-retriable errors', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new WikiMonitorError('INVALID_EVENT', 'bad');
        },
        { attempts: 5, initialMs: 1, maxMs: 2 },
      ),
    ).rejects.toThrow('bad');
    expect(calls).toBe(1);
  });

  it('retry should give up after the bounded number of attempts', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new WikiMonitorError('DEPENDENCY_UNAVAILABLE', 'down', { retriable: true });
        },
        { attempts: 4, initialMs: 1, maxMs: 2 },
      ),
    ).rejects.toThrow('down');
    expect(calls).toBe(4);
  });
});
