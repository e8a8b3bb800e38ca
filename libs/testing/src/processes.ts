import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './recorded';
import { waitFor } from './names';

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
  return startProcess(name, ['--import', 'tsx', join(REPO_ROOT, entry), ...args], env);
}

/** Runs a built app (`dist/apps/<app>/main.js`, from `nx build <app>`) as a real OS process. */
export function startBuiltApp(app: string, env: Record<string, string>, args: string[] = []): ServiceProcess {
  return startProcess(app, ['--enable-source-maps', join(REPO_ROOT, 'dist', 'apps', app, 'main.js'), ...args], env);
}

function startProcess(name: string, nodeArgs: string[], env: Record<string, string>): ServiceProcess {
  const logDir = join(REPO_ROOT, 'tmp', 'test-logs');
  mkdirSync(logDir, { recursive: true });
  const child = spawn(process.execPath, nodeArgs, {
    cwd: REPO_ROOT,
    env: { ...process.env, TSX_TSCONFIG_PATH: join(REPO_ROOT, 'tsconfig.base.json'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
