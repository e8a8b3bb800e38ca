// End-to-end benchmark: all five apps (and the local SSE source replaying the real recorded events,
// looped with fresh ids) on the local stack, as real processes from dist/, with unique names per phase.
//   TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/e2e/e2e-bench.ts [--events 200000]
//        [--backlog 100000] [--steady-rate 1000] [--burst-factor 10] [--latency-runs 3] [--quick] [--no-what-if]
// Phases (each on fresh topics, groups and database):
//   reference  Kafka's ProducerPerformance, same broker, same record count and size
//   full-speed the source at full speed, every app running: sustained rows/s into PostgreSQL
//   backlog    the producer fills the raw topic first; then the consumers start: time to drain
//   latency-N  1,000 events/s steady, then two 10x bursts: SSE receipt -> PostgreSQL row latency (3 runs)
//   latency-analyze  the same with `ANALYZE wiki_changes` every 5 s by the benchmark (a what-if; --no-what-if skips it)
// Writes bench/results/e2e.json, e2e.md and e2e.svg (throughput and lag over the run).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createAdmin, ensureTopics } from '@wikimonitor/kafka';
import { loadRecordedEvents, recordingsDir, uniqueName } from '@wikimonitor/testing';
import {
  type AppName,
  type Pipeline,
  connection,
  countStoredChanges,
  createPipeline,
  deleteTopics,
  dropDatabase,
  lagMonitorGroups,
  provisionTopics,
  runNames,
  storedLatencies,
} from '../../e2e/src/index';
import { RESULTS, ROOT, benchArgs, averageRecordSize, buildApps, cpuBreakdown, cpuSnapshot, kafkaClasspath, machine, progress, stackEnv, stackPids, table, writeReport } from '../lib/bench-kit';

const ARGS = benchArgs(
  `Usage: TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/e2e/e2e-bench.ts [options]
End to end: all five apps and the local SSE source on the local stack, as real processes from dist/.
  --events N         events of the full-speed phase (default 200000; --quick 20000)
  --backlog N        events of the backlog phase (default 100000; --quick 10000)
  --steady-rate N    events/s of the steady phase (default 1000)
  --burst-factor N   rate factor of the burst phase (default 10)
  --latency-runs N   latency runs (default 3; --quick 1)
  --quick            a short run
  --no-what-if       skip the latency what-if phase
  --write-method M   dedup-persister WRITE_METHOD (copy, stage, insert; default the app's: stage)`,
  {
    events: { type: 'string', int: { min: 1 } },
    backlog: { type: 'string', int: { min: 1 } },
    'steady-rate': { type: 'string', int: { min: 1 }, default: '1000' },
    'burst-factor': { type: 'string', int: { min: 1 }, default: '10' },
    'latency-runs': { type: 'string', int: { min: 1 } },
    quick: { type: 'boolean' },
    'no-what-if': { type: 'boolean' },
    'write-method': { type: 'string' },
  },
);
const QUICK = ARGS.quick;
const EVENTS = ARGS.events ?? (QUICK ? 20_000 : 200_000);
const BACKLOG = ARGS.backlog ?? (QUICK ? 10_000 : 100_000);
const STEADY_RATE = ARGS['steady-rate'];
const BURST_FACTOR = ARGS['burst-factor'];
/** Latency phase timeline (source time): steady until BURST_START, then a burst every BURST_EVERY. */
const STEADY_WARMUP_S = 10;
const BURST_START_S = QUICK ? 20 : 40;
const BURST_EVERY_S = QUICK ? 15 : 30;
const BURST_DURATION_S = 3;
const BURSTS = 2;
const LATENCY_RUN_S = BURST_START_S + BURST_EVERY_S * BURSTS - 5;
const LATENCY_RUNS = ARGS['latency-runs'] ?? (QUICK ? 1 : 3);

const recorded = loadRecordedEvents();
/** The apps of the benchmark's pipeline (it runs without the enricher and its Action API stand-in). */
type BenchApp = Exclude<AppName, 'enricher' | 'action-api-source'>;
const APPS: BenchApp[] = ['producer', 'filter-router', 'aggregator', 'dedup-persister', 'lag-monitor'];

interface Sample {
  phase: string;
  /** Seconds since the phase's input started. */
  t: number;
  rows: number;
  published: number;
  lag: Record<string, number | null>;
}

const samples: Sample[] = [];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function producerPerformance(bootstrap: string, records: number, size: number) {
  const topic = uniqueName('bench.e2e.perf');
  const admin = await createAdmin(connection(bootstrap));
  await ensureTopics(admin, [{ topic, partitions: 6, replicationFactor: 1 }]);
  progress(`reference: ProducerPerformance, ${records} records of ${size} bytes`);
  const r = spawnSync(
    'java',
    ['-Xmx512m', '-cp', kafkaClasspath(), 'org.apache.kafka.tools.ProducerPerformance', '--topic', topic, '--num-records', String(records), '--record-size', String(size), '--throughput', '-1',
      '--producer-props', `bootstrap.servers=${bootstrap}`, 'acks=all', 'enable.idempotence=true', 'linger.ms=20', 'compression.type=lz4', 'batch.size=1000000'],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  const last = r.stdout.trim().split('\n').pop() ?? '';
  const m = /([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency/.exec(last);
  if (!m) throw new Error(`ProducerPerformance output not understood: ${r.stdout.slice(-500)} ${r.stderr.slice(-500)}`);
  return { eventsPerSec: Number(m[1]), mbPerSec: Number(m[2]), avgLatencyMs: Number(m[3]) };
}

interface Run {
  pipeline: Pipeline;
  bootstrap: string;
  serverUrl: string;
  cleanup(): Promise<void>;
}

async function setupRun(env: Record<string, string>, label: string, sourceArgs: string[], workDir: string): Promise<Run> {
  const bootstrap = env['KAFKA_BOOTSTRAP_SERVERS'] ?? '127.0.0.1:9092';
  const serverUrl = env['DATABASE_URL'] ?? 'postgres://wikimonitor:wikimonitor@127.0.0.1:55432/wikimonitor';
  const names = runNames(uniqueName(`bench-e2e-${label.replace(/[^a-zA-Z0-9-]/g, '-')}`));
  await provisionTopics(bootstrap, names);
  const pipeline = await createPipeline({
    endpoints: { bootstrapServers: bootstrap, registryUrl: env['SCHEMA_REGISTRY_URL'] ?? 'http://127.0.0.1:8081/apis/ccompat/v7', databaseUrl: serverUrl },
    appBootstrap: bootstrap,
    names,
    data: recordingsDir(),
    sourceArgs,
    // Production defaults (1 min windows, 30 s lateness, 2 min idle closing).
    aggregator: { windowMs: 60_000, latenessMs: 30_000, idleCloseMs: 120_000 },
    lagMonitor: { cycleMs: 1_000, windowCycles: 10 },
    // The deployment's heap caps (deploy/): V8 otherwise lets garbage pile up far past the live set.
    extraEnv: Object.fromEntries(APPS.map((a) => [a, { NODE_OPTIONS: '--max-old-space-size=256', ...(a === 'dedup-persister' && ARGS['write-method'] ? { WRITE_METHOD: ARGS['write-method'] } : {}) }])),
    workDir,
    logDir: join(ROOT, 'tmp', 'bench-logs'),
    log: progress,
  });
  return {
    pipeline,
    bootstrap,
    serverUrl,
    async cleanup() {
      await pipeline.stop();
      await deleteTopics(bootstrap, names).catch(() => undefined);
      await dropDatabase(serverUrl, names.database).catch(() => undefined);
    },
  };
}

/** Samples rows, producer output and group lag every second until `done` (bounded). */
async function sample(run: Run, phase: string, t0: number, done: (s: Sample) => boolean, timeoutMs: number): Promise<Sample> {
  const { pipeline: p } = run;
  const deadline = Date.now() + timeoutMs;
  let lastLog = 0;
  for (;;) {
    const [rows, published, groups] = await Promise.all([
      p.apps['dedup-persister'].metric('dedup_persister_rows_written_total', 'table="changes"'),
      p.apps.producer.running() ? p.apps.producer.metric('producer_events_published_total') : Promise.resolve(NaN),
      lagMonitorGroups(p.apps['lag-monitor'].url),
    ]);
    const lag: Record<string, number | null> = {};
    for (const [k, id] of Object.entries(p.names.groups)) lag[k] = groups?.find((g) => g.groupId === id)?.totalLag ?? null;
    const s: Sample = { phase, t: (Date.now() - t0) / 1000, rows: Number.isNaN(rows) ? 0 : rows, published: Number.isNaN(published) ? 0 : published, lag };
    samples.push(s);
    if (Date.now() - lastLog > 5000) {
      progress(`${phase}: t=${s.t.toFixed(0)} s, ${s.rows} rows in PostgreSQL, ${s.published} published, lag ${JSON.stringify(lag)}`);
      lastLog = Date.now();
    }
    if (done(s)) return s;
    if (Date.now() > deadline) throw new Error(`${phase}: not done after ${timeoutMs / 1000} s (${s.rows} rows)`);
    await sleep(1000);
  }
}

function peakRss(p: Pipeline): Record<string, number> {
  return Object.fromEntries((['sse-source', ...APPS] as BenchApp[]).map((a) => [a, p.apps[a].peakRssMb()]));
}

/** The persister's own view of its batches (where the time of a batch goes). */
async function persisterBatches(p: Pipeline) {
  const app = p.apps['dedup-persister'];
  const m = async (name: string) => app.metric(name);
  const [batches, batchSeconds, writes, writeSeconds, records] = await Promise.all([
    m('dedup_persister_batch_latency_seconds_count'),
    m('dedup_persister_batch_latency_seconds_sum'),
    m('dedup_persister_db_write_latency_seconds_count'),
    m('dedup_persister_db_write_latency_seconds_sum'),
    m('dedup_persister_batch_records_sum'),
  ]);
  return {
    batches,
    meanRecordsPerBatch: Math.round(records / Math.max(1, batches)),
    meanBatchMs: Math.round((batchSeconds / Math.max(1, batches)) * 1000),
    meanDbWriteMs: Math.round((writeSeconds / Math.max(1, writes)) * 1000),
  };
}

/** Exits the benchmark did not cause (an app that died and was restarted would distort the figures). */
function crashes(p: Pipeline): Record<string, number> {
  return Object.fromEntries((['sse-source', ...APPS] as BenchApp[]).map((a) => [a, p.apps[a].counts().crashes]).filter(([, n]) => Number(n) > 0));
}

/** Rows/s over the middle 80% of the rows (start-up and the tail excluded). */
function sustainedRate(phase: string, total: number): { rowsPerSec: number; from: number; to: number } {
  const list = samples.filter((s) => s.phase === phase);
  const a = list.find((s) => s.rows >= total * 0.1);
  const b = list.find((s) => s.rows >= total * 0.9);
  if (!a || !b || b.t <= a.t) return { rowsPerSec: NaN, from: 0, to: 0 };
  return { rowsPerSec: Math.round((b.rows - a.rows) / (b.t - a.t)), from: a.t, to: b.t };
}

async function phaseFullSpeed(env: Record<string, string>, workDir: string) {
  const loops = Math.ceil(EVENTS / recorded.length);
  const total = loops * recorded.length;
  progress(`full-speed: ${total} events (${loops} passes of the recordings, fresh ids), source at full speed`);
  const run = await setupRun(env, 'full', ['--rate', '0', '--loop-count', String(loops), '--time', 'now'], workDir);
  try {
    const stackBefore = cpuSnapshot(stackPids());
    const benchBefore = process.cpuUsage();
    const w0 = Date.now();
    await run.pipeline.start();
    const t0 = Date.now();
    const last = await sample(run, 'full-speed', t0, (s) => s.rows >= total, 30 * 60_000);
    // Where the cores went, start-up included (the apps are new processes: their whole CPU time counts).
    const appPids = Object.fromEntries((['sse-source', ...APPS] as BenchApp[]).map((a) => [a, run.pipeline.apps[a].pid()]));
    const benchCpu = process.cpuUsage(benchBefore);
    const cpu = cpuBreakdown(stackBefore, { ...cpuSnapshot(stackPids()), ...cpuSnapshot(appPids), benchmark: (benchCpu.user + benchCpu.system) / 1e6 }, (Date.now() - w0) / 1000);
    const seconds = last.t;
    const stored = await countStoredChanges(run.pipeline.databaseUrl);
    const sustained = sustainedRate('full-speed', total);
    const producedAt = samples.find((s) => s.phase === 'full-speed' && s.published >= total)?.t ?? NaN;
    return { events: total, stored, seconds, overallRowsPerSec: Math.round(total / seconds), sustained, producerDoneAtS: producedAt, peakRssMb: peakRss(run.pipeline), crashes: crashes(run.pipeline), persister: await persisterBatches(run.pipeline), cpu };
  } finally {
    await run.cleanup();
  }
}

async function phaseBacklog(env: Record<string, string>, workDir: string) {
  const loops = Math.ceil(BACKLOG / recorded.length);
  const total = loops * recorded.length;
  progress(`backlog: the producer writes ${total} events with the consumers stopped, then they start`);
  const run = await setupRun(env, 'backlog', ['--rate', '0', '--loop-count', String(loops), '--time', 'now'], workDir);
  const { apps } = run.pipeline;
  try {
    apps['sse-source'].start();
    await apps['sse-source'].waitReady('/readyz', 30_000);
    apps['lag-monitor'].start();
    await apps['lag-monitor'].waitReady('/readyz', 120_000);
    apps.producer.start();
    const tFill = Date.now();
    for (;;) {
      const n = await apps.producer.metric('producer_events_published_total');
      if (n >= total) break;
      if (Date.now() - tFill > 20 * 60_000) throw new Error('backlog: producer too slow');
      await sleep(500);
    }
    const fillSeconds = (Date.now() - tFill) / 1000;
    progress(`backlog: ${total} events in the raw topic after ${fillSeconds.toFixed(1)} s; starting the consumers`);
    await apps.producer.stop();
    const t0 = Date.now();
    for (const a of ['filter-router', 'aggregator', 'dedup-persister'] as BenchApp[]) apps[a].start();
    await Promise.all((['filter-router', 'aggregator', 'dedup-persister'] as BenchApp[]).map((a) => apps[a].waitReady('/readyz', 180_000)));
    const readySeconds = (Date.now() - t0) / 1000;
    const last = await sample(run, 'backlog', t0, (s) => s.rows >= total, 30 * 60_000);
    return {
      events: total,
      fillSeconds,
      consumersReadyAfterS: readySeconds,
      drainSeconds: last.t,
      drainRowsPerSec: Math.round(total / (last.t - readySeconds)),
      peakRssMb: peakRss(run.pipeline),
      crashes: crashes(run.pipeline),
      persister: await persisterBatches(run.pipeline),
    };
  } finally {
    await run.cleanup();
  }
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

function latencyStats(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return { events: s.length, p50Ms: Math.round(percentile(s, 50)), p99Ms: Math.round(percentile(s, 99)), maxMs: Math.round(s[s.length - 1] ?? NaN) };
}

/**
 * `analyzeEveryS`: a what-if, not the shipped system: the benchmark itself runs `ANALYZE wiki_changes`
 * that often, to show how much of the burst latency comes from the persister's dedup probe being
 * planned on stale statistics while the table grows from empty (autovacuum analyzes it only now and then).
 */
async function phaseLatency(env: Record<string, string>, workDir: string, phase: string, analyzeEveryS?: number) {
  const burst = `every=${BURST_EVERY_S}s,duration=${BURST_DURATION_S}s,factor=${BURST_FACTOR},start=${BURST_START_S}s`;
  progress(`${phase}: ${STEADY_RATE} events/s for ${BURST_START_S} s, then ${BURSTS} bursts (${burst}); ${LATENCY_RUN_S} s of input${analyzeEveryS ? `; ANALYZE wiki_changes every ${analyzeEveryS} s` : ''}`);
  const run = await setupRun(env, phase, ['--rate', String(STEADY_RATE), '--loop', '--time', 'now', '--burst', burst], workDir);
  const { apps } = run.pipeline;
  let analyzer: NodeJS.Timeout | undefined;
  let analyzing = false;
  try {
    await run.pipeline.start();
    if (analyzeEveryS) {
      analyzer = setInterval(() => {
        if (analyzing) return;
        analyzing = true;
        void analyzeChanges(run.pipeline.databaseUrl).finally(() => (analyzing = false));
      }, analyzeEveryS * 1000);
    }
    const t0 = Date.now();
    await sample(run, phase, t0, (s) => s.t >= LATENCY_RUN_S, (LATENCY_RUN_S + 60) * 1000);
    await apps.producer.stop();
    const published = samples.filter((s) => s.phase === phase).reduce((m, s) => Math.max(m, s.published), 0);
    // The producer's final count (its last sample may be a second old): drain until the rows stop growing.
    let stable = 0;
    let prev = -1;
    await sample(run, phase, t0, (s) => {
      stable = s.rows === prev ? stable + 1 : 0;
      prev = s.rows;
      return s.rows >= published && stable >= 3;
    }, 10 * 60_000);
    const rows = await storedLatencies(run.pipeline.databaseUrl);
    // Event times are the source's send times (time mode now): they place each event in the schedule.
    // Most recorded events (the 2018 files) write meta.dt in whole seconds, so the placement is to the second.
    const open = rows.reduce((m, r) => Math.min(m, r.eventMs), Infinity);
    const at = (r: (typeof rows)[number]) => (r.eventMs - open) / 1000;
    const inBurst = (s: number) => Array.from({ length: BURSTS }, (_, k) => BURST_START_S + k * BURST_EVERY_S).some((b) => s >= b && s < b + BURST_DURATION_S);
    const steady = rows.filter((r) => at(r) >= STEADY_WARMUP_S && at(r) < BURST_START_S).map((r) => r.persistedMs - r.receivedMs);
    const bursts = rows.filter((r) => inBurst(at(r))).map((r) => r.persistedMs - r.receivedMs);
    const result = {
      phase,
      analyzeEveryS: analyzeEveryS ?? null,
      events: rows.length,
      steady: { rate: STEADY_RATE, ...latencyStats(steady) },
      burst: { rate: STEADY_RATE * BURST_FACTOR, ...latencyStats(bursts) },
      peakRssMb: peakRss(run.pipeline),
      crashes: crashes(run.pipeline),
      persister: await persisterBatches(run.pipeline),
    };
    progress(`${phase}: steady p50 ${result.steady.p50Ms} ms p99 ${result.steady.p99Ms} ms; burst p50 ${result.burst.p50Ms} ms p99 ${result.burst.p99Ms} ms`);
    return { result, values: { steady, bursts } };
  } finally {
    clearInterval(analyzer);
    await run.cleanup();
  }
}

async function analyzeChanges(databaseUrl: string): Promise<void> {
  const c = new Client({ connectionString: databaseUrl });
  try {
    await c.connect();
    await c.query('ANALYZE wiki_changes');
  } catch (err) {
    progress(`ANALYZE failed: ${(err as Error).message}`);
  } finally {
    await c.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// The plot: throughput (rows/s into PostgreSQL, events/s published) and lag per group over time,
// one column per phase, as a self-contained SVG.
// ---------------------------------------------------------------------------------------------
function svgPlot(): string {
  const phases = [...new Set(samples.map((s) => s.phase))];
  const W = Math.max(1200, 90 + phases.length * 190);
  const H = 560;
  const pad = { l: 70, r: 20, t: 40, b: 40 };
  const colW = (W - pad.l - pad.r) / phases.length;
  const rowH = (H - pad.t - pad.b - 40) / 2;
  const rates = (list: Sample[], key: 'rows' | 'published') =>
    list.map((s, i) => {
      const prev = list[i - 1];
      return { t: s.t, v: prev && s.t > prev.t ? Math.max(0, (s[key] - prev[key]) / (s.t - prev.t)) : 0 };
    });
  const series: Array<{ phase: string; rows: Array<{ t: number; v: number }>; pub: Array<{ t: number; v: number }>; lag: Record<string, Array<{ t: number; v: number }>> }> = phases.map((phase) => {
    const list = samples.filter((s) => s.phase === phase);
    const lag: Record<string, Array<{ t: number; v: number }>> = {};
    for (const k of ['router', 'aggregator', 'persister']) lag[k] = list.map((s) => ({ t: s.t, v: s.lag[k] ?? 0 }));
    return { phase, rows: rates(list, 'rows'), pub: rates(list, 'published').filter((x) => !Number.isNaN(x.v)), lag };
  });
  const maxRate = Math.max(1, ...series.flatMap((s) => [...s.rows, ...s.pub].map((x) => x.v)));
  const maxLag = Math.max(1, ...series.flatMap((s) => Object.values(s.lag).flat().map((x) => x.v)));
  const colors: Record<string, string> = { rows: '#1f77b4', pub: '#ff7f0e', router: '#2ca02c', aggregator: '#9467bd', persister: '#d62728' };
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">WikiMonitor end-to-end benchmark: throughput and consumer lag (1 s samples)</text>`,
  ];
  const path = (pts: Array<{ t: number; v: number }>, x0: number, y0: number, tMax: number, vMax: number, color: string) =>
    pts.length ? `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.map((p) => `${(x0 + (p.t / tMax) * (colW - 20)).toFixed(1)},${(y0 + rowH - (p.v / vMax) * rowH).toFixed(1)}`).join(' ')}"/>` : '';
  series.forEach((s, i) => {
    const x0 = pad.l + i * colW;
    const tMax = Math.max(1, ...s.rows.map((p) => p.t));
    const yRate = pad.t;
    const yLag = pad.t + rowH + 40;
    out.push(`<text x="${x0 + colW / 2 - 10}" y="${pad.t - 8}" text-anchor="middle" font-size="12">${s.phase}</text>`);
    for (const y0 of [yRate, yLag]) {
      out.push(`<rect x="${x0}" y="${y0}" width="${colW - 20}" height="${rowH}" fill="none" stroke="#999"/>`);
      out.push(`<text x="${x0}" y="${y0 + rowH + 14}">0 s</text><text x="${x0 + colW - 20}" y="${y0 + rowH + 14}" text-anchor="end">${tMax.toFixed(0)} s</text>`);
    }
    out.push(path(s.pub, x0, yRate, tMax, maxRate, colors['pub'] as string));
    out.push(path(s.rows, x0, yRate, tMax, maxRate, colors['rows'] as string));
    for (const k of ['router', 'aggregator', 'persister']) out.push(path(s.lag[k] ?? [], x0, yLag, tMax, maxLag, colors[k] as string));
  });
  out.push(`<text x="${pad.l - 6}" y="${pad.t + 8}" text-anchor="end">${Math.round(maxRate)}/s</text><text x="${pad.l - 6}" y="${pad.t + rowH}" text-anchor="end">0</text>`);
  out.push(`<text x="${pad.l - 6}" y="${pad.t + rowH + 48}" text-anchor="end">${Math.round(maxLag)}</text><text x="${pad.l - 6}" y="${pad.t + 2 * rowH + 40}" text-anchor="end">0</text>`);
  out.push(`<text transform="translate(16 ${pad.t + rowH / 2}) rotate(-90)" text-anchor="middle">events/s</text>`);
  out.push(`<text transform="translate(16 ${pad.t + rowH * 1.5 + 40}) rotate(-90)" text-anchor="middle">lag (messages)</text>`);
  const legend = [
    ['rows/s into PostgreSQL', colors['rows']],
    ['events/s published (producer)', colors['pub']],
    ['lag filter-router', colors['router']],
    ['lag aggregator', colors['aggregator']],
    ['lag dedup-persister', colors['persister']],
  ] as Array<[string, string]>;
  legend.forEach(([label, color], i) => out.push(`<rect x="${pad.l + i * 220}" y="${H - 18}" width="12" height="4" fill="${color}"/><text x="${pad.l + i * 220 + 16}" y="${H - 13}">${label}</text>`));
  out.push('</svg>');
  return out.join('\n');
}

async function main(): Promise<void> {
  const env = stackEnv();
  const bootstrap = env['KAFKA_BOOTSTRAP_SERVERS'] ?? '127.0.0.1:9092';
  buildApps('producer', 'filter-router', 'aggregator', 'dedup-persister', 'lag-monitor', 'sse-source');
  const workDir = join(ROOT, 'tmp', 'bench-e2e');
  mkdirSync(workDir, { recursive: true });
  const started = Date.now();

  const size = averageRecordSize(recorded);
  const reference = await producerPerformance(bootstrap, EVENTS, size);
  progress(`reference: ${reference.eventsPerSec} records/s`);
  const full = await phaseFullSpeed(env, workDir);
  progress(`full-speed: ${full.sustained.rowsPerSec} rows/s sustained, ${full.overallRowsPerSec} overall`);
  const backlog = await phaseBacklog(env, workDir);
  progress(`backlog: ${backlog.events} events drained in ${backlog.drainSeconds.toFixed(1)} s`);
  const latencyRuns: Array<Awaited<ReturnType<typeof phaseLatency>>> = [];
  for (let i = 1; i <= LATENCY_RUNS; i++) latencyRuns.push(await phaseLatency(env, workDir, `latency-${i}`));
  const whatIf = ARGS['no-what-if'] ? undefined : await phaseLatency(env, workDir, 'latency-analyze', 5);
  const pooled = {
    steady: latencyStats(latencyRuns.flatMap((r) => r.values.steady)),
    burst: latencyStats(latencyRuns.flatMap((r) => r.values.bursts)),
  };
  const latency = latencyRuns.map((r) => r.result);

  const m = machine();
  const lat = (l: { events: number; p50Ms: number; p99Ms: number; maxMs: number }) => [l.events, `${l.p50Ms} ms`, `${l.p99Ms} ms`, `${l.maxMs} ms`];
  const steadyLabel = `steady ${STEADY_RATE}/s (sent at ${STEADY_WARMUP_S}-${BURST_START_S} s)`;
  const burstLabel = `${BURST_FACTOR}x burst (${STEADY_RATE * BURST_FACTOR}/s for ${BURST_DURATION_S} s, ${BURSTS} bursts)`;
  const phases = [
    ['full speed', full] as const,
    ['backlog', backlog] as const,
    ...latency.map((l) => [l.phase, l] as const),
    ...(whatIf ? [[`${whatIf.result.phase} (what-if)`, whatIf.result] as const] : []),
  ];
  const rssRows = (['sse-source', ...APPS] as string[]).map((a) => [a, ...phases.map(([, r]) => r.peakRssMb[a] ?? '-')]);
  const md = `# End-to-end benchmark

All five apps and the local SSE source (the ${recorded.length} real recorded events looped with fresh \`meta.id\`s,
event times = send times) as real processes from \`dist/\`, on the local stack (Kafka 4.1.1 KRaft, Apicurio 3.3.3,
PostgreSQL 15), each phase on its own topics, groups and database. Production settings of every app (aggregator:
1 min windows, 30 s lateness), Node heap capped at 256 MB per app as in \`deploy/\`, tracing off.
Command: \`TSX_TSCONFIG_PATH=tsconfig.base.json node --import tsx bench/e2e/e2e-bench.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}\` (${((Date.now() - started) / 60_000).toFixed(1)} min).

Machine: ${m['cpu']}, ${m['cores']} cores, ${m['memoryGiB']} GiB, Node ${m['node']}, ${m['date']}. The broker, registry, database,
the SSE source, the six Node processes and the benchmark share these 2 cores (with other engineers' test runs), so
figures move from run to run; ProducerPerformance, measured in the same run, moves with them.

## Throughput

${table([
    ['measure', 'value', 'ratio to ProducerPerformance'],
    [`ProducerPerformance (same broker, ${EVENTS} records of ${size} B, acks=all, idempotent, lz4)`, `${Math.round(reference.eventsPerSec)} records/s`, '1.00'],
    [`pipeline at full speed: rows/s into PostgreSQL, sustained (10%-90% of ${full.events} rows)`, `${full.sustained.rowsPerSec} rows/s`, (full.sustained.rowsPerSec / reference.eventsPerSec).toFixed(2)],
    ['pipeline at full speed: all rows / time from first event to last row', `${full.overallRowsPerSec} rows/s (${full.seconds.toFixed(1)} s)`, (full.overallRowsPerSec / reference.eventsPerSec).toFixed(2)],
    ['producer done (all events acknowledged by Kafka) at', `${full.producerDoneAtS.toFixed(1)} s`, '-'],
    [`backlog of ${backlog.events} events in the raw topic: drained into PostgreSQL (consumers started at 0 s, ready at ${backlog.consumersReadyAfterS.toFixed(1)} s)`, `${backlog.drainSeconds.toFixed(1)} s (${backlog.drainRowsPerSec} rows/s after ready)`, (backlog.drainRowsPerSec / reference.eventsPerSec).toFixed(2)],
    ['(the producer filled that backlog in)', `${backlog.fillSeconds.toFixed(1)} s`, '-'],
  ])}

${full.stored === full.events ? `Every event of the full-speed phase was in PostgreSQL at the end (${full.stored} rows).` : `**Full-speed phase: ${full.stored} rows stored for ${full.events} events.**`}

## End-to-end latency (SSE receipt by the producer -> row in PostgreSQL)

Latency = \`persisted_at\` (the row's insert transaction time, \`now()\` in the persister's batch transaction) minus
\`received_time\` (the producer's SSE receipt, in the record). \`now()\` is the transaction's start, so each figure
leaves out the rest of that batch's write and commit (about 1-2 ms per batch at this load, see below). An event is
placed in the schedule by its event time, which in time mode \`now\` is the source's send time (to the second for
most recorded events). ${LATENCY_RUNS} runs as shipped${whatIf ? ', then one what-if run' : ''}.

${table([
    ['run', 'load', 'events', 'p50', 'p99', 'max'],
    ...latency.flatMap((l) => [
      [l.phase, steadyLabel, ...lat(l.steady)],
      [l.phase, burstLabel, ...lat(l.burst)],
    ]),
    [`all ${LATENCY_RUNS} runs pooled`, steadyLabel, ...lat(pooled.steady)],
    [`all ${LATENCY_RUNS} runs pooled`, burstLabel, ...lat(pooled.burst)],
    ...(whatIf
      ? [
          ['what-if: the benchmark runs ANALYZE wiki_changes every 5 s', steadyLabel, ...lat(whatIf.result.steady)],
          ['what-if: the benchmark runs ANALYZE wiki_changes every 5 s', burstLabel, ...lat(whatIf.result.burst)],
        ]
      : []),
  ])}

The persister's write method: ${ARGS['write-method'] ?? 'stage (the default)'}. With \`WRITE_METHOD=copy\` the burst tail
depended on its duplicate probe (\`SELECT id FROM wiki_changes WHERE id = ANY($1)\`), planned on the table's
statistics: while a fresh table grows, autovacuum's ANALYZE lags behind, the probe can run as a sequential scan, and a
2,000-record batch then took over a second until the next ANALYZE (burst p99 4.7-7.7 s in earlier runs, 0.68 s with
ANALYZE every 5 s). The default \`stage\` has no such plan: the insert itself deduplicates against the primary key
(apps/dedup-persister README; \`store.int.spec.ts\` shows both plans). The what-if phase (ANALYZE every 5 s) shows
whether statistics still matter; \`--write-method copy\` runs the old path for comparison.

## Where the two cores went (full-speed phase)

CPU seconds (user + system, from \`/proc\`, each process with its children: PostgreSQL's backends) from the
pipeline's start until the last row was stored, and the share of the machine (cores x wall time). The shared stack
also serves other test runs on the machine: its figures include them.

${table([['process', 'CPU s', 'cores used', 'share of the machine'], ...full.cpu.map((c) => [c.process, c.cpuSeconds, c.coresUsed, `${c.shareOfMachine}%`])])}

## Peak RSS per process (VmHWM, MB)

${table([['process', ...phases.map(([k]) => k)], ...rssRows])}

## dedup-persister batches (its own metrics)

${table([
    ['phase', 'batches', 'records per batch (mean)', 'batch time, decode to commit (mean)', 'PostgreSQL transaction (mean)'],
    ...phases.map(([k, r]) => [k, r.persister.batches, r.persister.meanRecordsPerBatch, `${r.persister.meanBatchMs} ms`, `${r.persister.meanDbWriteMs} ms`]),
  ])}

Exits not caused by the benchmark (the app was restarted): ${JSON.stringify(Object.fromEntries(phases.map(([k, r]) => [k, r.crashes])))}.

## Throughput and lag over the run

![throughput and lag](e2e.svg)
`;
  console.log(md);
  writeReport('e2e', { events: EVENTS, recordSize: size, reference, full, backlog, latency, latencyPooled: pooled, latencyWithAnalyze: whatIf?.result ?? null, samples, machine: m }, md);
  writeFileSync(join(RESULTS, 'e2e.svg'), svgPlot());
  progress('wrote bench/results/e2e.svg');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
