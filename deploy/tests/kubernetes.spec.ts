// deploy/k8s: every overlay renders with kustomize, every object validates against the Kubernetes OpenAPI
// (JSON) schemas offline (custom resources against their own structural checks), and the objects hold what the
// deployment promises (StatefulSets, probes, limits, security, budgets, network policies, autoscaling on lag
// bounded by partitions).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  APP_WORKLOAD_KIND,
  AUTOSCALED,
  INSTALL_TIMEOUT_MS,
  K8S_APPS,
  OVERLAYS,
  ROOT,
  type Container,
  type K8sObject,
  type NetworkPolicySpec,
  type PodSpec,
  type Volume,
  type WorkloadSpec,
  appContainer,
  appWorkload,
  configuredTopics,
  containerEnv,
  find,
  scriptSecrets,
  loadTopics,
  podSpecOf,
  renderKustomize,
  run,
  tools,
  writeTemp,
} from './support';

/** The Kubernetes minor the kind node image (deploy/k8s/kind-config.yaml) runs. */
const K8S_VERSION = '1.33.0';
const NAMESPACE = 'wikimonitor';
/** Kinds of CRDs (not in the Kubernetes schemas) the manifests may hold, each checked by its own spec. */
const PROMETHEUS_RULE = 'monitoring.coreos.com/v1/PrometheusRule';
const SCALED_OBJECT = 'keda.sh/v1alpha1/ScaledObject';
const CUSTOM_RESOURCES = [PROMETHEUS_RULE, SCALED_OBJECT];
/** The custom resources each overlay's cluster has CRDs for: kind installs none (no Prometheus operator, no KEDA). */
const CLUSTER_CRDS: Record<string, string[]> = { 'deploy/k8s/base': CUSTOM_RESOURCES, 'deploy/k8s/overlays/kind': [] };
const CLUSTER_SCOPED = ['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume', 'StorageClass', 'CustomResourceDefinition'];

/** What each app may reach (egress), besides DNS. */
const EGRESS: Record<string, string[]> = {
  producer: ['jaeger:4318', 'kafka:9092', 'registry:8080', 'internet:443'],
  'filter-router': ['jaeger:4318', 'kafka:9092', 'registry:8080'],
  aggregator: ['jaeger:4318', 'kafka:9092', 'registry:8080'],
  'dedup-persister': ['jaeger:4318', 'kafka:9092', 'postgres:5432', 'registry:8080'],
  'lag-monitor': ['jaeger:4318', 'kafka:9092', 'registry:8080', 'internet:443'],
  enricher: ['jaeger:4318', 'kafka:9092', 'registry:8080', 'internet:443'],
};

beforeAll(() => {
  tools();
}, INSTALL_TIMEOUT_MS);

/** Where every Kafka client finds its user name, password and the CA (deploy/k8s/base/kafka/client-config.yaml). */
const KAFKA_CREDENTIALS_DIR = '/var/run/secrets/wikimonitor/kafka';

const secretValue = (o: K8sObject | undefined, key: string) => Buffer.from(o?.data?.[key] ?? '', 'base64').toString('utf8');

/** Every ConfigMap and Secret a pod template refers to (envFrom, env valueFrom, volumes, projected sources). */
function references(objects: K8sObject[]): { where: string; kind: string; name: string; optional: boolean }[] {
  const out: { where: string; kind: string; name: string; optional: boolean }[] = [];
  for (const o of objects) {
    const pod = podSpecOf(o);
    if (!pod) continue;
    const where = `${o.kind}/${o.metadata.name}`;
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
      for (const src of c.envFrom ?? []) {
        if (src.configMapRef) out.push({ where, kind: 'ConfigMap', name: src.configMapRef.name, optional: src.configMapRef.optional === true });
        if (src.secretRef) out.push({ where, kind: 'Secret', name: src.secretRef.name, optional: src.secretRef.optional === true });
      }
    }
    for (const v of pod.volumes ?? []) {
      if (v.configMap) out.push({ where, kind: 'ConfigMap', name: v.configMap.name, optional: v.configMap.optional === true });
      if (v.secret) out.push({ where, kind: 'Secret', name: v.secret.secretName, optional: v.secret.optional === true });
      for (const p of v.projected?.sources ?? []) {
        if (p.secret) out.push({ where, kind: 'Secret', name: p.secret.name, optional: p.secret.optional === true });
        if (p.configMap) out.push({ where, kind: 'ConfigMap', name: p.configMap.name, optional: p.configMap.optional === true });
      }
    }
  }
  return out;
}

/** The file a path in a container comes from: "<Secret name>/<key>" through a mounted secret or projected volume. */
function fileSource(pod: PodSpec, c: Container, path: string): string | undefined {
  for (const m of c.volumeMounts ?? []) {
    if (!path.startsWith(`${m.mountPath}/`)) continue;
    const rel = path.slice(m.mountPath.length + 1);
    const v: Volume | undefined = pod.volumes?.find((x) => x.name === m.name);
    if (v?.secret) return `${v.secret.secretName}/${rel}`;
    for (const p of v?.projected?.sources ?? []) {
      const item = p.secret?.items?.find((i) => i.path === rel);
      if (p.secret && item) return `${p.secret.name}/${item.key}`;
    }
  }
  return undefined;
}

/** Credentials written into the manifests: env values, ConfigMap data, Secret data in a kustomization's output. */
function secretLiteralProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const credentialKey = /(PASSWORD|PASSWD|TOKEN|SECRET|CREDENTIALS?|API_KEY)$/i;
  const urlWithPassword = /:\/\/[^/\s:@]+:[^@\s/]+@/;
  const check = (where: string, key: string, value: string) => {
    if (credentialKey.test(key) && value !== '') problems.push(`${where}: ${key} is written in plain text`);
    else if (urlWithPassword.test(value)) problems.push(`${where}: ${key} holds a URL with a password`);
  };
  for (const o of objects) {
    if (o.kind === 'ConfigMap') for (const [k, v] of Object.entries(o.data ?? {})) check(`ConfigMap/${o.metadata.name}`, k, v);
    const pod = podSpecOf(o);
    for (const c of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) for (const e of c.env ?? []) if (e.value !== undefined) check(`${o.kind}/${o.metadata.name}/${c.name}`, e.name, e.value);
  }
  return problems;
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

/** Egress destinations of a policy as "<app.kubernetes.io/name>:<port>" ("internet" for an ipBlock). */
function egressTargets(spec: NetworkPolicySpec): string[] {
  const out: string[] = [];
  for (const rule of spec.egress ?? []) {
    const ports = (rule.ports ?? []).map((p) => String(p.port));
    for (const peer of rule.to ?? []) {
      const who = peer.ipBlock ? 'internet' : (peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] ?? '?');
      for (const p of ports) out.push(`${who}:${p}`);
    }
  }
  return out.sort();
}

/** Not a built-in kind: its API group is a domain outside *.k8s.io (built-in groups are "", apps, batch, ...). */
function isCustomResource(o: K8sObject): boolean {
  const group = o.apiVersion.includes('/') ? (o.apiVersion.split('/')[0] as string) : '';
  return group.includes('.') && !group.endsWith('.k8s.io');
}

interface HpaRules {
  stabilizationWindowSeconds?: number;
  policies?: { type: string; value: number; periodSeconds: number }[];
}
interface Trigger {
  type?: string;
  metricType?: string;
  metadata?: Record<string, unknown>;
}
interface ScaledObjectSpec {
  scaleTargetRef?: { apiVersion?: string; kind?: string; name?: string };
  minReplicaCount?: number;
  maxReplicaCount?: number;
  advanced?: { horizontalPodAutoscalerConfig?: { behavior?: { scaleUp?: HpaRules; scaleDown?: HpaRules } } };
  triggers?: Trigger[];
}

/** Fields of a KEDA 2.x ScaledObject's spec and of one trigger: the CRD's structural schema silently drops others. */
const SCALED_OBJECT_FIELDS = ['scaleTargetRef', 'pollingInterval', 'cooldownPeriod', 'initialCooldownPeriod', 'idleReplicaCount', 'minReplicaCount', 'maxReplicaCount', 'fallback', 'advanced', 'triggers'];
const TRIGGER_FIELDS = ['type', 'name', 'metadata', 'metricType', 'authenticationRef', 'useCachedMetrics'];
const LAG_SECONDS_METRIC = 'lag_monitor_group_lag_seconds';

/** Metric names lag-monitor registers (prom-client `name: '...'` in its metrics.ts). */
function lagMonitorMetrics(): Set<string> {
  const source = readFileSync(join(ROOT, 'apps/lag-monitor/src/metrics.ts'), 'utf8');
  return new Set([...source.matchAll(/name:\s*'([a-z][a-z0-9_]*)'/g)].map((m) => m[1] as string));
}

/** The most members that can own a partition: the largest partition count among the app's input topics. */
function inputPartitions(env: Record<string, string>): number {
  const partitions = new Map(loadTopics().map((t) => [t.name, t.partitions]));
  const inputs = configuredTopics(env).filter((t) => /^(INPUT_TOPIC|[A-Z]+_TOPICS)$/.test(t.key));
  return Math.max(0, ...inputs.map((t) => partitions.get(t.topic) ?? 0));
}

/**
 * What is wrong with a ScaledObject, empty when KEDA would scale its app's StatefulSet on that app's own consumer
 * group lag seconds (which lag-monitor reports), one pod per step, between 1 and its input topics' partitions.
 */
function scaledObjectProblems(objects: K8sObject[], so: K8sObject): string[] {
  const where = `ScaledObject ${so.metadata.name}`;
  const spec = (so.spec ?? {}) as ScaledObjectSpec;
  const problems = Object.keys(spec)
    .filter((k) => !SCALED_OBJECT_FIELDS.includes(k))
    .map((k) => `${where}: spec.${k} is not a ScaledObject field (its CRD drops it)`);
  const ref = spec.scaleTargetRef ?? {};
  const target = ref.apiVersion === 'apps/v1' && ref.kind === APP_WORKLOAD_KIND ? find(objects, APP_WORKLOAD_KIND, ref.name ?? '') : undefined;
  if (!target || !ref.name) return [...problems, `${where}: scales ${ref.apiVersion}/${ref.kind} ${ref.name}, not a rendered apps/v1 ${APP_WORKLOAD_KIND}`];
  const app = ref.name;
  // The ScaledObject owns the replica count: a fixed one in the StatefulSet would reset it on every apply.
  if ((target.spec as WorkloadSpec).replicas !== undefined) problems.push(`${where}: ${APP_WORKLOAD_KIND} ${app} fixes its replicas`);
  const env = containerEnv(objects, appContainer(objects, app)).env;
  const bound = inputPartitions(env);
  if (spec.minReplicaCount !== 1) problems.push(`${where}: minReplicaCount ${spec.minReplicaCount}, not 1 (a group always keeps a member)`);
  const max = spec.maxReplicaCount ?? 0;
  if (max < 2 || max > bound) problems.push(`${where}: maxReplicaCount ${spec.maxReplicaCount} is not within 2..${bound} (the partitions of its input topics)`);
  const behavior = spec.advanced?.horizontalPodAutoscalerConfig?.behavior;
  for (const dir of ['scaleUp', 'scaleDown'] as const) {
    const policies = behavior?.[dir]?.policies ?? [];
    // Every step rebalances the group.
    if (!policies.length || policies.some((p) => p.type !== 'Pods' || p.value !== 1)) problems.push(`${where}: ${dir} is not one pod per step`);
  }
  const triggers = spec.triggers ?? [];
  if (triggers.length !== 1 || triggers[0]?.type !== 'prometheus') return [...problems, `${where}: needs exactly one prometheus trigger, has ${triggers.map((t) => t.type).join(', ') || 'none'}`];
  const trigger = triggers[0];
  problems.push(...Object.keys(trigger).filter((k) => !TRIGGER_FIELDS.includes(k)).map((k) => `${where}: trigger.${k} is not a trigger field (its CRD drops it)`));
  // The lag of a group is one value for the whole StatefulSet, not a sum to share out per pod (AverageValue).
  if (trigger.metricType !== 'Value') problems.push(`${where}: trigger metricType ${trigger.metricType}, not Value`);
  const meta = trigger.metadata ?? {};
  for (const [k, v] of Object.entries(meta)) if (typeof v !== 'string') problems.push(`${where}: trigger metadata.${k} is a ${typeof v}; the CRD takes strings`);
  if (!/^https?:\/\/[^/\s]+/.test(String(meta['serverAddress']))) problems.push(`${where}: serverAddress ${String(meta['serverAddress'])} is not an http(s) URL`);
  if (!(Number(meta['threshold']) > 0)) problems.push(`${where}: threshold ${String(meta['threshold'])} is not a positive number`);
  // Absent is not 0: without it an unknown lag (or lag-monitor down) would scale the app down to one pod.
  if (meta['ignoreNullValues'] !== 'false') problems.push(`${where}: ignoreNullValues is not "false"`);
  const query = String(meta['query'] ?? '');
  const unknown = [...query.matchAll(/\b(lag_monitor_[a-z0-9_]+)\b/g)].map((m) => m[1] as string).filter((n) => !lagMonitorMetrics().has(n));
  if (unknown.length) problems.push(`${where}: the query names ${unknown.join(', ')}, which lag-monitor does not export`);
  const group = env['GROUP_ID'] ?? env['CONSUMER_GROUP'];
  const queried = new RegExp(`\\b${LAG_SECONDS_METRIC}\\{group="([^"]*)"\\}`).exec(query)?.[1];
  if (queried !== group) problems.push(`${where}: the query reads the lag of group ${JSON.stringify(queried)}, not of ${app}'s group ${JSON.stringify(group)}`);
  // lag-monitor reports only the groups it is told to watch: a group it skips would have no lag to scale on.
  const monitor = containerEnv(objects, appContainer(objects, 'lag-monitor')).env;
  const watched = (g: string) =>
    (!monitor['GROUPS'] || monitor['GROUPS'].split(',').includes(g)) && (!monitor['GROUP_ALLOW'] || new RegExp(monitor['GROUP_ALLOW']).test(g)) && !(monitor['GROUP_DENY'] && new RegExp(monitor['GROUP_DENY']).test(g));
  if (group && !watched(group)) problems.push(`${where}: lag-monitor does not watch group ${group} (GROUPS, GROUP_ALLOW, GROUP_DENY)`);
  return problems;
}

describe.each(OVERLAYS)('kustomize build %s', (overlay) => {
  it(`${overlay} should render with kustomize`, () => {
    const { objects } = renderKustomize(overlay);
    expect(objects.length).toBeGreaterThan(20);
  });

  it(`${overlay} should validate against the Kubernetes ${K8S_VERSION} schemas (strict, offline)`, () => {
    // Custom resources have no schema there (kubernetes-validate warns): the PrometheusRule is checked by
    // deploy/tests/prometheus-rules.spec.ts (its rules by promtool), the ScaledObjects below (their queries by
    // promtool too). Any other kind still has to validate.
    const objects = renderKustomize(overlay).objects.filter((o) => !CUSTOM_RESOURCES.includes(`${o.apiVersion}/${o.kind}`));
    const file = writeTemp('rendered.yaml', objects.map((o) => JSON.stringify(o)).join('\n---\n'));
    const r = run(tools().kubernetesValidate, ['--kubernetes-version', K8S_VERSION, '--strict', '--quiet', file]);
    rmSync(dirname(file), { recursive: true, force: true });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it(`${overlay} should put every namespaced object in the ${NAMESPACE} namespace`, () => {
    const { objects } = renderKustomize(overlay);
    const stray = objects.filter((o) => !CLUSTER_SCOPED.includes(o.kind) && o.metadata.namespace !== NAMESPACE).map((o) => `${o.kind}/${o.metadata.name}`);
    expect(stray).toEqual([]);
    expect(find(objects, 'Namespace', NAMESPACE)).toBeDefined();
  });

  it(`${overlay} should only reference ConfigMaps and Secrets it renders, or (the base) Secrets tools/deploy/kafka-secrets.sh makes`, () => {
    const { objects } = renderKustomize(overlay);
    // The base ships no credential: it references Secrets made outside it. An overlay renders what it uses.
    const external = overlay === 'deploy/k8s/base' ? new Set(scriptSecrets().map((o) => o.metadata.name)) : new Set<string>();
    const missing = references(objects)
      .filter((r) => !find(objects, r.kind, r.name) && !(r.kind === 'Secret' && external.has(r.name)) && !(r.optional && overlay !== 'deploy/k8s/base'))
      .map((r) => `${r.where}: ${r.optional ? 'optional ' : ''}${r.kind} ${r.name}`);
    expect(missing).toEqual([]);
  });

  it(`${overlay} should run every pod non-root, without privilege escalation, capabilities dropped, seccomp RuntimeDefault`, () => {
    const problems: string[] = [];
    for (const o of renderKustomize(overlay).objects) {
      const pod: PodSpec | undefined = podSpecOf(o);
      if (!pod) continue;
      const where = `${o.kind}/${o.metadata.name}`;
      if (pod.enableServiceLinks !== false) problems.push(`${where}: enableServiceLinks should be false`);
      if (pod.securityContext?.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${where}: seccompProfile`);
      for (const c of pod.containers) {
        const sc = c.securityContext ?? {};
        if (!(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot)) problems.push(`${where}/${c.name}: runAsNonRoot`);
        if ((sc.runAsUser ?? pod.securityContext?.runAsUser) === 0) problems.push(`${where}/${c.name}: runs as uid 0`);
        if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}/${c.name}: allowPrivilegeEscalation`);
        if (!sc.capabilities?.drop?.includes('ALL')) problems.push(`${where}/${c.name}: capabilities not dropped`);
        if (!c.resources?.requests?.['memory'] || !c.resources.limits?.['memory']) problems.push(`${where}/${c.name}: memory request/limit`);
      }
    }
    expect(problems).toEqual([]);
  });

  it(`${overlay} should deny all traffic by default and allow DNS`, () => {
    const { objects } = renderKustomize(overlay);
    const deny = find(objects, 'NetworkPolicy', 'default-deny')?.spec as NetworkPolicySpec | undefined;
    expect(deny).toMatchObject({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    expect(deny?.ingress).toBeUndefined();
    expect(deny?.egress).toBeUndefined();
    const dns = find(objects, 'NetworkPolicy', 'allow-dns')?.spec as NetworkPolicySpec | undefined;
    expect(dns?.egress?.[0]?.ports?.map((p) => p.port)).toEqual([53, 53]);
  });

  it(`${overlay} should run Kafka (KRaft) and PostgreSQL as StatefulSets with persistent volumes, and a topic Job`, () => {
    const { objects } = renderKustomize(overlay);
    for (const name of ['kafka', 'postgres']) {
      const ss = find(objects, 'StatefulSet', name)?.spec as WorkloadSpec | undefined;
      expect(ss?.volumeClaimTemplates?.length).toBe(1);
    }
    const kafkaPod = (find(objects, 'StatefulSet', 'kafka')?.spec as WorkloadSpec).template.spec;
    // The broker's settings are rendered by start-kafka.sh (run with stand-ins below), from its ConfigMap.
    expect(kafkaPod.containers[0]?.command).toEqual(['/bin/bash', '/opt/wikimonitor/start-kafka.sh']);
    const script = find(objects, 'ConfigMap', kafkaPod.volumes?.find((v) => v.name === 'scripts')?.configMap?.name ?? '')?.data?.['start-kafka.sh'] ?? '';
    expect(script).toContain('process.roles=broker,controller');
    expect(script).toContain('auto.create.topics.enable=false');
    const job = find(objects, 'Job', 'kafka-topics');
    const jobPod = job && podSpecOf(job);
    const cmName = jobPod?.volumes?.find((v) => v.configMap)?.configMap?.name ?? '';
    // The Job creates exactly the list docker-compose's kafka-init creates.
    expect(find(objects, 'ConfigMap', cmName)?.data?.['topics.txt']).toBe(readFileSync(join(ROOT, 'deploy/k8s/base/kafka/topics.txt'), 'utf8'));
    expect(find(objects, 'Deployment', 'registry')).toBeDefined();
    expect(find(objects, 'Deployment', 'jaeger')).toBeDefined();
  });

  describe.each(K8S_APPS)(`${overlay}: app %s`, (app) => {
    it(`${app} should probe /healthz for liveness and /readyz for readiness on its HTTP port`, () => {
      const c = appContainer(renderKustomize(overlay).objects, app);
      expect(c.ports).toEqual([{ name: 'http', containerPort: 8080 }]);
      expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
      expect(c.startupProbe?.httpGet?.path).toBe('/healthz');
    });

    it(`${app} should have CPU and memory requests and a memory limit`, () => {
      const r = appContainer(renderKustomize(overlay).objects, app).resources;
      expect(r?.requests).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
      expect(r?.limits).toEqual(expect.objectContaining({ memory: expect.any(String) }));
    });

    it(`${app} should run non-root on a read-only root filesystem with /tmp as an emptyDir`, () => {
      const { objects } = renderKustomize(overlay);
      const c = appContainer(objects, app);
      expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(c.volumeMounts).toEqual([
        { name: 'tmp', mountPath: '/tmp' },
        { name: 'kafka-credentials', mountPath: KAFKA_CREDENTIALS_DIR, readOnly: true },
      ]);
      const pod = appWorkload(objects, app).spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    });

    it(`${app} should run as a StatefulSet whose pods start in parallel and update one at a time, governed by a headless Service`, () => {
      const { objects } = renderKustomize(overlay);
      const spec = appWorkload(objects, app).spec;
      expect(find(objects, 'Deployment', app)).toBeUndefined();
      expect({ podManagementPolicy: spec.podManagementPolicy, updateStrategy: spec.updateStrategy }).toEqual({ podManagementPolicy: 'Parallel', updateStrategy: { type: 'RollingUpdate' } });
      const governing = find(objects, 'Service', spec.serviceName ?? '')?.spec as { clusterIP?: string; selector?: Record<string, string> } | undefined;
      expect(governing?.clusterIP).toBe('None');
      expect(governing?.selector && selects(governing.selector, spec.template.metadata?.labels)).toBe(true);
    });

    it(`${app} should have a Service, a PodDisruptionBudget and a NetworkPolicy selecting its pods`, () => {
      const { objects } = renderKustomize(overlay);
      const labels = appWorkload(objects, app).spec.template.metadata?.labels;
      const svc = find(objects, 'Service', app)?.spec as { selector?: Record<string, string> } | undefined;
      expect(svc?.selector && selects(svc.selector, labels)).toBe(true);
      const pdb = find(objects, 'PodDisruptionBudget', app)?.spec as { selector?: { matchLabels?: Record<string, string> }; maxUnavailable?: number } | undefined;
      expect(pdb?.selector?.matchLabels && selects(pdb.selector.matchLabels, labels)).toBe(true);
      expect(pdb?.maxUnavailable).toBe(1);
      const np = find(objects, 'NetworkPolicy', app)?.spec as NetworkPolicySpec | undefined;
      expect(np?.podSelector.matchLabels && selects(np.podSelector.matchLabels, labels)).toBe(true);
      expect(np?.policyTypes).toEqual(['Ingress', 'Egress']);
    });

    it(`${app} should reach only what it needs (egress) and be admitted by the services it talks to`, () => {
      const { objects } = renderKustomize(overlay);
      const np = find(objects, 'NetworkPolicy', app)?.spec as NetworkPolicySpec;
      expect(egressTargets(np)).toEqual([...(EGRESS[app] ?? [])].sort());
      // The destination's ingress policy must admit this app's pods (by the client labels it carries).
      const labels = appWorkload(objects, app).spec.template.metadata?.labels ?? {};
      for (const target of EGRESS[app] ?? []) {
        const [name, port] = target.split(':');
        if (name === 'internet') continue;
        const ingress = (find(objects, 'NetworkPolicy', name as string)?.spec as NetworkPolicySpec | undefined)?.ingress ?? [];
        const admitted = ingress.some(
          (rule) => (rule.ports ?? []).some((p) => String(p.port) === port) && (rule.from === undefined || rule.from.some((peer) => selects(peer.podSelector?.matchLabels, labels))),
        );
        expect({ target, admitted }).toEqual({ target, admitted: true });
      }
    });

    it(`${app} should use its own image, never pulled in kind (tag "dev", IfNotPresent)`, () => {
      const c = appContainer(renderKustomize(overlay).objects, app);
      expect(c.image).toMatch(new RegExp(`^wikimonitor/${app}:`));
      expect(c.imagePullPolicy).toBe('IfNotPresent');
      if (overlay.endsWith('kind')) expect(c.image).toBe(`wikimonitor/${app}:dev`);
    });
  });

  it(`${overlay} should render only the custom resources its cluster has CRDs for`, () => {
    const custom = renderKustomize(overlay).objects.filter(isCustomResource);
    expect(custom.filter((o) => !(CLUSTER_CRDS[overlay] ?? []).includes(`${o.apiVersion}/${o.kind}`)).map((o) => `${o.apiVersion}/${o.kind} ${o.metadata.name}`)).toEqual([]);
  });

  it(`${overlay}: only the consumer apps should autoscale, each by one KEDA ScaledObject where KEDA runs, never by a second HPA`, () => {
    const { objects } = renderKustomize(overlay);
    const scaled = objects.filter((o) => o.kind === 'ScaledObject').map((o) => (o.spec as ScaledObjectSpec).scaleTargetRef?.name);
    expect(scaled.sort()).toEqual((CLUSTER_CRDS[overlay] ?? []).includes(SCALED_OBJECT) ? [...AUTOSCALED].sort() : []);
    // KEDA makes its own HorizontalPodAutoscaler per ScaledObject: another one on the same StatefulSet would fight it.
    expect(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler').map((o) => o.metadata.name)).toEqual([]);
  });
});

describe('KEDA ScaledObject (deploy/k8s/base)', () => {
  it.each(AUTOSCALED)('ScaledObject %s should scale its StatefulSet on its own group lag seconds, from 1 to at most its input partitions', (app) => {
    const { objects } = renderKustomize('deploy/k8s/base');
    const so = find(objects, 'ScaledObject', app);
    expect(so?.apiVersion).toBe('keda.sh/v1alpha1');
    expect(so && scaledObjectProblems(objects, so)).toEqual([]);
  });

  it('scaledObjectProblems should report fields KEDA drops, a non-string setting, another group and bounds past the partitions (it can fail)', () => {
    const objects = structuredClone(renderKustomize('deploy/k8s/base').objects);
    const so = find(objects, 'ScaledObject', 'filter-router') as K8sObject & { spec: ScaledObjectSpec & Record<string, unknown> };
    const trigger = so.spec.triggers?.[0] as Trigger & { metadata: Record<string, unknown> };
    // An HPA's field names, a number where the CRD takes a string, the aggregator's lag, more pods than partitions.
    so.spec['minReplicas'] = 1;
    delete so.spec.minReplicaCount;
    so.spec.maxReplicaCount = 12;
    trigger.metadata['threshold'] = 30;
    trigger.metadata['query'] = String(trigger.metadata['query']).replace('group="filter-router"', 'group="aggregator"');
    expect(scaledObjectProblems(objects, so)).toEqual([
      'ScaledObject filter-router: spec.minReplicas is not a ScaledObject field (its CRD drops it)',
      'ScaledObject filter-router: minReplicaCount undefined, not 1 (a group always keeps a member)',
      'ScaledObject filter-router: maxReplicaCount 12 is not within 2..6 (the partitions of its input topics)',
      'ScaledObject filter-router: trigger metadata.threshold is a number; the CRD takes strings',
      'ScaledObject filter-router: the query reads the lag of group "aggregator", not of filter-router\'s group "filter-router"',
    ]);
  });
});

describe('Kafka: three brokers with SASL_SSL in the base, one PLAINTEXT broker in kind', () => {
  const base = () => renderKustomize('deploy/k8s/base').objects;
  const kind = () => renderKustomize('deploy/k8s/overlays/kind').objects;
  const kafkaOf = (objects: K8sObject[]) => {
    const ss = find(objects, 'StatefulSet', 'kafka') as K8sObject & { spec: WorkloadSpec };
    const c = ss.spec.template.spec.containers[0] as Container;
    return { ss, pod: ss.spec.template.spec, c, env: containerEnv(objects, c).env };
  };
  /** Runs the rendered start-kafka.sh as pod `pod` with stand-ins for Kafka's tools: what it would format and run. */
  const startScript = (objects: K8sObject[], pod: string, scramUsers: string[]) => {
    const { pod: spec, env } = kafkaOf(objects);
    const cm = spec.volumes?.find((v) => v.name === 'scripts')?.configMap?.name ?? '';
    const dir = mkdtempSync(join(tmpdir(), 'wm-kafka-start-'));
    try {
      writeFileSync(join(dir, 'start-kafka.sh'), find(objects, 'ConfigMap', cm)?.data?.['start-kafka.sh'] ?? '');
      execFileSync('mkdir', ['-p', join(dir, 'bin'), join(dir, 'tls'), join(dir, 'scram'), join(dir, 'run'), join(dir, 'data')]);
      writeFileSync(join(dir, 'bin', 'kafka-storage.sh'), '#!/bin/bash\necho "FORMAT $*"\n', { mode: 0o755 });
      writeFileSync(join(dir, 'bin', 'kafka-server-start.sh'), '#!/bin/bash\necho "START $*"; cat "$1"\n', { mode: 0o755 });
      for (const f of ['ca.crt', 'tls.crt', 'tls.key']) writeFileSync(join(dir, 'tls', f), `${f}\n`);
      for (const u of scramUsers) writeFileSync(join(dir, 'scram', u), `pw-${u}`);
      const paths = { KAFKA_HOME: dir, KAFKA_RUN_DIR: join(dir, 'run'), KAFKA_TLS_DIR: join(dir, 'tls'), KAFKA_SCRAM_DIR: join(dir, 'scram'), KAFKA_DATA_DIR: join(dir, 'data') };
      const out = execFileSync('bash', [join(dir, 'start-kafka.sh')], { env: { PATH: process.env['PATH'], ...env, POD_NAME: pod, POD_NAMESPACE: 'wikimonitor', ...paths }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const props = Object.fromEntries(out.split('\n').filter((l) => /^[a-z][a-z0-9.-]*=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      return { props, format: out.split('\n').find((l) => l.startsWith('FORMAT ')) ?? '' };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('the base should run three KRaft nodes with replication 3 and min.insync.replicas 2, provisioning topics with RF 3', () => {
    const objects = base();
    const { ss, env } = kafkaOf(objects);
    expect((ss.spec as WorkloadSpec).replicas).toBe(3);
    expect({ nodes: env['KAFKA_NODES'], rf: env['DEFAULT_REPLICATION_FACTOR'], minIsr: env['MIN_INSYNC_REPLICAS'], security: env['KAFKA_SECURITY'] }).toEqual({ nodes: '3', rf: '3', minIsr: '2', security: 'sasl_ssl' });
    const { props, format } = startScript(objects, 'kafka-2', ['producer']);
    expect(props).toMatchObject({
      'process.roles': 'broker,controller',
      'node.id': '3',
      'default.replication.factor': '3',
      'min.insync.replicas': '2',
      'offsets.topic.replication.factor': '3',
      'transaction.state.log.replication.factor': '3',
      'transaction.state.log.min.isr': '2',
    });
    expect(props['controller.quorum.voters']?.split(',')).toEqual([1, 2, 3].map((n) => `${n}@kafka-${n - 1}.kafka-headless.wikimonitor.svc.cluster.local:9093`));
    expect(format).toContain('--add-scram SCRAM-SHA-512=[name=producer,password=pw-producer]');
    const job = find(objects, 'Job', 'kafka-topics') as K8sObject;
    const jobEnv = containerEnv(objects, (podSpecOf(job) as PodSpec).containers[0] as Container).env;
    expect(jobEnv['REPLICATION_FACTOR']).toBe('3');
    for (const app of K8S_APPS) expect({ app, rf: containerEnv(objects, appContainer(objects, app)).env['TOPIC_REPLICATION_FACTOR'] }).toEqual({ app, rf: '3' });
  });

  it('the base brokers should take clients over SASL_SSL (SCRAM-SHA-512) only, and talk mutual TLS among themselves', () => {
    const { props } = startScript(base(), 'kafka-0', ['producer']);
    const map = Object.fromEntries((props['listener.security.protocol.map'] ?? '').split(',').map((x) => x.split(':') as [string, string]));
    expect(map).toEqual({ CLIENT: 'SASL_SSL', CONTROLLER: 'SSL', INTERNAL: 'SSL' });
    expect(props['listeners']).toBe('CLIENT://:9092,CONTROLLER://:9093,INTERNAL://:9094');
    expect(props['sasl.enabled.mechanisms']).toBe('SCRAM-SHA-512');
    expect(props['inter.broker.listener.name']).toBe('INTERNAL');
    expect({ internal: props['listener.name.internal.ssl.client.auth'], controller: props['listener.name.controller.ssl.client.auth'] }).toEqual({ internal: 'required', controller: 'required' });
    // Without the certificate or users it refuses to start rather than fall back to anything open.
    expect(() => startScript(base(), 'kafka-0', [])).toThrow(/no SCRAM users/);
  });

  it('the kind overlay should keep one PLAINTEXT node with replication 1', () => {
    const objects = kind();
    const { ss, env } = kafkaOf(objects);
    expect((ss.spec as WorkloadSpec).replicas).toBe(1);
    expect({ nodes: env['KAFKA_NODES'], rf: env['DEFAULT_REPLICATION_FACTOR'], minIsr: env['MIN_INSYNC_REPLICAS'], security: env['KAFKA_SECURITY'] }).toEqual({ nodes: '1', rf: '1', minIsr: '1', security: 'plaintext' });
    const { props } = startScript(objects, 'kafka-0', []);
    expect(props['controller.quorum.voters']).toBe('1@kafka-0.kafka-headless.wikimonitor.svc.cluster.local:9093');
    expect(props['listener.security.protocol.map']).toBe('PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT');
    for (const app of K8S_APPS) expect(containerEnv(objects, appContainer(objects, app)).env['KAFKA_SECURITY_PROTOCOL']).toBeUndefined();
  });

  it.each(K8S_APPS)('the base should connect %s to Kafka with SASL_SSL as its own user, its password and the CA read from mounted Secrets', (app) => {
    const objects = base();
    const c = appContainer(objects, app);
    const pod = appWorkload(objects, app).spec.template.spec;
    const env = containerEnv(objects, c).env;
    expect({ protocol: env['KAFKA_SECURITY_PROTOCOL'], mechanism: env['KAFKA_SASL_MECHANISM'] }).toEqual({ protocol: 'sasl_ssl', mechanism: 'SCRAM-SHA-512' });
    expect(env['KAFKA_SASL_PASSWORD']).toBeUndefined();
    expect({
      username: fileSource(pod, c, env['KAFKA_SASL_USERNAME_FILE'] ?? ''),
      password: fileSource(pod, c, env['KAFKA_SASL_PASSWORD_FILE'] ?? ''),
      ca: fileSource(pod, c, env['KAFKA_SSL_CA_LOCATION'] ?? ''),
    }).toEqual({ username: `kafka-user-${app}/username`, password: `kafka-user-${app}/password`, ca: 'kafka-ca/ca.crt' });
    // The brokers store this user's password (their scram volume) and the script makes its Secret.
    const scram = kafkaOf(objects).pod.volumes?.find((v) => v.name === 'scram')?.projected?.sources ?? [];
    expect(scram.some((p) => p.secret?.name === `kafka-user-${app}` && p.secret.items?.some((i) => i.key === 'password' && i.path === app))).toBe(true);
    expect(secretValue(find(scriptSecrets(), 'Secret', `kafka-user-${app}`), 'username')).toBe(app);
  });

  it('kafka-secrets.sh should make a broker certificate its CA verifies for every broker name and the bootstrap name, and random passwords', () => {
    const secrets = scriptSecrets();
    const tls = find(secrets, 'Secret', 'kafka-broker-tls');
    const dir = mkdtempSync(join(tmpdir(), 'wm-kafka-tls-'));
    try {
      for (const k of ['ca.crt', 'tls.crt']) writeFileSync(join(dir, k), secretValue(tls, k));
      expect(secretValue(find(secrets, 'Secret', 'kafka-ca'), 'ca.crt')).toBe(secretValue(tls, 'ca.crt'));
      expect(secretValue(tls, 'tls.key')).toMatch(/^-----BEGIN PRIVATE KEY-----/); // PKCS#8, as Kafka's PEM key store needs
      for (const host of ['kafka-0.kafka-headless.wikimonitor.svc.cluster.local', 'kafka-2.kafka-headless.wikimonitor.svc.cluster.local', 'kafka']) {
        const r = run('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), '-verify_hostname', host, join(dir, 'tls.crt')]);
        expect({ host, out: r.stdout.trim() }).toEqual({ host, out: `${join(dir, 'tls.crt')}: OK` });
      }
      expect(run('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), '-verify_hostname', 'evil.example', join(dir, 'tls.crt')]).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const passwords = secrets.filter((o) => o.metadata.name.startsWith('kafka-user-')).map((o) => secretValue(o, 'password'));
    // One user per Kafka app and the topic job, each with its own password.
    expect(passwords).toHaveLength(K8S_APPS.length + 1);
    expect(new Set(passwords).size).toBe(K8S_APPS.length + 1);
    for (const p of passwords) expect(p).toMatch(/^[0-9a-f]{48}$/);
  });
});

describe.each(OVERLAYS)('credentials and network policies (%s)', (overlay) => {
  it(`${overlay} should write no credential in an env value or a ConfigMap`, () => {
    expect(secretLiteralProblems(renderKustomize(overlay).objects)).toEqual([]);
    if (overlay === 'deploy/k8s/base') expect(renderKustomize(overlay).objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name)).toEqual([]);
  });

  it(`${overlay} should admit each port only from named callers: no ingress rule open to every pod`, () => {
    const problems: string[] = [];
    for (const np of renderKustomize(overlay).objects.filter((o) => o.kind === 'NetworkPolicy')) {
      const spec = np.spec as NetworkPolicySpec;
      for (const rule of spec.ingress ?? []) {
        if (!rule.from?.length) problems.push(`${np.metadata.name}: ports ${(rule.ports ?? []).map((p) => p.port).join(',') || 'all'} open to every caller`);
        for (const peer of rule.from ?? []) if (peer.namespaceSelector && !peer.podSelector) problems.push(`${np.metadata.name}: a whole namespace admitted`);
      }
    }
    expect(problems).toEqual([]);
  });

  it(`${overlay} should admit the apps' HTTP port from Prometheus, and the dashboards' from the ingress controller, only`, () => {
    const objects = renderKustomize(overlay).objects;
    const callers = (name: string, port: number) =>
      ((find(objects, 'NetworkPolicy', name)?.spec as NetworkPolicySpec).ingress ?? [])
        .filter((r) => (r.ports ?? []).some((p) => p.port === port))
        .flatMap((r) => (r.from ?? []).map((p) => `${p.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] ?? '(same namespace)'}/${Object.values(p.podSelector?.matchLabels ?? {}).join(',')}`))
        .sort();
    const dashboards = ['dedup-persister', 'lag-monitor'];
    for (const app of K8S_APPS) expect({ app, callers: callers(app, 8080) }).toEqual({ app, callers: dashboards.includes(app) ? ['ingress-nginx/ingress-nginx', 'monitoring/prometheus'] : ['monitoring/prometheus'] });
    expect(callers('kafka', 9092)).toEqual(['(same namespace)/kafka', '(same namespace)/true']);
    expect(callers('kafka', 9093)).toEqual(['(same namespace)/kafka']);
    expect(callers('kafka', 9094)).toEqual(['(same namespace)/kafka']);
    expect(callers('postgres', 5432)).toEqual(['(same namespace)/true']);
  });
});

describe('secretLiteralProblems', () => {
  it('secretLiteralProblems should find a password in an env value, a token in a ConfigMap and a URL carrying a password (it can fail)', () => {
    const objects = structuredClone(renderKustomize('deploy/k8s/overlays/kind').objects);
    const c = appContainer(objects, 'dedup-persister');
    c.env = [...(c.env ?? []), { name: 'DATABASE_URL', value: 'postgres://u:pw@postgres/db' }, { name: 'KAFKA_SASL_PASSWORD', value: 'x' }, { name: 'KAFKA_SASL_PASSWORD_FILE', value: '/run/pw' }];
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'leaky' }, data: { API_TOKEN: 'abc' } });
    expect(secretLiteralProblems(objects)).toEqual([
      'StatefulSet/dedup-persister/dedup-persister: DATABASE_URL holds a URL with a password',
      'StatefulSet/dedup-persister/dedup-persister: KAFKA_SASL_PASSWORD is written in plain text',
      'ConfigMap/leaky: API_TOKEN is written in plain text',
    ]);
  });
});

describe('topics.txt', () => {
  it('topics.txt should give the aggregator changelog as many partitions as its input', () => {
    const t = new Map(loadTopics().map((x) => [x.name, x]));
    expect(t.get('wiki.aggregator.changelog')?.partitions).toBe(t.get('wiki.changes.all')?.partitions);
    expect(t.get('wiki.aggregator.changelog')?.configs['cleanup.policy']).toBe('compact');
  });

  it('topics.txt should list every route topic of the filter-router default rules', () => {
    const rules = JSON.parse(readFileSync(join(ROOT, 'apps/filter-router/rules/default-rules.json'), 'utf8')) as { routes: { topic: string }[] };
    const listed = new Set(loadTopics().map((x) => x.name));
    expect(rules.routes.map((r) => r.topic).filter((t) => !listed.has(t))).toEqual([]);
  });
});
