import avro from 'avsc';
import { type BlueskyEvent, BlueskyEventSchema } from '@wikimonitor/contracts';
import { blueskyAggregatable, normalizeJetstreamEvent } from '@wikimonitor/domain';
import { type AppProcess, REPO_ROOT, createAppProcess, freePort, readTopic, uniqueName } from '@wikimonitor/testing';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { type TopicCopies, checkAggregates, countTopicCopies, windowKey } from './checks';
import { CHAOS_AGGREGATOR, type ChaosOptions, type ScenarioResult, emptyResult, scenarioRandom } from './chaos';
import { readAggregates, readDeadLetters } from './verify';
import { connection, createDatabase, deleteTopics, dropDatabase } from './pipeline';
import type { Scenario, ScenarioContext } from './scenarios';
import { scenarioClock, sleep, waitUntil } from './clock';

/** Recorded Jetstream lines (data/recordings/bluesky-jetstream): the stand-in loops them to reach the run's event count. */
export const BLUESKY_RECORDED_LINES = 186;
/** The stand-in keeps the recordings' time_us disorder clipped to this; the producer's margin is above it. */
export const BLUESKY_DISORDER_MS = 1_000;
export const BLUESKY_RESUME_MARGIN_MS = 2_000;
/** A malformed frame (bad JSON, unknown kind) after every this many events: the dead-letter path runs in every scenario. */
export const BLUESKY_MALFORMED_EVERY = 97;

/** What a Bluesky scenario's faults can do: the Wikimedia scenarios' clock and log, and faults of its own. */
export type BlueskyContext = Pick<ScenarioContext, 'rng' | 'inputMs' | 'elapsed' | 'at' | 'sleep' | 'note'> & {
  /** kill -9 of the Jetstream producer, restarted after `restartAfterMs`. */
  killProducer(restartAfterMs: number): Promise<void>;
  /** The stand-in's HTTP control: terminate every connection, or stop sending for `ms`. */
  dropConnections(): Promise<void>;
  stall(ms: number): Promise<void>;
};

export interface BlueskyPlan {
  /** Extra jetstream-source flags (per-connection faults). */
  sourceArgs?: string[];
  /** Fewest connections the stand-in must have served (the faults really cut them). */
  minConnections?: number;
  run(ctx: BlueskyContext): Promise<void>;
}

const eventType = avro.Type.forSchema(BlueskyEventSchema as unknown as avro.Schema);
/** Every record of the Bluesky raw topic (read_committed): id, did and key. */
async function readBluesky(target: ChaosOptions['stack'], topic: string): Promise<{ records: Array<{ id: string; did: string; key: string; at: string; timeUs: number }>; undecodable: number }> {
  const messages = await readTopic(connection(target), topic, 'read_committed');
  const records: Array<{ id: string; did: string; key: string; at: string; timeUs: number }> = [];
  let undecodable = 0;
  for (const m of messages) {
    const v = m.value;
    try {
      if (!v || v[0] !== 0) throw new Error('not Confluent framing');
      const e = eventType.fromBuffer(v.subarray(5)) as BlueskyEvent;
      records.push({ id: e.id, did: e.did, key: m.key?.toString() ?? '', at: `${m.partition}@${m.offset}`, timeUs: e.time_us });
    } catch {
      undecodable++;
    }
  }
  return { records, undecodable };
}

/** The Bluesky stream's downstream topics of one run (bluesky-rules.json's routes under the run's prefix). */
function downstreamTopics(prefix: string) {
  const rules = JSON.parse(readFileSync(join(REPO_ROOT, 'apps', 'filter-router', 'rules', 'bluesky-rules.json'), 'utf8')) as { routes: Array<{ name: string; topic: string }> };
  const routes = Object.fromEntries(rules.routes.map((r) => [r.name, `${prefix}.${r.topic}`])) as Record<string, string>;
  return { rules, routes, aggregates: `${prefix}.bsky.aggregates`, alerts: `${prefix}.bsky.alerts`, late: `${prefix}.bsky.events.late`, changelog: `${prefix}.bsky.aggregator.changelog` };
}

/** Rows of bsky_events per id (the persister's table: its key is the id, so the count per id shows nothing; the id set and the row count do). */
async function storedBlueskyIds(databaseUrl: string): Promise<{ ids: string[]; rows: number }> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const r = await c.query<{ id: string }>('SELECT id FROM bsky_events');
    return { ids: r.rows.map((x) => x.id), rows: r.rowCount ?? 0 };
  } finally {
    await c.end();
  }
}

/** Every record of a Bluesky topic (read_committed) in log order, partition by partition. */
async function readBlueskyEvents(target: ChaosOptions['stack'], topic: string): Promise<{ events: BlueskyEvent[]; undecodable: number }> {
  const messages = await readTopic(connection(target), topic, 'read_committed');
  messages.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const events: BlueskyEvent[] = [];
  let undecodable = 0;
  for (const m of messages) {
    try {
      if (!m.value || m.value[0] !== 0) throw new Error('not Confluent framing');
      events.push(eventType.fromBuffer(m.value.subarray(5)) as BlueskyEvent);
    } catch {
      undecodable++;
    }
  }
  return { events, undecodable };
}

/**
 * A Bluesky scenario: the Jetstream stand-in, the producer with SOURCE=jetstream and the downstream apps
 * with STREAM=bluesky (real OS processes from dist/) on the run's broker, the scenario's faults, then the
 * exact checks: bsky.raw.events holds every distinct event of the stand-in's log exactly once
 * (read_committed, keyed by did), the DLQ exactly the malformed frames once each, and downstream
 * (checkDownstream) every routed topic, bsky_events and the windows against the recount.
 */
export async function runBlueskyScenario(scenario: Scenario & { bluesky: BlueskyPlan }, opts: ChaosOptions): Promise<ScenarioResult> {
  const started = Date.now();
  const log = (msg: string) => opts.log(`${scenario.name}: ${msg}`);
  const prefix = uniqueName(`chaos-${scenario.name}`);
  const topics = { raw: `${prefix}.bsky.raw.events`, dlq: `${prefix}.dlq`, checkpoints: `${prefix}.checkpoints` };
  const passes = Math.max(1, Math.ceil(opts.events / BLUESKY_RECORDED_LINES));
  const result = emptyResult(scenario, { alert: { expected: false, raised: false, detail: 'not checked (no lag-monitor in the Bluesky scenarios)' } });
  const { actions, failures } = result;
  const rng = scenarioRandom(opts.seed, scenario.name);
  const logDir = join(opts.workDir, 'logs');
  const sourcePort = await freePort();
  const source: AppProcess = createAppProcess({
    name: 'jetstream-source',
    label: prefix,
    httpPort: sourcePort,
    env: { LOG_LEVEL: 'warn' },
    args: ['--port', String(sourcePort), '--host', '127.0.0.1', '--rate', String(opts.rate), '--loop-count', String(passes), '--max-disorder-ms', String(BLUESKY_DISORDER_MS), '--malformed-every', String(BLUESKY_MALFORMED_EVERY), ...(scenario.bluesky.sourceArgs ?? [])],
    logDir,
    log,
  });
  const producerPort = await freePort();
  const producer: AppProcess = createAppProcess({
    name: 'producer',
    label: prefix,
    httpPort: producerPort,
    env: {
      ...opts.stack.kafkaEnv,
      KAFKA_BOOTSTRAP_SERVERS: opts.stack.bootstrapServers,
      SCHEMA_REGISTRY_URL: opts.stack.registryUrl,
      HTTP_PORT: String(producerPort),
      LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      KAFKA_CONNECT_ATTEMPTS: '20',
      SOURCE: 'jetstream',
      JETSTREAM_URL: `ws://127.0.0.1:${sourcePort}/subscribe`,
      BSKY_OUTPUT_TOPIC: topics.raw,
      DLQ_TOPIC: topics.dlq,
      CHECKPOINT_TOPIC: topics.checkpoints,
      CHECKPOINT_KEY: `${prefix}-jetstream`,
      RESUME_MARGIN_MS: String(BLUESKY_RESUME_MARGIN_MS),
      JETSTREAM_IDLE_TIMEOUT_MS: '4000',
      JETSTREAM_PING_INTERVAL_MS: '2000',
      SSE_RECONNECT_INITIAL_MS: '200',
      SSE_RECONNECT_MAX_MS: '2000',
    },
    logDir,
    log,
  });
  // The downstream Bluesky apps, as the pipeline runs them: filter-router and aggregator with
  // STREAM=bluesky, the persister storing bsky_events (BLUESKY_TOPICS), on the run's own topics and database.
  const down = downstreamTopics(prefix);
  const rulesFile = join(opts.workDir, `${prefix}-bluesky-rules.json`);
  writeFileSync(rulesFile, JSON.stringify({ ...down.rules, routes: down.rules.routes.map((r) => ({ ...r, topic: down.routes[r.name] })) }, null, 2));
  const database = prefix.replace(/[^a-z0-9]/gi, '_').toLowerCase();
  const databaseUrl = await createDatabase(opts.stack.databaseUrl, database);
  const kafkaEnv = { ...opts.stack.kafkaEnv, KAFKA_BOOTSTRAP_SERVERS: opts.stack.bootstrapServers, SCHEMA_REGISTRY_URL: opts.stack.registryUrl, LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_ENDPOINT: '', KAFKA_CONNECT_ATTEMPTS: '20' };
  const downstreamApp = async (name: 'filter-router' | 'aggregator' | 'dedup-persister', env: Record<string, string>) => {
    const port = await freePort();
    return createAppProcess({ name, label: prefix, httpPort: port, env: { ...kafkaEnv, HTTP_PORT: String(port), ...env }, logDir, log });
  };
  const router = await downstreamApp('filter-router', { STREAM: 'bluesky', INPUT_TOPIC: topics.raw, ROUTES_FILE: rulesFile, DLQ_TOPIC: topics.dlq, GROUP_ID: `${prefix}-filter-router-bsky`, TRANSACTIONAL_ID: `${prefix}-filter-router-bsky-0`, GROUP_INSTANCE_ID: `${prefix}-filter-router-bsky-0`, CONSUMER_SESSION_TIMEOUT_MS: '10000' });
  const aggregator = await downstreamApp('aggregator', {
    STREAM: 'bluesky',
    INPUT_TOPIC: down.routes['all'] as string,
    AGGREGATES_TOPIC: down.aggregates,
    ALERTS_TOPIC: down.alerts,
    LATE_TOPIC: down.late,
    CHANGELOG_TOPIC: down.changelog,
    DLQ_TOPIC: topics.dlq,
    GROUP_ID: `${prefix}-aggregator-bsky`,
    TRANSACTIONAL_ID: `${prefix}-aggregator-bsky-0`,
    GROUP_INSTANCE_ID: `${prefix}-aggregator-bsky-0`,
    CONSUMER_SESSION_TIMEOUT_MS: '10000',
    WINDOW_SIZE_MS: String(CHAOS_AGGREGATOR.windowMs),
    ALLOWED_LATENESS_MS: String(CHAOS_AGGREGATOR.latenessMs),
    IDLE_CLOSE_MS: String(CHAOS_AGGREGATOR.idleCloseMs),
    TOP_PAGES: String(CHAOS_AGGREGATOR.topPages),
  });
  const persister = await downstreamApp('dedup-persister', {
    DATABASE_URL: databaseUrl,
    CHANGES_TOPICS: '',
    AGGREGATES_TOPICS: '',
    ALERTS_TOPICS: '',
    BLUESKY_TOPICS: down.routes['all'] as string,
    DLQ_TOPIC: topics.dlq,
    CONSUMER_GROUP: `${prefix}-dedup-persister`,
    MIGRATIONS_DIR: join(REPO_ROOT, 'apps', 'dedup-persister', 'migrations'),
  });
  const downstream = [router, aggregator, persister];
  const control = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${sourcePort}${path}`, { method: 'POST', signal: AbortSignal.timeout(5000) });
    return (await res.json()) as Record<string, unknown>;
  };
  const stats = async () => (await (await fetch(`http://127.0.0.1:${sourcePort}/stats`, { signal: AbortSignal.timeout(5000) })).json()) as { logged: number; emitted: number; total: number; complete: boolean; connectionsTotal: number; drops: number; stalls: number };
  /** Waits for the downstream apps to hold every expected event, then compares exactly (sets result.* and failures). */
  const expectedIds = new Set<string>();
  const checkDownstream = async () => {
    const inDb = await waitUntil(opts.recoveryTimeoutMs ?? 240_000, async () => {
      const { ids } = await storedBlueskyIds(databaseUrl);
      const have = new Set(ids);
      return [...expectedIds].every((id) => have.has(id)) && Date.now();
    }, 2_000);
    if (!inDb) failures.push(`bsky_events did not hold every expected id within ${(opts.recoveryTimeoutMs ?? 240_000) / 1000} s`);
    await sleep(3_000); // the aggregator's last transactions
    const stored = await storedBlueskyIds(databaseUrl);
    const storedSet = new Set(stored.ids);
    const missingRows = [...expectedIds].filter((id) => !storedSet.has(id)).length;
    const unexpectedRows = stored.ids.filter((id) => !expectedIds.has(id)).length;
    if (missingRows || unexpectedRows || stored.rows !== expectedIds.size) failures.push(`bsky_events: ${stored.rows} rows for ${expectedIds.size} events (${missingRows} missing, ${unexpectedRows} unexpected)`);
    const copies: TopicCopies[] = [];
    const all = await readBlueskyEvents(opts.stack, down.routes['all'] as string);
    copies.push(countTopicCopies(down.routes['all'] as string, all.events.map((e) => e.id), { mustHold: expectedIds, allowed: expectedIds, undecodable: all.undecodable }));
    for (const [name, topic] of Object.entries(down.routes)) {
      if (name === 'all') continue;
      const r = await readBlueskyEvents(opts.stack, topic);
      copies.push(countTopicCopies(topic, r.events.map((e) => e.id), { allowed: expectedIds, undecodable: r.undecodable }));
    }
    const late = await readBlueskyEvents(opts.stack, down.late);
    copies.push(countTopicCopies(down.late, late.events.map((e) => e.id), { allowed: expectedIds, undecodable: late.undecodable }));
    const aggs = await readAggregates(opts.stack, down.aggregates);
    // The windows against the recount of the distinct events, in the order the all route holds them.
    const agg = checkAggregates(
      all.events.map((e) => blueskyAggregatable(e)),
      all.events.map((e) => e.id),
      { stored: aggs.aggregates, topic: aggs.aggregates, lateIds: late.events.map((e) => e.id) },
      CHAOS_AGGREGATOR,
    );
    const closed = new Set(agg.recount.closed.map(windowKey));
    copies.push(countTopicCopies(down.aggregates, aggs.aggregates.map(windowKey), { mustHold: closed, allowed: closed, undecodable: aggs.undecodable }));
    for (const c of copies) {
      result.topics.push(c);
      result.topicDuplicates += c.extraCopies;
      if (c.missing || c.extraCopies || c.unexpected || c.undecodable) failures.push(`${c.topic}: ${c.missing} missing, ${c.extraCopies} extra copies, ${c.unexpected} unexpected, ${c.undecodable} undecodable`);
    }
    result.aggregates = { compared: agg.recount.closed.length, openAtEnd: agg.recount.open.length, late: late.events.length, diff: agg.topic, topicDiff: agg.topic };
    const matches = agg.topic.missing.length === 0 && agg.topic.unexpected.length === 0 && agg.topic.different.length === 0 && !agg.lateMissing && !agg.lateUnexpected;
    result.aggregatesEqualRecount = matches;
    if (!matches) failures.push(`Bluesky windows differ from the recount: ${agg.topic.missing.length} missing, ${agg.topic.unexpected.length} unexpected, ${agg.topic.different.length} different (e.g. ${JSON.stringify(agg.topic.different[0] ?? agg.topic.missing[0] ?? agg.topic.unexpected[0] ?? '')}), late ${agg.lateMissing} missing / ${agg.lateUnexpected} unexpected`);
    if (!agg.recount.closed.length) failures.push('the recount closed no Bluesky window: the check would prove nothing');
    log(`downstream: bsky_events ${stored.rows} rows, all route ${all.events.length} records, ${agg.recount.closed.length} windows = recount, ${late.events.length} late`);
    for (const app of downstream) {
      const crashes = app.counts().crashes;
      if (crashes) result.crashes[app.name] = crashes;
    }
  };
  try {
    source.start();
    await source.waitReady('/healthz', 60_000);
    producer.start();
    await producer.waitReady('/readyz', 180_000);
    for (const app of downstream) {
      app.start();
      await app.waitReady('/readyz', 180_000);
    }
    const t0 = Date.now();
    const inputMs = ((passes * BLUESKY_RECORDED_LINES) / opts.rate) * 1000;
    log(`Jetstream input flowing: ${passes} passes over ${BLUESKY_RECORDED_LINES} recorded lines at ${opts.rate}/s (~${Math.round(inputMs / 1000)} s)`);
    const ctx: BlueskyContext = {
      rng,
      inputMs,
      ...scenarioClock(t0, actions, log),
      killProducer: async (restartAfterMs) => {
        ctx.note(`kill -9 producer (restart in ${(restartAfterMs / 1000).toFixed(1)} s)`);
        await producer.kill9(restartAfterMs);
      },
      dropConnections: async () => ctx.note(`drop every Jetstream connection: ${JSON.stringify(await control('/control/drop'))}`),
      stall: async (ms) => ctx.note(`stall the Jetstream stand-in: ${JSON.stringify(await control(`/control/stall?ms=${ms}`))}`),
    };
    let budget: NodeJS.Timeout | undefined;
    await Promise.race([
      scenario.bluesky.run(ctx),
      new Promise<never>((_, reject) => {
        budget = setTimeout(() => reject(new Error('scenario faults did not finish in time')), inputMs + 120_000);
      }),
    ]).finally(() => clearTimeout(budget));
    const faultEnd = Date.now();
    if (actions.length) ctx.note('faults over');
    const inputDone = await waitUntil(inputMs * 3 + 120_000, async () => {
      const s = await stats();
      return s.complete && Date.now();
    });
    if (!inputDone) failures.push('the Jetstream stand-in did not emit the whole input in time');

    // What a correct producer must have written: the stand-in's whole log, normalized.
    const lines = (await (await fetch(`http://127.0.0.1:${sourcePort}/log`)).text()).split('\n').filter(Boolean);
    const expected = new Set<string>();
    const malformed: string[] = [];
    for (const line of lines) {
      const n = normalizeJetstreamEvent(line, { receivedTime: Date.now() });
      if (n.kind === 'event') {
        expected.add(n.event.id);
        expectedIds.add(n.event.id);
      }
      else malformed.push(line);
    }
    result.eventsIn = expected.size;
    const settledFrom = Math.max(faultEnd, inputDone || faultEnd);
    const complete = await waitUntil(opts.recoveryTimeoutMs ?? 240_000, async () => {
      const { records } = await readBluesky(opts.stack, topics.raw);
      const have = new Set(records.map((r) => r.id));
      return [...expected].every((id) => have.has(id)) && Date.now();
    }, 2_000);
    if (complete) result.recoverySeconds = Math.max(0, (complete - settledFrom) / 1000);
    else failures.push(`${topics.raw} did not hold every expected id within ${(opts.recoveryTimeoutMs ?? 240_000) / 1000} s`);
    // Let the last transactions settle, then the exact checks.
    await sleep(2_000);
    const { records, undecodable } = await readBluesky(opts.stack, topics.raw);
    const copies = countTopicCopies(topics.raw, records.map((r) => r.id), { mustHold: expected, allowed: expected, undecodable });
    result.topics = [copies];
    result.stored = copies.distinct;
    result.lost = copies.missing;
    result.unexpected = copies.unexpected;
    result.topicDuplicates = copies.extraCopies;
    if (copies.missing) failures.push(`${copies.missing} events lost`);
    if (copies.extraCopies) {
      const seen = new Map<string, string[]>();
      for (const r of records) seen.set(r.id, [...(seen.get(r.id) ?? []), `${r.at} time_us ${r.timeUs}`]);
      const dups = [...seen].filter(([, at]) => at.length > 1).slice(0, 5);
      failures.push(`${copies.extraCopies} duplicate records in ${topics.raw} (e.g. ${dups.map(([id, at]) => `${id} at ${at.join(' and ')}`).join('; ')})`);
      writeFileSync(join(opts.workDir, `${prefix}-jetstream-log.jsonl`), `${lines.join('\n')}\n`);
    }
    if (copies.unexpected) failures.push(`${copies.unexpected} ids in ${topics.raw} that were never sent`);
    if (undecodable) failures.push(`${undecodable} undecodable records in ${topics.raw}`);
    const badKeys = records.filter((r) => r.key !== r.did).length;
    if (badKeys) failures.push(`${badKeys} records not keyed by their did`);

    const dead = await readDeadLetters(opts.stack, topics.dlq);
    const letters = dead.map((d) => d.value?.toString() ?? '');
    result.expectedDeadLetters = malformed.length;
    const dlq = countTopicCopies(topics.dlq, letters, { mustHold: new Set(malformed), allowed: new Set(malformed) });
    result.topics.push(dlq);
    result.deadLettered = dlq.distinct;
    result.topicDuplicates += dlq.extraCopies;
    if (dlq.missing || dlq.extraCopies || dlq.unexpected) failures.push(`dead letters: ${dlq.missing} malformed frames missing, ${dlq.extraCopies} extra copies, ${dlq.unexpected} unexpected`);
    if (dead.some((d) => d.app !== 'producer')) failures.push('dead letters from another app than the producer');

    // Downstream, the same exact checks as the Wikimedia scenarios: every event once on the all route and
    // in PostgreSQL, no duplicate on any routed topic, the windows equal to the recount, late = the recount's.
    await checkDownstream();

    const s = await stats();
    result.sourceConnections = s.connectionsTotal;
    if (scenario.bluesky.minConnections !== undefined && s.connectionsTotal < scenario.bluesky.minConnections) {
      failures.push(`the stand-in served ${s.connectionsTotal} connections, the scenario needs at least ${scenario.bluesky.minConnections}`);
    }
    const overlap = await producer.metric('producer_overlap_dropped_total');
    log(`raw ${records.length} records / ${expected.size} distinct events, DLQ ${letters.length} / ${malformed.length} malformed, ${s.connectionsTotal} connections (${s.drops} dropped, ${s.stalls} stalls), overlap dropped by the current producer ${overlap}`);
    const crashes = producer.counts().crashes;
    if (crashes) result.crashes.producer = crashes;
  } catch (err) {
    failures.push(`error: ${(err as Error).message}`);
  } finally {
    for (const app of [...downstream].reverse()) await app.stop().catch(() => undefined);
    await producer.stop().catch(() => undefined);
    await source.stop().catch(() => undefined);
    if (!opts.keep) {
      await dropDatabase(opts.stack.databaseUrl, database).catch(() => undefined);
      await deleteTopics(opts.stack, { prefix }).catch(() => undefined);
    }
  }
  result.passed = failures.length === 0;
  result.seconds = Math.round((Date.now() - started) / 1000);
  log(result.passed ? `PASSED (${result.seconds} s)` : `FAILED: ${failures.join('; ')}`);
  return result;
}
