import { type Server, createServer } from 'node:http';
import type { WikiAlert } from '@wikimonitor/contracts';
import { createLogger } from '@wikimonitor/service-kit';
import { createApp } from './app';
import { groupFilter, loadConfig } from './config';
import { createFakeCluster } from '../testing/fake-cluster';

const log = createLogger('test', 'silent');

function startWebhook(): Promise<{ server: Server; url: string; alerts: WikiAlert[] }> {
  const alerts: WikiAlert[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      alerts.push(JSON.parse(body) as WikiAlert);
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, alerts })));
}

describe('lag-monitor app (fake cluster)', () => {
  it('lag-monitor should serve health, metrics, the REST API, live events and the dashboard, then shut down cleanly', async () => {
    const cluster = createFakeCluster();
    cluster.createTopic('wiki.raw.changes', 2);
    cluster.produce('wiki.raw.changes', 0, 20, Date.now() - 7_000);
    cluster.produce('wiki.raw.changes', 1, 3, Date.now());
    cluster.commit('filter-router', 'wiki.raw.changes', 0, 15);
    cluster.commit('filter-router', 'wiki.raw.changes', 1, 3);
    cluster.setMembers('filter-router', [{ memberId: 'm', clientId: 'wikimonitor-filter-router', host: '/10.0.0.7', assignment: [{ topic: 'wiki.raw.changes', partition: 0 }, { topic: 'wiki.raw.changes', partition: 1 }] }]);
    const config = loadConfig({ HTTP_PORT: '0', CYCLE_INTERVAL_MS: '60000', WINDOW_CYCLES: '3', PROBE_ENABLED: 'false', COMMIT_LOG_ENABLED: 'false', ALERTS_ENABLED: 'false' });
    const app = createApp({ config, log, handleSignals: false, overrides: { admin: async () => cluster.admin, reader: cluster.reader } });
    await app.nextCycle();
    const base = `http://127.0.0.1:${app.port()}`;

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const groups = (await (await fetch(`${base}/api/groups`)).json()) as { groups: Array<Record<string, unknown>> };
    expect(groups.groups).toEqual([expect.objectContaining({ groupId: 'filter-router', state: 'STABLE', memberCount: 1, totalLag: 5, status: 'OK', topics: ['wiki.raw.changes'] })]);
    const detail = (await (await fetch(`${base}/api/groups/filter-router`)).json()) as { partitions: Array<Record<string, unknown>>; history: unknown[]; members: unknown[] };
    expect(detail.partitions[0]).toMatchObject({ topic: 'wiki.raw.changes', partition: 0, committedOffset: 15, highWatermark: 20, lag: 5, status: 'OK', owner: { clientId: 'wikimonitor-filter-router', host: '/10.0.0.7' } });
    expect(detail.partitions[0]?.['lagSeconds']).toBeGreaterThanOrEqual(7);
    expect(detail.history.length).toBeGreaterThanOrEqual(1);
    expect(detail.members).toEqual([expect.objectContaining({ partitions: ['wiki.raw.changes/0', 'wiki.raw.changes/1'] })]);
    expect((await fetch(`${base}/api/groups/nope`)).status).toBe(404);
    expect(((await (await fetch(`${base}/api/topics`)).json()) as { topics: Array<{ topic: string }> }).topics.map((t) => t.topic)).toEqual(['wiki.raw.changes']);
    expect((await fetch(`${base}/api/probe`)).status).toBe(404);

    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<table id="groups"');
    expect((await fetch(`${base}/dashboard.js`)).status).toBe(200);

    const events = await fetch(`${base}/api/events`);
    const reader = events.body?.getReader();
    let text = '';
    while (!text.includes('event: snapshot')) text += new TextDecoder().decode((await reader?.read())?.value);
    await reader?.cancel();
    expect(text).toContain('"groupId":"filter-router"');

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('lag_monitor_partition_lag_messages{group="filter-router",topic="wiki.raw.changes",partition="0",service="lag-monitor"} 5');
    expect(metrics).toMatch(/lag_monitor_group_status\{group="filter-router",status="OK",service="lag-monitor"\} 1/);
    expect(metrics).toContain('lag_monitor_group_lag_seconds{group="filter-router"');
    expect(metrics).toContain('lag_monitor_topic_skew_ratio{topic="wiki.raw.changes"');
    expect(metrics).toContain('lag_monitor_cycle_duration_seconds_bucket');
    expect(metrics).toMatch(/lag_monitor_last_success_timestamp\{service="lag-monitor"\} \d{10}/);
    expect(metrics).toContain('lag_monitor_stale{service="lag-monitor"} 0');
    // Alerts off: nobody leads.
    expect(metrics).toContain('lag_monitor_leader{service="lag-monitor"} 0');
    expect(((await (await fetch(`${base}/api/health`)).json()) as { leadership: { role: string } }).leadership.role).toBe('off');
    expect(await app.service.close()).toBe(0);
  });

  it('lag-monitor should mark its data stale and turn unready after UNREADY_AFTER_FAILED_CYCLES failed cycles, then recover', async () => {
    const cluster = createFakeCluster();
    cluster.createTopic('t', 1);
    cluster.produce('t', 0, 10, Date.now());
    cluster.commit('g', 't', 0, 4);
    const config = loadConfig({ HTTP_PORT: '0', CYCLE_INTERVAL_MS: '100', WINDOW_CYCLES: '3', UNREADY_AFTER_FAILED_CYCLES: '3', PROBE_ENABLED: 'false', COMMIT_LOG_ENABLED: 'false', ALERTS_ENABLED: 'false' });
    const app = createApp({ config, log, handleSignals: false, overrides: { admin: async () => cluster.admin, reader: cluster.reader } });
    try {
      await app.nextCycle();
      const base = `http://127.0.0.1:${app.port()}`;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      cluster.failing.on = true;
      let health = app.monitor.health();
      for (let i = 0; i < 100 && health.consecutiveFailures < 3; i++) {
        await new Promise((r) => setTimeout(r, 50));
        health = app.monitor.health();
      }
      expect(health).toMatchObject({ stale: true, ready: false });
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      const snap = (await (await fetch(`${base}/api/snapshot`)).json()) as { health: { stale: boolean; staleSince: number; lastError: string } };
      expect(snap.health).toMatchObject({ stale: true, lastError: 'CYCLE_FAILED' }); // a code, not the error's text
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain('lag_monitor_stale{service="lag-monitor"} 1');
      expect(metrics).toMatch(/lag_monitor_consecutive_failed_cycles\{service="lag-monitor"\} [3-9]/);
      expect(metrics).toMatch(/lag_monitor_cycles_total\{result="error",service="lag-monitor"\} [3-9]/);
      cluster.failing.on = false;
      await app.nextCycle();
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect(app.monitor.health()).toMatchObject({ stale: false, consecutiveFailures: 0 });
    } finally {
      await app.service.close();
    }
  });

  it('lag-monitor should post an alert to the webhook when a group status changes', async () => {
    const hook = await startWebhook();
    const cluster = createFakeCluster();
    cluster.createTopic('t', 1);
    cluster.produce('t', 0, 50, Date.now());
    cluster.commit('aggregator', 't', 0, 10); // lag and never moving: STOP once the window passes
    const config = loadConfig({ HTTP_PORT: '0', CYCLE_INTERVAL_MS: '100', WINDOW_CYCLES: '3', PROBE_ENABLED: 'false', COMMIT_LOG_ENABLED: 'false', ALERT_WEBHOOK_URL: hook.url });
    const app = createApp({ config, log, handleSignals: false, overrides: { admin: async () => cluster.admin, reader: cluster.reader } });
    try {
      for (let i = 0; i < 100 && !hook.alerts.some((a) => a.status === 'STOP'); i++) await app.nextCycle();
      // Without Kafka alerts there is no election: the one instance publishes.
      expect(app.leadership()).toMatchObject({ role: 'leader', terms: 1 });
      expect(await app.registry.metrics()).toContain('lag_monitor_leader{service="lag-monitor"} 1');
      await app.service.close();
        // A group without members is INACTIVE (not OK) until the window makes it STOP.
      expect(hook.alerts.map((a) => `${a.previous_status}->${a.status}`)).toEqual(['null->INACTIVE', 'INACTIVE->STOP']);
      expect(hook.alerts.find((a) => a.status === 'STOP')).toMatchObject({ kind: 'consumer_status', source: 'lag-monitor', subject: 'aggregator', severity: 'critical', previous_status: 'INACTIVE', observed: 40 });
      const metrics = await app.registry.metrics();
      expect(metrics).toContain('lag_monitor_alerts_total{sink="webhook",result="delivered",service="lag-monitor"}');
    } finally {
      await app.service.close();
      hook.server.close();
    }
  });

  it('lag-monitor config should name every bad setting', () => {
    expect(() => loadConfig({ HTTP_PORT: 'abc', LOG_LEVEL: 'loud', GROUP_ALLOW: '([', WINDOW_CYCLES: '1', ALERT_WEBHOOK_URL: 'not a url' })).toThrow(
      /HTTP_PORT[\s\S]*LOG_LEVEL[\s\S]*WINDOW_CYCLES[\s\S]*GROUP_ALLOW[\s\S]*ALERT_WEBHOOK_URL/,
    );
  });

  it.each([
    [{ GROUPS: [], GROUP_ALLOW: undefined, GROUP_DENY: undefined }, ['a', 'b'], ['a', 'b']],
    [{ GROUPS: ['a'], GROUP_ALLOW: undefined, GROUP_DENY: undefined }, ['a', 'b'], ['a']],
    [{ GROUPS: [], GROUP_ALLOW: '^it\\.', GROUP_DENY: 'reader' }, ['it.x', 'it.reader', 'y'], ['it.x']],
  ])('groupFilter should apply GROUPS, GROUP_ALLOW and GROUP_DENY (%j)', (cfg, ids, expected) => {
    expect(ids.filter(groupFilter(cfg))).toEqual(expected);
  });

  it('groupFilter should hide the groups GROUP_DENY matches (e.g. test groups left on a shared stack) and, by default, none', () => {
    const ids = ['filter-router', 'aggregator', 'dedup-persister', 'it.lm.status-mx1-ab12cd34.g1', 'it.dp.crash-group-mx2-ef56ab78'];
    expect(ids.filter(groupFilter(loadConfig({})))).toEqual(ids);
    expect(ids.filter(groupFilter(loadConfig({ GROUP_DENY: '^it[.]' })))).toEqual(['filter-router', 'aggregator', 'dedup-persister']);
    expect(() => loadConfig({ GROUP_DENY: '^it[.' })).toThrow(/GROUP_DENY/);
  });
});
