import { hostname } from 'node:os';
import { z } from 'zod';
import { registryConfigShape } from '@wikimonitor/schemas';
import { baseConfigShape, env, parseConfig, serviceVersion } from '@wikimonitor/service-kit';
import { DEFAULT_TOPICS, TOPOLOGY, groupMembershipConfigShape, kafkaConfigShape } from '@wikimonitor/kafka';
import { MAX_REVIDS_PER_CALL } from '@wikimonitor/domain';
import { telemetryConfigShape } from '@wikimonitor/telemetry';

export const APP_NAME = 'enricher';
/** Wikimedia's Action API; `{domain}` is the change's meta.domain (en.wikipedia.org, www.wikidata.org, ...). */
export const DEFAULT_API_URL = 'https://{domain}/w/api.php';
/** Wikimedia's User-Agent policy asks for a name, a version and a way to reach the operator. */
export const DEFAULT_USER_AGENT = `WikiMonitor-enricher/${serviceVersion()} (https://github.com/wikimonitor/wikimonitor; set USER_AGENT to your contact) node/${process.versions.node}`;
/** The maxlag MediaWiki recommends for non-interactive clients. */
export const DEFAULT_MAXLAG_S = 5;
export const DEFAULT_CONCURRENCY_PER_WIKI = 2;
/** Overall Action API calls per second (each asks for up to 50 revisions). */
export const DEFAULT_RATE_LIMIT = 10;
export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_RETRY_INITIAL_MS = 1_000;
export const DEFAULT_RETRY_MAX_MS = 60_000;
export const DEFAULT_RETRY_AFTER_MAX_MS = 120_000;
/** How often parked pages are checked for a due retry. */
export const DEFAULT_TICK_MS = 250;
export const DEFAULT_BATCH_SIZE = 500;

export const configSchema = z.object({
  ...baseConfigShape,
  ...kafkaConfigShape,
  ...groupMembershipConfigShape,
  ...telemetryConfigShape,
  ...registryConfigShape,
  INPUT_TOPIC: env.string(DEFAULT_TOPICS.changesHumanContent),
  OUTPUT_TOPIC: env.string(DEFAULT_TOPICS.enriched),
  /** The error topic of the failure table (the dead-letter format). */
  ERROR_TOPIC: env.string(DEFAULT_TOPICS.enrichErrors),
  /** Invalid inputs (cannot be decoded, no revision). */
  DLQ_TOPIC: env.string(DEFAULT_TOPICS.dlq),
  /** Compacted changelog of the parked records (one record per page). */
  PARKED_TOPIC: env.string(DEFAULT_TOPICS.enricherParked),
  GROUP_ID: env.string(APP_NAME),
  /** Unique per running instance and stable across its restarts (fences its predecessor at once). */
  TRANSACTIONAL_ID: env.string(`${APP_NAME}-${hostname()}`),
  API_URL: env.string(DEFAULT_API_URL).refine((v) => v.includes('{domain}') && /^https?:\/\//.test(v), 'must be an http(s) URL with {domain}'),
  USER_AGENT: env.string(DEFAULT_USER_AGENT),
  API_MAXLAG_S: env.int(DEFAULT_MAXLAG_S, { min: 0 }),
  API_CONNECT_TIMEOUT_MS: env.int(3_000, { min: 1 }),
  API_READ_TIMEOUT_MS: env.int(10_000, { min: 1 }),
  API_CONCURRENCY_PER_WIKI: env.int(DEFAULT_CONCURRENCY_PER_WIKI, { min: 1, max: 64 }),
  API_RATE_LIMIT: env.number(DEFAULT_RATE_LIMIT, { min: 0.1 }),
  API_MAX_REVIDS: env.int(MAX_REVIDS_PER_CALL, { min: 1, max: MAX_REVIDS_PER_CALL }),
  /** API calls in all for a revision before a retriable failure goes to the error topic (2+: a batch failure leaves each revision a call of its own). */
  RETRY_MAX_ATTEMPTS: env.int(DEFAULT_MAX_ATTEMPTS, { min: 2, max: 100 }),
  RETRY_INITIAL_MS: env.int(DEFAULT_RETRY_INITIAL_MS, { min: 1 }),
  RETRY_MAX_MS: env.int(DEFAULT_RETRY_MAX_MS, { min: 1 }),
  RETRY_AFTER_MAX_MS: env.int(DEFAULT_RETRY_AFTER_MAX_MS, { min: 0 }),
  /** First bytes of the main slot's content kept in the enriched record (0 = none; the content is then not asked for). */
  CONTENT_PREFIX_BYTES: env.int(0, { min: 0, max: 65_536 }),
  TICK_MS: env.int(DEFAULT_TICK_MS, { min: 10 }),
  BATCH_SIZE: env.int(DEFAULT_BATCH_SIZE, { min: 1, max: 100_000 }),
  /** Backoff between attempts after an aborted transaction. */
  TXN_RETRY_INITIAL_MS: env.int(200, { min: 1 }),
  TXN_RETRY_MAX_MS: env.int(10_000, { min: 1 }),
  PROVISION_TOPICS: env.bool(true),
  TOPIC_PARTITIONS: env.int(TOPOLOGY.enriched.partitions, { min: 1 }),
  ERROR_TOPIC_PARTITIONS: env.int(TOPOLOGY.enrichErrors.partitions, { min: 1 }),
  DLQ_PARTITIONS: env.int(TOPOLOGY.dlq.partitions, { min: 1 }),
  TOPIC_REPLICATION_FACTOR: env.int(1, { min: 1 }),
});

export type AppConfig = z.output<typeof configSchema>;

export function loadConfig(source: Record<string, string | undefined>): AppConfig {
  return parseConfig(configSchema, source, { name: APP_NAME });
}
