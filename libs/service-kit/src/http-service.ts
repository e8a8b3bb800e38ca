import type { Express } from 'express';
import type { Registry } from 'prom-client';
import { type HttpServer, createHttpServer } from './http';
import type { HttpAuthOptions } from './http-auth';
import { type RunServiceOptions, type ServiceHandle, runService } from './lifecycle';

export interface HttpServiceOptions extends RunServiceOptions {
  /** The health/metrics server every app runs: `/healthz` and `/readyz` follow the service. */
  http: { port: number; host?: string; auth?: HttpAuthOptions; registry: Registry; routes?: (app: Express) => void };
}

/** The HTTP server's settings from an app's configuration (the keys of baseConfigShape). */
export function httpSettings(config: { HTTP_PORT: number; HTTP_HOST: string; OPS_TOKEN?: string | undefined; API_TOKEN?: string | undefined }): { port: number; host: string; auth: HttpAuthOptions } {
  return { port: config.HTTP_PORT, host: config.HTTP_HOST, auth: { opsToken: config.OPS_TOKEN, apiToken: config.API_TOKEN } };
}

/**
 * `runService` with the app's HTTP server (health, readiness, metrics and its own routes) as the
 * first component: it starts first and closes last, so probes answer during start-up and shutdown.
 */
export function runHttpService(opts: HttpServiceOptions): { service: ServiceHandle; http: HttpServer } {
  const { http: h, components, ...rest } = opts;
  const http = createHttpServer({ ...h, log: opts.log, isLive: () => service.isLive(), isReady: () => service.isReady() });
  const service: ServiceHandle = runService({ ...rest, components: [http, ...components] });
  return { service, http };
}
