import { createLogger } from './logger';
import { lifecycle, runService } from './lifecycle';

const log = createLogger('test', 'silent');

describe('runService', () => {
  it('runService should start in order, close in reverse order, once', async () => {
    const events: string[] = [];
    const mk = (n: string) =>
      lifecycle(n, {
        start: async () => void events.push(`start ${n}`),
        close: async () => void events.push(`close ${n}`),
      });
    const svc = runService({ name: 's', log, components: [mk('store'), mk('producer'), mk('consumer')], handleSignals: false });
    await new Promise((r) => setTimeout(r, 10));
    expect(svc.isReady()).toBe(true);
    await Promise.all([svc.close(), svc.close()]);
    expect(await svc.done).toBe(0);
    expect(events).toEqual(['start store', 'start producer', 'start consumer', 'close consumer', 'close producer', 'close store']);
  });

  it('runService should close what started and exit 1 when a component fails to start', async () => {
    const events: string[] = [];
    const svc = runService({
      name: 's',
      log,
      handleSignals: false,
      components: [
        lifecycle('a', { close: async () => void events.push('close a') }),
        lifecycle('b', { start: async () => Promise.reject(new Error('no broker')) }),
        lifecycle('c', { start: async () => void events.push('start c') }),
      ],
    });
    expect(await svc.done).toBe(1);
    expect(events).toEqual(['close a']);
    expect(svc.isReady()).toBe(false);
  });
});
