// filter-router throughput, end to end through the real broker: the app's exactly-once transactional
// loop (one transaction per batch) next to a plain consume-route-produce loop without transactions
// (at-least-once: idempotent producer, offsets committed after each batch), on the same input, with the
// same routing code and rules, in the same run, alternating rounds.
//   TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/filter-router/throughput.ts [--copies 10] [--rounds 2] [--batch-sizes 100,500,2000]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type WikiChange, WikiChangeSchema } from '@wikimonitor/contracts';
import { normalizeRecentChange, routeChange } from '@wikimonitor/domain';
import { type KafkaConnection, createConsumerRunner, createProducer } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger } from '@wikimonitor/service-kit';
import { loadRecordedEvents, readTopic, uniqueName } from '@wikimonitor/testing';
import { createApp } from '../../apps/filter-router/src/app';
import { DEFAULT_BATCH_SIZE } from '../../apps/filter-router/src/config';
import { createRouteStep } from '../../apps/filter-router/src/route-step';
import { loadRoutingRules } from '../../apps/filter-router/src/rules';
import { createOutputTopics, deleteTopicsWithPrefix, produceChanges, testAppConfig, waitForStableTopics, writeDefaultRulesWithPrefix } from '../../apps/filter-router/testing/test-support';
import { benchArgs, machine, progress, stackEnv, table, writeReport } from '../lib/bench-kit';

const ARGS = benchArgs(
  `Usage: TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/filter-router/throughput.ts [options]
filter-router exactly-once throughput beside a plain at-least-once loop, on the local stack's broker.
  --copies N             copies of the recorded events (default 10)
  --rounds N             alternating rounds (default 2)
  --batch-sizes a,b,...  batch sizes (default 100,500,2000)`,
  {
    copies: { type: 'string', int: { min: 1 }, default: '10' },
    rounds: { type: 'string', int: { min: 1 }, default: '2' },
    'batch-sizes': { type: 'string', list: true, int: { min: 1 }, default: '100,500,2000' },
  },
);
const COPIES = ARGS.copies;
const ROUNDS = ARGS.rounds;
const BATCH_SIZES = ARGS['batch-sizes'];
const PLAIN_BATCH = DEFAULT_BATCH_SIZE; // the app's default: the two loops differ only by the transaction
const LINGER_MS = 5; // the app's default PRODUCER_LINGER_MS, used by both loops
const log = createLogger('bench', 'warn');

interface Measurement {
  scenario: string;
  round: number;
  batchSize: number;
  records: number;
  seconds: number;
  recordsPerSec: number;
  outputsAll: number;
  transactions?: number;
}

/** The recorded events, `copies` times, each copy with its own ids (so every record is distinct). */
function input(): WikiChange[] {
  const base = loadRecordedEvents().flatMap((e) => {
    const n = normalizeRecentChange(e.json, { receivedTime: Date.now(), sseId: null });
    return n.kind === 'change' ? [n.change] : [];
  });
  return Array.from({ length: COPIES }, (_, k) => base.map((c) => ({ ...c, id: `${c.id}#${k}` }))).flat();
}

async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15 * 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now();
}

async function countAll(conn: KafkaConnection, topic: string): Promise<number> {
  await waitForStableTopics(conn, [topic]);
  return (await readTopic(conn, topic)).length;
}

/** The real app (createApp): one Kafka transaction per batch of BATCH_SIZE records. */
async function runTransactional(env: { conn: KafkaConnection; bootstrapServers: string; registryUrl: string }, inputTopic: string, n: number, batchSize: number, round: number): Promise<Measurement> {
  const prefix = uniqueName(`bench.fr.tx${batchSize}`);
  const routes = writeDefaultRulesWithPrefix(prefix, mkdtempSync(join(tmpdir(), 'fr-bench-')));
  const config = testAppConfig({ ...env, prefix, rulesFile: routes.file, extra: { INPUT_TOPIC: inputTopic, BATCH_SIZE: String(batchSize), PRODUCER_LINGER_MS: String(LINGER_MS), LOG_LEVEL: 'warn' } });
  await createOutputTopics(env.conn, routes, config.DLQ_TOPIC);
  const app = createApp({ config, log, handleSignals: false });
  // Counted when a batch arrives, before its transaction: the same instant as the plain loop's first handler call.
  const consumed = app.registry.getSingleMetric('filter_router_records_consumed_total');
  const t0 = await waitUntil(async () => ((await consumed?.get())?.values[0]?.value ?? 0) > 0, 'first batch');
  const t1 = await waitUntil(() => app.stats().committedRecords >= n, 'all records committed');
  const stats = app.stats();
  await app.service.close();
  const outputsAll = await countAll(env.conn, routes.topics['all'] as string);
  await deleteTopicsWithPrefix(env.conn, prefix);
  const seconds = (t1 - t0) / 1000;
  return { scenario: `transactional (batch ${batchSize})`, round, batchSize, records: n, seconds, recordsPerSec: n / seconds, outputsAll, transactions: stats.transactions };
}

/** Reference: the same decode + rules + produce, no transactions; offsets committed after each batch. */
async function runPlain(env: { conn: KafkaConnection; registryUrl: string }, inputTopic: string, n: number, round: number): Promise<Measurement> {
  const prefix = uniqueName('bench.fr.plain');
  const routes = writeDefaultRulesWithPrefix(prefix, mkdtempSync(join(tmpdir(), 'fr-bench-')));
  const { rules } = loadRoutingRules({ file: routes.file, inputTopic, dlqTopic: `${prefix}.dlq` });
  const client = createRegistryClient({ url: env.registryUrl });
  const outputs = new Map(rules.routes.map((r) => [r.topic, createAvroCodec<WikiChange>({ client, topic: r.topic, schema: WikiChangeSchema })]));
  await createOutputTopics(env.conn, routes, `${prefix}.dlq`);
  for (const c of outputs.values()) await c.init();
  const step = createRouteStep({ route: (c) => routeChange(rules, c), input: createAvroCodec<WikiChange>({ client, topic: inputTopic, schema: WikiChangeSchema }), outputs, dlqTopic: `${prefix}.dlq`, tracer: null });
  const producer = createProducer({ connection: env.conn, log, overrides: { 'linger.ms': LINGER_MS } });
  await producer.start();
  let done = 0;
  let first = 0;
  const runner = createConsumerRunner({
    connection: env.conn,
    log,
    groupId: `${prefix}.group`,
    topics: [inputTopic],
    offsets: 'kafka',
    batchSize: PLAIN_BATCH,
    handle: async (batch) => {
      first ||= performance.now();
      const sends = [];
      const out = await step(batch, undefined, { topic: inputTopic, partition: batch[0]?.partition ?? 0, now: Date.now() });
      for (const { source: _source, ...record } of out.records) sends.push(producer.send(record));
      for (const record of out.deadLetters) sends.push(producer.send(record));
      await Promise.all(sends);
      done += batch.length;
    },
  });
  await runner.start();
  const t1 = await waitUntil(() => done >= n, 'all records produced');
  await runner.close();
  await producer.close();
  const outputsAll = await countAll(env.conn, routes.topics['all'] as string);
  await deleteTopicsWithPrefix(env.conn, prefix);
  const seconds = (t1 - first) / 1000;
  return { scenario: 'plain loop, no transactions', round, batchSize: PLAIN_BATCH, records: n, seconds, recordsPerSec: n / seconds, outputsAll };
}

async function main(): Promise<void> {
  const stack = stackEnv();
  const bootstrapServers = process.env['KAFKA_BOOTSTRAP_SERVERS'] ?? stack['KAFKA_BOOTSTRAP_SERVERS'] ?? '127.0.0.1:9092';
  const registryUrl = process.env['SCHEMA_REGISTRY_URL'] ?? stack['SCHEMA_REGISTRY_URL'] ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
  const conn: KafkaConnection = { bootstrapServers, clientId: 'bench-filter-router', securityProtocol: 'plaintext', connectAttempts: 3 };
  const env = { conn, bootstrapServers, registryUrl };
  const changes = input();
  const inputTopic = `${uniqueName('bench.fr.input')}.raw`;
  progress(`producing ${changes.length} WikiChange records (${COPIES} copies of the recorded events) to ${inputTopic}`);
  await produceChanges({ connection: conn, registryUrl, topic: inputTopic, partitions: 6, changes, log });

  const results: Measurement[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`round ${round}: plain loop`);
      results.push(await runPlain(env, inputTopic, changes.length, round));
      for (const b of BATCH_SIZES) {
        progress(`round ${round}: transactional, batch ${b}`);
        results.push(await runTransactional(env, inputTopic, changes.length, b, round));
      }
    }
  } finally {
    await deleteTopicsWithPrefix(conn, inputTopic);
  }

  const expectedAll = changes.length;
  const bad = results.filter((r) => r.outputsAll !== expectedAll);
  if (bad.length) throw new Error(`outputs missing or duplicated: ${JSON.stringify(bad)}`);

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number;
  const scenarios = [...new Set(results.map((r) => r.scenario))];
  const summary = scenarios.map((s) => {
    const rows = results.filter((r) => r.scenario === s);
    return { scenario: s, batchSize: rows[0]?.batchSize ?? 0, recordsPerSec: Math.round(median(rows.map((r) => r.recordsPerSec))), rounds: rows.map((r) => Math.round(r.recordsPerSec)), transactions: rows[0]?.transactions };
  });
  const reference = summary.find((s) => s.scenario.startsWith('plain'))?.recordsPerSec ?? NaN;
  const rows: Array<Array<string | number>> = [['scenario', 'records per transaction', 'records/s (median)', 'per round', 'vs plain loop']];
  for (const s of summary) rows.push([s.scenario, s.scenario.startsWith('plain') ? `- (offsets committed per batch of ${PLAIN_BATCH})` : s.batchSize, s.recordsPerSec, s.rounds.join(' / '), `${(s.recordsPerSec / reference).toFixed(2)}x`]);
  const md = `# filter-router throughput

End to end through the real broker (local stack, replication 1): ${changes.length} input records
(${COPIES} copies of the ${changes.length / COPIES} recorded events, distinct ids), each routed by the default rules
(about 2 output records per input: all + human-content/new-pages/log/bot). Time from the first batch read to the
last record durably visible to consumers (transactional: committed; plain: acknowledged), median of ${ROUNDS} alternating rounds.
Both loops run the same decode + rules + produce code in the same process, linger.ms=${LINGER_MS}; every run's \`all\`
topic was read back (read_committed) and held exactly ${expectedAll} records.

${table(rows)}

Machine: ${JSON.stringify(machine())}

Command: \`TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/filter-router/throughput.ts --copies ${COPIES} --rounds ${ROUNDS} --batch-sizes ${BATCH_SIZES.join(',')}\`
`;
  console.log(`\n${table(rows)}\n`);
  writeReport('filter-router-throughput', { machine: machine(), copies: COPIES, rounds: ROUNDS, records: changes.length, summary, results }, md);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
