// `nx serve <app>`'s watch mode: the decisions (watch-plan.mjs) table-driven, then the loop
// (watch.mjs) on a scratch workspace with real file events, a real build command and real app
// processes: a change rebuilds, and the app is stopped with SIGTERM and started on the new build.
// Run by `nx test workspace-tools` (node --test).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { IDLE, buildClosure, buildCommand, globBase, globToRegExp, nextStep, watchPlan, workspaceImports } from './watch-plan.mjs';
import { appWatchPlan, outputDigest, runCommand, stopChild, watchAndRestart } from './watch.mjs';

const ROOT = join(import.meta.dirname, '..', '..');
const DEBOUNCE = 300;

/**
 * Feeds events to nextStep from IDLE; returns the actions of each step and the last state.
 * @param {import('./watch-plan.mjs').WatchEvent[]} events
 */
function replay(events) {
  let state = IDLE;
  /** @type {string[][]} */
  const actions = [];
  for (const e of events) {
    const step = nextStep(state, e, DEBOUNCE);
    state = step.state;
    actions.push(step.actions.map((a) => (a.type === 'timer' ? `timer@${a.at}` : a.type === 'build' ? `build:${a.changed.join('+')}` : a.type === 'keep' ? `keep:${a.reason}` : a.type)));
  }
  return { actions, state };
}

describe('watch-plan', () => {
  it('workspaceImports should find every form of import of a workspace lib, once', () => {
    const src = [
      "import { a } from '@wikimonitor/kafka';",
      "import type { B } from \"@wikimonitor/domain\";",
      "export * from '@wikimonitor/contracts';",
      "import '@wikimonitor/telemetry/sdk';",
      "const m = await import('@wikimonitor/lag');",
      "const r = require('@wikimonitor/schemas');",
      "import { again } from '@wikimonitor/kafka';",
      "import x from 'express'; // not ours",
      "const s = '@wikimonitor/not-an-import';",
    ].join('\n');
    assert.deepEqual(workspaceImports(src), ['@wikimonitor/contracts', '@wikimonitor/domain', '@wikimonitor/kafka', '@wikimonitor/lag', '@wikimonitor/schemas', '@wikimonitor/telemetry/sdk']);
  });

  it('buildClosure should follow lib imports transitively, mapping sub-path aliases to their project', () => {
    const paths = { '@wikimonitor/a': ['./libs/a/src/index.ts'], '@wikimonitor/b': ['./libs/b/src/index.ts'], '@wikimonitor/b/sdk': ['./libs/b/src/sdk.ts'], '@wikimonitor/c': ['./libs/c/src/index.ts'] };
    /** @type {Record<string, string[]>} */
    const imports = { 'apps/x': ['@wikimonitor/b/sdk'], 'libs/b': ['@wikimonitor/a', '@wikimonitor/unknown'], 'libs/a': ['@wikimonitor/b'], 'libs/c': [] };
    assert.deepEqual(buildClosure('apps/x', (p) => imports[p] ?? [], paths, ['apps/x', 'libs/a', 'libs/b', 'libs/c']), ['apps/x', 'libs/b', 'libs/a']);
  });

  it('globToRegExp and globBase should read Nx input globs', () => {
    const re = globToRegExp('tools/ops/src/**/*.ts');
    assert.equal(re.test('tools/ops/src/cli.ts'), true);
    assert.equal(re.test('tools/ops/src/deep/er/cli.ts'), true);
    assert.equal(re.test('tools/ops/src/cli.mjs'), false);
    assert.equal(re.test('tools/ops/build.mjs'), false);
    assert.equal(globToRegExp('tools/ops/build.mjs').test('tools/ops/buildxmjs'), false);
    assert.equal(globBase('tools/ops/src/**/*.ts'), 'tools/ops/src');
    assert.equal(globBase('tools/ops/build.mjs'), 'tools/ops/build.mjs');
  });

  it('watchPlan should take the build inputs of the app and its libs, and leave out tests and scratch files', () => {
    const plan = watchPlan({ projects: ['apps/x', 'libs/a'], buildInputs: ['production', '^production', '{workspaceRoot}/tools/ops/src/**/*.ts', '{workspaceRoot}/tools/ops/build.mjs'] });
    assert.deepEqual(plan.dirs, ['apps/x', 'libs/a', 'schemas', 'tools/ops/src']);
    assert.deepEqual(plan.files, ['tsconfig.base.json', 'tools/ops/build.mjs']);
    /** @type {Array<[string, boolean]>} */
    const table = [
      ['apps/x/src/main.ts', true],
      ['apps/x/migrations/001.sql', true],
      ['libs/a/src/index.ts', true],
      ['schemas/recent-change.avsc', true],
      ['tsconfig.base.json', true],
      ['tools/ops/src/reset.ts', true],
      ['tools/ops/build.mjs', true],
      ['apps/x/src/main.spec.ts', false],
      ['apps/x/jest.config.js', false],
      ['apps/x/src/.main.ts.swp', false],
      ['apps/x/src/main.ts~', false],
      ['apps/x/src/4913', false],
      ['apps/x/src/.#main.ts', false],
      ['libs/b/src/index.ts', false],
      ['apps/y/src/main.ts', false],
      ['tools/ops/README.md', false],
      ['README.md', false],
    ];
    assert.deepEqual(table.map(([p]) => [p, plan.isInput(p)]), table);
  });

  it('buildCommand should be the project\'s own build command, else nx.json\'s default, as Nx fills it in', () => {
    const nxJson = { targetDefaults: { build: { options: { command: 'node tools/build/build-app.mjs {projectName}' } } } };
    assert.equal(buildCommand({ name: 'producer', root: 'apps/producer', project: { targets: { build: {} } }, nxJson }), 'node tools/build/build-app.mjs producer');
    const own = { targets: { build: { options: { command: 'node tools/build/build-app.mjs {projectName} && node {projectRoot}/build-extras.mjs' } } } };
    assert.equal(buildCommand({ name: 'lag-monitor', root: 'apps/lag-monitor', project: own, nxJson }), 'node tools/build/build-app.mjs lag-monitor && node apps/lag-monitor/build-extras.mjs');
    assert.equal(buildCommand({ name: 'x', root: 'apps/x', project: {}, nxJson: {} }), undefined);
  });

  it('nextStep should build once after a burst of changes has been quiet for the debounce, then restart', () => {
    const { actions, state } = replay([
      { type: 'change', at: 0, path: 'a.ts' },
      { type: 'change', at: 100, path: 'b.ts' },
      { type: 'change', at: 200, path: 'a.ts' },
      { type: 'timer', at: 300 }, // the first change's timer: not quiet yet
      { type: 'timer', at: 400 },
      { type: 'timer', at: 500 },
      { type: 'built', at: 900, ok: true, outputChanged: true },
      { type: 'restarted', at: 1500 },
    ]);
    assert.deepEqual(actions, [['timer@300'], ['timer@400'], ['timer@500'], [], [], ['build:a.ts+b.ts'], ['restart'], []]);
    assert.deepEqual(state, IDLE);
  });

  it('nextStep should keep the running app when the build fails or its output did not change', () => {
    for (const [ok, outputChanged, reason] of /** @type {const} */ ([[false, false, 'failed'], [true, false, 'unchanged']])) {
      const { actions, state } = replay([
        { type: 'change', at: 0, path: 'a.ts' },
        { type: 'timer', at: 300 },
        { type: 'built', at: 800, ok, outputChanged },
      ]);
      assert.deepEqual(actions, [['timer@300'], ['build:a.ts'], [`keep:${reason}`]]);
      assert.deepEqual(state, IDLE);
    }
  });

  it('nextStep should build again, once, after changes made while building or restarting', () => {
    const during = replay([
      { type: 'change', at: 0, path: 'a.ts' },
      { type: 'timer', at: 300 },
      { type: 'change', at: 400, path: 'b.ts' },
      { type: 'change', at: 450, path: 'c.ts' },
      { type: 'built', at: 800, ok: true, outputChanged: true },
      { type: 'change', at: 900, path: 'd.ts' },
      { type: 'restarted', at: 1000 },
      { type: 'timer', at: 1300 },
    ]);
    assert.deepEqual(during.actions, [['timer@300'], ['build:a.ts'], [], [], ['restart'], [], ['timer@1300'], ['build:b.ts+c.ts+d.ts']]);
    assert.equal(during.state.phase, 'building');
    const failed = replay([
      { type: 'change', at: 0, path: 'a.ts' },
      { type: 'timer', at: 300 },
      { type: 'change', at: 400, path: 'b.ts' },
      { type: 'built', at: 800, ok: false, outputChanged: false },
      { type: 'timer', at: 1100 },
    ]);
    assert.deepEqual(failed.actions, [['timer@300'], ['build:a.ts'], [], ['keep:failed', 'timer@1100'], ['build:b.ts']]);
  });

  it('nextStep should ignore results and timers that belong to no build or restart', () => {
    assert.deepEqual(replay([{ type: 'timer', at: 5 }, { type: 'built', at: 6, ok: true, outputChanged: true }, { type: 'restarted', at: 7 }]).actions, [[], [], []]);
  });

  it('appWatchPlan should watch lag-monitor with the libs it imports, its ops CLI inputs and its two-step build', () => {
    const plan = appWatchPlan(ROOT, 'lag-monitor');
    assert.equal(plan.projects[0], 'apps/lag-monitor');
    for (const lib of ['libs/kafka', 'libs/lag', 'libs/service-kit']) assert.ok(plan.projects.includes(lib), `${lib} in ${plan.projects.join(', ')}`);
    assert.ok(!plan.projects.includes('libs/testing'), 'libs/testing is only imported by tests');
    assert.equal(plan.command, 'node tools/build/build-app.mjs lag-monitor && node apps/lag-monitor/build-extras.mjs');
    assert.equal(plan.isInput('tools/ops/src/reset-offsets.ts'), true);
    assert.equal(plan.isInput('apps/lag-monitor/src/app.spec.ts'), false);
  });
});

/** @param {() => boolean} cond @param {string} what */
async function until(cond, what, limitMs = 60_000) {
  for (const end = Date.now() + limitMs; !cond(); ) {
    if (Date.now() > end) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// An "app" that says which build it runs, and records a graceful SIGTERM before exiting.
const appSource = (/** @type {string} */ version) => `const { appendFileSync } = require('node:fs');
appendFileSync(process.env.EVENTS, 'start ${version} ' + process.pid + '\\n');
process.on('SIGTERM', () => { appendFileSync(process.env.EVENTS, 'sigterm ${version} ' + process.pid + '\\n'); process.exit(0); });
setInterval(() => {}, 1000);
`;

describe('watch loop', () => {
  it('a change should rebuild the app and restart it (SIGTERM to the old one, then the new build); tests and same-output builds should not restart it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'wm-watch-'));
    const events = join(root, 'events.log');
    mkdirSync(join(root, 'apps', 'x', 'src'), { recursive: true });
    writeFileSync(join(root, 'apps', 'x', 'src', 'main.js'), appSource('v1'));
    writeFileSync(events, '');
    const out = join(root, 'dist');
    const command = 'mkdir -p dist && cp apps/x/src/main.js dist/main.js';
    assert.equal(await runCommand(command, { cwd: root }), 0);
    /** @type {string[][]} */
    const builds = [];
    let restarts = 0;
    const start = () => spawn(process.execPath, [join(out, 'main.js')], { env: { ...process.env, EVENTS: events }, stdio: 'ignore' });
    let app = start();
    const lines = () => readFileSync(events, 'utf8').trim().split('\n').filter(Boolean);
    const watcher = watchAndRestart({
      root,
      plan: watchPlan({ projects: ['apps/x'] }),
      debounceMs: DEBOUNCE,
      build: async (changed) => {
        builds.push(changed);
        const before = outputDigest(out);
        const code = await runCommand(command, { cwd: root });
        return { ok: code === 0, outputChanged: code === 0 && outputDigest(out) !== before };
      },
      restart: async () => {
        restarts++;
        const r = await stopChild(app, 20_000);
        assert.equal(r.killed, false, 'the old app exits on SIGTERM');
        app = start();
      },
    });
    try {
      await until(() => lines().length === 1, 'the first app started');
      const firstPid = app.pid;
      // One burst: a test file and five saves of the source, written before any event is handled.
      writeFileSync(join(root, 'apps', 'x', 'src', 'main.spec.js'), 'test');
      for (let i = 2; i <= 6; i++) writeFileSync(join(root, 'apps', 'x', 'src', 'main.js'), appSource(`v${i}`));
      await until(() => lines().some((l) => l.startsWith('start v6')) && watcher.idle(), 'the app on the new build');
      assert.deepEqual(builds, [['apps/x/src/main.js']]);
      assert.equal(restarts, 1);
      assert.deepEqual(lines().map((l) => l.split(' ').slice(0, 2).join(' ')), ['start v1', 'sigterm v1', 'start v6']);
      assert.equal(lines()[1], `sigterm v1 ${firstPid}`);
      assert.notEqual(app.pid, firstPid);

      // Saved again unchanged: built (the loop cannot know), same output, no restart.
      writeFileSync(join(root, 'apps', 'x', 'src', 'main.js'), appSource('v6'));
      await until(() => builds.length === 2 && watcher.idle(), 'the second build');
      assert.equal(restarts, 1);
      assert.equal(lines().length, 3);
    } finally {
      watcher.close();
      await stopChild(app, 5_000);
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('stopChild should SIGKILL an app that does not exit within its time after SIGTERM', async () => {
    const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000);"], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => child.stdout.once('data', r));
    const r = await stopChild(child, 500);
    assert.deepEqual(r, { code: null, signal: 'SIGKILL', killed: true });
    assert.equal(existsSync(`/proc/${child.pid}`), false);
  });
});
