import type { WikiAlert } from '@wikimonitor/contracts';
import { consumerStatusAlert } from '@wikimonitor/domain';
import { createLogger } from '@wikimonitor/service-kit';
import { ALERTMANAGER_ALERTNAME, alertmanagerPayload, labelsFingerprint } from './alertmanager';
import { createAlertSink } from './alerts';

const T = Date.UTC(2026, 4, 1, 12, 0, 0);
const change = (previous: WikiAlert['status'], status: string, at = T) =>
  consumerStatusAlert({ group: 'filter-router', previous: previous as never, status: status as never, at, windowStart: at - 10_000, windowMs: 10_000, totalLag: 40, maxLagSeconds: 12.5 });

describe('Alertmanager webhook payload', () => {
  it('alertmanagerPayload should give a change to a bad status as one firing alert in the version 4 shape', () => {
    const alert = change('OK', 'STOP');
    const p = alertmanagerPayload(alert, { externalUrl: 'https://lag.example/' });
    const labels = { alertname: ALERTMANAGER_ALERTNAME, group: 'filter-router', status: 'STOP', severity: 'critical', source: 'lag-monitor' };
    expect(p).toEqual({
      version: '4',
      groupKey: '{}:{group="filter-router"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'lag-monitor',
      groupLabels: { group: 'filter-router' },
      commonLabels: labels,
      commonAnnotations: { summary: 'consumer group filter-router is STOP', description: alert.message, alert_id: alert.id },
      externalURL: 'https://lag.example/',
      alerts: [
        {
          status: 'firing',
          labels,
          annotations: { summary: 'consumer group filter-router is STOP', description: alert.message, alert_id: alert.id },
          startsAt: '2026-05-01T12:00:00.000Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'https://lag.example/api/groups/filter-router',
          fingerprint: labelsFingerprint(labels),
        },
      ],
    });
  });

  it('alertmanagerPayload should resolve the previous bad status, firing the new one in the same payload', () => {
    const p = alertmanagerPayload(change('WARN', 'STOP'), { externalUrl: '', previousSince: T - 60_000 });
    expect(p?.status).toBe('firing');
    expect(p?.alerts.map((a) => [a.status, a.labels['status'], a.labels['severity'], a.startsAt, a.endsAt])).toEqual([
      ['resolved', 'WARN', 'warning', '2026-05-01T11:59:00.000Z', '2026-05-01T12:00:00.000Z'],
      ['firing', 'STOP', 'critical', '2026-05-01T12:00:00.000Z', '0001-01-01T00:00:00Z'],
    ]);
    // Only what both alerts share is common; no link without an external URL.
    expect(p?.commonLabels).toEqual({ alertname: ALERTMANAGER_ALERTNAME, group: 'filter-router', source: 'lag-monitor' });
    expect(p?.alerts.every((a) => a.generatorURL === '')).toBe(true);
  });

  it('alertmanagerPayload should give a recovery to OK as resolved only, with the fingerprint of the alert it resolves', () => {
    const fired = alertmanagerPayload(change('OK', 'STALL'), { externalUrl: '' });
    const resolved = alertmanagerPayload(change('STALL', 'OK', T + 30_000), { externalUrl: '', previousSince: T });
    expect(resolved?.status).toBe('resolved');
    expect(resolved?.alerts).toHaveLength(1);
    expect(resolved?.alerts[0]).toMatchObject({ status: 'resolved', startsAt: '2026-05-01T12:00:00.000Z', endsAt: '2026-05-01T12:00:30.000Z' });
    expect(resolved?.alerts[0]?.fingerprint).toBe(fired?.alerts[0]?.fingerprint);
  });

  it('labelsFingerprint should be FNV-1a 64 over the sorted labels, as Prometheus computes it (order-independent)', () => {
    expect(labelsFingerprint({})).toBe('cbf29ce484222325');
    // Computed with prometheus/common/model's labelSetToFingerprint (v0.67.2, inlined in a Go program).
    expect(labelsFingerprint({ alertname: 'WikiMonitorConsumerStatus', group: 'filter-router', status: 'STOP', severity: 'critical', source: 'lag-monitor' })).toBe('c64a098a107bedd5');
    expect(labelsFingerprint({ b: '2', a: '1' })).toBe(labelsFingerprint({ a: '1', b: '2' }));
    expect(labelsFingerprint({ a: '1' })).not.toBe(labelsFingerprint({ a: '2' }));
    expect(labelsFingerprint({ a: '1' })).toMatch(/^[0-9a-f]{16}$/);
  });

  it('alert sink should POST the Alertmanager payload when the webhook format is alertmanager, and the WikiAlert when native', async () => {
    const bodies: Array<{ url: string; body: unknown }> = [];
    const fetchImpl = (async (url: string | URL | Request, init?: RequestInit) => {
      bodies.push({ url: String(url), body: JSON.parse(String(init?.body)) });
      return new Response(null, { status: 200 });
    }) as typeof fetch;
    const log = createLogger('test', 'silent');
    const am = createAlertSink({ log, fetchImpl, webhook: { url: 'http://am/hook', timeoutMs: 1000, attempts: 1, format: 'alertmanager', externalUrl: 'http://lag' } });
    am.raise(change('OK', 'STOP', T));
    am.raise(change('STOP', 'OK', T + 45_000));
    await am.close();
    const native = createAlertSink({ log, fetchImpl, webhook: { url: 'http://native/hook', timeoutMs: 1000, attempts: 1 } });
    native.raise(change('OK', 'WARN', T));
    await native.close();
    expect(bodies.map((b) => b.url)).toEqual(['http://am/hook', 'http://am/hook', 'http://native/hook']);
    expect(bodies[0]?.body).toMatchObject({ version: '4', status: 'firing', alerts: [{ status: 'firing', labels: { status: 'STOP' } }] });
    // The resolved alert starts when the sink fired it.
    expect(bodies[1]?.body).toMatchObject({ version: '4', status: 'resolved', alerts: [{ status: 'resolved', labels: { status: 'STOP' }, startsAt: '2026-05-01T12:00:00.000Z', endsAt: '2026-05-01T12:00:45.000Z' }] });
    expect(bodies[2]?.body).toMatchObject({ kind: 'consumer_status', subject: 'filter-router', status: 'WARN' });
  });
});
