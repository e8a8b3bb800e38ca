import type { Server } from 'node:http';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { type HttpAuthOptions, httpAuth } from './http-auth';
import { type Lifecycle, lifecycle } from './lifecycle';

export interface HttpServerOptions {
  port: number;
  /** Bind address (HTTP_HOST); default every interface. */
  host?: string;
  /** Tokens for everything but /healthz, /readyz and /metrics (see httpAuth); `null`: no check at all (only the local stand-ins, never a deployed app). */
  auth?: HttpAuthOptions | null;
  registry: Registry;
  log: Logger;
  isLive: () => boolean;
  isReady: () => boolean;
  /** Adds the app's own routes (APIs, dashboard) before the error handler. */
  routes?: (app: Express) => void;
}

export interface HttpServer extends Lifecycle {
  readonly app: Express;
  /** The bound port (useful with port 0 in tests). */
  port(): number;
}

/** express server with /healthz, /readyz and /metrics. Errors never leak internals to clients. */
export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    const live = opts.isLive();
    res.status(live ? 200 : 503).json({ status: live ? 'ok' : 'unhealthy' });
  });
  app.get('/readyz', (_req, res) => {
    const ready = opts.isReady();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });
  app.get('/metrics', async (_req, res, next) => {
    try {
      res.set('Content-Type', opts.registry.contentType).send(await opts.registry.metrics());
    } catch (err) {
      next(err);
    }
  });
  // Probes and metrics above stay open (kubelet, Prometheus); everything below passes the token check.
  if (opts.auth !== null) app.use(httpAuth(opts.auth ?? {}));
  opts.routes?.(app);
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    opts.log.error({ err }, 'http handler failed');
    if (!res.headersSent) res.status(500).json({ error: 'internal error' });
  });

  let server: Server | undefined;
  const base = lifecycle('http', {
    start: () =>
      new Promise<void>((resolve, reject) => {
        server = app.listen(opts.port, opts.host ?? '0.0.0.0');
        server.once('listening', () => {
          const address = server?.address() as { address: string; port: number };
          opts.log.info({ host: address.address, port: address.port, apiToken: Boolean(opts.auth?.apiToken), opsToken: Boolean(opts.auth?.opsToken) }, 'http listening');
          resolve();
        });
        server.once('error', reject);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
  return {
    ...base,
    app,
    port: () => (server?.address() as { port: number } | null)?.port ?? opts.port,
  };
}
