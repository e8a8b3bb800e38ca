// Aggregator throughput, end to end through the real broker, next to two reference loops over the
// same input in the same run:
//   plain          consume -> decode -> produce, offsets committed after each batch (no transactions)
//   transactional  the same loop, one transaction per batch (records + offsets), read_committed
//   aggregator     the app (dist build, its own process): windows, changelog, offsets in one transaction
// and the scaling of AGGREGATION_MODE=two-stage on the same records keyed by wiki:title: 1 and 2
// instances (each a process running both stages), with the CPU each process used.
//   node --import tsx bench/aggregator/aggregator-bench.ts [--records 202650] [--batch 500]
import type { WikiChange } from '@wikimonitor/contracts';
import { WikiChangeSchema } from '@wikimonitor/contracts';
import { changeKey, normalizeRecentChange } from '@wikimonitor/domain';
import { type KafkaConnection, type Message, createConsumerRunner, createGroupAdmin, createProducer, provisionTopics } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger } from '@wikimonitor/service-kit';
import { freePort, loadRecordedEvents, uniqueName } from '@wikimonitor/testing';
import { benchArgs, buildApps, cpuBreakdown, cpuSnapshot, machine, progress, stackEnv, stackPids, startApp, table, waitHttp, writeReport } from '../lib/bench-kit';

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

interface AggregatorRun extends Result {
  peakRssMb: number;
  aggregates: number;
  instances: number;
  /** CPU per process over the run (each instance, the broker), and the cores they used. */
  cpu: ReturnType<typeof cpuBreakdown>;
}

async function aggregator(env: Record<string, string>, topic: string, opts: { mode: 'per-wiki' | 'two-stage'; instances: number; label: string }): Promise<AggregatorRun> {
  const { label } = opts;
  const n = uniqueName('bench.agg');
  const stackBefore = cpuSnapshot(stackPids());
  const w0 = Date.now();
  const apps: Array<ReturnType<typeof startApp>> = [];
  const ports: number[] = [];
  // All instances start together: they join the group in one rebalance, not one per instance.
  for (let i = 0; i < opts.instances; i++) {
    const port = await freePort();
    ports.push(port);
    apps.push(
      startApp('aggregator', port, {
        ...env,
        LOG_LEVEL: 'warn',
        OTEL_EXPORTER_OTLP_ENDPOINT: '',
        AGGREGATION_MODE: opts.mode,
        INPUT_TOPIC: topic,
        AGGREGATES_TOPIC: `${n}.aggregates`,
        ALERTS_TOPIC: `${n}.alerts`,
        LATE_TOPIC: `${n}.late`,
        DLQ_TOPIC: `${n}.dlq`,
        CHANGELOG_TOPIC: `${n}.changelog`,
        PARTIALS_TOPIC: `${n}.partials`,
        MERGE_CHANGELOG_TOPIC: `${n}.merge-changelog`,
        GROUP_ID: `${n}.group`,
        TRANSACTIONAL_ID: `${n}.tx-${i}`,
        GROUP_INSTANCE_ID: `${n}.instance-${i}`,
        BATCH_SIZE: String(BATCH),
        IDLE_CLOSE_MS: '600000',
      }),
    );
  }
  await Promise.all(ports.map((port) => waitHttp(`http://127.0.0.1:${port}/readyz`)));
  let first = 0;
  let firstCount = 0;
  let last = 0;
  let count = 0;
  const deadline = Date.now() + 10 * 60_000;
  const total = async (name: string) => (await Promise.all(apps.map((a) => a.metric(name)))).reduce((x, y) => x + y, 0);
  while (count < RECORDS) {
    if (Date.now() > deadline) throw new Error(`${label}: ${count}/${RECORDS} in 10 min`);
    const each = await Promise.all(apps.map((a) => a.metric('aggregator_records_consumed_total')));
    const c = each.reduce((x, y) => x + y, 0);
    const t = Date.now();
    if (c > count) {
      // The rate counts from the moment every instance has its partitions (all have consumed).
      if (!first && each.every((v) => v > 0)) {
        first = t;
        firstCount = c;
      }
      last = t;
      count = c;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  // The merge stage trails the first by a batch or two: wait until the windows stop coming.
  let aggregates = await total('aggregator_windows_closed_total');
  for (let settled = 0; settled < 10; ) {
    await new Promise((r) => setTimeout(r, 200));
    const now = await total('aggregator_windows_closed_total');
    settled = now === aggregates ? settled + 1 : 0;
    aggregates = now;
  }
  const pids = Object.fromEntries(apps.map((a, i) => [`aggregator ${i + 1}`, a.pid()]));
  const cpu = cpuBreakdown({ ...stackBefore }, { ...cpuSnapshot(stackPids()), ...cpuSnapshot(pids) }, (Date.now() - w0) / 1000).filter((c) => c.process !== 'jaeger');
  const peakRssMb = Math.round(Math.max(...apps.map((a) => a.peakRssMb())));
  await Promise.all(apps.map((a) => a.stop()));
  const seconds = (last - first) / 1000;
  const recordsPerSec = Math.round((RECORDS - firstCount) / seconds);
  progress(`${label}: ${recordsPerSec} records/s, ${aggregates} windows closed, peak RSS ${peakRssMb} MB, cores used ${cpu.map((c) => `${c.process} ${c.coresUsed}`).join(', ')}`);
  return { label, records: RECORDS, seconds, recordsPerSec, peakRssMb, aggregates, instances: opts.instances, cpu };
}

/** Records per partition of a topic (its end offsets: it was written once, from empty). */
async function partitionShares(conn: KafkaConnection, topic: string): Promise<{ busiest: number; mean: number; counts: number[] }> {
  const admin = await createGroupAdmin({ connection: conn, timeoutMs: 30_000, isolation: 'read_uncommitted' });
  try {
    const parts = (await admin.fetchPartitions([topic])).get(topic) ?? [];
    const marks = await admin.fetchWatermarks(parts.map((partition) => ({ topic, partition })));
    const counts = marks.sort((a, b) => a.partition - b.partition).map((w) => w.highWatermark - w.low);
    const sum = counts.reduce((a, b) => a + b, 0);
    return { busiest: Math.max(...counts) / sum, mean: 1 / counts.length, counts };
  } finally {
    await admin.close();
  }
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

  // The same records keyed by wiki:title (the two-stage input: the busiest wiki spreads over every partition).
  const spread = uniqueName('bench.agg.in-spread');
  await provisionTopics(conn, [{ topic: spread, partitions: 6, replicationFactor: 1 }]);
  const spreadCodec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: registryUrl }), topic: spread, schema: WikiChangeSchema });
  await spreadCodec.init();
  const spreadProducer = createProducer({ connection: conn, log });
  await spreadProducer.start();
  progress(`producing the same records keyed by wiki:title to ${spread}`);
  await Promise.all(changes.map((c) => spreadProducer.send({ topic: spread, key: changeKey(c), value: spreadCodec.encode(c) })));
  await spreadProducer.close();
  const shares = { wiki: await partitionShares(conn, topic), 'wiki:title': await partitionShares(conn, spread) };

  const plain = await loop(conn, registryUrl, topic, false);
  const tx = await loop(conn, registryUrl, topic, true);
  const agg = await aggregator(env, topic, { mode: 'per-wiki', instances: 1, label: 'aggregator (transactions + changelog)' });
  const one = await aggregator(env, spread, { mode: 'two-stage', instances: 1, label: 'aggregator two-stage, 1 instance (input keyed by wiki:title)' });
  const two = await aggregator(env, spread, { mode: 'two-stage', instances: 2, label: 'aggregator two-stage, 2 instances (input keyed by wiki:title)' });
  const scaling = two.recordsPerSec / one.recordsPerSec;

  const rows: Array<Array<string | number>> = [['run', 'records/s', 'ratio to plain loop', 'seconds', 'windows']];
  for (const r of [plain, tx, agg, one, two]) rows.push([r.label, r.recordsPerSec, (r.recordsPerSec / plain.recordsPerSec).toFixed(2), r.seconds.toFixed(2), 'aggregates' in r ? (r as AggregatorRun).aggregates : '-']);
  const cpuRows: Array<Array<string | number>> = [['run', 'process', 'CPU s', 'cores used']];
  for (const r of [agg, one, two]) for (const c of r.cpu) cpuRows.push([r.label, c.process, c.cpuSeconds, c.coresUsed]);
  const md = `# Aggregator benchmark

${RECORDS} WikiChange records (the recorded events, oldest file first, repeated with fresh ids, each repetition shifted 10 years so nothing is late), 6 partitions, batches of ${BATCH}, same broker, same run. Every run decodes the Avro input; the loops re-encode and produce each record, the aggregator produces closed windows, its state to its changelog(s) and offsets, all in one transaction per batch. Aggregator peak RSS ${Math.max(agg.peakRssMb, one.peakRssMb, two.peakRssMb)} MB.

${table(rows)}

**Scaling, two-stage, 2 instances / 1 instance: ${scaling.toFixed(2)}x** (target 1.6x; see "Cores" below).

## Busiest partition on the recorded mix

| input key | busiest partition's share | mean share | records per partition |
|---|---|---|---|
| wiki (per-wiki mode, \`wiki.changes.all\` as routed today) | ${(shares.wiki.busiest * 100).toFixed(1)}% | ${(shares.wiki.mean * 100).toFixed(1)}% | ${shares.wiki.counts.join(', ')} |
| wiki:title (two-stage mode) | ${(shares['wiki:title'].busiest * 100).toFixed(1)}% | ${(shares['wiki:title'].mean * 100).toFixed(1)}% | ${shares['wiki:title'].counts.join(', ')} |

Keyed by wiki, one partition carries the busiest wikis and caps a per-wiki aggregator at one partition's rate however many
instances run; keyed by wiki:title every partition carries a share of every wiki.

## Cores

CPU seconds per process over each aggregator run (from \`/proc\`), and the cores each used on average. The machine
has ${machine()['cores']} cores, shared by the broker, the registry, the database and the instances: a second instance can only
add what the cores left over allow.

${table(cpuRows)}

Machine: ${JSON.stringify(machine())}

The loops run inside the benchmark process; the aggregator is the built app in its own process(es) (end to end through the broker). Shared 2-core machine: other work on it moves the figures between runs; the ratios are the comparison.
`;
  console.log(md);
  writeReport('aggregator', { records: RECORDS, batch: BATCH, results: [plain, tx, agg, one, two], scaling, shares, machine: machine() }, md);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
