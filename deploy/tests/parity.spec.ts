// Kubernetes runs what the chaos suite tested. For every app of libs/testing INSTANCE_SETTINGS, the rendered
// manifests (the base and every overlay) must give each pod the settings every chaos instance gets, derive its
// identity settings from the pod's own name in a StatefulSet (for a singleton: one constant, one replica, no
// autoscaler), let it stop within the grace the chaos suite allows and the app needs, and budget its disruptions.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { baseConfigShape } from '@wikimonitor/service-kit';
import { INSTANCE_SETTINGS, INSTANCE_STOP_GRACE_MS, type InstanceSettings } from '@wikimonitor/testing';
import { APP_WORKLOAD_KIND, INSTALL_TIMEOUT_MS, K8S_APPS, OVERLAYS, ROOT, type EnvVar, type K8sObject, type WorkloadSpec, containerEnv, podSpecOf, renderKustomize, tools } from './support';

const SETTINGS = Object.entries(INSTANCE_SETTINGS) as [string, InstanceSettings][];
/** Kubernetes' terminationGracePeriodSeconds when a pod spec gives none. */
const DEFAULT_GRACE_SECONDS = 30;
const AUTOSCALER_KINDS = ['HorizontalPodAutoscaler', 'ScaledObject'];

function isPodName(e: EnvVar | undefined): boolean {
  return e?.valueFrom?.fieldRef?.fieldPath === 'metadata.name';
}

/** The pod's name directly (fieldRef), or a `$(VAR)` expansion of an earlier variable that is. */
function derivedFromPodName(env: EnvVar[], name: string): boolean {
  const i = env.findIndex((e) => e.name === name);
  const entry = env[i];
  if (isPodName(entry)) return true;
  const earlier = env.slice(0, Math.max(i, 0));
  return [...(entry?.value ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].some((m) => isPodName(earlier.find((e) => e.name === m[1])));
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return !!selector && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** How `objects` run `app` against what the chaos suite runs each instance with; empty when they match. */
function parityProblems(objects: K8sObject[], app: string, settings: InstanceSettings): string[] {
  const workload = objects.find((o) => podSpecOf(o) && o.metadata.name === app);
  if (!workload) return [`${app}: no workload named ${app} is rendered`];
  const problems: string[] = [];
  if (workload.kind !== APP_WORKLOAD_KIND) problems.push(`${app}: runs as a ${workload.kind}, not a ${APP_WORKLOAD_KIND}, so a replaced pod gets a new name`);
  const spec = workload.spec as WorkloadSpec;
  const pod = spec.template.spec;
  const container = pod.containers.find((c) => c.name === app);
  if (!container) return [...problems, `${app}: its ${workload.kind} has no container named ${app}`];
  const { env } = containerEnv(objects, container);

  for (const [key, value] of Object.entries(settings.env)) {
    if (!(key in env)) problems.push(`${app}: ${key} is not set; every chaos instance runs with ${key}=${value}`);
    else if (env[key] !== value) problems.push(`${app}: ${key}=${env[key]}, but every chaos instance runs with ${key}=${value}`);
  }

  const entries = container.env ?? [];
  for (const key of settings.identity) {
    const entry = entries.find((e) => e.name === key);
    if (!(key in env)) problems.push(`${app}: ${key} is not set; each chaos instance has one, stable across its restarts`);
    else if (settings.singleton) {
      if (entry?.valueFrom || !env[key]) problems.push(`${app}: ${key} is not one constant value, so a second instance would not fence the first`);
    } else if (!derivedFromPodName(entries, key)) {
      problems.push(`${app}: ${key} is not derived from the pod's name (fieldRef metadata.name), so a replaced pod does not keep its identity`);
    }
  }

  if (settings.singleton) {
    if (spec.replicas !== 1) problems.push(`${app}: replicas ${spec.replicas}, not 1 (a fenced singleton)`);
    for (const o of objects.filter((x) => AUTOSCALER_KINDS.includes(x.kind))) {
      if ((o.spec as { scaleTargetRef?: { name?: string } } | undefined)?.scaleTargetRef?.name === app) problems.push(`${app}: ${o.kind} ${o.metadata.name} scales it, but it is a singleton`);
    }
  }

  const shutdownMs = baseConfigShape.SHUTDOWN_TIMEOUT_MS.parse(env['SHUTDOWN_TIMEOUT_MS']);
  const needSeconds = Math.ceil(Math.max(INSTANCE_STOP_GRACE_MS, shutdownMs) / 1000);
  const grace = pod.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
  if (grace < needSeconds) {
    problems.push(`${app}: terminationGracePeriodSeconds ${grace} is under ${needSeconds} s (the chaos suite's stop grace ${INSTANCE_STOP_GRACE_MS} ms, the app's SHUTDOWN_TIMEOUT_MS ${shutdownMs} ms)`);
  }

  const labels = spec.template.metadata?.labels;
  const budgeted = objects.some((o) => o.kind === 'PodDisruptionBudget' && selects((o.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels, labels));
  if (!budgeted) problems.push(`${app}: no PodDisruptionBudget selects its pods`);
  return problems;
}

beforeAll(() => {
  tools();
}, INSTALL_TIMEOUT_MS);

describe('INSTANCE_SETTINGS', () => {
  it('INSTANCE_SETTINGS should name exactly the apps Kubernetes runs', () => {
    expect(SETTINGS.map(([app]) => app).sort()).toEqual(K8S_APPS);
  });
});

describe.each(OVERLAYS)('parity with the chaos suite (%s)', (overlay) => {
  it.each(SETTINGS)(`%s should run in ${overlay} as each chaos-suite instance runs`, (app, settings) => {
    expect(parityProblems(renderKustomize(overlay).objects, app, settings)).toEqual([]);
  });
});

describe('parityProblems (it can fail)', () => {
  const base = () => structuredClone(renderKustomize('deploy/k8s/base').objects);
  const named = (objects: K8sObject[], kind: string, prefix: string) => objects.find((o) => o.kind === kind && o.metadata.name.startsWith(prefix)) as K8sObject;
  const workload = (objects: K8sObject[], app: string) => named(objects, APP_WORKLOAD_KIND, app) as K8sObject & { spec: WorkloadSpec };
  const envOf = (objects: K8sObject[], app: string) => workload(objects, app).spec.template.spec.containers[0]?.env as EnvVar[];
  const check = (objects: K8sObject[], app: keyof typeof INSTANCE_SETTINGS) => parityProblems(objects, app, INSTANCE_SETTINGS[app]);

  it('parityProblems should report the settings an overlay drops or pins, rendered by kustomize', () => {
    // An overlay someone might write: the filter-router's session timeout left to its default, the aggregator's
    // transactional id "simplified" to a constant, a second producer.
    const dir = mkdtempSync(join(tmpdir(), 'wm-parity-'));
    try {
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ${relative(dir, join(ROOT, 'deploy/k8s/base'))}
patches:
  - target:
      kind: ConfigMap
      name: filter-router-config
    patch: |-
      - op: remove
        path: /data/CONSUMER_SESSION_TIMEOUT_MS
  - patch: |-
      apiVersion: apps/v1
      kind: StatefulSet
      metadata:
        name: aggregator
      spec:
        template:
          spec:
            containers:
              - name: aggregator
                env:
                  - name: TRANSACTIONAL_ID
                    value: aggregator
                    valueFrom: null
  - patch: |-
      apiVersion: apps/v1
      kind: StatefulSet
      metadata:
        name: producer
      spec:
        replicas: 2
`,
      );
      const { objects } = renderKustomize(dir);
      expect(SETTINGS.flatMap(([app, settings]) => parityProblems(objects, app, settings))).toEqual([
        'producer: replicas 2, not 1 (a fenced singleton)',
        'filter-router: CONSUMER_SESSION_TIMEOUT_MS is not set; every chaos instance runs with CONSUMER_SESSION_TIMEOUT_MS=10000',
        "aggregator: TRANSACTIONAL_ID is not derived from the pod's name (fieldRef metadata.name), so a replaced pod does not keep its identity",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each<[string, (objects: K8sObject[]) => void, keyof typeof INSTANCE_SETTINGS, string]>([
    [
      'another session timeout',
      (o) => ((named(o, 'ConfigMap', 'dedup-persister-config').data as Record<string, string>)['CONSUMER_SESSION_TIMEOUT_MS'] = '45000'),
      'dedup-persister',
      'dedup-persister: CONSUMER_SESSION_TIMEOUT_MS=45000, but every chaos instance runs with CONSUMER_SESSION_TIMEOUT_MS=10000',
    ],
    [
      'a Deployment',
      (o) => (workload(o, 'filter-router').kind = 'Deployment'),
      'filter-router',
      'filter-router: runs as a Deployment, not a StatefulSet, so a replaced pod gets a new name',
    ],
    [
      'a missing identity (the app would fall back to its hostname)',
      (o) => envOf(o, 'lag-monitor').splice(envOf(o, 'lag-monitor').findIndex((e) => e.name === 'GROUP_INSTANCE_ID'), 1),
      'lag-monitor',
      'lag-monitor: GROUP_INSTANCE_ID is not set; each chaos instance has one, stable across its restarts',
    ],
    [
      "a singleton's identity per pod",
      (o) => envOf(o, 'producer').push({ name: 'PRODUCER_TRANSACTIONAL_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }),
      'producer',
      'producer: PRODUCER_TRANSACTIONAL_ID is not one constant value, so a second instance would not fence the first',
    ],
    [
      'an autoscaler on the singleton',
      (o) => o.push({ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 'producer' }, spec: { scaleTargetRef: { kind: 'StatefulSet', name: 'producer' } } }),
      'producer',
      'producer: ScaledObject producer scales it, but it is a singleton',
    ],
    [
      'a grace shorter than the stop the chaos suite allows',
      (o) => (workload(o, 'aggregator').spec.template.spec.terminationGracePeriodSeconds = 20),
      'aggregator',
      "aggregator: terminationGracePeriodSeconds 20 is under 30 s (the chaos suite's stop grace 30000 ms, the app's SHUTDOWN_TIMEOUT_MS 25000 ms)",
    ],
    [
      'a grace shorter than the shutdown the app is given',
      (o) => (named(o, 'ConfigMap', 'aggregator-config').data as Record<string, string>)['SHUTDOWN_TIMEOUT_MS'] = '50000',
      'aggregator',
      "aggregator: terminationGracePeriodSeconds 35 is under 50 s (the chaos suite's stop grace 30000 ms, the app's SHUTDOWN_TIMEOUT_MS 50000 ms)",
    ],
    [
      'no disruption budget',
      (o) => o.splice(o.indexOf(named(o, 'PodDisruptionBudget', 'dedup-persister')), 1),
      'dedup-persister',
      'dedup-persister: no PodDisruptionBudget selects its pods',
    ],
  ])('parityProblems should report %s', (_what, edit, app, problem) => {
    const objects = base();
    expect(check(objects, app)).toEqual([]);
    edit(objects);
    expect(check(objects, app)).toEqual([problem]);
  });

  it('parityProblems should take an identity expanded from a variable holding the pod name, as from the name itself', () => {
    const objects = base();
    const env = envOf(objects, 'aggregator');
    env.unshift({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    env.splice(env.findIndex((e) => e.name === 'TRANSACTIONAL_ID'), 1, { name: 'TRANSACTIONAL_ID', value: 'wm-$(POD_NAME)' });
    expect(check(objects, 'aggregator')).toEqual([]);
    // Expanded from a variable that is not the pod's name: one value for every pod.
    env.splice(0, 1, { name: 'POD_NAME', value: 'aggregator' });
    expect(check(objects, 'aggregator')).toEqual([
      "aggregator: TRANSACTIONAL_ID is not derived from the pod's name (fieldRef metadata.name), so a replaced pod does not keep its identity",
    ]);
  });
});
