// Shared helpers of the deployment checks: the offline tools (installed by tools/deploy/install-tools.sh),
// YAML loading, kustomize rendering, the apps' config schemas and the topic list.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');
/** Apps with a config schema: every one gets an image and a compose service. */
export const APPS: string[] = readdirSync(join(ROOT, 'apps'))
  .filter((a) => existsSync(join(ROOT, 'apps', a, 'src', 'config.ts')))
  .sort();
/** Apps that run only in docker-compose (the local replay sources and the Action API stand-in, profile "offline"), not in Kubernetes. */
export const COMPOSE_ONLY = ['sse-source', 'action-api-source', 'jetstream-source'];
export const K8S_APPS = APPS.filter((a) => !COMPOSE_ONLY.includes(a));
/** Consumer apps scaled on their lag by a KEDA ScaledObject (base only), bounded by their input topics' partitions. */
export const AUTOSCALED = ['filter-router', 'aggregator', 'dedup-persister'];
/** What every app runs as: a pod keeps its name, the identity the chaos suite gives each instance (parity.spec.ts). */
export const APP_WORKLOAD_KIND = 'StatefulSet';
export const OVERLAYS = ['deploy/k8s/base', 'deploy/k8s/overlays/kind'];
/** The first run installs the tools (about a minute on a fresh machine). */
export const INSTALL_TIMEOUT_MS = 600_000;

export interface Tools {
  kustomize: string;
  kubernetesValidate: string;
  checkJsonschema: string;
  hadolint: string;
  python: string;
}

let cachedTools: Tools | undefined;
export function tools(): Tools {
  if (!cachedTools) {
    const out = execFileSync('bash', [join(ROOT, 'tools/deploy/install-tools.sh')], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const last = out.trim().split('\n').pop() ?? '';
    cachedTools = JSON.parse(last) as Tools;
  }
  return cachedTools;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], input?: string): RunResult {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Parses YAML text (every document, merge keys resolved) with the tools' PyYAML. */
export function parseYamlDocs(text: string): unknown[] {
  const r = run(tools().python, [join(ROOT, 'deploy/tools/yaml2json.py'), '-'], text);
  if (r.status !== 0) throw new Error(`yaml2json failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as unknown[][])[0] ?? [];
}

export function readYamlFile<T>(path: string): T {
  return parseYamlDocs(readFileSync(join(ROOT, path), 'utf8'))[0] as T;
}

// ---------------------------------------------------------------- Kubernetes objects (the parts read here)

export interface Metadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: unknown;
}
export interface Probe {
  httpGet?: { path?: string; port?: number | string };
  tcpSocket?: { port?: number | string };
  exec?: { command?: string[] };
}
export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type?: string };
}
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; configMapKeyRef?: unknown; secretKeyRef?: unknown; resourceFieldRef?: unknown };
}
export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}
export interface ProjectedSource {
  secret?: { name: string; optional?: boolean; items?: { key: string; path: string }[] };
  configMap?: { name: string; optional?: boolean; items?: { key: string; path: string }[] };
}
export interface Volume {
  name: string;
  configMap?: { name: string; optional?: boolean };
  secret?: { secretName: string; optional?: boolean };
  projected?: { sources: ProjectedSource[] };
  emptyDir?: unknown;
}
export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  command?: string[];
}
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: SecurityContext;
  volumes?: Volume[];
  enableServiceLinks?: boolean;
  terminationGracePeriodSeconds?: number;
}
export interface WorkloadSpec {
  replicas?: number;
  selector?: { matchLabels?: Record<string, string> };
  template: { metadata?: Metadata; spec: PodSpec };
  volumeClaimTemplates?: unknown[];
  /** StatefulSet only. */
  serviceName?: string;
  podManagementPolicy?: string;
  updateStrategy?: { type?: string };
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
}
export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
export interface NetworkPolicySpec {
  podSelector: LabelSelector;
  policyTypes?: string[];
  ingress?: { from?: NetworkPolicyPeer[]; ports?: { port?: number | string }[] }[];
  egress?: { to?: NetworkPolicyPeer[]; ports?: { port?: number | string }[] }[];
}

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'];

export function podSpecOf(o: K8sObject): PodSpec | undefined {
  if (!WORKLOAD_KINDS.includes(o.kind)) return undefined;
  return (o.spec as WorkloadSpec | undefined)?.template.spec;
}

/** An app's workload (the StatefulSet named after it). */
export function appWorkload(objects: K8sObject[], app: string): K8sObject & { spec: WorkloadSpec } {
  const w = find(objects, APP_WORKLOAD_KIND, app);
  if (!w) throw new Error(`no ${APP_WORKLOAD_KIND} ${app}`);
  return w as K8sObject & { spec: WorkloadSpec };
}

/** The container named after the app in its workload. */
export function appContainer(objects: K8sObject[], app: string): Container {
  const c = appWorkload(objects, app).spec.template.spec.containers.find((x) => x.name === app);
  if (!c) throw new Error(`${APP_WORKLOAD_KIND} ${app} has no container ${app}`);
  return c;
}

const rendered = new Map<string, { yaml: string; objects: K8sObject[] }>();
/** `kustomize build <dir>` with the pinned kustomize, parsed; `dir` relative to the repository root, or absolute. */
export function renderKustomize(dir: string): { yaml: string; objects: K8sObject[] } {
  const hit = rendered.get(dir);
  if (hit) return hit;
  const r = run(tools().kustomize, ['build', resolve(ROOT, dir)]);
  if (r.status !== 0) throw new Error(`kustomize build ${dir} failed:\n${r.stderr}`);
  const result = { yaml: r.stdout, objects: parseYamlDocs(r.stdout) as K8sObject[] };
  rendered.set(dir, result);
  return result;
}

let madeSecrets: K8sObject[] | undefined;
/**
 * The Secrets tools/deploy/kafka-secrets.sh prints (run once, offline, with openssl): every credential the base
 * references without rendering it.
 */
export function scriptSecrets(): K8sObject[] {
  madeSecrets ??= parseYamlDocs(execFileSync('bash', [join(ROOT, 'tools/deploy/kafka-secrets.sh')], { cwd: ROOT, encoding: 'utf8' })) as K8sObject[];
  return madeSecrets;
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

/**
 * Every variable a container receives, with its value where one is written down: env entries (fieldRef and
 * other valueFrom entries as "") plus the keys of the ConfigMaps/Secrets in envFrom.
 */
export function containerEnv(objects: K8sObject[], c: Container): { env: Record<string, string>; problems: string[] } {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  for (const src of c.envFrom ?? []) {
    const ref = src.configMapRef ? { kind: 'ConfigMap', ...src.configMapRef } : src.secretRef ? { kind: 'Secret', ...src.secretRef } : undefined;
    if (!ref) continue;
    const obj = find(objects, ref.kind, ref.name);
    if (!obj) {
      // An optional one that is absent gives nothing (a Secret made outside the manifests is checked by kubernetes.spec.ts).
      if (!ref.optional) problems.push(`${c.name}: envFrom ${ref.kind} ${ref.name} is not among the rendered objects`);
      continue;
    }
    const prefix = src.prefix ?? '';
    for (const [k, v] of Object.entries(obj.data ?? {})) env[prefix + k] = ref.kind === 'Secret' ? Buffer.from(v, 'base64').toString('utf8') : v;
    for (const [k, v] of Object.entries(obj.stringData ?? {})) env[prefix + k] = v;
    for (const k of Object.keys(obj.binaryData ?? {})) env[prefix + k] = '';
  }
  for (const e of c.env ?? []) env[e.name] = e.value ?? '';
  return { env, problems };
}

// ---------------------------------------------------------------- docker-compose.yml

export interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> | string[] };
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: unknown;
  profiles?: string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  restart?: string;
  entrypoint?: string[] | string;
}
export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

let compose: ComposeFile | undefined;
export function loadCompose(): ComposeFile {
  compose ??= readYamlFile<ComposeFile>('docker-compose.yml');
  return compose;
}

/**
 * Compose-style interpolation with the file's own defaults only (the machine's environment is ignored, so the
 * checks are deterministic): `${NAME:-default}` and `${NAME-default}` give the default, `${NAME}` "", `$$` "$".
 */
export function interpolateDefaults(value: string): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (m, _name: string | undefined, def: string | undefined) => (m === '$$' ? '$' : (def ?? '')));
}

/** A compose service's environment, values interpolated with the file's defaults. */
export function composeEnv(s: ComposeService): Record<string, string> {
  const env = s.environment;
  const out: Record<string, string> = {};
  if (!env) return out;
  if (Array.isArray(env)) {
    for (const e of env) {
      const i = e.indexOf('=');
      if (i > 0) out[e.slice(0, i)] = interpolateDefaults(e.slice(i + 1));
      else out[e] = '';
    }
  } else for (const [k, v] of Object.entries(env)) out[k] = v === null ? '' : interpolateDefaults(String(v));
  return out;
}

// ---------------------------------------------------------------- the apps' config schemas

export interface SchemaInfo {
  app: string;
  file: string;
  exportName: string;
  keys: string[];
  required: string[];
}

/** Runs deploy/tools/print-config-schemas.ts (apps' config modules loaded by tsx, as the apps load them). */
export function loadSchemas(args: string[] = []): SchemaInfo[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'deploy/tools/print-config-schemas.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.base.json') },
  });
  if (r.status !== 0) throw new Error(`print-config-schemas failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as SchemaInfo[];
}

/**
 * What is wrong with the variables `source` gives an app: names its schema doesn't know, and required
 * keys (no default) it doesn't give. Empty when they agree.
 */
export function driftProblems(source: string, app: string, givenNames: string[], schema: Pick<SchemaInfo, 'file' | 'exportName' | 'keys' | 'required'>): string[] {
  const known = new Set(schema.keys);
  const problems: string[] = [];
  // `<KEY>_FILE` gives KEY from a file (libs/service-kit readSecretEnv), for keys of the schema.
  const given = givenNames.map((n) => (n.endsWith('_FILE') && !known.has(n) && known.has(n.slice(0, -5)) ? n.slice(0, -5) : n));
  for (const name of given) {
    if (!known.has(name)) problems.push(`${source} gives ${name} to ${app} but its config schema (${schema.exportName} in ${schema.file}) doesn't know it`);
  }
  const givenSet = new Set(given);
  for (const key of schema.required) {
    if (!givenSet.has(key)) problems.push(`${source} doesn't give ${app} ${key}, which its config schema (${schema.exportName} in ${schema.file}) requires (no default)`);
  }
  return problems;
}

// ---------------------------------------------------------------- topics

export interface TopicSpec {
  name: string;
  partitions: number;
  configs: Record<string, string>;
}

/** deploy/k8s/base/kafka/topics.txt, the list the topic Job and compose's kafka-init create. */
export function loadTopics(): TopicSpec[] {
  const text = readFileSync(join(ROOT, 'deploy/k8s/base/kafka/topics.txt'), 'utf8');
  const topics: TopicSpec[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [name, partitions, ...configs] = line.split(/\s+/);
    topics.push({
      name: name as string,
      partitions: Number(partitions),
      configs: Object.fromEntries(configs.map((c) => c.split('=') as [string, string])),
    });
  }
  return topics;
}

/** Topic names an app is configured with: values of *_TOPIC and *_TOPICS settings (Kafka-internal ones aside). */
export function configuredTopics(env: Record<string, string>): { key: string; topic: string }[] {
  const out: { key: string; topic: string }[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (!/_TOPICS?$/.test(key)) continue;
    for (const topic of value.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!topic.startsWith('__')) out.push({ key, topic });
    }
  }
  return out;
}

export function writeTemp(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'wm-deploy-'));
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}
