// The one app-process launcher for integration tests, the e2e harness and the benchmarks: every
// child node process of the project (a TypeScript entry through tsx, or a built app) starts here.
import { type ChildProcess, spawn } from 'node:child_process';
import { type WriteStream, createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './recorded';
import { waitFor } from './names';

export const APP_NAMES = ['sse-source', 'producer', 'filter-router', 'aggregator', 'dedup-persister', 'lag-monitor', 'action-api-source', 'enricher', 'jetstream-source'] as const;
export type AppName = (typeof APP_NAMES)[number];

/** What a process runs: a TypeScript entry point (through tsx, with the workspace's path aliases) or a built app. */
export type ProcessEntry = { ts: string } | { built: string; sourceMaps?: boolean };

/** Every child process started here and still running: killed by {@link killAllAppProcesses} (Ctrl-C of a suite). */
const live = new Set<ChildProcess>();

function spawnEntry(entry: ProcessEntry, args: string[], env: Record<string, string>): ChildProcess {
  const nodeArgs =
    'ts' in entry
      ? ['--import', 'tsx', join(REPO_ROOT, entry.ts)]
      : [...(entry.sourceMaps === false ? [] : ['--enable-source-maps']), join(REPO_ROOT, 'dist', 'apps', entry.built, 'main.js')];
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...('ts' in entry ? { TSX_TSCONFIG_PATH: join(REPO_ROOT, 'tsconfig.base.json') } : {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** SIGKILLs every process this module started that is still running (for an interrupted run). */
export function killAllAppProcesses(): number {
  let n = 0;
  for (const c of live) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      n++;
    }
  }
  live.clear();
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sum of a Prometheus metric's samples at `baseUrl`/metrics (0 when absent, NaN when the process does not answer). */
export async function scrapeMetric(baseUrl: string, name: string, labelFilter?: string): Promise<number> {
  try {
    const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!(line.startsWith(`${name} `) || line.startsWith(`${name}{`))) continue;
      if (labelFilter && !line.includes(labelFilter)) continue;
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  } catch {
    return NaN;
  }
}

function vmHwmMb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Lines of stdout/stderr so far (JSON logs parse line by line). */
  output(): string;
  kill(signal?: NodeJS.Signals): void;
  exited(): Promise<number | null>;
  /** Polls GET url until it answers 2xx. */
  waitReady(url: string, timeoutMs?: number): Promise<void>;
}

/**
 * Runs one of the project's TypeScript entry points as a real OS process (so tests can kill -9 it),
 * through tsx with the workspace's path aliases. Output goes to tmp/test-logs/<name>-<pid>.log too.
 */
export function startTsProcess(name: string, entry: string, env: Record<string, string>, args: string[] = []): ServiceProcess {
  return startServiceProcess(name, { ts: entry }, env, args);
}

/** Runs a built app (`dist/apps/<app>/main.js`, from `nx build <app>`) as a real OS process. */
export function startBuiltApp(app: string, env: Record<string, string>, args: string[] = []): ServiceProcess {
  return startServiceProcess(app, { built: app }, env, args);
}

function startServiceProcess(name: string, entry: ProcessEntry, env: Record<string, string>, args: string[]): ServiceProcess {
  const logDir = join(REPO_ROOT, 'tmp', 'test-logs');
  mkdirSync(logDir, { recursive: true });
  const child = spawnEntry(entry, args, env);
  const logFile = join(logDir, `${name}-${child.pid}.log`);
  const sink = createWriteStream(logFile);
  let out = '';
  const collect = (b: Buffer) => {
    sink.write(b);
    if (out.length < 5_000_000) out += b.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name,
    child,
    logFile,
    output: () => out,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    exited: () => exit,
    async waitReady(url, timeoutMs = 60_000) {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${out.slice(-2000)}`);
          const res = await fetch(url).catch(() => undefined);
          return res?.ok;
        },
        `${name} ready at ${url}`,
        timeoutMs,
        250,
      );
    },
  };
}

export interface AppProcessOptions {
  name: AppName;
  /** Label in logs and file names (e.g. the run prefix). */
  label: string;
  httpPort: number;
  env: Record<string, string>;
  args?: string[];
  logDir: string;
  log?: (line: string) => void;
  /** Restart after an exit we did not cause (like a supervisor would); default true. */
  supervise?: boolean;
  /** `--enable-source-maps` (default true; benchmarks turn it off to measure the bare app). */
  sourceMaps?: boolean;
}

/**
 * One app of the pipeline as a real OS process from its build (`dist/apps/<name>/main.js`), under a
 * small supervisor: an exit we did not ask for is restarted after a second (and counted), as
 * Kubernetes would. `kill9` is SIGKILL, `pause`/`resume` are SIGSTOP/SIGCONT (a stalled process).
 */
export interface AppProcess {
  readonly name: AppName;
  readonly httpPort: number;
  readonly url: string;
  pid(): number | undefined;
  running(): boolean;
  start(): void;
  /** SIGKILL; restarts after `restartAfterMs` (undefined = stays down until start()). */
  kill9(restartAfterMs?: number): Promise<void>;
  pause(): void;
  resume(): void;
  /** SIGTERM and wait for the exit (SIGKILL after the timeout); no restart. */
  stop(timeoutMs?: number): Promise<void>;
  waitReady(path?: '/readyz' | '/healthz', timeoutMs?: number): Promise<void>;
  /** Sum of a Prometheus metric's samples (0 when absent, NaN when the app does not answer). */
  metric(name: string, labelFilter?: string): Promise<number>;
  /** Largest VmHWM (MB) over every process this app ran as. */
  peakRssMb(): number;
  /** Exits we caused (kill9) and ones we did not (crashes). */
  counts(): { starts: number; kills: number; crashes: number };
  /** The last lines of the current log file. */
  tail(lines?: number): string;
}

export function createAppProcess(opts: AppProcessOptions): AppProcess {
  const log = opts.log ?? (() => undefined);
  const supervise = opts.supervise ?? true;
  const url = `http://127.0.0.1:${opts.httpPort}`;
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = join(opts.logDir, `${opts.label}-${opts.name}.log`);
  let sink: WriteStream | undefined;
  let child: ChildProcess | undefined;
  let expectedExit = false;
  let stopped = false;
  let peak = 0;
  let rssTimer: NodeJS.Timeout | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  const counts = { starts: 0, kills: 0, crashes: 0 };
  let recent = '';

  const sampleRss = () => {
    peak = Math.max(peak, vmHwmMb(child?.pid));
  };

  const start = () => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    if (restartTimer) clearTimeout(restartTimer);
    restartTimer = undefined;
    stopped = false;
    expectedExit = false;
    sink ??= createWriteStream(logFile, { flags: 'a' });
    counts.starts++;
    const c = spawnEntry({ built: opts.name, sourceMaps: opts.sourceMaps ?? true }, opts.args ?? [], { ...opts.env, HTTP_PORT: String(opts.httpPort) });
    child = c;
    const collect = (b: Buffer) => {
      sink?.write(b);
      recent = (recent + b.toString('utf8')).slice(-20_000);
    };
    c.stdout?.on('data', collect);
    c.stderr?.on('data', collect);
    sink.write(`\n===== ${new Date().toISOString()} start #${counts.starts} pid ${c.pid}\n`);
    rssTimer ??= setInterval(sampleRss, 500);
    c.once('exit', (code, signal) => {
      sampleRss();
      sink?.write(`\n===== ${new Date().toISOString()} exit code ${code} signal ${signal}\n`);
      if (child !== c) return;
      if (expectedExit || stopped) return;
      counts.crashes++;
      log(`${opts.name} exited by itself (code ${code}, signal ${signal}); restarting in 1 s`);
      if (supervise) restartTimer = setTimeout(start, 1000);
    });
  };

  const alive = () => Boolean(child && child.exitCode === null && child.signalCode === null);

  const waitExit = async (c: ChildProcess, timeoutMs: number) => {
    if (c.exitCode !== null || c.signalCode !== null) return true;
    return Promise.race([new Promise<boolean>((r) => c.once('exit', () => r(true))), sleep(timeoutMs).then(() => false)]);
  };

  return {
    name: opts.name,
    httpPort: opts.httpPort,
    url,
    pid: () => (alive() ? child?.pid : undefined),
    running: alive,
    start,
    async kill9(restartAfterMs) {
      const c = child;
      if (!c || !alive()) return;
      sampleRss();
      expectedExit = true;
      counts.kills++;
      c.kill('SIGKILL');
      await waitExit(c, 10_000);
      if (restartAfterMs !== undefined) restartTimer = setTimeout(start, restartAfterMs);
    },
    pause() {
      if (alive()) child?.kill('SIGSTOP');
    },
    resume() {
      if (alive()) child?.kill('SIGCONT');
    },
    async stop(timeoutMs = 30_000) {
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = undefined;
      const c = child;
      if (c && alive()) {
        sampleRss();
        c.kill('SIGCONT');
        c.kill('SIGTERM');
        if (!(await waitExit(c, timeoutMs))) {
          log(`${opts.name} did not stop in ${timeoutMs} ms; SIGKILL`);
          c.kill('SIGKILL');
          await waitExit(c, 10_000);
        }
      }
      if (rssTimer) clearInterval(rssTimer);
      rssTimer = undefined;
      await new Promise<void>((resolve) => (sink ? sink.end(() => resolve()) : resolve()));
      sink = undefined;
    },
    async waitReady(path = '/readyz', timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(2000) });
          await res.arrayBuffer();
          if (res.ok) return;
        } catch {
          /* not up yet */
        }
        if (Date.now() > deadline) throw new Error(`${opts.name} not ready at ${path} after ${timeoutMs} ms; log ${logFile}:\n${recent.slice(-3000)}`);
        await sleep(250);
      }
    },
    metric: (name, labelFilter) => scrapeMetric(url, name, labelFilter),
    peakRssMb() {
      sampleRss();
      return Math.round(peak);
    },
    counts: () => ({ ...counts }),
    tail: (lines = 40) => recent.split('\n').slice(-lines).join('\n'),
  };
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
