// docker-compose.yml: valid against the Compose specification schema (offline, the schema ships in the
// check-jsonschema package), and shaped so `docker compose up -d --wait` comes up in order.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { APPS, COMPOSE_ONLY, INSTALL_TIMEOUT_MS, ROOT, type ComposeService, loadCompose, run, tools } from './support';

const INFRA_WITH_HEALTHCHECK = ['kafka', 'postgres', 'registry', 'prometheus', 'grafana'];

beforeAll(() => {
  tools();
}, INSTALL_TIMEOUT_MS);

function dependsOn(s: ComposeService): Record<string, { condition?: string }> {
  const d = s.depends_on;
  if (!d) return {};
  return Array.isArray(d) ? Object.fromEntries(d.map((n) => [n, {}])) : d;
}

describe('docker-compose.yml', () => {
  it('docker-compose.yml should validate against the Compose specification schema', () => {
    const r = run(tools().checkJsonschema, ['--builtin-schema', 'vendor.compose-spec', join(ROOT, 'docker-compose.yml')]);
    expect({ status: r.status, out: r.status === 0 ? '' : `${r.stdout}${r.stderr}` }).toEqual({ status: 0, out: '' });
  });

  it('the Compose schema check should reject a misspelt service key (it can fail)', () => {
    const bad = join(ROOT, 'deploy/tests/fixtures/bad-compose.yml');
    const r = run(tools().checkJsonschema, ['--builtin-schema', 'vendor.compose-spec', bad]);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain('enviroment');
  });

  it('docker-compose.yml should run Kafka (apache/kafka, KRaft), Apicurio Registry, PostgreSQL 15, Jaeger v2, Prometheus, Grafana and topic provisioning', () => {
    const s = loadCompose().services;
    expect(s['kafka']?.image).toMatch(/^apache\/kafka:4\./);
    expect(s['registry']?.image).toMatch(/^apicurio\/apicurio-registry:3\./);
    expect(s['postgres']?.image).toMatch(/^postgres:15/);
    expect(s['jaeger']?.image).toMatch(/^jaegertracing\/jaeger:2\./);
    expect(s['prometheus']?.image).toMatch(/^prom\/prometheus:/);
    expect(s['grafana']?.image).toMatch(/^grafana\/grafana:/);
    expect(s['kafka-init']?.entrypoint).toEqual(['/bin/bash', '/provision/create-topics.sh']);
  });

  it.each(APPS)('compose service %s should build its image from deploy/docker/Dockerfile and run locked down', (app) => {
    const s = loadCompose().services[app];
    expect(s?.build).toEqual({ context: '.', dockerfile: 'deploy/docker/Dockerfile', args: { APP: app } });
    expect(s?.image).toBe(`wikimonitor/${app}:dev`);
    expect(s?.read_only).toBe(true);
    expect(s?.cap_drop).toEqual(['ALL']);
    expect(s?.security_opt).toContain('no-new-privileges:true');
    expect(s?.healthcheck?.test).toEqual(['CMD', 'node', '/usr/local/lib/wikimonitor/healthcheck.cjs']);
  });

  it('only the local replay source ("offline") and the Kafka web UI ("ui") should sit in optional profiles', () => {
    const services = loadCompose().services;
    const profiled = Object.entries(services)
      .filter(([, s]) => s.profiles?.length)
      .map(([name, s]) => `${name}:${(s.profiles ?? []).join(',')}`);
    expect(profiled).toEqual([...COMPOSE_ONLY.map((a) => `${a}:offline`), 'kafka-ui:ui']);
  });

  it('the Kafka web UI should reach Kafka and the registry\'s Confluent-compatible API the apps use', () => {
    const s = loadCompose().services;
    const ui = s['kafka-ui'] as (ComposeService & { environment?: Record<string, string> }) | undefined;
    const appEnv = (s['lag-monitor'] as (ComposeService & { environment?: Record<string, string> }) | undefined)?.environment ?? {};
    expect(ui?.image).toMatch(/^ghcr\.io\/kafbat\/kafka-ui:v/);
    expect(ui?.environment?.['KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS']).toBe(appEnv['KAFKA_BOOTSTRAP_SERVERS']);
    expect(ui?.environment?.['KAFKA_CLUSTERS_0_SCHEMAREGISTRY']).toBe(appEnv['SCHEMA_REGISTRY_URL']);
    expect(ui?.environment?.['KAFKA_CLUSTERS_0_SCHEMAREGISTRY']).toMatch(/\/apis\/ccompat\/v7$/);
  });

  it('every long-running infrastructure service should have a health check', () => {
    const services = loadCompose().services;
    expect(INFRA_WITH_HEALTHCHECK.filter((n) => !services[n]?.healthcheck?.test)).toEqual([]);
  });

  it('every depends_on should name an existing service with a condition it can meet', () => {
    const services = loadCompose().services;
    const problems: string[] = [];
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(dependsOn(s))) {
        const target = services[dep];
        if (!target) problems.push(`${name} depends on unknown ${dep}`);
        else if (!condition) problems.push(`${name} -> ${dep}: no condition`);
        else if (condition === 'service_healthy' && !target.healthcheck?.test) problems.push(`${name} waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
        else if (condition === 'service_completed_successfully' && target.restart !== 'no') problems.push(`${name} waits for ${dep} to complete, but ${dep} restarts`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every one-shot service should be awaited by a long-running one (else `up --wait` reports its exit as a failure)', () => {
    const services = loadCompose().services;
    const oneShots = Object.keys(services).filter((n) => services[n]?.restart === 'no');
    expect(oneShots).toEqual(['kafka-init']);
    const orphans = oneShots.filter(
      (shot) => !Object.values(services).some((s) => s.restart !== 'no' && !s.profiles?.length && dependsOn(s)[shot]?.condition === 'service_completed_successfully'),
    );
    expect(orphans).toEqual([]);
  });

  it.each(APPS.filter((a) => !COMPOSE_ONLY.includes(a)))('compose service %s should start after the topics exist and the registry is healthy', (app) => {
    const deps = dependsOn(loadCompose().services[app] ?? {});
    expect(deps['kafka-init']).toEqual({ condition: 'service_completed_successfully' });
    expect(deps['registry']).toEqual({ condition: 'service_healthy' });
    if (app === 'dedup-persister') expect(deps['postgres']).toEqual({ condition: 'service_healthy' });
  });

  it('every bind mount from the repository should exist', () => {
    const missing: string[] = [];
    for (const [name, s] of Object.entries(loadCompose().services)) {
      for (const v of s.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0] ?? '' : (v.source ?? '');
        if (source.startsWith('./') && !existsSync(join(ROOT, source))) missing.push(`${name}: ${source}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every named volume used should be declared', () => {
    const compose = loadCompose();
    const declared = new Set(Object.keys(compose.volumes ?? {}));
    const used = Object.values(compose.services)
      .flatMap((s) => s.volumes ?? [])
      .map((v) => (typeof v === 'string' ? (v.split(':')[0] ?? '') : (v.source ?? '')))
      .filter((src) => /^[a-z][a-z0-9_-]*$/.test(src));
    expect(used.filter((u) => !declared.has(u))).toEqual([]);
  });
});
