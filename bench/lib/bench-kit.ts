// Small helpers shared by the benchmarks: starting apps (through @wikimonitor/testing's launcher), reports.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import avro from 'avsc';
import { WikiChangeSchema } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { type CliOptions, type CliValues, parseCommandLine } from '@wikimonitor/service-kit';
import { type AppName, type AppProcess, type RecordedEvent, createAppProcess } from '@wikimonitor/testing';

export const ROOT = resolve(__dirname, '..', '..');
export const RESULTS = join(ROOT, 'bench', 'results');

/**
 * A benchmark's command line, through the workspace's strict parser: --help prints `usage` and exits 0;
 * an unknown flag or a bad value prints the problem and the usage and exits 2 (a misspelt flag never
 * runs the benchmark with its defaults).
 */
export function benchArgs<const O extends CliOptions>(usage: string, options: O): CliValues<O> {
  const r = parseCommandLine({ usage, options }, process.argv.slice(2));
  if (r.ok) return r.values;
  if (r.exitCode === 0) console.log(r.text);
  else console.error(`${basename(process.argv[1] ?? 'bench')}: ${r.text}`);
  process.exit(r.exitCode);
}

export function progress(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export function stackEnv(): Record<string, string> {
  const r = spawnSync(process.execPath, [join(ROOT, 'tools/stack/stack.mjs'), 'env'], { encoding: 'utf8' });
  const env: Record<string, string> = {};
  for (const m of r.stdout.matchAll(/^export ([A-Z_]+)=(.*)$/gm)) env[m[1] as string] = (m[2] as string).replace(/^["']|["']$/g, '');
  return env;
}

export function buildApps(...apps: string[]): void {
  progress(`building ${apps.join(', ')}`);
  const r = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '-p', ...apps, '--outputStyle=static'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' } });
  if (r.status !== 0) throw new Error('build failed');
}

/**
 * An app from its build (`dist/apps/<app>/main.js`) on `port`, through the shared launcher, without
 * supervision or source maps (the bare app is what is measured). Logs go to tmp/bench-logs.
 */
export function startApp(app: AppName, port: number, env: Record<string, string>, args: string[] = []): AppProcess {
  const proc = createAppProcess({ name: app, label: String(port), httpPort: port, env, args, logDir: join(ROOT, 'tmp', 'bench-logs'), supervise: false, sourceMaps: false });
  proc.start();
  return proc;
}

export async function waitHttp(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${url}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Polls a producer until `expected` events are published (producer_events_published_total); the rate
 * counts from the first published event (start-up excluded). Also its mean batch write and receipt-to-commit.
 */
export async function awaitPublished(producer: AppProcess, expected: number, label: string, timeoutMs = 15 * 60_000) {
  let first = 0;
  let firstCount = 0;
  let lastReport = Date.now();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await producer.metric('producer_events_published_total');
    if (!first && n > 0) {
      first = Date.now();
      firstCount = n;
    }
    if (n >= expected) break;
    if (Date.now() > deadline) throw new Error(`${label}: only ${n} of ${expected} published in ${Math.round(timeoutMs / 60_000)} min`);
    if (Date.now() - lastReport > 5000) {
      progress(`${label}: ${n}/${expected} published`);
      lastReport = Date.now();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (Date.now() - first) / 1000;
  const mean = async (histogram: string) => {
    const count = await producer.metric(`${histogram}_count`);
    return count ? (await producer.metric(`${histogram}_sum`)) / count : 0;
  };
  return {
    eventsPerSec: Math.round((expected - firstCount) / seconds),
    peakRssMb: Math.round(producer.peakRssMb()),
    batches: await producer.metric('producer_commit_seconds_count'),
    /** Mean time to write one batch (transactional: begin + sends + commit; else sends, then the position). */
    meanCommitMs: Math.round((await mean('producer_commit_seconds')) * 10_000) / 10,
    /** Mean time from receipt to the commit of the event's batch. */
    meanPublishLatencyMs: Math.round((await mean('producer_publish_latency_seconds')) * 10_000) / 10,
  };
}

export function machine(): Record<string, string | number> {
  return { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, date: new Date().toISOString() };
}

/** Kafka's own jars from the local stack's cache (for ProducerPerformance and friends). */
export function kafkaClasspath(): string {
  const dir = join(ROOT, '.stack', 'cache');
  const kafka = readdirSync(dir).find((d) => d.startsWith('kafka-'));
  if (!kafka) throw new Error('Kafka jars not found: run `node tools/stack/stack.mjs up` first');
  return `${join(dir, kafka, 'libs')}/*`;
}

export function writeReport(name: string, data: unknown, markdown: string): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, `${name}.json`), `${JSON.stringify(data, null, 2)}\n`);
  writeFileSync(join(RESULTS, `${name}.md`), markdown);
  progress(`wrote bench/results/${name}.json and .md`);
}

export function table(rows: Array<Array<string | number>>): string {
  const [head, ...body] = rows.map((r) => r.map(String));
  if (!head) return '';
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Average Confluent-wire-format size of the recorded events as WikiChange (ProducerPerformance's record size). */
export function averageRecordSize(recorded: RecordedEvent[]): number {
  const type = avro.Type.forSchema(WikiChangeSchema as unknown as avro.Schema);
  let total = 0;
  for (const r of recorded) {
    const n = normalizeRecentChange(r.json, { receivedTime: Date.now(), sseId: '[{"topic":"local.mediawiki.recentchange","partition":0,"offset":1234567,"timestamp":1700000000000}]' });
    if (n.kind === 'change') total += type.toBuffer(n.change).length + 5;
  }
  return Math.round(total / recorded.length);
}

/**
 * CPU seconds (user + system) of each process tree, from /proc: the process, its live descendants
 * (PostgreSQL's backends, the JVMs' threads are in the process) and its reaped children. Two
 * snapshots around a phase give where the machine's cores went (cpuBreakdown).
 */
export function cpuSnapshot(roots: Record<string, number | undefined>): Record<string, number> {
  const tick = 100; // USER_HZ on Linux
  const stats = new Map<number, { ppid: number; seconds: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // After the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
      stats.set(Number(name), { ppid: Number(f[1]), seconds: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / tick });
    } catch {
      /* gone meanwhile */
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  const treeSeconds = (pid: number): number => (stats.get(pid)?.seconds ?? 0) + (children.get(pid) ?? []).reduce((n, c) => n + treeSeconds(c), 0);
  return Object.fromEntries(Object.entries(roots).map(([label, pid]) => [label, pid ? treeSeconds(pid) : NaN]));
}

/** The local stack's service processes (`.stack/run/<service>.pid`). */
export function stackPids(): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {};
  for (const [label, file] of [['kafka', 'kafka.pid'], ['apicurio', 'apicurio.pid'], ['postgres', 'postgres.pid'], ['jaeger', 'jaeger.pid']] as const) {
    try {
      out[label] = Number(readFileSync(join(ROOT, '.stack', 'run', file), 'utf8').trim().split('\n')[0]) || undefined;
    } catch {
      out[label] = undefined;
    }
  }
  return out;
}

/** CPU seconds per process between two snapshots, and each one's share of the machine (cores x seconds). */
export function cpuBreakdown(before: Record<string, number>, after: Record<string, number>, wallSeconds: number): Array<{ process: string; cpuSeconds: number; coresUsed: number; shareOfMachine: number }> {
  const cores = cpus().length;
  return Object.keys(after)
    .map((p) => {
      const cpuSeconds = Math.max(0, (after[p] ?? 0) - (before[p] ?? 0));
      return { process: p, cpuSeconds: Math.round(cpuSeconds * 10) / 10, coresUsed: Math.round((cpuSeconds / wallSeconds) * 100) / 100, shareOfMachine: Math.round((cpuSeconds / (wallSeconds * cores)) * 1000) / 10 };
    })
    .filter((r) => Number.isFinite(r.cpuSeconds))
    .sort((a, b) => b.cpuSeconds - a.cpuSeconds);
}
