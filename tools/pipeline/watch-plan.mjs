// What `nx serve <app>`'s watch mode decides, as pure functions (no I/O, no node: builtins), so they
// are tested table-driven (watch-plan.test.mjs): which files belong to the app's build, the build's
// command, and when to build and restart (the reducer that watch.mjs drives with file events,
// timers and build results).

/** Not part of any build: tests, Jest configs, dependencies, build output, editor scratch files. */
const NEVER = [
  /(^|\/)node_modules\//,
  /(^|\/)dist\//,
  /\.spec\.[cm]?[jt]s$/,
  /(^|\/)jest\.config\.[cm]?[jt]s$/,
  /(^|\/)\.[^/]*\.sw[a-p]$/, // vim swap files
  /(^|\/)\.#/, // emacs lock files
  /~$/,
  /(^|\/)4913$/, // vim's write probe
  /\.tmp$/,
];

/**
 * The `@wikimonitor/*` modules a source file imports (static, dynamic, require, re-exports).
 * @param {string} source
 * @returns {string[]}
 */
export function workspaceImports(source) {
  const found = new Set();
  for (const m of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"](@wikimonitor\/[^'"]+)['"]/g)) found.add(String(m[1]));
  return [...found].sort();
}

/**
 * The project root (e.g. libs/kafka) that a tsconfig path target (./libs/kafka/src/index.ts) lies in:
 * the longest of `projectRoots` that contains it.
 * @param {string} target
 * @param {string[]} projectRoots
 * @returns {string | undefined}
 */
export function projectRootOf(target, projectRoots) {
  const path = target.replace(/^\.\//, '');
  return projectRoots.filter((r) => path.startsWith(`${r}/`)).sort((a, b) => b.length - a.length)[0];
}

/**
 * The projects an app's build reads: the app, then every workspace lib its sources import, transitively.
 * @param {string} appRoot e.g. apps/producer
 * @param {(projectRoot: string) => string[]} importsOf the `@wikimonitor/*` imports of a project's production sources
 * @param {Record<string, string[]>} paths tsconfig.base.json compilerOptions.paths
 * @param {string[]} projectRoots every project's root
 * @returns {string[]} project roots, the app first
 */
export function buildClosure(appRoot, importsOf, paths, projectRoots) {
  const seen = [appRoot];
  for (let i = 0; i < seen.length; i++) {
    for (const spec of importsOf(/** @type {string} */ (seen[i]))) {
      const target = paths[spec]?.[0];
      const root = target === undefined ? undefined : projectRootOf(target, projectRoots);
      if (root !== undefined && !seen.includes(root)) seen.push(root);
    }
  }
  return seen;
}

/**
 * A glob of Nx inputs (`tools/ops/src/**\/*.ts`) as a regular expression over workspace-relative paths.
 * @param {string} glob
 */
export function globToRegExp(glob) {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = /** @type {string} */ (glob[i]);
    if (glob.startsWith('**/', i)) {
      re += '(?:.*/)?';
      i += 2;
    } else if (glob.startsWith('**', i)) {
      re += '.*';
      i += 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The directory part of a glob before its first wildcard (what to watch for it). @param {string} glob */
export const globBase = (glob) => glob.split('/').filter((_, i, parts) => !parts.slice(0, i + 1).some((p) => /[*?[{]/.test(p))).join('/');

/**
 * What to watch for one app: the directories and the test deciding whether a changed file (a path
 * relative to the workspace root) is one of the build's inputs. Mirrors Nx's inputs of the build
 * target: "production" of the app and of the libs it depends on, the shared globals
 * (tsconfig.base.json, schemas/), and the build target's own `{workspaceRoot}/...` inputs.
 * @param {{ projects: string[], buildInputs?: string[] }} spec
 * @returns {{ dirs: string[], files: string[], isInput: (path: string) => boolean }}
 */
export function watchPlan({ projects, buildInputs = [] }) {
  const globs = buildInputs.filter((i) => i.startsWith('{workspaceRoot}/')).map((i) => i.slice('{workspaceRoot}/'.length));
  const extra = globs.map(globToRegExp);
  const dirs = [...new Set([...projects, 'schemas', ...globs.map(globBase).filter((b) => b && !globs.includes(b))])];
  const files = ['tsconfig.base.json', ...globs.filter((g) => globBase(g) === g)];
  const isInput = (/** @type {string} */ path) => {
    const p = path.replace(/^\.\//, '');
    if (NEVER.some((re) => re.test(p))) return false;
    if (files.includes(p)) return true;
    if (projects.some((r) => p.startsWith(`${r}/`))) return true;
    if (p.startsWith('schemas/')) return true;
    return extra.some((re) => re.test(p));
  };
  return { dirs, files, isInput };
}

/**
 * The shell command of an app's build target, as Nx would run it: the project's own options.command,
 * else nx.json's targetDefaults, with {projectName}/{projectRoot}/{workspaceRoot} filled in.
 * @param {{ name: string, root: string, project: { targets?: Record<string, { options?: { command?: string } }> }, nxJson: { targetDefaults?: Record<string, { options?: { command?: string } }> } }} spec
 * @returns {string | undefined}
 */
export function buildCommand({ name, root, project, nxJson }) {
  const command = project.targets?.['build']?.options?.command ?? nxJson.targetDefaults?.['build']?.options?.command;
  return command?.replaceAll('{projectName}', name).replaceAll('{projectRoot}', root).replaceAll('{workspaceRoot}', '.');
}

/**
 * @typedef {{ phase: 'idle' | 'debouncing' | 'building' | 'restarting', quietUntil: number, again: boolean, changed: string[] }} WatchState
 * @typedef {{ type: 'change', at: number, path: string }
 *   | { type: 'timer', at: number }
 *   | { type: 'built', at: number, ok: boolean, outputChanged: boolean }
 *   | { type: 'restarted', at: number }} WatchEvent
 * @typedef {{ type: 'timer', at: number } | { type: 'build', changed: string[] } | { type: 'restart' } | { type: 'keep', reason: 'failed' | 'unchanged' }} WatchAction
 */

/** @type {WatchState} */
export const IDLE = { phase: 'idle', quietUntil: 0, again: false, changed: [] };

/**
 * The watch loop's decisions. A change waits for `debounceMs` of quiet (an editor's save, a git
 * checkout or a lib used by every app under `nx run-many -t serve` arrives as a burst of events: one
 * build, not one per event); changes while a build or a restart runs are built once it is over. A
 * failed build keeps the running app (the next change builds again); a build whose output is the same
 * (a comment, a test helper) does not restart it.
 * @param {WatchState} state
 * @param {WatchEvent} event
 * @param {number} debounceMs
 * @returns {{ state: WatchState, actions: WatchAction[] }}
 */
export function nextStep(state, event, debounceMs) {
  /** @param {number} at @param {string[]} changed @returns {{ state: WatchState, actions: WatchAction[] }} */
  const debounce = (at, changed) => ({ state: { phase: 'debouncing', quietUntil: at + debounceMs, again: false, changed }, actions: [{ type: 'timer', at: at + debounceMs }] });
  /** @param {string[]} list @param {string} path */
  const plus = (list, path) => (list.includes(path) ? list : [...list, path]);
  switch (event.type) {
    case 'change':
      if (state.phase === 'idle') return debounce(event.at, [event.path]);
      if (state.phase === 'debouncing') return debounce(event.at, plus(state.changed, event.path));
      return { state: { ...state, again: true, changed: plus(state.changed, event.path) }, actions: [] };
    case 'timer':
      if (state.phase !== 'debouncing' || event.at < state.quietUntil) return { state, actions: [] };
      return { state: { phase: 'building', quietUntil: 0, again: false, changed: [] }, actions: [{ type: 'build', changed: state.changed }] };
    case 'built': {
      if (state.phase !== 'building') return { state, actions: [] };
      if (event.ok && event.outputChanged) return { state: { ...state, phase: 'restarting' }, actions: [{ type: 'restart' }] };
      /** @type {WatchAction} */
      const keep = { type: 'keep', reason: event.ok ? 'unchanged' : 'failed' };
      if (state.again) {
        const next = debounce(event.at, state.changed);
        return { state: next.state, actions: [keep, ...next.actions] };
      }
      return { state: IDLE, actions: [keep] };
    }
    case 'restarted':
      if (state.phase !== 'restarting') return { state, actions: [] };
      return state.again ? debounce(event.at, state.changed) : { state: IDLE, actions: [] };
  }
}
