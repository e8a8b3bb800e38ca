import type { WikiAlert } from '@wikimonitor/contracts';
import { consumerStatusAlert } from '@wikimonitor/domain';
import { createLogger } from '@wikimonitor/service-kit';
import { createAlertSink } from './alerts';

const log = createLogger('test', 'silent');
const alert: WikiAlert = consumerStatusAlert({ group: 'g', previous: 'OK', status: 'STOP', at: 1_700_000_000_000, windowStart: 1_699_999_990_000, windowMs: 10_000, totalLag: 9, maxLagSeconds: 3 });

function fakeFetch(statuses: number[], delayMs = 0) {
  const calls: string[] = [];
  const impl = (async (_url: string | URL | Request, init?: RequestInit) => {
    calls.push(String(init?.body));
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    return new Response(null, { status: statuses[Math.min(calls.length - 1, statuses.length - 1)] ?? 200 });
  }) as typeof fetch;
  return { impl, calls };
}

describe('alert sink', () => {
  it('alert sink should retry a webhook that answers 503 and deliver the alert as JSON', async () => {
    const f = fakeFetch([503, 503, 204]);
    const delivered: string[] = [];
    const sink = createAlertSink({ log, webhook: { url: 'http://hook', timeoutMs: 1000, attempts: 5 }, fetchImpl: f.impl, hooks: { onDelivered: (s) => delivered.push(s) } });
    sink.publish(alert);
    await sink.close();
    expect(f.calls).toHaveLength(3);
    expect(JSON.parse(f.calls[2] ?? '')).toMatchObject({ subject: 'g', status: 'STOP', previous_status: 'OK' });
    expect(delivered).toEqual(['webhook']);
  });

  it('alert sink should not retry a webhook that rejects the alert with 400', async () => {
    const f = fakeFetch([400]);
    const failed: string[] = [];
    const sink = createAlertSink({ log, webhook: { url: 'http://hook', timeoutMs: 1000, attempts: 5 }, fetchImpl: f.impl, hooks: { onFailed: (s) => failed.push(s) } });
    sink.publish(alert);
    await sink.close();
    expect(f.calls).toHaveLength(1);
    expect(failed).toEqual(['webhook']);
  });

  it('alert sink close should wait for deliveries in flight', async () => {
    const f = fakeFetch([204], 300);
    const sink = createAlertSink({ log, webhook: { url: 'http://hook', timeoutMs: 1000, attempts: 1 }, fetchImpl: f.impl });
    sink.publish(alert);
    sink.publish({ ...alert, id: 'other' });
    expect(sink.inFlight()).toBe(2);
    await sink.close();
    expect(sink.inFlight()).toBe(0);
    expect(f.calls).toHaveLength(2);
  });

  it('alert sink should publish an alert id once: the same transition again within its window is not sent twice', async () => {
    const f = fakeFetch([204]);
    const sink = createAlertSink({ log, webhook: { url: 'http://hook', timeoutMs: 1000, attempts: 1 }, fetchImpl: f.impl, rememberIds: 2 });
    const flap = consumerStatusAlert({ group: 'g', previous: 'OK', status: 'STOP', at: 1_700_000_004_000, windowStart: 1_699_999_994_000, windowMs: 10_000, totalLag: 3, maxLagSeconds: 1 });
    expect(flap.id).toBe(alert.id); // OK -> STOP -> OK -> STOP in one window bucket
    expect(sink.publish(alert)).toBe(true);
    expect(sink.publish(flap)).toBe(false);
    expect(sink.publish({ ...alert, id: 'b' })).toBe(true);
    expect(sink.publish({ ...alert, id: 'c' })).toBe(true); // the bound forgets the oldest id
    expect(sink.publish(alert)).toBe(true);
    await sink.close();
    expect(f.calls.map((c) => (JSON.parse(c) as WikiAlert).id)).toEqual([alert.id, 'b', 'c', alert.id]);
  });
});
