// Regression: with @nx/js no longer in package.json, Nx stopped reading TypeScript imports (its
// built-in JS plugin analyses source files only when told to, or when @nx/js is installed), so the
// project graph had no edges: `nx build <app>`'s cache key ("^production") left out the libs, and
// `nx serve` started a bundle restored from the cache without the libs' latest changes. nx.json's
// pluginsConfig["@nx/js"].analyzeSourceFiles turns the analysis on.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..', '..');

describe('Nx project graph', () => {
  it('apps should depend on the libs they import, so a lib change invalidates their cached build', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wm-graph-'));
    try {
      const r = spawnSync(join(ROOT, 'node_modules/.bin/nx'), ['graph', `--file=${join(dir, 'graph.json')}`], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
        timeout: 120_000,
      });
      expect(r.status).toBe(0);
      const { graph } = JSON.parse(readFileSync(join(dir, 'graph.json'), 'utf8')) as { graph: { dependencies: Record<string, Array<{ target: string }>> } };
      const deps = (project: string) => (graph.dependencies[project] ?? []).map((d) => d.target).sort();
      for (const app of ['producer', 'filter-router', 'aggregator', 'dedup-persister', 'lag-monitor']) expect({ app, deps: deps(app) }).toEqual({ app, deps: expect.arrayContaining(['contracts', 'kafka', 'service-kit', 'telemetry']) });
      expect(deps('lag-monitor')).toContain('lag');
      expect(deps('sse-source')).toEqual(expect.arrayContaining(['domain', 'service-kit']));
      expect(deps('kafka')).toContain('service-kit');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
