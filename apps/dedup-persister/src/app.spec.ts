import { createLogger } from '@wikimonitor/service-kit';
import { createApp } from './app';
import { loadConfig } from './config';

describe('dedup-persister app', () => {
  it('dedup-persister should serve /healthz, /readyz and /metrics, then shut down cleanly', async () => {
    const app = createApp({ config: loadConfig({ HTTP_PORT: '0' }), log: createLogger('test', 'silent'), handleSignals: false });
    const base = () => `http://127.0.0.1:${app.port()}`;
    for (let i = 0; i < 50 && !app.service.isReady(); i++) await new Promise((r) => setTimeout(r, 20));
    expect((await fetch(`${base()}/healthz`)).status).toBe(200);
    expect((await fetch(`${base()}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base()}/metrics`)).text();
    expect(metrics).toContain('process_cpu_user_seconds_total');
    expect(metrics).toContain('service="dedup-persister"');
    expect(await app.service.close()).toBe(0);
  });

  it('dedup-persister config should name every bad setting', () => {
    expect(() => loadConfig({ HTTP_PORT: 'abc', LOG_LEVEL: 'loud' })).toThrow(/HTTP_PORT[\s\S]*LOG_LEVEL/);
  });
});
