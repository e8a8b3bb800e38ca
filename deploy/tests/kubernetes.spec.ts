// deploy/k8s: every overlay renders with kustomize, every object validates against the Kubernetes OpenAPI
// (JSON) schemas offline, and the objects hold what the deployment promises (probes, limits, security,
// budgets, network policies, autoscaling bounded by partitions).
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
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
const CUSTOM_RESOURCES = ['monitoring.coreos.com/v1/PrometheusRule'];
const CLUSTER_SCOPED = ['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume', 'StorageClass', 'CustomResourceDefinition'];

/** What each app may reach (egress), besides DNS. */
const EGRESS: Record<string, string[]> = {
  producer: ['jaeger:4318', 'kafka:9092', 'registry:8080', 'internet:443'],
  'filter-router': ['jaeger:4318', 'kafka:9092', 'registry:8080'],
  aggregator: ['jaeger:4318', 'kafka:9092', 'registry:8080'],
  'dedup-persister': ['jaeger:4318', 'kafka:9092', 'postgres:5432', 'registry:8080'],
  'lag-monitor': ['jaeger:4318', 'kafka:9092', 'registry:8080', 'internet:443'],
};

beforeAll(() => {
  tools();
}, INSTALL_TIMEOUT_MS);

function appContainer(objects: K8sObject[], app: string): Container {
  const dep = find(objects, 'Deployment', app);
  if (!dep) throw new Error(`no Deployment ${app}`);
  const c = (dep.spec as WorkloadSpec).template.spec.containers.find((x) => x.name === app);
  if (!c) throw new Error(`Deployment ${app} has no container ${app}`);
  return c;
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

describe.each(OVERLAYS)('kustomize build %s', (overlay) => {
  it(`${overlay} should render with kustomize`, () => {
    const { objects } = renderKustomize(overlay);
    expect(objects.length).toBeGreaterThan(20);
  });

  it(`${overlay} should validate against the Kubernetes ${K8S_VERSION} schemas (strict, offline)`, () => {
    // Custom resources have no schema there (kubernetes-validate warns): the PrometheusRule is checked by
    // deploy/tests/prometheus-rules.spec.ts (its rules by promtool). Any other kind still has to validate.
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
      const pod = (find(objects, 'Deployment', app)?.spec as WorkloadSpec).template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    });

    it(`${app} should have a Service, a PodDisruptionBudget and a NetworkPolicy selecting its pods`, () => {
      const { objects } = renderKustomize(overlay);
      const labels = (find(objects, 'Deployment', app)?.spec as WorkloadSpec).template.metadata?.labels;
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
      const labels = (find(objects, 'Deployment', app)?.spec as WorkloadSpec).template.metadata?.labels ?? {};
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

  it.each(AUTOSCALED)(`${overlay}: %s should autoscale between 1 and at most the partitions of its input topics`, (app) => {
    const { objects } = renderKustomize(overlay);
    const hpa = find(objects, 'HorizontalPodAutoscaler', app)?.spec as { scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number } | undefined;
    expect(hpa?.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: app });
    expect(hpa?.minReplicas).toBe(1);
    // The HPA owns the replica count: a fixed one in the Deployment would reset it on every apply.
    expect((find(objects, 'Deployment', app)?.spec as WorkloadSpec).replicas).toBeUndefined();
    const env = containerEnv(objects, appContainer(objects, app)).env;
    const partitions = new Map(loadTopics().map((t) => [t.name, t.partitions]));
    const inputs = configuredTopics(env).filter((t) => /^(INPUT_TOPIC|[A-Z]+_TOPICS)$/.test(t.key));
    expect(inputs.length).toBeGreaterThan(0);
    const bound = Math.max(...inputs.map((t) => partitions.get(t.topic) ?? 0));
    expect(hpa?.maxReplicas).toBeGreaterThan(1);
    expect(hpa?.maxReplicas).toBeLessThanOrEqual(bound);
  });

  it(`${overlay}: only the consumer apps should autoscale`, () => {
    const scaled = renderKustomize(overlay)
      .objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')
      .map((o) => o.metadata.name)
      .sort();
    expect(scaled).toEqual([...AUTOSCALED].sort());
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
