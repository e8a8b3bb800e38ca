import type { Logger } from 'pino';
import { describeError } from './errors';

/** The contract every long-lived part of a service implements. `close()` must be idempotent. */
export interface Lifecycle {
  readonly name: string;
  start(): Promise<void>;
  close(): Promise<void>;
  /** Liveness: the process is not wedged. Never tied to broker or group state. */
  isLive(): boolean;
  /** Readiness: able to do useful work now (connected, assigned, DB reachable...). */
  isReady(): boolean;
}

export interface ServiceHandle {
  /** Resolves with the exit code once the service has shut down (signal, fatal error, or close()). */
  readonly done: Promise<number>;
  close(exitCode?: number): Promise<number>;
  isLive(): boolean;
  isReady(): boolean;
}

export interface RunServiceOptions {
  name: string;
  log: Logger;
  /** Started in order, closed in reverse order: list stores first, consumers last. */
  components: Lifecycle[];
  /** Runs after every component closed (e.g. telemetry shutdown). */
  finally?: Array<() => Promise<void>>;
  shutdownTimeoutMs?: number;
  /** Install SIGTERM/SIGINT handlers (default true; tests pass false). */
  handleSignals?: boolean;
}

/**
 * Starts components in order and owns the single signal handler. Shutdown closes the components in
 * reverse order (stop consuming, finish in-flight work, flush producers, close stores), then the
 * `finally` hooks. A component may call the returned handle's `close(1)` to report a fatal error.
 */
export function runService(opts: RunServiceOptions): ServiceHandle {
  const { log, components } = opts;
  const timeoutMs = opts.shutdownTimeoutMs ?? 25_000;
  let started = 0;
  let startupDone = false;
  let closing: Promise<number> | undefined;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));

  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'signal received, shutting down');
    void handle.close(0);
  };

  const handle: ServiceHandle = {
    done,
    isLive: () => !closing && components.slice(0, started).every((c) => c.isLive()),
    isReady: () => startupDone && !closing && components.every((c) => c.isReady()),
    close(exitCode = 0) {
      if (closing) return closing;
      closing = (async () => {
        const timer = setTimeout(() => {
          log.error({ timeoutMs }, 'shutdown timed out; exiting with work possibly in flight');
          resolveDone(exitCode || 1);
        }, timeoutMs);
        timer.unref();
        let code = exitCode;
        for (const c of components.slice(0, started).reverse()) {
          try {
            await c.close();
            log.info({ component: c.name }, 'closed');
          } catch (err) {
            code = code || 1;
            log.error({ component: c.name, err: describeError(err) }, 'close failed');
          }
        }
        for (const f of opts.finally ?? []) {
          try {
            await f();
          } catch (err) {
            log.warn({ err: describeError(err) }, 'shutdown hook failed');
          }
        }
        clearTimeout(timer);
        if (opts.handleSignals !== false) {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
        }
        log.info({ exitCode: code }, 'shut down');
        resolveDone(code);
        return code;
      })();
      return closing;
    },
  };

  if (opts.handleSignals !== false) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  void (async () => {
    for (const c of components) {
      if (closing) return;
      try {
        await c.start();
        started++;
        log.info({ component: c.name }, 'started');
      } catch (err) {
        started++; // close() what partially started too
        log.error({ component: c.name, err: describeError(err) }, 'start failed');
        await handle.close(1);
        return;
      }
    }
    startupDone = true;
    log.info({ service: opts.name }, 'service ready');
  })();

  return handle;
}

/** Builds a Lifecycle from plain functions, for small parts that need no class. */
export function lifecycle(
  name: string,
  parts: { start?: () => Promise<void>; close?: () => Promise<void>; isLive?: () => boolean; isReady?: () => boolean },
): Lifecycle {
  let closed: Promise<void> | undefined;
  return {
    name,
    start: parts.start ?? (async () => undefined),
    close: () => (closed ??= (parts.close ?? (async () => undefined))()),
    isLive: parts.isLive ?? (() => true),
    isReady: parts.isReady ?? (() => true),
  };
}
