// deploy/k8s: every overlay renders with kustomize, every object validates against the Kubernetes OpenAPI
// (JSON) schemas offline (custom resources against their own structural checks), and the objects hold what the
// deployment promises (StatefulSets, probes, limits, security, budgets, network policies, autoscaling on lag
// bounded by partitions).
import { readFileSync, rmSync } from 'node:fs';
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
  type WorkloadSpec,
  appContainer,
  appWorkload,
  configuredTopics,
  containerEnv,
  find,
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

  it(`${overlay} should only reference ConfigMaps and Secrets it renders`, () => {
    const { objects } = renderKustomize(overlay);
    const missing: string[] = [];
    for (const o of objects) {
      const pod = podSpecOf(o);
      if (!pod) continue;
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) missing.push(...containerEnv(objects, c).problems);
      for (const v of pod.volumes ?? []) {
        if (v.configMap && !find(objects, 'ConfigMap', v.configMap.name)) missing.push(`${o.kind}/${o.metadata.name}: volume ConfigMap ${v.configMap.name}`);
        if (v.secret && !find(objects, 'Secret', v.secret.secretName)) missing.push(`${o.kind}/${o.metadata.name}: volume Secret ${v.secret.secretName}`);
      }
    }
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
    const kafka = (find(objects, 'StatefulSet', 'kafka')?.spec as WorkloadSpec).template.spec.containers[0] as Container;
    expect(kafka.env?.find((e) => e.name === 'KAFKA_PROCESS_ROLES')?.value).toBe('broker,controller');
    expect(kafka.env?.find((e) => e.name === 'KAFKA_AUTO_CREATE_TOPICS_ENABLE')?.value).toBe('false');
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
      expect(c.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
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
