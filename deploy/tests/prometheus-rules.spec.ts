// deploy/prometheus/wikimonitor-rules.yml: valid for `promtool check rules`, its alerts fire as
// `promtool test rules` expects (deploy/prometheus/wikimonitor-rules.test.yml), it queries only metrics
// lag-monitor exports, and the PrometheusRule of the kustomize base holds the same groups. The KEDA ScaledObjects'
// lag queries are evaluated by promtool too. promtool comes from Debian's `prometheus` package
// (scripts/bootstrap.sh installs it); PROMTOOL overrides the binary.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTOSCALED, INSTALL_TIMEOUT_MS, ROOT, type K8sObject, find, readYamlFile, renderKustomize, run, tools } from './support';

const PROMTOOL = process.env['PROMTOOL'] ?? 'promtool';
const RULES = 'deploy/prometheus/wikimonitor-rules.yml';
const RULES_TEST = 'deploy/prometheus/wikimonitor-rules.test.yml';

interface RuleGroup {
  name: string;
  rules: Array<{ alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }>;
}

function promtool(args: string[]) {
  try {
    return run(PROMTOOL, args);
  } catch (err) {
    throw new Error(`${PROMTOOL} not runnable (${(err as Error).message}); install Debian's prometheus package (bash scripts/bootstrap.sh) or set PROMTOOL`, { cause: err });
  }
}

/** A copy of the rules and the rules test in a temp dir, the test edited by `edit`: promtool's verdict. */
function testEdited(edit: (testYaml: string) => string) {
  const dir = mkdtempSync(join(tmpdir(), 'wm-rules-'));
  try {
    copyFileSync(join(ROOT, RULES), join(dir, 'wikimonitor-rules.yml'));
    const original = readFileSync(join(ROOT, RULES_TEST), 'utf8');
    const edited = edit(original);
    expect(edited).not.toBe(original);
    writeFileSync(join(dir, 'rules.test.yml'), edited);
    return promtool(['test', 'rules', join(dir, 'rules.test.yml')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

beforeAll(() => {
  tools();
}, INSTALL_TIMEOUT_MS);

describe('Prometheus alert rules', () => {
  const groups = readYamlFile<{ groups: RuleGroup[] }>(RULES).groups;
  const alerts = groups.flatMap((g) => g.rules.map((r) => r.alert));

  it('the rules should pass promtool check rules', () => {
    const r = promtool(['check', 'rules', join(ROOT, RULES)]);
    expect({ status: r.status, out: `${r.stdout}${r.stderr}`.trim() }).toEqual({ status: 0, out: expect.stringContaining(`SUCCESS: ${alerts.length} rules found`) });
  });

  it('promtool check rules should reject a rule whose expression does not parse (it can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wm-rules-'));
    try {
      writeFileSync(join(dir, 'bad.yml'), readFileSync(join(ROOT, RULES), 'utf8').replace('lag_monitor_group_lag_seconds > 300', 'lag_monitor_group_lag_seconds >'));
      const r = promtool(['check', 'rules', join(dir, 'bad.yml')]);
      expect(r.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the rules should cover STOP, STALL, lag seconds and a stale or down monitor', () => {
    expect(alerts).toEqual(['WikiMonitorConsumerGroupStopped', 'WikiMonitorConsumerGroupStalled', 'WikiMonitorConsumerLagHigh', 'WikiMonitorLagMonitorStale', 'WikiMonitorLagMonitorDown']);
    for (const g of groups) for (const r of g.rules) expect([r.alert, r.labels?.['severity'], r.annotations?.['summary']]).toEqual([r.alert, expect.stringMatching(/^(critical|warning)$/), expect.any(String)]);
  });

  it('the alerts should fire as promtool test rules expects', () => {
    const r = promtool(['test', 'rules', join(ROOT, RULES_TEST)]);
    expect({ status: r.status, out: `${r.stdout}${r.stderr}`.trim() }).toEqual({ status: 0, out: expect.stringContaining('SUCCESS') });
  });

  it('promtool test rules should fail on a wrong expected alert (it can fail)', () => {
    // STOP expected a window earlier than the rule fires.
    const early = testEdited((t) => t.replace('- eval_time: 2m15s\n        alertname: WikiMonitorConsumerGroupStopped', '- eval_time: 1m30s\n        alertname: WikiMonitorConsumerGroupStopped'));
    expect(early.status).not.toBe(0);
    expect(`${early.stdout}${early.stderr}`).toContain('FAILED');
    // A wrong label on the expected lag alert.
    const label = testEdited((t) => t.replace('severity: warning', 'severity: critical'));
    expect(label.status).not.toBe(0);
  });

  it('the rules should query only metrics lag-monitor exports (or Prometheus up)', () => {
    const source = readFileSync(join(ROOT, 'apps/lag-monitor/src/metrics.ts'), 'utf8');
    const exported = new Set([...source.matchAll(/name:\s*'([a-z][a-z0-9_]*)'/g)].map((m) => m[1] as string));
    const used = groups.flatMap((g) => g.rules.flatMap((r) => [...r.expr.matchAll(/\b(lag_monitor_[a-z0-9_]+)\b/g)].map((m) => m[1] as string)));
    expect(used.length).toBeGreaterThan(3);
    expect(used.filter((n) => !exported.has(n))).toEqual([]);
  });

  it('the compose Prometheus should load the rules file', () => {
    const cfg = readYamlFile<{ rule_files?: string[] }>('deploy/prometheus/prometheus.yml');
    expect(cfg.rule_files).toEqual(['/etc/prometheus/wikimonitor-rules.yml']);
    expect(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')).toContain(`./${RULES}:/etc/prometheus/wikimonitor-rules.yml:ro`);
  });

  it('the PrometheusRule in the kustomize base should hold the same groups as the rules file', () => {
    const rule = find(renderKustomize('deploy/k8s/base').objects, 'PrometheusRule', 'wikimonitor') as (K8sObject & { spec: { groups: RuleGroup[] } }) | undefined;
    expect(rule?.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule?.metadata.namespace).toBe('wikimonitor');
    expect(rule?.spec.groups).toEqual(groups);
    // kind has no Prometheus operator (no CRD): its overlay leaves the rule out.
    expect(find(renderKustomize('deploy/k8s/overlays/kind').objects, 'PrometheusRule', 'wikimonitor')).toBeUndefined();
  });
});

describe('KEDA lag queries', () => {
  it('each ScaledObject query should give its group largest lag seconds as one value, and nothing when no lag-monitor reports it', () => {
    const scaled = renderKustomize('deploy/k8s/base').objects.filter((o) => o.kind === 'ScaledObject');
    expect(scaled.map((o) => o.metadata.name).sort()).toEqual([...AUTOSCALED].sort());
    // Two lag-monitor pods report every group; another group's lag must not count. [pod 0, pod 1, expected]
    const lag: Record<string, [number, number, number]> = { 'filter-router': [40, 25, 40], aggregator: [5, 70, 70], 'dedup-persister': [12, 12, 12], other: [900, 900, 900] };
    const series = Object.entries(lag).flatMap(([group, values]) =>
      [0, 1].map((pod) => ({ series: `lag_monitor_group_lag_seconds{group="${group}",pod="lag-monitor-${pod}"}`, values: String(values[pod]) })),
    );
    const tests = scaled.map((o) => {
      const trigger = (o.spec as { triggers: { metadata: { query: string } }[] }).triggers[0];
      const expr = trigger?.metadata.query ?? '';
      // A single sample at 0m: gone from every query after Prometheus' 5-minute lookback.
      return [
        { expr, eval_time: '0m', exp_samples: [{ labels: '{}', value: lag[o.metadata.name]?.[2] }] },
        { expr, eval_time: '10m', exp_samples: [] },
      ];
    });
    const dir = mkdtempSync(join(tmpdir(), 'wm-keda-'));
    try {
      writeFileSync(join(dir, 'keda.test.yml'), JSON.stringify({ rule_files: [], tests: [{ interval: '1m', input_series: series, promql_expr_test: tests.flat() }] }));
      const r = promtool(['test', 'rules', join(dir, 'keda.test.yml')]);
      expect({ status: r.status, out: `${r.stdout}${r.stderr}`.trim() }).toEqual({ status: 0, out: expect.stringContaining('SUCCESS') });
      // It can fail: the same queries summed over both pods.
      const summed = tests.flat().map((t) => ({ ...t, expr: t.expr.replace(/^max\(/, 'sum(') }));
      writeFileSync(join(dir, 'keda.test.yml'), JSON.stringify({ rule_files: [], tests: [{ interval: '1m', input_series: series, promql_expr_test: summed }] }));
      expect(promtool(['test', 'rules', join(dir, 'keda.test.yml')]).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
