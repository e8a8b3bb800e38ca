// Producer throughput and peak RSS: the exactly-once (transactional) path beside the same code without
// transactions (PRODUCER_EXACTLY_ONCE=false) and Kafka's own ProducerPerformance on the same broker, with
// the same record count and size, in the same run; plus the time a commit takes and the latency it adds.
// Optionally with tracing at 1% and 100%.
//   node --import tsx bench/producer/producer-bench.ts [--events 200000] [--rounds 2] [--tracing]
import { spawnSync } from 'node:child_process';
import { provisionTopics } from '@wikimonitor/kafka';
import { freePort, loadRecordedEvents, uniqueName } from '@wikimonitor/testing';
import { benchArgs, averageRecordSize, awaitPublished, buildApps, kafkaClasspath, machine, progress, stackEnv, startApp, table, waitHttp, writeReport } from '../lib/bench-kit';

const ARGS = benchArgs(
  `Usage: node --import tsx bench/producer/producer-bench.ts [--events N] [--rounds N] [--tracing]
Producer throughput and peak RSS, exactly once beside at least once and Kafka's ProducerPerformance.
  --events N   events per run (default 200000)
  --rounds N   alternating rounds (default 2)
  --tracing    also with tracing at 1% and 100% (report producer-tracing)`,
  { events: { type: 'string', int: { min: 1 }, default: '200000' }, rounds: { type: 'string', int: { min: 1 }, default: '2' }, tracing: { type: 'boolean' } },
);
const EVENTS = ARGS.events;
const ROUNDS = ARGS.rounds;
const recorded = loadRecordedEvents();

async function createTopic(env: Record<string, string>, topic: string): Promise<void> {
  await provisionTopics({ bootstrapServers: env['KAFKA_BOOTSTRAP_SERVERS'] ?? '127.0.0.1:9092', clientId: 'bench', securityProtocol: 'plaintext', connectAttempts: 3 }, [{ topic, partitions: 6, replicationFactor: 1 }]);
}

function producerPerformance(env: Record<string, string>, topic: string, records: number, size: number) {
  progress(`ProducerPerformance: ${records} records of ${size} bytes`);
  const r = spawnSync(
    'java',
    ['-Xmx512m', '-cp', kafkaClasspath(), 'org.apache.kafka.tools.ProducerPerformance', '--topic', topic, '--num-records', String(records), '--record-size', String(size), '--throughput', '-1',
      '--producer-props', `bootstrap.servers=${env['KAFKA_BOOTSTRAP_SERVERS']}`, 'acks=all', 'enable.idempotence=true', 'linger.ms=20', 'compression.type=lz4', 'batch.size=1000000'],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const last = r.stdout.trim().split('\n').pop() ?? '';
  const m = /([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency/.exec(last);
  if (!m) throw new Error(`ProducerPerformance output not understood: ${r.stdout.slice(-500)} ${r.stderr.slice(-500)}`);
  return { eventsPerSec: Number(m[1]), mbPerSec: Number(m[2]), avgLatencyMs: Number(m[3]) };
}

async function runProducer(env: Record<string, string>, label: string, extra: Record<string, string>) {
  const sourcePort = await freePort();
  const loops = Math.ceil(EVENTS / recorded.length);
  const source = startApp('sse-source', sourcePort, { LOG_LEVEL: 'warn' }, ['--port', String(sourcePort), '--host', '127.0.0.1', '--rate', '0', '--loop-count', String(loops)]);
  await waitHttp(`http://127.0.0.1:${sourcePort}/healthz`);
  const topic = uniqueName('bench.raw');
  await createTopic(env, topic);
  const port = await freePort();
  const producer = startApp('producer', port, {
    ...env,
    // The deployment's heap cap (deploy/): V8 otherwise lets garbage pile up far past the live set.
    NODE_OPTIONS: '--max-old-space-size=192',
    LOG_LEVEL: 'warn',
    SSE_URL: `http://127.0.0.1:${sourcePort}/v2/stream/recentchange`,
    OUTPUT_TOPIC: topic,
    DLQ_TOPIC: uniqueName('bench.dlq'),
    CHECKPOINT_TOPIC: uniqueName('bench.cp'),
    ...extra,
  });
  await waitHttp(`http://127.0.0.1:${port}/healthz`);
  const result = { ...(await awaitPublished(producer, EVENTS, label)), sourcePeakRssMb: Math.round(source.peakRssMb()) };
  await producer.stop();
  await source.stop();
  progress(`${label}: ${result.eventsPerSec} events/s, peak RSS ${result.peakRssMb} MB`);
  return result;
}

async function main(): Promise<void> {
  const env = stackEnv();
  buildApps('producer', 'sse-source');
  const size = averageRecordSize(recorded);
  const reference = producerPerformance(env, await (async () => {
    const t = uniqueName('bench.perf');
    await createTopic(env, t);
    return t;
  })(), EVENTS, size);
  progress(`ProducerPerformance: ${reference.eventsPerSec} records/s`);

  const variants: Array<[string, Record<string, string>]> = [
    ['producer, at-least-once (no transactions)', { OTEL_EXPORTER_OTLP_ENDPOINT: '', PRODUCER_EXACTLY_ONCE: 'false' }],
    ['producer, exactly once (transactions)', { OTEL_EXPORTER_OTLP_ENDPOINT: '', PRODUCER_EXACTLY_ONCE: 'true' }],
  ];
  if (ARGS.tracing) {
    const endpoint = env['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? 'http://127.0.0.1:4318';
    variants.push(['producer (tracing 1%)', { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_SAMPLER_ARG: '0.01' }]);
    variants.push(['producer (tracing 100%)', { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_SAMPLER_ARG: '1' }]);
  }
  // Interleaved rounds: neither path gets the warm (or the busy) part of the run to itself.
  type Run = Awaited<ReturnType<typeof runProducer>>;
  const runs = new Map<string, Run[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, extra] of round % 2 ? [...variants].reverse() : variants) runs.set(label, [...(runs.get(label) ?? []), await runProducer(env, label, extra)]);
  }
  const avg = (xs: number[]) => Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 10) / 10;
  const results = variants.map(([label]) => {
    const rs = runs.get(label) as Run[];
    return {
      label,
      rounds: rs,
      eventsPerSec: Math.round(avg(rs.map((r) => r.eventsPerSec))),
      peakRssMb: Math.max(...rs.map((r) => r.peakRssMb)),
      batches: avg(rs.map((r) => r.batches)),
      meanCommitMs: avg(rs.map((r) => r.meanCommitMs)),
      meanPublishLatencyMs: avg(rs.map((r) => r.meanPublishLatencyMs)),
    };
  });

  const [alo, eos] = results as [(typeof results)[number], (typeof results)[number]];
  const eosRatio = eos.eventsPerSec / alo.eventsPerSec;
  const rows: Array<Array<string | number>> = [['run', 'events/s', 'ratio to ProducerPerformance', 'batches', 'mean batch write (ms)', 'mean receipt-to-commit (ms)', 'peak RSS (MB)']];
  rows.push([`ProducerPerformance (acks=all, idempotent, lz4, ${size} B records)`, Math.round(reference.eventsPerSec), '1.00', '-', '-', '-', '-']);
  for (const r of results) rows.push([r.label, r.eventsPerSec, (r.eventsPerSec / reference.eventsPerSec).toFixed(2), r.batches, r.meanCommitMs, r.meanPublishLatencyMs, r.peakRssMb]);
  const md = `# Producer benchmark

${EVENTS} events (real recorded events looped with fresh ids by the local SSE source at full speed), Avro, acks=all, idempotence, same broker, same run, COMMIT_INTERVAL_MS default (100 ms); producer figures are the mean of ${ROUNDS} interleaved rounds.

${table(rows)}

- **Exactly once / at-least-once throughput: ${eosRatio.toFixed(2)}** (target >= 0.8).
- Latency added by the transactions: ${(eos.meanPublishLatencyMs - alo.meanPublishLatencyMs).toFixed(1)} ms mean receipt-to-commit over the at-least-once path
  (each batch costs ${eos.meanCommitMs} ms to write transactionally vs ${alo.meanCommitMs} ms without; both paths also wait for their batch to be cut, up to one commit interval).

Machine: ${JSON.stringify(machine())}

The SSE source runs on the same 2 cores, so the producer's rate includes sharing the CPU with its input; compare the ratios of one run.
`;
  console.log(md);
  writeReport(ARGS.tracing ? 'producer-tracing' : 'producer', { events: EVENTS, recordSize: size, reference, results, exactlyOnceToAtLeastOnce: eosRatio, machine: machine() }, md);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
