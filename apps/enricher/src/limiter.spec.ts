import { waitFor } from '@wikimonitor/testing';
import { createCallLimiter } from './limiter';

describe('call limiter', () => {
  it('createCallLimiter should never run more than perKey calls of one key at once, and other keys beside them', async () => {
    const limiter = createCallLimiter({ perKey: 2, ratePerSecond: 1_000 });
    const running: Record<string, number> = {};
    const peak: Record<string, number> = {};
    const releases: Array<() => void> = [];
    const call = (key: string) =>
      limiter.run(key, async () => {
        running[key] = (running[key] ?? 0) + 1;
        peak[key] = Math.max(peak[key] ?? 0, running[key] ?? 0);
        await new Promise<void>((r) => releases.push(r));
        running[key] = (running[key] ?? 1) - 1;
      });
    const all = [...Array.from({ length: 6 }, () => call('enwiki')), call('dewiki')];
    await waitFor(() => releases.length === 3, 'two enwiki calls and the dewiki call to start');
    expect(running).toEqual({ enwiki: 2, dewiki: 1 });
    while (releases.length) {
      (releases.shift() as () => void)();
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(async () => {
      while (releases.length) (releases.shift() as () => void)();
      return Object.values(running).every((n) => n === 0) && all.length === 7;
    }, 'every call to finish');
    await Promise.all(all);
    expect(peak).toEqual({ enwiki: 2, dewiki: 1 });
  });

  it('createCallLimiter should start no more calls than the rate allows until its clock moves on', async () => {
    let now = 0;
    const limiter = createCallLimiter({ perKey: 100, ratePerSecond: 2, now: () => now });
    let started = 0;
    const calls = Array.from({ length: 3 }, () => limiter.run('enwiki', async () => void started++));
    await waitFor(() => started === 2, 'the two calls the bucket holds');
    await new Promise((r) => setTimeout(r, 50));
    expect(started).toBe(2);
    expect(limiter.waiting()).toBe(1);
    now += 500; // half a second: one more token
    await waitFor(() => started === 3, 'the third call once a token is due');
    await Promise.all(calls);
  });
});
