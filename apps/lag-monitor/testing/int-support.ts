// Helpers shared by lag-monitor's integration tests and its benchmark (test-only: outside src/,
// never bundled). They take the connection and recorded events as arguments, so they need no test lib.
import { type WikiChange, WikiChangeSchema } from '@wikimonitor/contracts';
import { type GroupDetailView, changeKey, normalizeRecentChange } from '@wikimonitor/domain';
import { type KafkaConnection, type KafkaProducer, commitGroupOffsets, createConsumerRunner, createGroupAdmin, createProducer, provisionTopics } from '@wikimonitor/kafka';
import { type AvroCodec, createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger, sleep, type Logger } from '@wikimonitor/service-kit';
import { type AppConfig, loadConfig } from '../src/config';

/** The parts of a recorded event the helpers need (libs/testing's RecordedEvent fits). */
export interface RecordedLike {
  json: unknown;
}

export async function createTopics(conn: KafkaConnection, topics: string[], partitions: number): Promise<void> {
  await provisionTopics(conn, topics.map((topic) => ({ topic, partitions, replicationFactor: 1 })));
}

/** Recorded events as WikiChange records (real data, normalized as the producer does). */
export function toChanges(events: RecordedLike[], receivedTime = Date.now()): WikiChange[] {
  const out: WikiChange[] = [];
  for (const e of events) {
    const r = normalizeRecentChange(e.json, { receivedTime, sseId: null });
    if (r.kind === 'change') out.push(r.change);
  }
  return out;
}

export async function changeCodec(registryUrl: string, topic: string, log?: Logger): Promise<AvroCodec<WikiChange>> {
  const codec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: registryUrl }), topic, schema: WikiChangeSchema, log });
  await codec.init();
  return codec;
}

export interface Produced {
  partition: number;
  offset: number;
  timestamp: number;
}

/**
 * Produces WikiChange records keyed like the producer (`wiki:title`); `timestamp(i)` sets each
 * record's timestamp (default: now). Returns where each record landed and with which timestamp.
 */
export async function produceChanges(
  producer: KafkaProducer,
  codec: AvroCodec<WikiChange>,
  topic: string,
  changes: WikiChange[],
  timestamp: (i: number, c: WikiChange) => number = () => Date.now(),
  partition?: number,
): Promise<Produced[]> {
  return Promise.all(
    changes.map(async (c, i) => {
      const ts = timestamp(i, c);
      const d = await producer.send({ topic, key: changeKey(c), value: codec.encode(c), timestamp: ts, partition });
      return { partition: d.partition, offset: d.offset, timestamp: ts };
    }),
  );
}

export interface Feed {
  stop(): Promise<void>;
  produced(): number;
}

/** Keeps producing recorded changes at about `perSecond` until stopped (input for slow and stopped consumers). */
export function startFeed(producer: KafkaProducer, codec: AvroCodec<WikiChange>, topic: string, changes: WikiChange[], perSecond: number): Feed {
  let running = true;
  let n = 0;
  const tickMs = 100;
  const perTick = Math.max(1, Math.round((perSecond * tickMs) / 1000));
  const loop = (async () => {
    while (running) {
      const batch = Array.from({ length: perTick }, () => changes[n++ % changes.length] as WikiChange);
      await produceChanges(producer, codec, topic, batch);
      await sleep(tickMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
    produced: () => n,
  };
}

export function newProducer(conn: KafkaConnection, log: Logger, transactionalId?: string): KafkaProducer {
  return createProducer({ connection: conn, log, transactionalId, overrides: { 'linger.ms': 5 } });
}

/**
 * Commits `offset` (clamped to each partition's retained range; 'earliest' = log start) for every
 * partition of `topic` as group `groupId` (which must have no active members): a group that read
 * that far and stopped.
 */
export async function setGroupOffsets(conn: KafkaConnection, groupId: string, topic: string, offset: number | 'earliest'): Promise<void> {
  const admin = await createGroupAdmin({ connection: conn, timeoutMs: 10_000, isolation: 'read_uncommitted' });
  try {
    const ids = (await admin.fetchPartitions([topic])).get(topic) ?? [];
    const marks = await admin.fetchWatermarks(ids.map((partition) => ({ topic, partition })));
    await commitGroupOffsets(
      conn,
      groupId,
      marks.map((w) => ({ topic, partition: w.partition, offset: offset === 'earliest' ? w.low : Math.min(Math.max(offset, w.low), w.high) })),
    );
  } finally {
    await admin.close();
  }
}

/**
 * A real group member that keeps committing the same offset while it polls (a consumer stuck on
 * a record it re-reads and never gets past, committing its position each time).
 */
export function startStuckConsumer(conn: KafkaConnection, groupId: string, topic: string, offset: number): { stop(): Promise<void>; commits(): number } {
  let running = true;
  let commits = 0;
  const runner = createConsumerRunner({
    connection: conn,
    log: createLogger('stuck-consumer', 'silent'),
    groupId,
    topics: [topic],
    offsets: 'external',
    fromBeginning: true,
    overrides: { 'session.timeout.ms': 10_000 },
    handle: async () => undefined,
  });
  const loop = (async () => {
    await runner.start();
    while (running) {
      if (runner.assignments().length) {
        await new Promise<void>((resolve) => (runner.consumer as unknown as { commitCb(o: Array<{ topic: string; partition: number; offset: number }>, cb: () => void): void }).commitCb([{ topic, partition: 0, offset }], () => resolve()));
        commits++;
      }
      await sleep(200);
    }
    await runner.close();
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
    commits: () => commits,
  };
}

/**
 * The leader lease and alert transactional id of a test's monitor(s): its own, so monitors of other
 * tests on the shared stack never fence it or take its lease. The lease group's name is outside the
 * `^<prefix>` the monitor watches (it would list its own lease group), and contains the prefix, so
 * the run's cleanup deletes it.
 */
export function testLeaseSettings(prefix: string): Record<string, string> {
  return { LEASE_TOPIC: `${prefix}.lease`, LEASE_GROUP_ID: `lm-lease.${prefix}`, ALERTS_TRANSACTIONAL_ID: `lm-alerts.${prefix}` };
}

/** Monitor settings for tests: fast cycles, short window, only the test's groups, nothing else on. */
export function testMonitorConfig(conn: KafkaConnection, registryUrl: string, groupPrefix: string, extra: Record<string, string> = {}): AppConfig {
  return loadConfig({
    HTTP_PORT: '0',
    KAFKA_BOOTSTRAP_SERVERS: conn.bootstrapServers,
    SCHEMA_REGISTRY_URL: registryUrl,
    ...testLeaseSettings(groupPrefix),
    GROUP_ALLOW: `^${groupPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`,
    CYCLE_INTERVAL_MS: '500',
    WINDOW_CYCLES: '6',
    PROBE_ENABLED: 'false',
    ALERTS_ENABLED: 'false',
    LOG_LEVEL: 'silent',
    ...extra,
  });
}

export async function fetchGroup(base: string, id: string): Promise<GroupDetailView | undefined> {
  const res = await fetch(`${base}/api/groups/${encodeURIComponent(id)}`);
  return res.ok ? ((await res.json()) as GroupDetailView) : undefined;
}

/** Debian's chromium package (a test tool's own browser download does not work here) and its headless flags, for the dashboard tests. */
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
