import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, freePort } from '@wikimonitor/testing';

export type StackService = 'kafka' | 'apicurio' | 'pg';

/** Where the pipeline's dependencies are. */
export interface StackEndpoints {
  /** The broker's own listener (verification, admin). */
  bootstrapServers: string;
  registryUrl: string;
  /** The stack's default database (used to create one database per run). */
  databaseUrl: string;
  /**
   * The clients' Kafka security settings beyond the bootstrap address (KAFKA_SECURITY_PROTOCOL,
   * KAFKA_SASL_*, KAFKA_SSL_*, secrets as *_FILE paths) as `stack.mjs env` prints them: every app
   * and the suite's own clients take them. Absent on a plaintext broker.
   */
  kafkaEnv?: Record<string, string>;
  /**
   * The broker's extra listener, advertised as `proxyPort`: clients that bootstrap at
   * 127.0.0.1:proxyPort talk to the broker only through whatever listens there (the chaos proxy).
   */
  proxy?: { externalPort: number; proxyPort: number };
}

/** A stack of its own (own state directory and ports): its services can be stopped without harming anyone. */
export interface PrivateStack extends StackEndpoints {
  readonly dir: string;
  stop(service: StackService): Promise<void>;
  start(service: StackService): Promise<void>;
  restart(service: StackService): Promise<void>;
  /** Stops every service and deletes the state directory. */
  down(): Promise<void>;
}

const STACK_CLI = join(REPO_ROOT, 'tools', 'stack', 'stack.mjs');

/** Runs the stack CLI without blocking the event loop (proxies and timers keep running meanwhile). */
function runStack(env: Record<string, string>, args: string[], log: (line: string) => void, timeoutMs = 240_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [STACK_CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
      for (const line of b.toString().split('\n')) if (line.trim()) log(`stack: ${line.trim()}`);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`stack.mjs ${args.join(' ')} failed (exit ${code}): ${err.slice(-2000)}`));
    });
  });
}

export interface PrivateStackOptions {
  /** Add the broker listener for a fault-injecting proxy. */
  proxyListener?: boolean;
  /**
   * The client listeners' security (stack.mjs WM_STACK_KAFKA_SECURITY): SASL_SSL with SCRAM-SHA-512
   * and the stack's own CA, `mtls` with a client certificate required as well. Default plaintext.
   */
  kafkaSecurity?: 'plaintext' | 'sasl_ssl' | 'mtls';
  log?: (line: string) => void;
}

/**
 * Starts PostgreSQL, Kafka and Apicurio as a private stack with `tools/stack/stack.mjs` (free
 * ports, a temporary state directory). The downloads are shared: the state directory's `cache`
 * is a link to the repository's `.stack/cache` (the CLI keys it by version, so it is read-only here).
 */
export async function startPrivateStack(opts: PrivateStackOptions = {}): Promise<PrivateStack> {
  const log = opts.log ?? (() => undefined);
  // PostgreSQL runs as the postgres user when we are root: the directory must be traversable.
  const dir = mkdtempSync(join(tmpdir(), 'wm-chaos-stack-'));
  chmodSync(dir, 0o755);
  const sharedCache = join(REPO_ROOT, '.stack', 'cache');
  if (existsSync(sharedCache)) symlinkSync(sharedCache, join(dir, 'cache'));

  const ports = {
    kafka: await freePort(),
    controller: await freePort(),
    registry: await freePort(),
    management: await freePort(),
    pg: await freePort(),
    external: await freePort(),
    proxy: await freePort(),
    internal: await freePort(),
  };
  const env: Record<string, string> = {
    WM_STACK_DIR: dir,
    WM_KAFKA_PORT: String(ports.kafka),
    WM_KAFKA_CONTROLLER_PORT: String(ports.controller),
    WM_REGISTRY_PORT: String(ports.registry),
    WM_REGISTRY_MANAGEMENT_PORT: String(ports.management),
    WM_PG_PORT: String(ports.pg),
    WM_JAEGER: 'off',
    ...(opts.proxyListener ? { WM_KAFKA_EXTERNAL_PORT: String(ports.external), WM_KAFKA_PROXY_PORT: String(ports.proxy) } : {}),
    ...(opts.kafkaSecurity && opts.kafkaSecurity !== 'plaintext' ? { WM_STACK_KAFKA_SECURITY: opts.kafkaSecurity, WM_KAFKA_INTERNAL_PORT: String(ports.internal) } : {}),
  };
  const serviceName = (s: StackService) => (s === 'pg' ? 'postgres' : s);
  let downDone = false;

  log(`starting a private stack in ${dir}${env['WM_STACK_KAFKA_SECURITY'] ? ` (Kafka ${env['WM_STACK_KAFKA_SECURITY']})` : ''}`);
  let kafkaEnv: Record<string, string> | undefined;
  try {
    await runStack(env, ['up'], log);
    kafkaEnv = kafkaClientEnv(await runStack(env, ['env'], log));
  } catch (err) {
    await runStack(env, ['down', '--purge'], log).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    dir,
    bootstrapServers: `127.0.0.1:${ports.kafka}`,
    registryUrl: `http://127.0.0.1:${ports.registry}/apis/ccompat/v7`,
    databaseUrl: `postgres://wikimonitor:wikimonitor@127.0.0.1:${ports.pg}/wikimonitor`,
    proxy: opts.proxyListener ? { externalPort: ports.external, proxyPort: ports.proxy } : undefined,
    kafkaEnv,
    stop: async (s) => void (await runStack(env, ['stop', serviceName(s)], log)),
    start: async (s) => void (await runStack(env, ['start', serviceName(s)], log)),
    restart: async (s) => void (await runStack(env, ['restart', serviceName(s)], log)),
    async down() {
      if (downDone) return;
      downDone = true;
      await runStack(env, ['down', '--purge'], log).catch((err: unknown) => log(`stack down failed: ${(err as Error).message}`));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The KAFKA_* client settings of `stack.mjs env` other than the bootstrap address (undefined when there are none). */
function kafkaClientEnv(envOutput: string): Record<string, string> | undefined {
  const vars: Record<string, string> = {};
  for (const m of envOutput.matchAll(/^export (KAFKA_[A-Z_]+)=(.*)$/gm)) if (m[1] !== 'KAFKA_BOOTSTRAP_SERVERS') vars[m[1] as string] = m[2] as string;
  return Object.keys(vars).length ? vars : undefined;
}
