// The settings each app receives in docker-compose.yml and in the rendered Kubernetes objects must be
// exactly ones its config schema (apps/<app>/src/config.ts) knows, and must include every required one.
// The schemas are read at test time, so a setting renamed or added in an app shows up here at once.
import { INSTANCE_SETTINGS } from '@wikimonitor/testing';
import {
  APPS,
  APP_WORKLOAD_KIND,
  INSTALL_TIMEOUT_MS,
  K8S_APPS,
  OVERLAYS,
  type SchemaInfo,
  appWorkload,
  composeEnv,
  configuredTopics,
  containerEnv,
  driftProblems,
  loadCompose,
  loadSchemas,
  loadTopics,
  renderKustomize,
  scriptSecrets,
  tools,
} from './support';

let schemas: Map<string, SchemaInfo>;

beforeAll(() => {
  tools();
  schemas = new Map(loadSchemas().map((s) => [s.app, s]));
}, INSTALL_TIMEOUT_MS);

function schemaOf(app: string): SchemaInfo {
  const s = schemas.get(app);
  if (!s) throw new Error(`no config schema was read for ${app}`);
  return s;
}

function k8sEnv(overlay: string, app: string): { env: Record<string, string>; problems: string[] } {
  const { objects } = renderKustomize(overlay);
  const container = appWorkload(objects, app).spec.template.spec.containers.find((c) => c.name === app);
  if (!container) return { env: {}, problems: [`${overlay}: ${APP_WORKLOAD_KIND} ${app} has no container named ${app}`] };
  const { env, problems } = containerEnv(objects, container);
  // The base references its credentials without rendering them (tools/deploy/kafka-secrets.sh makes them).
  const external = overlay === 'deploy/k8s/base' ? scriptSecrets().map((o) => `envFrom Secret ${o.metadata.name} is not`) : [];
  return { env, problems: problems.filter((p) => !external.some((e) => p.includes(e))) };
}

describe('driftProblems', () => {
  const schema = { file: 'apps/x/src/config.ts', exportName: 'configSchema', keys: ['HTTP_PORT', 'INPUT_TOPIC', 'NEEDED'], required: ['NEEDED'] };

  it('driftProblems should name a misspelt variable and a missing required one', () => {
    expect(driftProblems('compose', 'filter-router', ['HTTP_PORT', 'INPUT_TOPC'], schema)).toEqual([
      "compose gives INPUT_TOPC to filter-router but its config schema (configSchema in apps/x/src/config.ts) doesn't know it",
      "compose doesn't give filter-router NEEDED, which its config schema (configSchema in apps/x/src/config.ts) requires (no default)",
    ]);
  });

  it('driftProblems should report nothing when the variables match the schema', () => {
    expect(driftProblems('compose', 'x', ['NEEDED', 'INPUT_TOPIC'], schema)).toEqual([]);
  });
});

describe('print-config-schemas', () => {
  it('print-config-schemas should report every key of a transformed z.object and only the ones without defaults as required', () => {
    const [fixture] = loadSchemas(['deploy/tests/fixtures/sample-config.ts']);
    expect(fixture).toMatchObject({ exportName: 'configSchema', keys: ['MAYBE', 'NEEDED', 'WITH_DEFAULT'], required: ['NEEDED'] });
  });

  it('print-config-schemas should read a schema for every app, the producer one under its own export name', () => {
    expect([...schemas.keys()].sort()).toEqual(APPS);
    expect(schemaOf('producer').exportName).toBe('producerConfigSchema');
    for (const app of APPS) expect(schemaOf(app).keys.length).toBeGreaterThan(2);
  });
});

describe('docker-compose.yml environment', () => {
  it.each(APPS)('compose service %s should receive only settings its config schema knows, and every required one', (app) => {
    const service = loadCompose().services[app];
    expect(service).toBeDefined();
    if (!service) return;
    expect(service.env_file).toBeUndefined(); // the check reads `environment` only
    expect(driftProblems('docker-compose.yml', app, Object.keys(composeEnv(service)), schemaOf(app))).toEqual([]);
  });
});

describe.each(OVERLAYS)('Kubernetes environment (%s)', (overlay) => {
  it.each(K8S_APPS)(`${APP_WORKLOAD_KIND} %s should receive only settings its config schema knows, and every required one`, (app) => {
    const { env, problems } = k8sEnv(overlay, app);
    expect([...problems, ...driftProblems(`kustomize build ${overlay}`, app, Object.keys(env), schemaOf(app))]).toEqual([]);
  });
});

describe('topic settings', () => {
  const listed = new Set(loadTopics().map((t) => t.name));

  it.each(K8S_APPS)('compose service %s should only be configured with topics that topics.txt provisions', (app) => {
    const service = loadCompose().services[app];
    const unknown = configuredTopics(service ? composeEnv(service) : {}).filter((t) => !listed.has(t.topic));
    expect(unknown.map((t) => `${app} ${t.key}=${t.topic} is not in deploy/k8s/base/kafka/topics.txt`)).toEqual([]);
  });

  it.each(K8S_APPS)(`${APP_WORKLOAD_KIND} %s should only be configured with topics that topics.txt provisions`, (app) => {
    const unknown = configuredTopics(k8sEnv('deploy/k8s/overlays/kind', app).env).filter((t) => !listed.has(t.topic));
    expect(unknown.map((t) => `${app} ${t.key}=${t.topic} is not in deploy/k8s/base/kafka/topics.txt`)).toEqual([]);
  });

  it.each(K8S_APPS)('%s should get the same settings in compose and in Kubernetes, apart from where the services are', (app) => {
    const composeSide = composeEnv(loadCompose().services[app] ?? {});
    const k8sSide = k8sEnv('deploy/k8s/overlays/kind', app).env;
    // The environment label, the kind overlay's sampling ratio and per-pod client ids differ by design, and so do
    // the per-instance settings: Kubernetes holds them to the chaos suite's (parity.spec.ts), compose runs one
    // container per app on the schema defaults.
    const instance = INSTANCE_SETTINGS[app as keyof typeof INSTANCE_SETTINGS];
    const differsByDesign = new Set(['DEPLOYMENT_ENVIRONMENT', 'OTEL_TRACES_SAMPLER_ARG', 'KAFKA_CLIENT_ID', ...Object.keys(instance.env), ...instance.identity]);
    const keys = new Set([...Object.keys(composeSide), ...Object.keys(k8sSide)].filter((k) => !differsByDesign.has(k)));
    const mismatches = [...keys].filter((k) => composeSide[k] !== k8sSide[k]).map((k) => `${k}: compose ${JSON.stringify(composeSide[k])} vs kubernetes ${JSON.stringify(k8sSide[k])}`);
    expect(mismatches).toEqual([]);
  });
});
