import type { TopicSpec } from './admin';

/** The apps that write, read or create the pipeline's topics. */
export type TopologyApp = 'producer' | 'filter-router' | 'aggregator' | 'dedup-persister' | 'enricher' | 'lag-monitor' | 'ops-cli';

/** What a topic's record values are. */
export type TopicValue =
  | { readonly format: 'avro'; readonly record: string; readonly file: string }
  | { readonly format: 'json' | 'raw bytes'; readonly doc: string };

export interface TopicDeclaration {
  /** Default name; every app's configuration can override the names it uses. */
  readonly name: string;
  readonly partitions: number;
  /** Id of the topic this one is co-partitioned with (created with as many partitions as it has). */
  readonly partitionsOf?: string;
  readonly configs: Readonly<Record<string, string>>;
  /** How the record key is formed, e.g. `wiki:title` (wiki and page title), `wiki`. */
  readonly key: string;
  readonly value: TopicValue;
  readonly writers: readonly TopologyApp[];
  readonly readers: readonly TopologyApp[];
  /** Apps that create the topic when it is missing (PROVISION_TOPICS). */
  readonly provisionedBy: readonly TopologyApp[];
  /** The filter-router route (apps/filter-router/rules/default-rules.json) that writes it. */
  readonly route?: string;
  /** Why the settings are what they are, when not obvious (rendered into topics.txt). */
  readonly note?: string;
}

const WIKI_CHANGE = { format: 'avro', record: 'org.wikimonitor.v1.WikiChange', file: 'schemas/wiki-change.avsc' } as const;
const DLQ_RETENTION_MS = 14 * 86_400_000;

/** The settings every topic routed by the filter-router gets (its rules may name topics not declared here). */
export const ROUTE_TOPIC = {
  partitions: 6,
  configs: {},
  value: WIKI_CHANGE,
  writers: ['filter-router'],
  provisionedBy: ['filter-router'],
} as const satisfies Partial<TopicDeclaration>;

const route = <N extends string, R extends string>(name: N, routeName: R, key: string, readers: readonly TopologyApp[] = []) =>
  ({ ...ROUTE_TOPIC, name, route: routeName, key, readers }) as const;

/**
 * Every topic of the pipeline, declared once: apps provision from it (`topicSpecsFor`),
 * `DEFAULT_TOPICS` is derived from it and deploy/k8s/base/kafka/topics.txt is rendered from it
 * (`renderTopicsFile`). Order is the order of topics.txt.
 */
export const TOPOLOGY = {
  raw: {
    name: 'wiki.raw.changes',
    partitions: 6,
    configs: {},
    key: 'wiki:title',
    value: WIKI_CHANGE,
    writers: ['producer'],
    readers: ['filter-router'],
    provisionedBy: ['producer'],
  },
  bskyRaw: {
    name: 'bsky.raw.events',
    partitions: 6,
    configs: {},
    key: 'did',
    value: { format: 'avro', record: 'org.wikimonitor.v1.BlueskyEvent', file: 'schemas/bluesky-event.avsc' },
    writers: ['producer'],
    readers: ['filter-router'],
    provisionedBy: ['producer'],
  },
  checkpoints: {
    name: 'wiki.producer.checkpoints',
    partitions: 1,
    configs: { 'cleanup.policy': 'compact', 'segment.ms': '3600000' },
    key: 'CHECKPOINT_KEY (default the SSE URL)',
    value: { format: 'json', doc: 'source position v2: per-partition timestamps + recent meta.ids, in the transaction of the records it covers' },
    writers: ['producer'],
    readers: ['producer'],
    provisionedBy: ['producer'],
  },
  dlq: {
    name: 'wiki.dlq',
    partitions: 3,
    configs: { 'retention.ms': String(DLQ_RETENTION_MS) },
    key: 'the source key',
    value: { format: 'raw bytes', doc: 'the source value; error, position, attempts in dlq.* headers' },
    writers: ['producer', 'filter-router', 'aggregator', 'dedup-persister', 'enricher'],
    readers: ['lag-monitor'],
    provisionedBy: ['producer', 'filter-router', 'aggregator', 'dedup-persister', 'enricher'],
  },
  // The aggregator creates its input too: it sizes its changelog from the input's partitions.
  changesAll: { ...route('wiki.changes.all', 'all', 'wiki', ['aggregator', 'dedup-persister']), provisionedBy: ['filter-router', 'aggregator'] },
  // The enricher creates its input too: it sizes its parked-records changelog from the input's partitions.
  changesHumanContent: { ...route('wiki.changes.human-content', 'human-content', 'wiki:title', ['enricher']), provisionedBy: ['filter-router', 'enricher'] },
  changesNewPages: route('wiki.changes.new-pages', 'new-pages', 'wiki:title'),
  changesLog: route('wiki.changes.log', 'log', 'wiki'),
  changesBot: route('wiki.changes.bot', 'bot', 'wiki'),
  aggregates: {
    name: 'wiki.aggregates',
    partitions: 6,
    configs: {},
    key: 'wiki',
    value: { format: 'avro', record: 'org.wikimonitor.v1.WikiAggregate', file: 'schemas/wiki-aggregate.avsc' },
    writers: ['aggregator'],
    readers: ['dedup-persister'],
    provisionedBy: ['aggregator'],
  },
  alerts: {
    name: 'wiki.alerts',
    partitions: 3,
    configs: {},
    key: 'alert subject',
    value: { format: 'avro', record: 'org.wikimonitor.v1.WikiAlert', file: 'schemas/wiki-alert.avsc' },
    writers: ['aggregator', 'lag-monitor'],
    readers: ['dedup-persister'],
    provisionedBy: ['aggregator', 'lag-monitor'],
  },
  late: {
    name: 'wiki.changes.late',
    partitions: 3,
    configs: {},
    key: 'the source key',
    value: WIKI_CHANGE,
    writers: ['aggregator'],
    readers: [],
    provisionedBy: ['aggregator'],
  },
  changelog: {
    name: 'wiki.aggregator.changelog',
    partitions: 6,
    partitionsOf: 'changesAll',
    configs: { 'cleanup.policy': 'compact', 'segment.ms': '600000', 'min.cleanable.dirty.ratio': '0.1' },
    key: 'wiki',
    value: { format: 'json', doc: "a wiki's open windows" },
    writers: ['aggregator'],
    readers: ['aggregator'],
    provisionedBy: ['aggregator'],
    note: 'as many partitions as wiki.changes.all (a wiki state lives in its input partition number)',
  },
  enriched: {
    name: 'wiki.changes.enriched',
    partitions: 6,
    configs: {},
    key: 'wiki:title',
    value: { format: 'avro', record: 'org.wikimonitor.v1.WikiChangeEnriched', file: 'schemas/wiki-change-enriched.avsc' },
    writers: ['enricher'],
    readers: [],
    provisionedBy: ['enricher'],
  },
  enrichErrors: {
    name: 'wiki.changes.enriched.error',
    partitions: 3,
    configs: { 'retention.ms': String(DLQ_RETENTION_MS) },
    key: 'the source key',
    value: { format: 'raw bytes', doc: 'the source value; reason, HTTP status, attempts in dlq.* headers: the dead-letter format, replay-dlq replays it' },
    writers: ['enricher'],
    readers: [],
    provisionedBy: ['enricher'],
    note: 'the error topic of the Action API failure table (apps/enricher/README.md)',
  },
  enricherParked: {
    name: 'wiki.enricher.parked',
    partitions: 6,
    partitionsOf: 'changesHumanContent',
    configs: { 'cleanup.policy': 'compact', 'segment.ms': '600000', 'min.cleanable.dirty.ratio': '0.1' },
    key: 'wiki:title (the page)',
    value: { format: 'json', doc: "a page's records waiting for an API retry, oldest first (null: none)" },
    writers: ['enricher'],
    readers: ['enricher'],
    provisionedBy: ['enricher'],
    note: 'as many partitions as wiki.changes.human-content (a page parks in its input partition number)',
  },
  probe: {
    name: 'wiki.lag-monitor.probe',
    partitions: 3,
    configs: { 'retention.ms': '3600000' },
    key: 'instance id',
    value: { format: 'json', doc: 'sequence number, send time' },
    writers: ['lag-monitor'],
    readers: ['lag-monitor'],
    provisionedBy: ['lag-monitor'],
  },
  lease: {
    name: 'wiki.lag-monitor.lease',
    partitions: 1,
    configs: { 'retention.ms': '3600000' },
    key: '(none)',
    value: { format: 'raw bytes', doc: "nothing is written: the lag-monitor instances' leader lease is the assignment of its one partition in their lease group" },
    writers: [],
    readers: ['lag-monitor'],
    provisionedBy: ['lag-monitor'],
    note: 'one partition: its assignee is the one instance that publishes alerts',
  },
  dlqReplayed: {
    name: 'wiki.dlq.replayed',
    partitions: 1,
    configs: { 'cleanup.policy': 'compact', 'segment.ms': '3600000' },
    key: '<dlq topic>/<partition>/<offset>',
    value: { format: 'json', doc: 'at, topic, app of a replayed dead letter, in the transaction of its replay' },
    writers: ['ops-cli'],
    readers: ['ops-cli'],
    provisionedBy: ['ops-cli'],
    note: 'replay-dlq skips the dead letters marked here (exactly one replay each unless --force)',
  },
} as const satisfies Record<string, TopicDeclaration>;

export type TopicId = keyof typeof TOPOLOGY;

export const TOPIC_IDS = Object.keys(TOPOLOGY) as TopicId[];

/** Ids of the topics the filter-router's default rules (apps/filter-router/rules/default-rules.json) route to. */
export type RouteTopicId = { [K in TopicId]: (typeof TOPOLOGY)[K] extends { route: string } ? K : never }[TopicId];
export const ROUTE_TOPIC_IDS = TOPIC_IDS.filter((id): id is RouteTopicId => 'route' in TOPOLOGY[id]);

/** The filter-router's default route names ('all', 'bot', ...). */
export type RouteName = (typeof TOPOLOGY)[RouteTopicId]['route'];

/** Default topic names by id (each app's config can override its own). */
export const DEFAULT_TOPICS = Object.fromEntries(TOPIC_IDS.map((id) => [id, TOPOLOGY[id].name])) as { readonly [K in TopicId]: (typeof TOPOLOGY)[K]['name'] };

export interface TopicSpecOptions {
  replicationFactor: number;
  /** The names the app is configured with, by topic id (default: the declared names). */
  names?: Partial<Record<TopicId, string>>;
  /** Partition counts from the app's configuration (or, for a co-partitioned topic, its source's real count). */
  partitions?: Partial<Record<TopicId, number>>;
  /** Only these of the topics the app provisions (default: all of them). */
  only?: readonly TopicId[];
  /** filter-router only: the route topics of its rules, which replace the declared routes; each gets ROUTE_TOPIC's settings. */
  routes?: readonly string[];
  /** Partition count for `routes` (default ROUTE_TOPIC.partitions). */
  routePartitions?: number;
}

const spec = (topic: string, partitions: number, replicationFactor: number, configs: Readonly<Record<string, string>>): TopicSpec => ({
  topic,
  partitions,
  replicationFactor,
  ...(Object.keys(configs).length ? { configs: { ...configs } } : {}),
});

/** One declared topic as `ensureTopics` takes it, under the given name and partition counts. */
export function topicSpec(id: TopicId, opts: Pick<TopicSpecOptions, 'replicationFactor' | 'names' | 'partitions'>): TopicSpec {
  const partitionsOf = (of: TopicId): number => {
    const t: TopicDeclaration = TOPOLOGY[of];
    return opts.partitions?.[of] ?? (t.partitionsOf ? partitionsOf(t.partitionsOf as TopicId) : t.partitions);
  };
  return spec(opts.names?.[id] ?? TOPOLOGY[id].name, partitionsOf(id), opts.replicationFactor, TOPOLOGY[id].configs);
}

/** The topics `app` creates when they are missing, with their declared settings, for `ensureTopics`. */
export function topicSpecsFor(app: TopologyApp, opts: TopicSpecOptions): TopicSpec[] {
  const ids = TOPIC_IDS.filter((id) => (TOPOLOGY[id].provisionedBy as readonly TopologyApp[]).includes(app) && (!opts.only || opts.only.includes(id)));
  const routes = opts.routes && (ROUTE_TOPIC.provisionedBy as readonly TopologyApp[]).includes(app) ? opts.routes : undefined;
  const specs = ids.filter((id) => !(routes && 'route' in TOPOLOGY[id])).map((id) => topicSpec(id, opts));
  for (const topic of new Set(routes)) specs.push(spec(topic, opts.routePartitions ?? ROUTE_TOPIC.partitions, opts.replicationFactor, ROUTE_TOPIC.configs));
  return specs;
}

const SECTIONS: ReadonlyArray<{ title: string; ids: (id: TopicId) => boolean }> = [
  { title: 'producer', ids: (id) => TOPOLOGY[id].writers[0] === 'producer' },
  { title: 'filter-router routes (apps/filter-router/rules/default-rules.json)', ids: (id) => 'route' in TOPOLOGY[id] },
  { title: 'aggregator', ids: (id) => TOPOLOGY[id].writers[0] === 'aggregator' },
  { title: 'enricher', ids: (id) => TOPOLOGY[id].writers[0] === 'enricher' },
  { title: 'lag-monitor', ids: (id) => TOPOLOGY[id].provisionedBy[0] === 'lag-monitor' },
  { title: 'ops-cli (tools/ops replay-dlq)', ids: (id) => TOPOLOGY[id].writers[0] === 'ops-cli' },
];

function describeValue(v: TopicValue): string {
  return v.format === 'avro' ? `Avro ${v.record.split('.').pop() ?? v.record}` : `${v.format} (${v.doc})`;
}

/**
 * deploy/k8s/base/kafka/topics.txt as rendered from TOPOLOGY: one topic a line (name, partitions,
 * then topic configs), each after a comment with its key, value and apps.
 */
export function renderTopicsFile(): string {
  const lines = [
    '# GENERATED from libs/kafka/src/topology.ts; do not edit. Regenerate with',
    '#   TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx deploy/tools/render-topics.ts > deploy/k8s/base/kafka/topics.txt',
    '# (deploy/tests/topology.spec.ts fails when this file and the rendering differ).',
    '#',
    '# Topics of the WikiMonitor pipeline, created by create-topics.sh (the kafka-topics Job in Kubernetes,',
    "# the kafka-init service in docker-compose). One topic a line: name, partitions, then topic configs.",
    "# Partition counts bound the consumer apps' autoscaling (ScaledObject maxReplicaCount <= partitions of their input);",
    '# the deploy project\'s tests check that, and that every topic an app is configured with is listed here.',
    '# The apps create missing topics themselves too (PROVISION_TOPICS, same settings): whoever comes first wins.',
  ];
  const width = Math.max(...TOPIC_IDS.map((id) => TOPOLOGY[id].name.length)) + 2;
  const placed = new Set<TopicId>();
  for (const section of SECTIONS) {
    const ids = TOPIC_IDS.filter((id) => !placed.has(id) && section.ids(id));
    if (!ids.length) continue;
    lines.push('', `# ${section.title}`);
    for (const id of ids) {
      placed.add(id);
      const t: TopicDeclaration = TOPOLOGY[id];
      const readers = t.readers.length ? t.readers.join(', ') : '(no pipeline app)';
      const writers = t.writers.length ? t.writers.join(', ') : '(no writer)';
      lines.push(`# ${t.name}: key ${t.key}, value ${describeValue(t.value)}; ${writers} -> ${readers}${t.note ? `; ${t.note}` : ''}`);
      const configs = Object.entries(t.configs).map(([k, v]) => `${k}=${v}`);
      lines.push(`${t.name.padEnd(width)} ${String(t.partitions).padEnd(2)}${configs.length ? ` ${configs.join(' ')}` : ''}`.trimEnd());
    }
  }
  const left = TOPIC_IDS.filter((id) => !placed.has(id));
  if (left.length) throw new Error(`topology: no topics.txt section for ${left.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
