// lag-monitor: the time of one full monitoring cycle for 50 groups over 200 partitions, next to the
// bare admin calls that cycle makes, measured in the same run against the real broker:
//   bare admin calls   listGroups, describeGroups, 50 x fetchOffsets (8 at a time), topic metadata,
//                      ListOffsets earliest + latest for the 200 partitions: nothing else
//   cycle (warm)       a full cycle in steady state: the same calls, plus lag, lag seconds (every
//                      first unconsumed record already cached), status rules, topic balance, snapshot
//   cycle (cold)       a full cycle of a fresh monitor: every lagging (partition, offset) read once
//   KafkaJS watermarks reference: fetchTopicOffsets per topic (3 round trips each) instead of the
//                      two batched ListOffsets requests the monitor uses
//   TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/lag-monitor/cycle-bench.ts [--groups 50] [--topics 10] [--partitions 20] [--iterations 15]
import { type KafkaConnection, commitGroupOffsets, createAdmin, createGroupAdmin, createProducer, ensureTopics } from '@wikimonitor/kafka';
import { createFirstRecordReader } from '@wikimonitor/lag';
import { createLogger } from '@wikimonitor/service-kit';
import { uniqueName } from '@wikimonitor/testing';
import { createLagMonitor } from '../../apps/lag-monitor/src/monitor';
import { benchArgs, machine, progress, stackEnv, table, writeReport } from '../lib/bench-kit';

const ARGS = benchArgs(
  `Usage: TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/lag-monitor/cycle-bench.ts [options]
lag-monitor: one full monitoring cycle beside the bare admin calls it makes, on the local stack's broker.
  --groups N       consumer groups (default 50)
  --topics N       topics (default 10)
  --partitions N   partitions per topic (default 20)
  --iterations N   measured cycles (default 15)`,
  {
    groups: { type: 'string', int: { min: 1 }, default: '50' },
    topics: { type: 'string', int: { min: 1 }, default: '10' },
    partitions: { type: 'string', int: { min: 1 }, default: '20' },
    iterations: { type: 'string', int: { min: 1 }, default: '15' },
  },
);
const GROUPS = ARGS.groups;
const TOPICS = ARGS.topics;
const PARTITIONS = ARGS.partitions;
const ITERATIONS = ARGS.iterations;
const RECORDS_PER_PARTITION = 20;
const CONCURRENCY = 8;
const log = createLogger('bench', 'warn');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? ((s[Math.floor((s.length - 1) / 2)] as number) + (s[Math.ceil((s.length - 1) / 2)] as number)) / 2 : NaN;
};
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(0.9 * xs.length))] ?? NaN;

async function main() {
  const env = stackEnv();
  const conn: KafkaConnection = { bootstrapServers: env['KAFKA_BOOTSTRAP_SERVERS'] ?? '127.0.0.1:9092', clientId: 'bench-lag-monitor', securityProtocol: 'plaintext', connectAttempts: 5 };
  const prefix = uniqueName('bench.lm');
  const topics = Array.from({ length: TOPICS }, (_, i) => `${prefix}.t${i}`);
  const groups = Array.from({ length: GROUPS }, (_, i) => `${prefix}.g${String(i).padStart(2, '0')}`);
  const admin = await createAdmin(conn);
  try {
    progress(`creating ${TOPICS} topics x ${PARTITIONS} partitions, ${RECORDS_PER_PARTITION} records each`);
    await ensureTopics(admin, topics.map((topic) => ({ topic, partitions: PARTITIONS, replicationFactor: 1 })));
    const producer = createProducer({ connection: conn, log, overrides: { 'linger.ms': 5 } });
    await producer.start();
    const sends: Array<Promise<unknown>> = [];
    for (const topic of topics) for (let p = 0; p < PARTITIONS; p++) for (let i = 0; i < RECORDS_PER_PARTITION; i++) sends.push(producer.send({ topic, partition: p, key: `k${i}`, value: Buffer.from(`record ${i}`) }));
    await Promise.all(sends);
    await producer.close();

    // Each group reads 2 topics (40 partitions): 2,000 group-partitions over the 200 partitions.
    // Committed offsets spread over 0..end, a quarter caught up, so there is lag to measure in seconds.
    progress(`committing offsets for ${GROUPS} groups`);
    let lagging = 0;
    for (const [gi, groupId] of groups.entries()) {
      const offsets: Array<{ topic: string; partition: number; offset: number }> = [];
      for (const topic of [topics[gi % TOPICS], topics[(gi + 1) % TOPICS]] as string[]) {
        for (let p = 0; p < PARTITIONS; p++) {
          const offset = (gi + p) % 4 === 0 ? RECORDS_PER_PARTITION : (gi * 7 + p * 3) % RECORDS_PER_PARTITION;
          if (offset < RECORDS_PER_PARTITION) lagging++;
          offsets.push({ topic, partition: p, offset });
        }
      }
      await commitGroupOffsets(conn, groupId, offsets);
    }

    const lagAdmin = await createGroupAdmin({ connection: conn, log, timeoutMs: 10_000, isolation: 'read_committed' });
    const reader = createFirstRecordReader({ connection: conn, log, timeoutMs: 10_000, isolation: 'read_committed' });
    await reader.start();
    const include = (g: string) => g.startsWith(`${prefix}.g`);
    const monitorOpts = { admin: lagAdmin, reader, includeGroup: include, windowCycles: 10, intervalMs: 5000, historyCycles: 10, goneRetentionMs: 60_000, stuckTransactionMs: 30_000, health: { unreadyAfterFailures: 3, overdueMs: 60_000 }, adminConcurrency: CONCURRENCY, log };
    const warm = createLagMonitor(monitorOpts);
    const first = await warm.runCycle();
    const partitionsSeen = first.snapshot.topics.reduce((n, t) => n + t.partitions.length, 0);
    progress(`first cycle: ${first.snapshot.groups.length} groups, ${partitionsSeen} partitions, ${Math.round(first.timings.total)} ms`);
    if (first.snapshot.groups.length !== GROUPS || partitionsSeen !== TOPICS * PARTITIONS) throw new Error('the monitor does not see the bench groups/partitions');

    async function bare(): Promise<number> {
      const t = performance.now();
      const listed = (await lagAdmin.listGroups()).filter((g) => include(g.groupId)).map((g) => g.groupId);
      await lagAdmin.describeGroups(listed);
      const ids = [...listed];
      const workers = Array.from({ length: CONCURRENCY }, async () => {
        for (let id = ids.shift(); id !== undefined; id = ids.shift()) await lagAdmin.fetchCommitted(id);
      });
      await Promise.all(workers);
      const parts = await lagAdmin.fetchPartitions(topics);
      await lagAdmin.fetchWatermarks([...parts].flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition }))));
      return performance.now() - t;
    }
    async function kafkajsWatermarks(): Promise<number> {
      const t = performance.now();
      await Promise.all(topics.map((topic) => lagAdmin.admin.fetchTopicOffsets(topic)));
      return performance.now() - t;
    }

    const samples = { bare: [] as number[], warm: [] as number[], cold: [] as number[], kafkajs: [] as number[], batched: [] as number[], coldReads: [] as number[] };
    progress(`measuring ${ITERATIONS} iterations (interleaved)`);
    for (let i = 0; i < ITERATIONS; i++) {
      samples.bare.push(await bare());
      samples.warm.push((await warm.runCycle()).timings.total);
      const coldReader = createFirstRecordReader({ connection: conn, log, timeoutMs: 10_000, isolation: 'read_committed' });
      await coldReader.start();
      const cold = createLagMonitor({ ...monitorOpts, reader: coldReader });
      const c = await cold.runCycle();
      samples.cold.push(c.timings.total);
      samples.coldReads.push(coldReader.stats().reads);
      await coldReader.close();
      samples.kafkajs.push(await kafkajsWatermarks());
      const tb = performance.now();
      await lagAdmin.fetchWatermarks(first.snapshot.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, partition: p.partition }))));
      samples.batched.push(performance.now() - tb);
    }
    const last = await warm.runCycle();
    await reader.close();
    await lagAdmin.close();

    const ref = median(samples.bare);
    const rows: Array<[string, number[], string]> = [
      ['bare admin calls (reference)', samples.bare, `${GROUPS + 5} requests: list, describe, ${GROUPS} x offsets, metadata, 2 x ListOffsets`],
      ['full cycle, steady state', samples.warm, 'first unconsumed records cached'],
      ['full cycle, cold cache', samples.cold, `${median(samples.coldReads)} first-unconsumed records read`],
    ];
    const results = rows.map(([label, xs, note]) => ({ label, medianMs: +median(xs).toFixed(1), p90Ms: +p90(xs).toFixed(1), vsBare: +(median(xs) / ref).toFixed(2), note }));
    const wm = { kafkajsPerTopicMs: +median(samples.kafkajs).toFixed(1), batchedMs: +median(samples.batched).toFixed(1) };
    const breakdown = Object.fromEntries(Object.entries(last.timings).map(([k, v]) => [k, +v.toFixed(1)]));
    const data = {
      bench: 'lag-monitor-cycle',
      machine: machine(),
      setup: { groups: GROUPS, topics: TOPICS, partitionsPerTopic: PARTITIONS, partitions: TOPICS * PARTITIONS, groupPartitions: GROUPS * 2 * PARTITIONS, laggingGroupPartitions: lagging, iterations: ITERATIONS, adminConcurrency: CONCURRENCY },
      results,
      watermarks: wm,
      steadyStateBreakdownMs: breakdown,
    };
    const tbl = table([['measurement', 'median ms', 'p90 ms', 'x bare admin calls', 'note'], ...results.map((r) => [r.label, r.medianMs, r.p90Ms, r.vsBare, r.note])]);
    const md = `# lag-monitor: one monitoring cycle, ${GROUPS} groups over ${TOPICS * PARTITIONS} partitions

\`TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/lag-monitor/cycle-bench.ts\` (${ITERATIONS} interleaved iterations, local single-broker stack).
${GROUPS} groups each committed on 2 topics x ${PARTITIONS} partitions (${GROUPS * 2 * PARTITIONS} group-partitions over ${TOPICS * PARTITIONS} partitions, ${lagging} of them lagging).

${tbl}

The monitor's own overhead is the difference between a full cycle and the bare admin calls it makes.
Steady-state breakdown of one cycle (ms): ${Object.entries(breakdown).map(([k, v]) => `${k} ${v}`).join(', ')}.

Watermarks for the ${TOPICS * PARTITIONS} partitions: two batched ListOffsets requests ${wm.batchedMs} ms (what the monitor does) vs KafkaJS-style fetchTopicOffsets per topic ${wm.kafkajsPerTopicMs} ms (metadata + 2 ListOffsets per topic, all topics in parallel).

Machine: ${JSON.stringify(machine())}
`;
    console.log(`\n${tbl}\n\nwatermarks: batched ${wm.batchedMs} ms vs per-topic ${wm.kafkajsPerTopicMs} ms\nsteady-state breakdown: ${JSON.stringify(breakdown)}`);
    writeReport('lag-monitor-cycle', data, md);
  } finally {
    progress('cleaning up bench groups and topics');
    await admin.deleteGroups(groups).catch(() => undefined);
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
