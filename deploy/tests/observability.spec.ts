// Prometheus scrapes every app; the provisioned Grafana dashboard shows throughput, lag, lag seconds,
// consumer status and the dead-letter rate, and queries only metrics the apps really export.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPS, INSTALL_TIMEOUT_MS, ROOT, readYamlFile, tools } from './support';

interface Panel {
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: { expr: string }[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating?: { list: Array<{ name: string; query?: { query: string } | string }> };
}

const DASHBOARDS_DIR = join(ROOT, 'deploy/grafana/dashboards');
const loadDashboard = (file: string) => JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) as Dashboard;
const dashboard = loadDashboard('wikimonitor.json');
const lagDashboard = loadDashboard('wikimonitor-consumer-lag.json');
const allDashboards = readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json')).map((f) => [f, loadDashboard(f)] as const);

/** Metric names registered by the apps (prom-client `name: '...'` in apps/<app>/src). */
function exportedMetrics(): Set<string> {
  const names = new Set<string>();
  for (const app of APPS) {
    const dir = join(ROOT, 'apps', app, 'src');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && !n.endsWith('.spec.ts'))) {
      for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/name:\s*'([a-z][a-z0-9_]*)'/g)) names.add(m[1] as string);
    }
  }
  return names;
}

const APP_PREFIXES = APPS.map((a) => `${a.replace(/-/g, '_')}_`);

beforeAll(() => {
  tools();
}, INSTALL_TIMEOUT_MS);

describe('prometheus.yml', () => {
  it('prometheus.yml should scrape every app on its HTTP port', () => {
    const cfg = readYamlFile<{ scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] }>('deploy/prometheus/prometheus.yml');
    const targets = cfg.scrape_configs.flatMap((j) => j.static_configs.flatMap((s) => s.targets));
    expect(APPS.filter((a) => !targets.includes(`${a}:8080`))).toEqual([]);
  });
});

describe('Grafana dashboard', () => {
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

  it('the dashboard should query only metrics the apps export', () => {
    const exported = exportedMetrics();
    expect(exported.size).toBeGreaterThan(20);
    const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\b([a-z][a-z0-9_]*)\b/g)].map((m) => m[1] as string)).filter((n) => APP_PREFIXES.some((p) => n.startsWith(p))));
    const unknown = [...used].filter((n) => !exported.has(n) && !exported.has(n.replace(/_(bucket|sum|count)$/, '')));
    expect(unknown).toEqual([]);
    expect(used.size).toBeGreaterThan(10);
  });

  it.each([
    ['throughput', /throughput/i, /producer_events_published_total/],
    ['lag in messages', /lag \(messages\)/i, /lag_monitor_group_lag_messages/],
    ['lag in seconds', /lag \(seconds\)/i, /lag_monitor_group_lag_seconds/],
    ['consumer status', /consumer status/i, /lag_monitor_group_status/],
    ['dead-letter rate', /dead-letter rate/i, /dead_lettered_total/],
  ])('the dashboard should have a %s panel', (_what, title, metric) => {
    const panel = dashboard.panels.find((p) => p.type !== 'row' && title.test(p.title));
    expect(panel?.targets?.some((t) => metric.test(t.expr))).toBe(true);
  });

  it('every panel of every dashboard should use the provisioned Prometheus data source', () => {
    const ds = readYamlFile<{ datasources: { uid: string; url: string }[] }>('deploy/grafana/provisioning/datasources/prometheus.yml');
    const uid = ds.datasources[0]?.uid;
    expect(ds.datasources[0]?.url).toBe('http://prometheus:9090');
    expect(allDashboards.length).toBeGreaterThanOrEqual(2);
    for (const [file, d] of allDashboards) expect([file, d.panels.filter((p) => p.type !== 'row' && p.datasource?.uid !== uid).map((p) => p.title)]).toEqual([file, []]);
    expect(new Set(allDashboards.map(([, d]) => d.uid)).size).toBe(allDashboards.length);
  });
});

describe('Grafana consumer lag dashboard', () => {
  const exprs = lagDashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const variables = lagDashboard.templating?.list ?? [];
  const variableQuery = (name: string) => {
    const q = variables.find((v) => v.name === name)?.query;
    return typeof q === 'string' ? q : (q?.query ?? '');
  };

  it('the consumer lag dashboard should have $group and $topic variables from lag-monitor labels', () => {
    expect(variables.map((v) => v.name)).toEqual(['group', 'topic']);
    expect(variableQuery('group')).toMatch(/^label_values\(lag_monitor_[a-z_]+, group\)$/);
    // Topics of the selected groups.
    expect(variableQuery('topic')).toMatch(/^label_values\(lag_monitor_[a-z_]+\{group=~"\$group"\}, topic\)$/);
  });

  it('the consumer lag dashboard should filter by $group or $topic and query only metrics lag-monitor exports', () => {
    const exported = exportedMetrics();
    const used = exprs.flatMap((e) => [...e.matchAll(/\b(lag_monitor_[a-z0-9_]*)\b/g)].map((m) => m[1] as string));
    expect(used.filter((n) => !exported.has(n))).toEqual([]);
    expect(exprs.filter((e) => !/\$group|\$topic/.test(e) && !e.includes('lag_monitor_last_success_timestamp'))).toEqual([]);
    expect(exprs.some((e) => e.includes('$topic'))).toBe(true);
  });
});
