import { resolve } from 'node:path';
import { type Lifecycle, type Logger, createHttpServer, createMetricsRegistry, lifecycle } from '@wikimonitor/service-kit';
import express, { type Request, type Response } from 'express';
import { Counter, type Registry } from 'prom-client';
import { type ActionApiSourceConfig, APP_NAME, DEFAULT_DATA_DIR } from './config';
import { seededRandom } from '@wikimonitor/domain';
import { type Fault, FaultInjector, type FaultPlan, faultName, parseRateFaults, parseRevidFaults } from './faults';
import { API_HEADERS, MAX_REVIDS, apiError, maxlagError, revisionsAnswer } from './responses';
import { type RevisionIndex, findRepoRoot, loadRevisions } from './revisions';

export interface ActionApiSourceStats {
  requests: number;
  /** Answers by outcome: ok, or the fault name (maxlag, badrevids-only answers count as ok). */
  outcomes: Record<string, number>;
  revidsAsked: number;
  revidsServed: number;
  badrevids: number;
  /** Per-revid injections that fired, by fault. */
  fired: Record<string, number>;
  /** Revisions known, by domain. */
  known: Record<string, number>;
}

export interface ActionApiSource extends Lifecycle {
  port(): number;
  /** Base URL of a wiki's api.php, e.g. http://127.0.0.1:8093/en.wikipedia.org/w/api.php. */
  apiUrl(domain: string): string;
  /** The URL template the enricher takes: `{domain}` stands for the wiki's domain. */
  urlTemplate(): string;
  stats(): ActionApiSourceStats;
  /** Replaces the injections (the same as PUT /control/faults). */
  setFaults(plan: FaultPlan): void;
  /** Revisions the stand-in serves (after start). */
  revisions(): RevisionIndex;
}

export interface ActionApiSourceDeps {
  config: ActionApiSourceConfig;
  log: Logger;
  registry?: Registry;
}

const first = (v: unknown): string | undefined => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined);

/** The local Action API as a lifecycle component: start() loads the revisions of the recordings and listens. */
export function createActionApiSource(deps: ActionApiSourceDeps): ActionApiSource {
  const { config, log } = deps;
  const registry = deps.registry ?? createMetricsRegistry(APP_NAME);
  const answers = new Counter({ name: 'action_api_source_requests_total', help: 'api.php requests by outcome (ok or the injected fault)', labelNames: ['outcome'] as const, registers: [registry] });
  const injector = new FaultInjector(config.faults, seededRandom(config.seed));
  const stats: ActionApiSourceStats = { requests: 0, outcomes: {}, revidsAsked: 0, revidsServed: 0, badrevids: 0, fired: {}, known: {} };
  const stalled = new Set<Response>();
  let index: RevisionIndex = new Map();
  let servedBy = 0;

  const count = (outcome: string) => {
    stats.outcomes[outcome] = (stats.outcomes[outcome] ?? 0) + 1;
    answers.inc({ outcome });
  };

  function sendJson(res: Response, body: unknown, extra: Record<string, string> = {}): void {
    res.status(200).set({ ...API_HEADERS, ...extra }).send(JSON.stringify(body));
  }

  function sendFault(req: Request, res: Response, fault: Fault, domain: string, fv2: boolean): void {
    count(faultName(fault));
    if (fault.kind === 'read-timeout') {
      // Accept and never answer: the client's read timeout ends it; after stallMs the socket is closed unanswered.
      stalled.add(res);
      const timer = setTimeout(() => res.destroy(), config.stallMs);
      res.on('close', () => {
        clearTimeout(timer);
        stalled.delete(res);
      });
      return;
    }
    if (fault.kind === 'maxlag') {
      const { lagS, retryAfterS } = config.maxlag;
      sendJson(res, maxlagError(domain, fv2, lagS, servedby()), { 'Retry-After': String(retryAfterS), 'X-Database-Lag': String(lagS) });
      return;
    }
    const status = fault.kind === 'status' ? fault.status : 500;
    if (status === 204 || status === 304) {
      res.status(status).end();
      return;
    }
    if (status >= 300 && status < 400) res.set('Location', `https://${domain}${req.originalUrl.replace(/^\/[^/]+\/w\//, '/w/')}`);
    res.status(status).type('text/html; charset=utf-8').send(`<!DOCTYPE html><html><head><title>Wikimedia Error</title></head><body><p>Error ${status} (injected by ${APP_NAME})</p></body></html>`);
  }

  const servedby = () => `mw-api-ext.stand-in-${(servedBy++ % 4) + 1}`;

  function handleApi(req: Request, res: Response, domain: string): void {
    stats.requests++;
    if (!req.get('user-agent')) {
      count('no-user-agent');
      res.status(403).type('text/plain').send('Please set a user-agent and respect our robot policy https://w.wiki/4wJS.\n');
      return;
    }
    const q = (name: string) => first(req.query[name]);
    const fv2 = q('formatversion') === '2' || q('formatversion') === 'latest';
    if (q('action') !== 'query' || q('prop') !== 'revisions' || !q('revids')) {
      count('bad-request');
      sendJson(res, apiError(domain, fv2, { code: 'badvalue', info: 'This stand-in answers action=query&prop=revisions&revids=... only.' }, servedby()));
      return;
    }
    const revids = (q('revids') as string).split('|').map((s) => Number(s.trim()));
    if (revids.some((n) => !Number.isSafeInteger(n) || n <= 0)) {
      count('bad-request');
      sendJson(res, apiError(domain, fv2, { code: 'badinteger', info: 'Invalid value for parameter "revids".' }, servedby()));
      return;
    }
    if (revids.length > MAX_REVIDS) {
      count('too-many-values');
      sendJson(res, apiError(domain, fv2, { code: 'toomanyvalues', info: `Too many values supplied for parameter "revids". The limit is ${MAX_REVIDS}.`, limit: MAX_REVIDS, lowlimit: MAX_REVIDS, highlimit: 500 }, servedby()));
      return;
    }
    stats.revidsAsked += revids.length;
    const faults = injector.forRequest(revids);
    for (const f of faults.fired) stats.fired[f.fault] = (stats.fired[f.fault] ?? 0) + 1;
    if (faults.whole) return sendFault(req, res, faults.whole, domain, fv2);
    const props = new Set((q('rvprop') ?? 'ids|timestamp|flags|comment|user').split('|'));
    const body = revisionsAnswer({ domain, revids, fv2, content: props.has('content'), props }, index.get(domain), faults.badrevids) as { query: { badrevids?: object } };
    const bad = Object.keys(body.query.badrevids ?? {}).length;
    stats.badrevids += bad;
    stats.revidsServed += revids.length - bad;
    count(bad ? 'ok-with-badrevids' : 'ok');
    sendJson(res, body);
  }

  const delayed = (fn: (req: Request, res: Response) => void) => (req: Request, res: Response) => {
    if (config.delayMs > 0) setTimeout(() => fn(req, res), config.delayMs);
    else fn(req, res);
  };

  const http = createHttpServer({
    port: config.port,
    host: config.host,
    // A local stand-in for tests and demos (not in the Kubernetes base): PUT /control/faults stays open,
    // as the SSE source's fault parameters are; the deployed apps keep service-kit's token rules.
    auth: null,
    registry,
    log,
    isLive: () => true,
    isReady: () => index.size > 0,
    routes: (app) => {
      app.get(
        '/:domain/w/api.php',
        delayed((req, res) => handleApi(req, res, String(req.params['domain']))),
      );
      app.get(
        '/w/api.php',
        delayed((req, res) => handleApi(req, res, (req.get('host') ?? '').replace(/:\d+$/, ''))),
      );
      app.get('/stats', (_req, res) => {
        res.json(snapshot());
      });
      app.get('/control/faults', (_req, res) => {
        res.json(injector.describe());
      });
      app.put('/control/faults', express.json(), (req, res) => {
        const body = (req.body ?? {}) as { fail?: unknown; failRate?: unknown };
        const revids = parseRevidFaults(typeof body.fail === 'string' ? body.fail : '');
        const rates = parseRateFaults(typeof body.failRate === 'string' ? body.failRate : '');
        const problems = [...(revids.ok ? [] : revids.problems), ...(rates.ok ? [] : rates.problems)];
        if (!revids.ok || !rates.ok) {
          res.status(400).json({ error: 'invalid faults', problems });
          return;
        }
        injector.replace({ revids: revids.value, rates: rates.value });
        log.info({ faults: injector.describe() }, 'faults replaced');
        res.json(injector.describe());
      });
    },
  });

  const snapshot = (): ActionApiSourceStats => ({ ...stats, outcomes: { ...stats.outcomes }, fired: { ...stats.fired }, known: Object.fromEntries([...index].map(([d, m]) => [d, m.size])) });

  const base = lifecycle(APP_NAME, {
    start: async () => {
      const dir = config.data ? resolve(config.data) : resolve(findRepoRoot(), DEFAULT_DATA_DIR);
      index = await loadRevisions(dir);
      log.info({ dir, known: snapshot().known, faults: injector.describe() }, 'revisions of the recorded events loaded');
      await http.start();
    },
    close: async () => {
      for (const res of stalled) res.destroy();
      await http.close();
    },
    isReady: () => index.size > 0,
  });

  return {
    ...base,
    port: () => http.port(),
    apiUrl: (domain) => `http://127.0.0.1:${http.port()}/${domain}/w/api.php`,
    urlTemplate: () => `http://127.0.0.1:${http.port()}/{domain}/w/api.php`,
    stats: snapshot,
    setFaults: (plan) => injector.replace(plan),
    revisions: () => index,
  };
}
