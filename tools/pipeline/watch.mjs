// The I/O half of `nx serve <app>`'s watch mode (the decisions are watch-plan.mjs): file events from
// fs.watch, timers, one build at a time across every serve of this checkout, the build output's
// hash, and stopping an app gracefully.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { IDLE, buildClosure, buildCommand, nextStep, watchPlan, workspaceImports } from './watch-plan.mjs';

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Every file under `dir` (recursively), relative to it, skipping node_modules.
 * @param {string} dir
 * @returns {string[]}
 */
function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !join(e.parentPath, e.name).includes(`${sep}node_modules${sep}`))
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

/**
 * The watch plan of one app of this workspace: its project, the libs its sources import (through
 * tsconfig.base.json's paths), the build target's extra inputs, and the build's command.
 * @param {string} root workspace root
 * @param {string} app
 */
export function appWatchPlan(root, app) {
  const appRoot = `apps/${app}`;
  const project = JSON.parse(readFileSync(join(root, appRoot, 'project.json'), 'utf8'));
  const nxJson = JSON.parse(readFileSync(join(root, 'nx.json'), 'utf8'));
  const paths = JSON.parse(readFileSync(join(root, 'tsconfig.base.json'), 'utf8')).compilerOptions?.paths ?? {};
  const projectRoots = ['apps', 'libs'].flatMap((d) => readdirSync(join(root, d)).map((p) => `${d}/${p}`)).filter((p) => existsSync(join(root, p, 'project.json')));
  // The bundle starts at src/: only what src's (non-test) files import is in it.
  const importsOf = (/** @type {string} */ projectRoot) =>
    filesUnder(join(root, projectRoot, 'src'))
      .filter((f) => /\.[cm]?tsx?$/.test(f) && !/\.spec\.[cm]?tsx?$/.test(f))
      .flatMap((f) => workspaceImports(readFileSync(join(root, projectRoot, 'src', f), 'utf8')));
  const projects = buildClosure(appRoot, importsOf, paths, projectRoots);
  const buildInputs = project.targets?.build?.inputs ?? nxJson.targetDefaults?.build?.inputs ?? [];
  const command = buildCommand({ name: app, root: appRoot, project, nxJson });
  if (!command) throw new Error(`${appRoot} has no build command (project.json or nx.json targetDefaults)`);
  return { ...watchPlan({ projects, buildInputs }), projects, command };
}

/**
 * A digest of every file of a build's output directory (recursive): equal digests, same build.
 * @param {string} dir
 */
export function outputDigest(dir) {
  const hash = createHash('sha256');
  for (const f of filesUnder(dir).sort()) hash.update(f).update('\0').update(readFileSync(join(dir, f))).update('\0');
  return hash.digest('hex');
}

/**
 * Runs `fn` holding a lock file (one holder at a time across processes; a holder that died leaves
 * a lock the next one takes over). `nx run-many -t serve` watches six apps: a change to a lib they
 * share builds them one after the other, not six esbuilds on two cores at once.
 * @template T
 * @param {string} lock
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function withFileLock(lock, fn) {
  mkdirSync(dirname(lock), { recursive: true });
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      writeFileSync(lock, `${process.pid}\n`);
      break;
    } catch {
      let holder = 0;
      try {
        holder = Number(readFileSync(lock, 'utf8').trim());
      } catch {
        // released meanwhile
      }
      if (holder && !alive(holder)) rmSync(lock, { force: true });
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** @param {number} pid */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a shell command in `cwd` in its own process group (so a stop reaches every process of it),
 * its output on ours; resolves with its exit code (1 when killed).
 * @param {string} command
 * @param {{ cwd: string, env?: NodeJS.ProcessEnv, onSpawn?: (child: import('node:child_process').ChildProcess) => void }} opts
 * @returns {Promise<number>}
 */
export function runCommand(command, { cwd, env, onSpawn }) {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { cwd, env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    onSpawn?.(child);
    child.on('error', () => resolve(1));
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

/**
 * Stops a child process gracefully: SIGTERM, up to `timeoutMs` for it to exit, then SIGKILL.
 * @param {import('node:child_process').ChildProcess} child
 * @param {number} timeoutMs
 * @returns {Promise<{ code: number | null, signal: NodeJS.Signals | null, killed: boolean }>}
 */
export function stopChild(child, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode, killed: false });
  return new Promise((resolve) => {
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, killed });
    });
    child.kill('SIGTERM');
  });
}

/**
 * Watches `plan`'s directories and files under `root` and runs the loop of watch-plan.mjs's nextStep:
 * `build()` after a quiet `debounceMs`, `restart()` when the build's output changed.
 * @param {{
 *   root: string,
 *   plan: { dirs: string[], files: string[], isInput: (path: string) => boolean },
 *   build: (changed: string[]) => Promise<{ ok: boolean, outputChanged: boolean }>,
 *   restart: () => Promise<void>,
 *   debounceMs?: number,
 *   log?: (msg: string) => void,
 *   now?: () => number,
 * }} opts
 * @returns {{ close: () => void, idle: () => boolean }}
 */
export function watchAndRestart({ root, plan, build, restart, debounceMs = 300, log = () => undefined, now = Date.now }) {
  let state = IDLE;
  let closed = false;
  /** @type {Set<NodeJS.Timeout>} */
  const timers = new Set();
  /** @param {import('./watch-plan.mjs').WatchEvent} event */
  const dispatch = (event) => {
    if (closed) return;
    const step = nextStep(state, event, debounceMs);
    state = step.state;
    for (const action of step.actions) {
      if (action.type === 'timer') {
        const t = setTimeout(() => {
          timers.delete(t);
          dispatch({ type: 'timer', at: Math.max(now(), action.at) });
        }, Math.max(0, action.at - now()));
        timers.add(t);
      } else if (action.type === 'build') {
        log(`rebuilding (${action.changed.slice(0, 3).join(', ')}${action.changed.length > 3 ? ` and ${action.changed.length - 3} more` : ''} changed)`);
        build(action.changed).then(
          (r) => dispatch({ type: 'built', at: now(), ...r }),
          (err) => {
            log(`build error: ${err instanceof Error ? err.message : String(err)}`);
            dispatch({ type: 'built', at: now(), ok: false, outputChanged: false });
          },
        );
      } else if (action.type === 'restart') {
        restart().then(
          () => dispatch({ type: 'restarted', at: now() }),
          (err) => {
            log(`restart error: ${err instanceof Error ? err.message : String(err)}`);
            dispatch({ type: 'restarted', at: now() });
          },
        );
      } else {
        log(action.reason === 'failed' ? 'build failed: the app keeps running the previous build; save again to retry' : 'build output unchanged: no restart');
      }
    }
  };
  /** @type {import('node:fs').FSWatcher[]} */
  const watchers = [];
  /** @param {string} dir @param {boolean} recursive */
  const watchDir = (dir, recursive) => {
    const abs = join(root, dir);
    if (!existsSync(abs)) return;
    const w = watch(abs, { recursive }, (_event, name) => {
      if (name === null) return;
      const path = relative(root, join(abs, String(name))).split(sep).join('/');
      if (plan.isInput(path)) dispatch({ type: 'change', at: now(), path });
    });
    w.on('error', (err) => log(`watch ${dir}: ${err.message}`));
    watchers.push(w);
  };
  for (const dir of plan.dirs) watchDir(dir, true);
  for (const dir of new Set(plan.files.map((f) => dirname(f)))) if (!plan.dirs.includes(dir)) watchDir(dir, false);
  return {
    close() {
      closed = true;
      for (const w of watchers) w.close();
      for (const t of timers) clearTimeout(t);
    },
    idle: () => state.phase === 'idle',
  };
}
