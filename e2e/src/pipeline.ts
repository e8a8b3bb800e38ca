import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { type KafkaConnection, type RouteName, type TopicId, ROUTE_TOPIC_IDS, TOPOLOGY, createAdmin, ensureTopics, kafkaConfigSchema, kafkaConnectionFromEnv, topicSpec } from '@wikimonitor/kafka';
import { parseConfig } from '@wikimonitor/service-kit';
import { APP_NAMES, type AppName, type AppProcess, INSTANCE_SETTINGS, INSTANCE_STOP_GRACE_MS, REPO_ROOT, createAppProcess, freePort, instanceIdentity } from '@wikimonitor/testing';
import type { StackEndpoints } from './stack';

/**
 * The producer's resume margin in every run. It must stay well under the time a connection lasts: the
 * sse-source paces a resumed connection at the input's rate, so a connection delivers its lifetime's
 * worth of event time, of which the margin is overlap; with a margin >= that (the 10 s default against
 * eventstreams-resume's 3 s cuts, sse-drop-429's 500 events or sse-stall's 1,000 at 135/s) the producer
 * re-reads only the overlap and never progresses. The input's times never go backwards (disorder 0),
 * so 1 s is exact and still re-delivers about `rate` events per resume.
 */
export const CHAOS_RESUME_MARGIN_MS = 1_000;

/** The filter-router's default route names, from the topology. */
export const ROUTES: readonly RouteName[] = ROUTE_TOPIC_IDS.map((id) => TOPOLOGY[id].route);

/** Every name one run uses: topics, groups, transactional ids, checkpoint key, database. */
export interface RunNames {
  prefix: string;
  topics: {
    raw: string;
    routes: Record<RouteName, string>;
    aggregates: string;
    alerts: string;
    late: string;
    dlq: string;
    changelog: string;
    checkpoints: string;
    probe: string;
  };
  /** The run's name of every topology topic, by topic id. */
  topicsById: Record<TopicId, string>;
  groups: { router: string; aggregator: string; persister: string };
  /** The enricher's group (only in runs with the enricher, so not among `groups`). */
  enricherGroup: string;
  checkpointKey: string;
  database: string;
}

export function runNames(prefix: string): RunNames {
  // A topology topic under the run's prefix: wiki.raw.changes -> <prefix>.raw.changes.
  const byId = Object.fromEntries(Object.entries(TOPOLOGY).map(([id, d]) => [id, `${prefix}.${d.name.replace(/^wiki\./, '')}`])) as Record<TopicId, string>;
  return {
    prefix,
    topics: {
      raw: byId.raw,
      routes: Object.fromEntries(ROUTE_TOPIC_IDS.map((id) => [TOPOLOGY[id].route, byId[id]])) as Record<RouteName, string>,
      aggregates: byId.aggregates,
      alerts: byId.alerts,
      late: byId.late,
      dlq: byId.dlq,
      changelog: byId.changelog,
      checkpoints: byId.checkpoints,
      probe: byId.probe,
    },
    topicsById: byId,
    groups: { router: `${prefix}-filter-router`, aggregator: `${prefix}-aggregator`, persister: `${prefix}-dedup-persister` },
    enricherGroup: `${prefix}-enricher`,
    checkpointKey: `${prefix}-producer`,
    database: prefix.replace(/[^a-z0-9]/gi, '_').toLowerCase(),
  };
}

/** The filter-router's default rule file with the run's topic names. */
export function writeRoutesFile(names: RunNames, dir: string, opts: { allKey?: string } = {}): string {
  const rules = JSON.parse(readFileSync(join(REPO_ROOT, 'apps', 'filter-router', 'rules', 'default-rules.json'), 'utf8')) as { routes: Array<{ name: string; topic: string; key?: string }> };
  for (const r of rules.routes) {
    const topic = names.topics.routes[r.name as RouteName];
    if (!topic) throw new Error(`default rules have a route "${r.name}" the e2e suite does not know; update e2e/src/pipeline.ts`);
    r.topic = topic;
    // Two-stage aggregation reads wiki.changes.all keyed by wiki:title (every wiki over every partition).
    if (r.name === 'all' && opts.allKey) r.key = opts.allKey;
  }
  const file = join(dir, `${names.prefix}-rules.json`);
  writeFileSync(file, JSON.stringify(rules, null, 2));
  return file;
}

/** A database URL for another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function createDatabase(serverUrl: string, database: string): Promise<string> {
  const c = new Client({ connectionString: serverUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE "${database}"`);
  } finally {
    await c.end();
  }
  return withDatabase(serverUrl, database);
}

export async function dropDatabase(serverUrl: string, database: string): Promise<void> {
  const c = new Client({ connectionString: serverUrl });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

/** Where the suite's own clients connect: a plaintext bootstrap address, or a stack's endpoints with its client security settings. */
export type KafkaTarget = string | Pick<StackEndpoints, 'bootstrapServers' | 'kafkaEnv'>;

/** The suite's own client connection: the same settings, parsed by the same code (secrets read from their *_FILE), as the apps'. */
export function connection(target: KafkaTarget, clientId = 'wikimonitor-e2e'): KafkaConnection {
  const { bootstrapServers, kafkaEnv } = typeof target === 'string' ? { bootstrapServers: target, kafkaEnv: undefined } : target;
  if (!kafkaEnv) return { bootstrapServers, clientId, securityProtocol: 'plaintext', connectAttempts: 10 };
  const cfg = parseConfig(kafkaConfigSchema, { ...kafkaEnv, KAFKA_BOOTSTRAP_SERVERS: bootstrapServers, KAFKA_CONNECT_ATTEMPTS: '10' }, { name: 'the e2e suite' });
  return kafkaConnectionFromEnv(cfg, clientId);
}

/** Topics several apps share, created up front (the persister never creates what it reads). */
const SHARED_TOPICS: readonly TopicId[] = ['raw', ...ROUTE_TOPIC_IDS, 'aggregates', 'alerts', 'dlq', 'late'];

/** Creates the shared topics with the topology's settings under the run's names. */
export async function provisionTopics(target: KafkaTarget, names: RunNames): Promise<void> {
  const admin = await createAdmin(connection(target));
  try {
    await ensureTopics(
      admin,
      SHARED_TOPICS.map((id) => topicSpec(id, { replicationFactor: 1, names: names.topicsById })),
    );
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopics(target: KafkaTarget, names: Pick<RunNames, 'prefix'>): Promise<void> {
  const admin = await createAdmin(connection(target));
  try {
    const existing = new Set(await admin.listTopics());
    const mine = [...existing].filter((t) => t.startsWith(`${names.prefix}.`));
    if (mine.length) await admin.deleteTopics({ topics: mine });
  } finally {
    await admin.disconnect();
  }
}

export interface PipelineOptions {
  endpoints: StackEndpoints;
  /** Bootstrap the apps use (the proxy's port when the network is under test). */
  appBootstrap: string;
  names: RunNames;
  /** Files or directories the SSE source serves. */
  data: string;
  /** Extra sse-source flags (rate, faults, loops ...). */
  sourceArgs: string[];
  aggregator: { windowMs: number; latenessMs: number; idleCloseMs: number };
  lagMonitor: { cycleMs: number; windowCycles: number; webhookUrl?: string };
  /** Per-app extra environment. */
  extraEnv?: Partial<Record<AppName, Record<string, string>>>;
  /** Instances of each consumer app that start() brings up (default 1). */
  instances?: Partial<Record<ScalableApp, number>>;
  /** The aggregator's AGGREGATION_MODE (two-stage also keys wiki.changes.all by wiki:title). Default per-wiki. */
  aggregation?: 'per-wiki' | 'two-stage';
  /** Also run the enricher against the Action API stand-in (started with these extra flags). */
  enricher?: { apiArgs: string[] };
  workDir: string;
  logDir: string;
  log: (line: string) => void;
}

/** Apps that run as several instances in a run (the consumers); the producer is a fenced singleton. */
export const SCALABLE_APPS = ['filter-router', 'aggregator', 'dedup-persister', 'lag-monitor'] as const satisfies readonly AppName[];
export type ScalableApp = (typeof SCALABLE_APPS)[number];

/**
 * The environment that makes a process instance `ordinal` of `app` (libs/testing INSTANCE_SETTINGS):
 * the fixed settings, and every identity setting set to the instance's stable identity (the
 * singleton's one identity), the way a StatefulSet pod gets its name.
 */
export function instanceEnv(prefix: string, app: AppName, ordinal: number): Record<string, string> {
  if (app === 'sse-source' || app === 'action-api-source' || app === 'jetstream-source') return {};
  const s = INSTANCE_SETTINGS[app];
  const id = instanceIdentity(prefix, app, s.singleton ? 0 : ordinal);
  return { ...s.env, ...Object.fromEntries(s.identity.map((k) => [k, id])) };
}

/** Apps only some runs have: the enricher and its Action API stand-in. */
export type OptionalApp = 'enricher' | 'action-api-source';

export interface Pipeline {
  names: RunNames;
  /** Instance 0 of every app (it runs from start to end; scaling adds and removes the others). */
  apps: Record<Exclude<AppName, OptionalApp>, AppProcess> & Partial<Record<OptionalApp, AppProcess>>;
  /** The instances of `app` now part of the run (started and not scaled away), by ordinal. */
  instances(app: AppName): AppProcess[];
  /** Every process instance the run started, also scaled-away ones (for crash counts). */
  allInstances(): AppProcess[];
  /**
   * Scales a consumer app to `count` instances: new ordinals are started (and awaited ready), the
   * highest ones stopped gracefully (SIGTERM), as a StatefulSet scales.
   */
  scale(app: ScalableApp, count: number): Promise<void>;
  /** The run's own database. */
  databaseUrl: string;
  sourceUrl: string;
  /** Starts every app (source first) and waits until each is ready. */
  start(): Promise<void>;
  /** Graceful stop of every app (in reverse order). */
  stop(): Promise<void>;
}

/**
 * Wires the five apps and the SSE source for one run with the run's unique names. Every instance gets
 * a stable identity (transactional id, static group membership: {@link instanceEnv}) so a restarted
 * process replaces its predecessor the way a StatefulSet pod does, and the consumers scale to N.
 */
export async function createPipeline(opts: PipelineOptions): Promise<Pipeline> {
  const { names } = opts;
  const t = names.topics;
  const databaseUrl = await createDatabase(opts.endpoints.databaseUrl, names.database);
  const twoStage = opts.aggregation === 'two-stage';
  const routesFile = writeRoutesFile(names, opts.workDir, twoStage ? { allKey: 'wiki:title' } : {});
  const ports = Object.fromEntries(await Promise.all(APP_NAMES.map(async (a) => [a, await freePort()] as const))) as Record<AppName, number>;
  const sourceUrl = `http://127.0.0.1:${ports['sse-source']}/v2/stream/recentchange`;
  const common: Record<string, string> = {
    ...opts.endpoints.kafkaEnv,
    KAFKA_BOOTSTRAP_SERVERS: opts.appBootstrap,
    SCHEMA_REGISTRY_URL: opts.endpoints.registryUrl,
    LOG_LEVEL: 'info',
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    KAFKA_CONNECT_ATTEMPTS: '20',
  };
  const envs: Partial<Record<AppName, Record<string, string>>> = {
    'sse-source': { LOG_LEVEL: 'warn' },
    producer: {
      ...common,
      SSE_URL: sourceUrl,
      OUTPUT_TOPIC: t.raw,
      DLQ_TOPIC: t.dlq,
      CHECKPOINT_TOPIC: t.checkpoints,
      CHECKPOINT_KEY: names.checkpointKey,
      SSE_IDLE_TIMEOUT_MS: '4000',
      SSE_RECONNECT_INITIAL_MS: '200',
      SSE_RECONNECT_MAX_MS: '2000',
      RESUME_MARGIN_MS: String(CHAOS_RESUME_MARGIN_MS),
    },
    'filter-router': {
      ...common,
      INPUT_TOPIC: t.raw,
      DLQ_TOPIC: t.dlq,
      ROUTES_FILE: routesFile,
      GROUP_ID: names.groups.router,
      RETRY_MAX_MS: '2000',
    },
    aggregator: {
      ...common,
      INPUT_TOPIC: t.routes.all,
      AGGREGATES_TOPIC: t.aggregates,
      ALERTS_TOPIC: t.alerts,
      LATE_TOPIC: t.late,
      DLQ_TOPIC: t.dlq,
      CHANGELOG_TOPIC: t.changelog,
      GROUP_ID: names.groups.aggregator,
      WINDOW_SIZE_MS: String(opts.aggregator.windowMs),
      ALLOWED_LATENESS_MS: String(opts.aggregator.latenessMs),
      IDLE_CLOSE_MS: String(opts.aggregator.idleCloseMs),
      ...(twoStage ? { AGGREGATION_MODE: 'two-stage', PARTIALS_TOPIC: names.topicsById.partials, MERGE_CHANGELOG_TOPIC: names.topicsById.mergeChangelog } : {}),
    },
    'dedup-persister': {
      ...common,
      DATABASE_URL: databaseUrl,
      CHANGES_TOPICS: t.routes.all,
      AGGREGATES_TOPICS: t.aggregates,
      ALERTS_TOPICS: t.alerts,
      DLQ_TOPIC: t.dlq,
      CONSUMER_GROUP: names.groups.persister,
      MIGRATIONS_DIR: join(REPO_ROOT, 'apps', 'dedup-persister', 'migrations'),
    },
    'lag-monitor': {
      ...common,
      GROUPS: [...Object.values(names.groups), ...(opts.enricher ? [names.enricherGroup] : [])].join(','),
      CYCLE_INTERVAL_MS: String(opts.lagMonitor.cycleMs),
      WINDOW_CYCLES: String(opts.lagMonitor.windowCycles),
      ALERTS_TOPIC: t.alerts,
      PROBE_TOPIC: t.probe,
      // The run's own leader lease and alert transactional id (every instance of the run shares them).
      LEASE_TOPIC: names.topicsById.lease,
      LEASE_GROUP_ID: `${names.prefix}-lag-monitor-leader`,
      ALERTS_TRANSACTIONAL_ID: `${names.prefix}-lag-monitor-alerts`,
      ...(opts.lagMonitor.webhookUrl ? { ALERT_WEBHOOK_URL: opts.lagMonitor.webhookUrl, ALERT_WEBHOOK_ATTEMPTS: '3' } : {}),
    },
  };
  if (opts.enricher) {
    envs['action-api-source'] = { LOG_LEVEL: 'warn' };
    envs.enricher = {
      ...common,
      INPUT_TOPIC: t.routes['human-content'],
      OUTPUT_TOPIC: names.topicsById.enriched,
      ERROR_TOPIC: names.topicsById.enrichErrors,
      DLQ_TOPIC: t.dlq,
      PARKED_TOPIC: names.topicsById.enricherParked,
      GROUP_ID: names.enricherGroup,
      API_URL: `http://127.0.0.1:${ports['action-api-source']}/{domain}/w/api.php`,
      USER_AGENT: 'WikiMonitor-chaos/1.0 (https://example.org/wikimonitor; chaos@example.org)',
      API_RATE_LIMIT: '200',
      API_CONCURRENCY_PER_WIKI: '4',
      API_READ_TIMEOUT_MS: '2000',
      RETRY_MAX_ATTEMPTS: '5',
      RETRY_INITIAL_MS: '500',
      RETRY_MAX_MS: '4000',
      RETRY_AFTER_MAX_MS: '2000',
      TICK_MS: '100',
    };
  }
  const apiArgs = ['--port', String(ports['action-api-source']), '--host', '127.0.0.1', '--data', join(REPO_ROOT, 'data', 'recordings'), ...(opts.enricher?.apiArgs ?? [])];
  const sourceArgs = ['--port', String(ports['sse-source']), '--host', '127.0.0.1', '--data', opts.data, '--keepalive-ms', '1000', ...opts.sourceArgs];
  const instance = (name: AppName, ordinal: number, httpPort: number) =>
    createAppProcess({
      name,
      label: ordinal === 0 ? names.prefix : `${names.prefix}-${ordinal}`,
      httpPort,
      env: { ...envs[name], ...instanceEnv(names.prefix, name, ordinal), ...(opts.extraEnv?.[name] ?? {}) },
      args: name === 'sse-source' ? sourceArgs : name === 'action-api-source' ? apiArgs : [],
      logDir: opts.logDir,
      log: opts.log,
    });
  const apps = {} as Pipeline['apps'];
  for (const name of Object.keys(envs) as AppName[]) apps[name] = instance(name, 0, ports[name]);
  // Ordinal -> process of every instance ever started; `active` holds the ordinals now in the run.
  const started = new Map<AppName, AppProcess[]>(Object.entries(apps).map(([a, p]) => [a as AppName, [p]]));
  const active = new Map<AppName, number>((Object.keys(apps) as AppName[]).map((a) => [a, 1]));

  const pipeline: Pipeline = {
    names,
    apps,
    instances: (app) => (started.get(app) ?? []).slice(0, active.get(app) ?? 0),
    allInstances: () => [...started.values()].flat(),
    async scale(app, count) {
      if (count < 1) throw new Error(`scale ${app} to ${count}: instance 0 stays`);
      const list = started.get(app) ?? [];
      const now = active.get(app) ?? 1;
      if (count > now) {
        for (let i = now; i < count; i++) list[i] ??= instance(app, i, await freePort());
        const added = list.slice(now, count);
        for (const p of added) p.start();
        active.set(app, count);
        await Promise.all(added.map((p) => p.waitReady('/readyz', 180_000)));
      } else if (count < now) {
        active.set(app, count);
        // Highest ordinals first, as a StatefulSet scales down.
        for (const p of list.slice(count, now).reverse()) await p.stop(INSTANCE_STOP_GRACE_MS);
      }
      started.set(app, list);
    },
    databaseUrl,
    sourceUrl,
    async start() {
      apps['sse-source'].start();
      await apps['sse-source'].waitReady('/readyz', 30_000);
      if (apps['action-api-source']) {
        apps['action-api-source'].start();
        await apps['action-api-source'].waitReady('/readyz', 60_000);
      }
      if (apps.enricher) {
        apps.enricher.start();
        await apps.enricher.waitReady('/readyz', 180_000);
      }
      // The consumers first, so the run's first events meet a ready pipeline; the producer last.
      for (const a of SCALABLE_APPS) apps[a].start();
      await Promise.all(SCALABLE_APPS.map((a) => apps[a].waitReady('/readyz', 180_000)));
      await Promise.all(SCALABLE_APPS.map((a) => pipeline.scale(a, opts.instances?.[a] ?? 1)));
      apps.producer.start();
      await apps.producer.waitReady('/healthz', 60_000);
    },
    async stop() {
      for (const a of ['producer', 'filter-router', 'aggregator', 'dedup-persister', 'lag-monitor', 'enricher', 'sse-source', 'action-api-source'] as AppName[]) {
        await Promise.all((started.get(a) ?? []).map((p) => p.stop(INSTANCE_STOP_GRACE_MS)));
      }
    },
  };
  return pipeline;
}
