import { type ChildProcess, spawn } from 'node:child_process';
import { type WriteStream, createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@wikimonitor/testing';

export const APP_NAMES = ['sse-source', 'producer', 'filter-router', 'aggregator', 'dedup-persister', 'lag-monitor'] as const;
export type AppName = (typeof APP_NAMES)[number];

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
  /** Sum of a Prometheus metric's samples (NaN when the app does not answer). */
  metric(name: string, labelFilter?: string): Promise<number>;
  /** Largest VmHWM (MB) over every process this app ran as. */
  peakRssMb(): number;
  /** Exits we caused (kill9) and ones we did not (crashes). */
  counts(): { starts: number; kills: number; crashes: number };
  /** The last lines of the current log file. */
  tail(lines?: number): string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every child process started here and still running: killed by {@link killAllAppProcesses} (Ctrl-C of a suite). */
const live = new Set<ChildProcess>();

/** SIGKILLs every app process this module started that is still running (for an interrupted run). */
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

function vmHwmMb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export function createAppProcess(opts: AppProcessOptions): AppProcess {
  const log = opts.log ?? (() => undefined);
  const supervise = opts.supervise ?? true;
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
    const c = spawn(process.execPath, ['--enable-source-maps', join(REPO_ROOT, 'dist', 'apps', opts.name, 'main.js'), ...(opts.args ?? [])], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...opts.env, HTTP_PORT: String(opts.httpPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    live.add(c);
    const collect = (b: Buffer) => {
      sink?.write(b);
      recent = (recent + b.toString('utf8')).slice(-20_000);
    };
    c.stdout?.on('data', collect);
    c.stderr?.on('data', collect);
    sink.write(`\n===== ${new Date().toISOString()} start #${counts.starts} pid ${c.pid}\n`);
    rssTimer ??= setInterval(sampleRss, 500);
    c.once('exit', (code, signal) => {
      live.delete(c);
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
    url: `http://127.0.0.1:${opts.httpPort}`,
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
          const res = await fetch(`http://127.0.0.1:${opts.httpPort}${path}`, { signal: AbortSignal.timeout(2000) });
          await res.arrayBuffer();
          if (res.ok) return;
        } catch {
          /* not up yet */
        }
        if (Date.now() > deadline) throw new Error(`${opts.name} not ready at ${path} after ${timeoutMs} ms; log ${logFile}:\n${recent.slice(-3000)}`);
        await sleep(250);
      }
    },
    async metric(name, labelFilter) {
      try {
        const res = await fetch(`http://127.0.0.1:${opts.httpPort}/metrics`, { signal: AbortSignal.timeout(3000) });
        const text = await res.text();
        let sum = 0;
        let seen = false;
        for (const line of text.split('\n')) {
          if (!(line.startsWith(`${name} `) || line.startsWith(`${name}{`))) continue;
          if (labelFilter && !line.includes(labelFilter)) continue;
          sum += Number(line.slice(line.lastIndexOf(' ') + 1));
          seen = true;
        }
        return seen ? sum : 0;
      } catch {
        return NaN;
      }
    },
    peakRssMb() {
      sampleRss();
      return Math.round(peak);
    },
    counts: () => ({ ...counts }),
    tail: (lines = 40) => recent.split('\n').slice(-lines).join('\n'),
  };
}
