import { type Logger, type ServiceHandle, createHttpServer, createMetricsRegistry, runService } from '@wikimonitor/service-kit';
import type { AppConfig } from './config';

export const APP_NAME = 'dedup-persister';

/** Skeleton wiring (health, readiness, metrics, lifecycle); processing arrives with its issue. */
export function createApp(opts: { config: AppConfig; log: Logger; finally?: Array<() => Promise<void>>; handleSignals?: boolean }): { service: ServiceHandle; port: () => number } {
  const registry = createMetricsRegistry(APP_NAME);
  const http = createHttpServer({
    port: opts.config.HTTP_PORT,
    registry,
    log: opts.log,
    isLive: () => service.isLive(),
    isReady: () => service.isReady(),
  });
  const service: ServiceHandle = runService({
    name: APP_NAME,
    log: opts.log,
    components: [http],
    finally: opts.finally,
    shutdownTimeoutMs: opts.config.SHUTDOWN_TIMEOUT_MS,
    handleSignals: opts.handleSignals,
  });
  return { service, port: () => http.port() };
}
