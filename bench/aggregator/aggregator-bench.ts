// Aggregator throughput, end to end through the real broker, next to two reference loops over the
// same input in the same run:
//   plain          consume -> decode -> produce, offsets committed after each batch (no transactions)
//   transactional  the same loop, one transaction per batch (records + offsets), read_committed
//   aggregator     the app (dist build, its own process): windows, changelog, offsets in one transaction
//   node --import tsx bench/aggregator/aggregator-bench.ts [--records 202650] [--batch 500]
import type { WikiChange } from '@wikimonitor/contracts';
import { WikiChangeSchema } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { type KafkaConnection, type Message, createConsumerRunner, createProducer, provisionTopics } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger } from '@wikimonitor/service-kit';
import { freePort, loadRecordedEvents, uniqueName } from '@wikimonitor/testing';
import { benchArgs, buildApps, machine, progress, stackEnv, startApp, table, waitHttp, writeReport } from '../lib/bench-kit';

const ARGS = benchArgs(
  `Usage: node --import tsx bench/aggregator/aggregator-bench.ts [--records N] [--batch N]
Aggregator throughput through the local stack's broker beside a plain and a transactional reference loop.
  --records N   WikiChange records (default 202650)
  --batch N     records per batch of the reference loops (default 500)`,
  { records: { type: 'string', int: { min: 1 }, default: '202650' }, batch: { type: 'string', int: { min: 1 }, default: '500' } },
);
const RECORDS = ARGS.records;
const BATCH = ARGS.batch;
const TEN_YEARS = 10 * 365 * 86_400_000;
const log = createLogger('bench', 'warn');

/** The recorded events, oldest file first, repeated with fresh ids; each repetition 10 years later (nothing late). */
function input(): WikiChange[] {
  const byFile = new Map<string, WikiChange[]>();
  for (const e of loadRecordedEvents()) {
    const n = normalizeRecentChange(e.json, { receivedTime: Date.now() });
    if (n.kind !== 'change') continue;
    byFile.set(e.file, [...(byFile.get(e.file) ?? []), n.change]);
  }
  const once = [...byFile.values()].sort((a, b) => Math.min(...a.map((c) => c.event_time)) - Math.min(...b.map((c) => c.event_time))).flat();
  const out: WikiChange[] = [];
  for (let rep = 0; out.length < RECORDS; rep++) for (const c of once) if (out.length < RECORDS) out.push({ ...c, id: `${c.id}-${rep}`, event_time: c.event_time + rep * TEN_YEARS });
  return out;
}

interface Result {
  label: string;
  records: number;
  seconds: number;
  recordsPerSec: number;
}

async function loop(conn: KafkaConnection, registryUrl: string, topic: string, transactional: boolean): Promise<Result> {
  const label = transactional ? 'transactional consume-produce loop' : 'plain consume-produce loop';
  const out = uniqueName(`bench.agg.out.${transactional ? 'tx' : 'plain'}`);
  await provisionTopics(conn, [{ topic: out, partitions: 6, replicationFactor: 1 }]);
  const codec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: registryUrl }), topic, schema: WikiChangeSchema });
  const producer = createProducer({ connection: conn, log, transactionalId: transactional ? uniqueName('bench-tx') : undefined, overrides: { 'linger.ms': 5 } });
  await producer.start();
  let done = 0;
  let first = 0;
  let last = 0;
  const runner = createConsumerRunner({
    connection: conn,
    log,
    groupId: uniqueName('bench.g'),
    topics: [topic],
    offsets: transactional ? 'external' : 'kafka',
    batchSize: BATCH,
    handle: async (batch: Message[], ctx) => {
      if (!first) first = Date.now();
      const records = await Promise.all(batch.map(async (m) => ({ topic: out, key: m.key ?? null, value: codec.encode(await codec.decode(m.value as Buffer)) })));
      if (transactional) {
        await producer.beginTransaction();
        await Promise.all(records.map((r) => producer.send(r)));
        const next = new Map<number, number>();
        for (const m of batch) next.set(m.partition, m.offset + 1);
        await producer.sendOffsetsToTransaction([...next].map(([partition, offset]) => ({ topic, partition, offset })), ctx.consumer);
        await producer.commitTransaction();
      } else {
        await Promise.all(records.map((r) => producer.send(r)));
      }
      done += batch.length;
      last = Date.now();
    },
  });
  await codec.init();
  await runner.start();
  const deadline = Date.now() + 10 * 60_000;
  while (done < RECORDS) {
    if (Date.now() > deadline) throw new Error(`${label}: ${done}/${RECORDS} in 10 min`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await runner.close();
  await producer.close();
  const seconds = (last - first) / 1000;
  progress(`${label}: ${Math.round(RECORDS / seconds)} records/s`);
  return { label, records: RECORDS, seconds, recordsPerSec: Math.round(RECORDS / seconds) };
}

async function aggregator(env: Record<string, string>, topic: string): Promise<Result & { peakRssMb: number; aggregates: number }> {
  const label = 'aggregator (transactions + changelog)';
  const port = await freePort();
  const n = uniqueName('bench.agg');
  const app = startApp('aggregator', port, {
    ...env,
    LOG_LEVEL: 'warn',
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    INPUT_TOPIC: topic,
    AGGREGATES_TOPIC: `${n}.aggregates`,
    ALERTS_TOPIC: `${n}.alerts`,
    LATE_TOPIC: `${n}.late`,
    DLQ_TOPIC: `${n}.dlq`,
    CHANGELOG_TOPIC: `${n}.changelog`,
    GROUP_ID: `${n}.group`,
    TRANSACTIONAL_ID: `${n}.tx`,
    BATCH_SIZE: String(BATCH),
    IDLE_CLOSE_MS: '600000',
  });
  await waitHttp(`http://127.0.0.1:${port}/readyz`);
  let first = 0;
  let firstCount = 0;
  let last = 0;
  let count = 0;
  const deadline = Date.now() + 10 * 60_000;
  while (count < RECORDS) {
    if (Date.now() > deadline) throw new Error(`${label}: ${count}/${RECORDS} in 10 min`);
    const c = await app.metric('aggregator_records_consumed_total');
    const t = Date.now();
    if (c > count) {
      if (!first) {
        first = t;
        firstCount = c;
      }
      last = t;
      count = c;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const aggregates = await app.metric('aggregator_windows_closed_total');
  const peakRssMb = Math.round(app.peakRssMb());
  await app.stop();
  const seconds = (last - first) / 1000;
  const recordsPerSec = Math.round((RECORDS - firstCount) / seconds);
  progress(`${label}: ${recordsPerSec} records/s, ${aggregates} windows closed, peak RSS ${peakRssMb} MB`);
  return { label, records: RECORDS, seconds, recordsPerSec, peakRssMb, aggregates };
}

async function main(): Promise<void> {
  const env = stackEnv();
  const conn: KafkaConnection = { bootstrapServers: env['KAFKA_BOOTSTRAP_SERVERS'] ?? '127.0.0.1:9092', clientId: 'bench-aggregator', securityProtocol: 'plaintext', connectAttempts: 3 };
  const registryUrl = env['SCHEMA_REGISTRY_URL'] ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
  buildApps('aggregator');
  const topic = uniqueName('bench.agg.in');
  await provisionTopics(conn, [{ topic, partitions: 6, replicationFactor: 1 }]);
  const changes = input();
  progress(`producing ${changes.length} WikiChange records keyed by wiki to ${topic}`);
  const codec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: registryUrl }), topic, schema: WikiChangeSchema });
  await codec.init();
  const producer = createProducer({ connection: conn, log });
  await producer.start();
  await Promise.all(changes.map((c) => producer.send({ topic, key: c.wiki, value: codec.encode(c) }))); // no record timestamps: the shifted event times are in the future
  await producer.close();

  const plain = await loop(conn, registryUrl, topic, false);
  const tx = await loop(conn, registryUrl, topic, true);
  const agg = await aggregator(env, topic);

  const rows: Array<Array<string | number>> = [['run', 'records/s', 'ratio to plain loop', 'seconds']];
  for (const r of [plain, tx, agg]) rows.push([r.label, r.recordsPerSec, (r.recordsPerSec / plain.recordsPerSec).toFixed(2), r.seconds.toFixed(2)]);
  const md = `# Aggregator benchmark\n\n${RECORDS} WikiChange records (the recorded events, oldest file first, repeated with fresh ids, each repetition shifted 10 years so nothing is late), keyed by wiki, 6 partitions, batches of ${BATCH}, same broker, same run. Every run decodes the Avro input; the loops re-encode and produce each record, the aggregator produces closed windows (${agg.aggregates}), wiki states to its changelog and offsets, all in one transaction per batch. Aggregator peak RSS ${agg.peakRssMb} MB.\n\n${table(rows)}\n\nMachine: ${JSON.stringify(machine())}\n\nThe loops run inside the benchmark process; the aggregator is the built app in its own process (end to end through the broker). Shared 2-core machine: other work on it moves the figures between runs; the ratios are the comparison.\n`;
  console.log(md);
  writeReport('aggregator', { records: RECORDS, batch: BATCH, results: [plain, tx, agg], machine: machine() }, md);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
