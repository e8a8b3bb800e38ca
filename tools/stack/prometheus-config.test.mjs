// The stack's optional Prometheus (`stack.mjs up --with prometheus`): its generated configuration
// scrapes every app of the local pipeline on the port the pipeline gives it, loads the alert rules of
// deploy/prometheus, and is a configuration Prometheus accepts (`promtool check config`, from Debian's
// prometheus package, which bootstrap installs; PROMTOOL overrides it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { APPS } from '../pipeline/ports.mjs';
import { prometheusConfig, ruleFileNames } from './prometheus-config.mjs';

const ROOT = join(import.meta.dirname, '..', '..');
const RULES_DIR = join(ROOT, 'deploy', 'prometheus');
const ruleFiles = ruleFileNames(readdirSync(RULES_DIR)).map((f) => join(RULES_DIR, f));
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

/** job name -> its targets, read back from the generated YAML (one job per `- job_name:` block). @param {string} yaml */
function jobs(yaml) {
  /** @type {Record<string, string[]>} */
  const out = {};
  for (const block of yaml.split(/^ {2}- job_name: /m).slice(1)) {
    const name = JSON.parse(String(block.split('\n')[0]));
    out[name] = [...block.matchAll(/targets: \[([^\]]*)\]/g)].flatMap((m) => String(m[1]).split(',').map((t) => JSON.parse(t.trim())));
  }
  return out;
}

describe('stack Prometheus config', () => {
  it('should scrape every app of the local pipeline on its port, and Prometheus itself', () => {
    const yaml = prometheusConfig({ apps: APPS, ruleFiles, port: 9090 });
    assert.deepEqual(jobs(yaml), {
      'sse-source': ['127.0.0.1:8092'],
      producer: ['127.0.0.1:8101'],
      'filter-router': ['127.0.0.1:8102'],
      aggregator: ['127.0.0.1:8103'],
      'dedup-persister': ['127.0.0.1:8104'],
      'lag-monitor': ['127.0.0.1:8105'],
      'action-api-source': ['127.0.0.1:8093'],
      enricher: ['127.0.0.1:8106'],
      prometheus: ['127.0.0.1:9090'],
    });
    // The table above is the pipeline's: no app may be missing from it.
    assert.deepEqual(APPS.map((a) => `${a.name}=${a.port}`).sort(), Object.entries(jobs(yaml)).filter(([n]) => n !== 'prometheus').map(([n, t]) => `${n}=${String(t[0]).split(':')[1]}`).sort());
  });

  it('should follow the ports the pipeline is moved to', () => {
    const moved = APPS.map((a, i) => ({ ...a, port: 18100 + i }));
    assert.deepEqual(Object.values(jobs(prometheusConfig({ apps: moved, ruleFiles, port: 19090 }))).flat(), [...moved.map((a) => `127.0.0.1:${a.port}`), '127.0.0.1:19090']);
  });

  it('should load the alert rules of deploy/prometheus, not its compose scrape config nor promtool tests', () => {
    assert.deepEqual(ruleFileNames(['prometheus.yml', 'wikimonitor-rules.yml', 'wikimonitor-rules.test.yml', 'README.md', 'more-rules.yaml']), ['more-rules.yaml', 'wikimonitor-rules.yml']);
    assert.ok(ruleFiles.some((f) => f.endsWith('/wikimonitor-rules.yml')));
    const yaml = prometheusConfig({ apps: APPS, ruleFiles, port: 9090 });
    for (const f of ruleFiles) assert.ok(yaml.includes(`  - ${JSON.stringify(f)}\n`), f);
  });

  it('promtool check config should accept it (rule files included) and reject a broken one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wm-prom-'));
    try {
      const good = join(dir, 'prometheus.yml');
      writeFileSync(good, prometheusConfig({ apps: APPS, ruleFiles, port: 9090 }));
      const ok = spawnSync(PROMTOOL, ['check', 'config', good], { encoding: 'utf8' });
      assert.equal(ok.error, undefined, `${PROMTOOL} not runnable: install Debian's prometheus package (bash scripts/bootstrap.sh) or set PROMTOOL`);
      assert.equal(ok.status, 0, `${ok.stdout}${ok.stderr}`);
      assert.match(`${ok.stdout}${ok.stderr}`, /SUCCESS: \d+ rules found/);
      const bad = join(dir, 'bad.yml');
      writeFileSync(bad, prometheusConfig({ apps: APPS, ruleFiles, port: 9090, scrapeInterval: 'often' }));
      assert.notEqual(spawnSync(PROMTOOL, ['check', 'config', bad], { encoding: 'utf8' }).status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
