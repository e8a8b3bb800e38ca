import type { WikiAggregate, WikiChange } from '@wikimonitor/contracts';

/**
 * One window's aggregate from its counted changes, computed from the README's field definitions
 * without the aggregator's reducers: the integration tests' recounts (per-wiki and two-stage) share it.
 */
export function summarizeWindow(wiki: string, start: number, sizeMs: number, list: ReadonlyArray<Pick<WikiChange, 'event_time' | 'type' | 'bot' | 'user' | 'title' | 'length_old' | 'length_new'>>, topPages: number): WikiAggregate {
  const deltas = list.map((c) => (c.length_new ?? 0) - (c.length_old ?? 0));
  const pageCounts = new Map<string, number>();
  for (const c of list) pageCounts.set(c.title, (pageCounts.get(c.title) ?? 0) + 1);
  const count = (type: string) => list.filter((c) => c.type === type).length;
  return {
    wiki,
    window_start: start,
    window_end: start + sizeMs,
    total: list.length,
    by_type: { edit: count('edit'), new: count('new'), log: count('log'), categorize: count('categorize'), external: count('external'), unknown: count('unknown') },
    bot: list.filter((c) => c.bot).length,
    human: list.filter((c) => !c.bot).length,
    bytes_added: deltas.filter((d) => d > 0).reduce((a, b) => a + b, 0),
    bytes_removed: deltas.filter((d) => d < 0).reduce((a, b) => a - b, 0),
    distinct_editors: new Set(list.map((c) => c.user)).size,
    top_pages: [...pageCounts]
      .map(([title, n]) => ({ title, count: n }))
      .sort((a, b) => (a.count !== b.count ? b.count - a.count : a.title < b.title ? -1 : a.title > b.title ? 1 : 0))
      .slice(0, topPages),
    first_event_time: Math.min(...list.map((c) => c.event_time)),
    last_event_time: Math.max(...list.map((c) => c.event_time)),
  };
}

/** The topics and group of one test's aggregator (unique per test). */
export interface AggregatorTestTopics {
  input: string;
  aggregates: string;
  alerts: string;
  late: string;
  dlq: string;
  changelog: string;
  group: string;
}

/** The broker, registry, topics and group settings of a test's aggregator (HTTP on a free port). */
export function topicEnv(env: { bootstrapServers: string; registryUrl: string }, t: AggregatorTestTopics): Record<string, string> {
  return {
    KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers,
    SCHEMA_REGISTRY_URL: env.registryUrl,
    INPUT_TOPIC: t.input,
    AGGREGATES_TOPIC: t.aggregates,
    ALERTS_TOPIC: t.alerts,
    LATE_TOPIC: t.late,
    DLQ_TOPIC: t.dlq,
    CHANGELOG_TOPIC: t.changelog,
    GROUP_ID: t.group,
    HTTP_PORT: '0',
  };
}
