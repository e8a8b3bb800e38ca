import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine } from '@wikimonitor/service-kit';
import { REPO_ROOT, killAllAppProcesses } from '@wikimonitor/testing';
import { CHAOS_AGGREGATOR, CHAOS_LAG_MONITOR, DEFAULT_WORK_DIR, runChaosSuite, scenarioFigures, summaryTable } from './chaos';
import { CI_SCENARIOS, SCENARIOS, selectScenarios } from './scenarios';
import { startPrivateStack } from './stack';

export const USAGE = `chaos suite: the whole WikiMonitor pipeline (SSE source, producer, filter-router, aggregator,
dedup-persister, lag-monitor, and for the enricher scenarios the enricher and the Action API stand-in, as real
processes from dist/) under scripted faults, on a private stack.

Usage: node --import tsx e2e/src/chaos-run.ts [options]
  --scenarios a,b,...   run only these (default: all, in order)
  --ci                  the short CI set (${CI_SCENARIOS.join(', ')}) on 1,500 events
  --events N            recorded events per scenario (default 4053 = all of data/recordings)
  --rate N              events/s of the SSE source (default 135: the input lasts ~30 s)
  --seed N              seed for the random kill moments (default: time based, printed)
  --out FILE            markdown summary (default bench/results/chaos-summary.md; JSON beside it)
  --no-out              print the summary only
  --keep                keep each run's topics and database (and the private stack) for inspection
  --no-build            do not run \`nx run-many -t build\` first (dist/ must then be current)
  --list                list the scenarios
  --help

Builds first (nx run-many -t build: cached, a few seconds when dist/ is current).
Logs: tmp/chaos/<run>/logs/<prefix>-<app>.log
Exit code 0 only if every scenario passed; 2 for an unknown flag or scenario, or a bad value.

Scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(22)} ${s.description}`).join('\n')}`;

/** The suite's flags: an unknown one (`--scenario`) or an unknown scenario name exits 2 with the usage, never runs all. */
export const CHAOS_OPTIONS = {
  scenarios: { type: 'string', list: true, choices: SCENARIOS.map((s) => s.name) },
  ci: { type: 'boolean' },
  events: { type: 'string', int: { min: 1 } },
  rate: { type: 'string', int: { min: 1 } },
  seed: { type: 'string', int: { min: 1 } },
  out: { type: 'string' },
  'no-out': { type: 'boolean' },
  keep: { type: 'boolean' },
  'no-build': { type: 'boolean' },
  list: { type: 'boolean' },
} as const;

function progress(line: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** Runs the suite from the command line; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const cli = parseCommandLine({ usage: USAGE, options: CHAOS_OPTIONS }, argv);
  if (!cli.ok) {
    if (cli.exitCode === 0) console.log(cli.text);
    else console.error(`chaos-run: ${cli.text}`);
    return cli.exitCode;
  }
  const flags = cli.values;
  if (flags.list) {
    for (const s of SCENARIOS) console.log(`${s.name}\t${s.description}`);
    return 0;
  }
  const ci = flags.ci;
  const scenarios = selectScenarios(flags.scenarios ?? (ci ? CI_SCENARIOS : undefined));
  const events = flags.events ?? (ci ? 1500 : 4053);
  const rate = flags.rate ?? (ci ? 75 : 135);
  const seed = flags.seed ?? Date.now() % 1_000_000;
  const keep = flags.keep;
  const out = flags['no-out'] ? undefined : (flags.out ?? join(REPO_ROOT, 'bench', 'results', 'chaos-summary.md'));
  const workDir = join(DEFAULT_WORK_DIR, `run-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(workDir, { recursive: true });

  if (!flags['no-build']) {
    progress('building the apps (nx run-many -t build; cached when dist/ is current)');
    const built = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static'], { cwd: REPO_ROOT, stdio: ['ignore', 2, 2], env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' } });
    if (built.status !== 0) {
      progress(`build failed (exit ${built.status ?? built.signal}): the suite runs the apps from dist/`);
      return 1;
    }
  }
  progress(`chaos suite: ${scenarios.length} scenario(s), ${events} events each at ${rate}/s, seed ${seed}; work dir ${workDir}`);
  const stack = await startPrivateStack({ proxyListener: true, log: progress });
  // Ctrl-C / SIGTERM: take the apps and the private stack down before leaving.
  const interrupted = new Promise<never>((_, reject) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        progress(`${sig}: killed ${killAllAppProcesses()} app process(es); stopping the private stack`);
        reject(new Error(`interrupted by ${sig}`));
      });
    }
  });
  interrupted.catch(() => undefined);
  const t0 = Date.now();
  let suite;
  try {
    suite = await Promise.race([runChaosSuite({ scenarios, events, rate, seed, stack, useProxy: true, workDir, log: progress, keep }), interrupted]);
  } finally {
    if (!keep) await stack.down();
    else progress(`private stack kept in ${stack.dir} (WM_STACK_DIR=${stack.dir} node tools/stack/stack.mjs down --purge)`);
  }
  const minutes = ((Date.now() - t0) / 60_000).toFixed(1);
  const table = summaryTable(suite.results);
  console.log(`\n${table}\n`);
  for (const r of suite.results.filter((x) => !x.passed)) console.log(`${r.scenario} FAILED:\n  - ${r.failures.join('\n  - ')}`);
  console.log(suite.passed ? `all ${suite.results.length} scenarios passed (${minutes} min)` : `${suite.results.filter((r) => !r.passed).length} scenario(s) FAILED`);

  if (out) {
    const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
    const md = `# Chaos suite summary

Command: \`node --import tsx e2e/src/chaos-run.ts${argv.length ? ` ${argv.join(' ')}` : ''}\` (seed ${seed}), ${new Date().toISOString()}, ${minutes} min.
Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}; a private stack (Kafka 4.1.1 KRaft,
Apicurio 3.3.3, PostgreSQL 15) on the same 2 cores, shared with other engineers' test runs.

Each scenario runs the six processes from \`dist/\` on fresh topics, groups, transactional ids and database, with the
apps' Kafka traffic through the suite's TCP proxy. Input: ${suite.events} real recorded events, one pass at ${rate} events/s,
dated by the suite at their planned send time in whole seconds and served with \`--time original\` (the recorded \`meta.id\`s are
the expected set; every connection sees the same times; ~${rate} events share each millisecond). Aggregator: ${CHAOS_AGGREGATOR.windowMs / 1000} s windows,
${CHAOS_AGGREGATOR.latenessMs / 1000} s lateness, no idle closing within a run; lag-monitor: ${CHAOS_LAG_MONITOR.cycleMs / 1000} s cycle, ${CHAOS_LAG_MONITOR.windowCycles}-cycle window.

${table}

Columns: *lost* = expected ids (real events and published poison) missing from PostgreSQL; *topic duplicates* = extra
copies summed over every topic, each read whole with read_committed: every \`meta.id\` on \`raw.changes\`, \`changes.all\` and
every routed \`changes.*\` topic and \`changes.late\`, every window (wiki + start + end) on \`aggregates\`, every alert id on
\`alerts\` (per topic in brackets and in the JSON); *row duplicates* = rows of \`wiki_changes\` that store a change already
stored under another meta.id (same wiki + rc_id / log id / page, user and revision: the table's primary key is the meta.id, so
rows minus distinct ids could never be non-zero); *aggregates = recount* = every window the per-wiki watermark closed in an
offline recount of the DISTINCT input (the input file's events, once each, in the order \`changes.all\` holds them) equal, field
by field, in PostgreSQL and on the aggregates topic, nothing else there, late topic = the recount's late set;
*dead-lettered* = poison found in the DLQ / poison sent (no other dead letter may appear); *recovery* = from the later of
(last fault lifted, last event sent by the source) until PostgreSQL held every expected id; *max lag* = the largest lag in
seconds lag-monitor reported for any of the run's groups while it ran (kills, restarts and rebalances included), and whose;
*lag alert* = lag-monitor's
consumer_status alert during the stall (others: alerts seen, informational).

${suite.results
  .map((r) => `- **${r.scenario}** (${r.seconds} s): ${r.description}.${r.actions.length ? ` Actions: ${r.actions.join('; ')}.` : ''}${Object.keys(r.crashes).length ? ` Exits not caused by the suite (restarted): ${JSON.stringify(r.crashes)}.` : ''}${r.poison.length ? ` Poison served: ${r.poison.map((o) => `${o.name} ${o.expected} ${o.ok ? 'ok' : `FAILED (${o.deadLetters} dead letters, ${o.onRaw} on raw, ${o.stored ? '' : 'not '}stored)`}`).join(', ')}.` : ''}${r.poisonUnservable.length ? ` Not servable from a file: ${r.poisonUnservable.map((u) => `${u.name} (${u.reason})`).join(', ')}.` : ''}${r.failures.length ? ` **Failures:** ${r.failures.join('; ')}` : ''}`)
  .join('\n')}
`;
    mkdirSync(join(out, '..'), { recursive: true });
    writeFileSync(out, md);
    const json = { seed, events: suite.events, rate, passed: suite.passed, command: argv, minutes: Number(minutes), machine, scenarios: suite.results.map(scenarioFigures), results: suite.results };
    writeFileSync(out.replace(/\.md$/, '.json'), `${JSON.stringify(json, null, 2)}\n`);
    progress(`wrote ${out} and ${out.replace(/\.md$/, '.json')}`);
  }
  return suite.passed ? 0 : 1;
}
