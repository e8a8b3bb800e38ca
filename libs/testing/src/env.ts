import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { type KafkaConnection, kafkaConfigSchema, kafkaConnectionFromEnv } from '@wikimonitor/kafka';
import { parseConfig } from '@wikimonitor/service-kit';
import { REPO_ROOT } from './recorded';
import { registerTestBroker } from './test-registry';
import type { TestEnv } from './types';

let cached: Promise<TestEnv> | undefined;

/**
 * Where integration tests find their broker, registry and database — one helper for all of them:
 * 1. explicit env (KAFKA_BOOTSTRAP_SERVERS + SCHEMA_REGISTRY_URL [+ DATABASE_URL]);
 * 2. testcontainers, where a Docker engine answers;
 * 3. the project's local stack (`npm run stack -- up`, idempotent; started here if it is down).
 */
export function getTestEnv(): Promise<TestEnv> {
  cached ??= resolveEnv().then((env) => {
    // The run's cleanup deletes the tests' topics and groups there (a container is thrown away anyway).
    if (env.source !== 'testcontainers') registerTestBroker(env.bootstrapServers);
    return env;
  });
  return cached;
}

async function resolveEnv(): Promise<TestEnv> {
  const e = process.env;
  if (e['KAFKA_BOOTSTRAP_SERVERS'] && e['SCHEMA_REGISTRY_URL']) {
    return { bootstrapServers: e['KAFKA_BOOTSTRAP_SERVERS'], registryUrl: e['SCHEMA_REGISTRY_URL'], databaseUrl: e['DATABASE_URL'] ?? '', source: 'env' };
  }
  if (dockerAvailable()) {
    const { startContainers } = await import('./containers');
    return startContainers();
  }
  return localStack();
}

function dockerAvailable(): boolean {
  if (process.env['WM_TESTCONTAINERS'] === 'false') return false;
  const r = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 && r.stdout.trim() !== '';
}

function localStack(): TestEnv {
  const stack = join(REPO_ROOT, 'tools', 'stack', 'stack.mjs');
  const status = spawnSync(process.execPath, [stack, 'status'], { encoding: 'utf8' });
  if (status.status !== 0) {
    // Several Jest workers may get here at once: one starts the stack, the others wait for it.
    const lock = join(REPO_ROOT, '.stack', 'test-up.lock');
    mkdirSync(join(REPO_ROOT, '.stack'), { recursive: true });
    let owner = false;
    try {
      mkdirSync(lock);
      owner = true;
    } catch {
      /* another worker is starting it */
    }
    try {
      execFileSync(process.execPath, [stack, 'up'], { stdio: 'inherit' });
    } finally {
      if (owner && existsSync(lock)) rmdirSync(lock);
    }
  }
  const out = execFileSync(process.execPath, [stack, 'env'], { encoding: 'utf8' });
  const vars: Record<string, string> = {};
  for (const m of out.matchAll(/^(?:export\s+)?([A-Z_]+)=["']?([^"'\n]*)["']?$/gm)) vars[m[1] as string] = m[2] as string;
  return {
    bootstrapServers: vars['KAFKA_BOOTSTRAP_SERVERS'] ?? '127.0.0.1:9092',
    registryUrl: vars['SCHEMA_REGISTRY_URL'] ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
    databaseUrl: vars['DATABASE_URL'] ?? '',
    source: 'local-stack',
  };
}

/**
 * A KafkaConnection for tests. A broker named by the environment is reached with the environment's
 * security settings too (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*, their *_FILE), parsed as the apps parse them.
 */
export function testConnection(env: TestEnv, clientId = 'wikimonitor-test'): KafkaConnection {
  if (env.source === 'env' && process.env['KAFKA_SECURITY_PROTOCOL']) {
    const cfg = parseConfig(kafkaConfigSchema, { ...process.env, KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers, KAFKA_CONNECT_ATTEMPTS: '5' }, { name: 'the tests' });
    return kafkaConnectionFromEnv(cfg, clientId);
  }
  return { bootstrapServers: env.bootstrapServers, clientId, securityProtocol: 'plaintext', connectAttempts: 5 };
}
