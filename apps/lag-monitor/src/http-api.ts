import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Express, type Response } from 'express';
import { type Logger, createEventStreams } from '@wikimonitor/service-kit';
import type { Leadership } from './alerts';
import type { CycleHealth, LagMonitor, Snapshot } from './monitor';
import type { ProbeStats } from './probe';

export interface DashboardSnapshot extends Snapshot {
  probe: ProbeStats | null;
  /** Whether this report is current: `stale` (with `staleSince`) once a cycle failed after it. */
  health: CycleHealth;
  /** Whether this instance publishes alerts (`leader`) or another one does (`standby`). */
  leadership: Leadership;
}

export interface ApiOptions {
  monitor: Pick<LagMonitor, 'snapshot' | 'group' | 'health'>;
  probe: () => ProbeStats | null;
  leadership: () => Leadership;
  log: Logger;
  /** Concurrent event-stream clients (dashboards); more are answered 503. */
  maxStreamClients: number;
  /** Folder with the dashboard's static files (index.html, dashboard.js, dashboard.css). */
  dashboardDir?: string;
}

export interface Api {
  routes(app: Express): void;
  /** Pushes the latest snapshot to every live dashboard (server-sent events). */
  broadcast(): void;
  /** Live event-stream clients (dashboards). */
  clients(): number;
  /** Ends every event stream (before the HTTP server closes). */
  close(): void;
}

/** The dashboard's files sit beside this module in src/ and beside main.js in dist/ (copied by the build target). */
export function defaultDashboardDir(): string | undefined {
  const dir = join(__dirname, 'dashboard');
  return existsSync(join(dir, 'index.html')) ? dir : undefined;
}

/** REST API (GET /api/groups, /api/groups/:id, /api/topics, /api/probe, /api/snapshot), SSE (/api/events) and the dashboard. */
export function createApi(opts: ApiOptions): Api {
  const streams = createEventStreams({ maxClients: opts.maxStreamClients });

  const full = (): DashboardSnapshot | undefined => {
    const s = opts.monitor.snapshot();
    return s ? { ...s, probe: opts.probe(), health: opts.monitor.health(), leadership: opts.leadership() } : undefined;
  };
  const warmingUp = (res: Response) => res.status(503).set('Retry-After', '1').json({ error: 'no monitoring cycle completed yet' });

  return {
    routes(app) {
      app.get('/api/groups', (_req, res) => {
        const s = opts.monitor.snapshot();
        if (!s) return warmingUp(res);
        res.json({ observedAt: s.observedAt, cycle: s.cycle, window: s.window, commitTimes: s.commitTimes, health: opts.monitor.health(), groups: s.groups });
      });
      app.get('/api/groups/:id', (req, res) => {
        if (!opts.monitor.snapshot()) return warmingUp(res);
        const g = opts.monitor.group(req.params.id);
        if (!g) return res.status(404).json({ error: 'unknown group' });
        res.json({ ...g, health: opts.monitor.health() });
      });
      app.get('/api/health', (_req, res) => res.json({ ...opts.monitor.health(), leadership: opts.leadership() }));
      app.get('/api/topics', (_req, res) => {
        const s = opts.monitor.snapshot();
        if (!s) return warmingUp(res);
        res.json({ observedAt: s.observedAt, window: s.window, health: opts.monitor.health(), topics: s.topics, stuckTransactions: s.stuckTransactions });
      });
      app.get('/api/probe', (_req, res) => {
        const p = opts.probe();
        if (!p) return res.status(404).json({ error: 'probe disabled' });
        res.json(p);
      });
      app.get('/api/snapshot', (_req, res) => {
        const s = full();
        if (!s) return warmingUp(res);
        res.json(s);
      });
      app.get('/api/events', (req, res) => {
        if (!streams.open(req, res)) return;
        const s = full();
        if (s) streams.sendTo(res, 'snapshot', s);
      });
      const dir = opts.dashboardDir ?? defaultDashboardDir();
      if (dir) app.use('/', express.static(dir, { index: 'index.html', maxAge: 0 }));
      else opts.log.warn('dashboard files not found; serving the API only');
    },
    broadcast() {
      if (!streams.clients()) return;
      const s = full();
      if (s) streams.send('snapshot', s);
    },
    clients: () => streams.clients(),
    close: () => streams.close(),
  };
}
