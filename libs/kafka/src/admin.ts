import { KafkaJS } from '@confluentinc/kafka-javascript';
import { type Logger, WikiMonitorError, retry, sleep } from '@wikimonitor/service-kit';
import { type KafkaConnection, rdkafkaSecurityConfig } from './config';
import { checkBrokerAccess } from './connect';

export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  configs?: Record<string, string>;
}

export type KafkaAdmin = KafkaJS.Admin;

/**
 * Promise-based admin client (the KafkaJS-compatible API is fine off the hot path), with the
 * connection's security settings. Its own connect never talks to the broker, so a one-off check
 * does first ({@link checkBrokerAccess}): an unreachable broker is retried, refused credentials or
 * certificates fail at once with librdkafka's reason.
 */
export async function createAdmin(conn: KafkaConnection, log?: Logger): Promise<KafkaAdmin> {
  await checkBrokerAccess({ ...conn, clientId: `${conn.clientId}-admin` }, log, 'admin');
  // The kafkaJS block takes only brokers, client id and log level here; TLS and SASL (which it models
  // as ssl: true and sasl: {...} without CA, certificate or OAUTHBEARER/OIDC) are librdkafka properties.
  const kafka = new KafkaJS.Kafka({
    ...rdkafkaSecurityConfig(conn),
    kafkaJS: { brokers: conn.bootstrapServers.split(','), clientId: `${conn.clientId}-admin`, logLevel: KafkaJS.logLevel.NOTHING },
  });
  return retry(
    async () => {
      // A failed connect leaves the client unusable ("connect has already been called"): use a fresh one.
      const admin = kafka.admin();
      try {
        await admin.connect();
        return admin;
      } catch (err) {
        throw new WikiMonitorError('DEPENDENCY_UNAVAILABLE', `Kafka admin at ${conn.bootstrapServers} unreachable: ${(err as Error).message}`, { retriable: true, cause: err });
      }
    },
    {
      attempts: conn.connectAttempts,
      initialMs: 500,
      maxMs: 10_000,
      onRetry: (err, attempt, delay) => log?.warn({ attempt, delay, err: (err as Error).message }, 'Kafka admin not reachable yet, retrying'),
    },
  );
}

/** How long a just-created topic may take to show up in every broker's metadata with leaders. */
const TOPIC_VISIBLE_TIMEOUT_MS = 30_000;

/**
 * Waits until the broker's metadata shows each created topic with all its partitions led: a create
 * returns before that, and a client that fetches metadata or produces at once (an app's start-up)
 * would otherwise fail with "Unknown topic or partition".
 */
async function waitForTopics(admin: KafkaAdmin, specs: TopicSpec[]): Promise<void> {
  const deadline = Date.now() + TOPIC_VISIBLE_TIMEOUT_MS;
  let last: string;
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
      const pending = specs.filter((s) => {
        const t = meta.find((m) => m.name === s.topic);
        return !t || t.partitions.length < s.partitions || t.partitions.some((p) => p.leader < 0);
      });
      if (!pending.length) return;
      last = `not yet visible: ${pending.map((s) => s.topic).join(', ')}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new WikiMonitorError('KAFKA_ADMIN_FAILED', `created topics did not become visible within ${TOPIC_VISIBLE_TIMEOUT_MS / 1000} s (${last})`, { retriable: true });
    await sleep(200);
  }
}

export interface ProvisionResult {
  created: string[];
  existing: string[];
}

/**
 * Creates missing topics; verifies existing ones have at least the wanted partitions (a topic with
 * fewer would silently cap parallelism and break key placement assumptions, so it is an error).
 */
export async function ensureTopics(admin: KafkaAdmin, specs: TopicSpec[], log?: Logger): Promise<ProvisionResult> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length) {
    try {
      await admin.createTopics({
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.partitions,
          replicationFactor: s.replicationFactor,
          configEntries: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    } catch (err) {
      // Another instance may have created it concurrently; verification below decides.
      if (!/already exists/i.test((err as Error).message)) {
        throw new WikiMonitorError('KAFKA_ADMIN_FAILED', `creating topics failed: ${(err as Error).message}`, { cause: err, retriable: true });
      }
    }
  }
  if (missing.length) await waitForTopics(admin, missing);
  const present = specs.filter((s) => existing.has(s.topic));
  if (present.length) {
    // Listed is not yet led: another instance may have created them a moment ago.
    await waitForTopics(admin, present.map((s) => ({ ...s, partitions: 1 })));
    const meta = await admin.fetchTopicMetadata({ topics: present.map((s) => s.topic) });
    for (const t of meta) {
      const spec = present.find((s) => s.topic === t.name);
      if (spec && t.partitions.length < spec.partitions) {
        throw new WikiMonitorError('TOPIC_MISMATCH', `topic ${t.name} has ${t.partitions.length} partitions, expected at least ${spec.partitions}`);
      }
    }
  }
  log?.info({ created: missing.map((s) => s.topic), existing: present.map((s) => s.topic) }, 'topics provisioned');
  return { created: missing.map((s) => s.topic), existing: present.map((s) => s.topic) };
}

/** Runs `fn` with a connected admin client and always disconnects it afterwards. */
export async function withAdmin<T>(conn: KafkaConnection, log: Logger | undefined, fn: (admin: KafkaAdmin) => Promise<T>): Promise<T> {
  const admin = await createAdmin(conn, log);
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates the missing topics of `specs` (and verifies the existing ones) with a short-lived admin client. */
export function provisionTopics(conn: KafkaConnection, specs: TopicSpec[], log?: Logger): Promise<ProvisionResult> {
  return withAdmin(conn, log, (admin) => ensureTopics(admin, specs, log));
}
