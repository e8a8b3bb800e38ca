import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { WikiAlert } from '@wikimonitor/contracts';
import { createProducer } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';
import { type AppName, REPO_ROOT, uniqueName } from '@wikimonitor/testing';
import { type Input, seededRandom, writeInput } from './input';
import { type Pipeline, connection, createPipeline, deleteTopics, dropDatabase, provisionTopics, runNames } from './pipeline';
import { type AggregateDiff, diffAggregates, recountAggregates } from './recount';
import type { PoisonRecord, Scenario, ScenarioContext } from './scenarios';
import type { PrivateStack, StackEndpoints } from './stack';
import { type TcpProxy, startTcpProxy } from './tcp-proxy';
import { countAggregateEmits, countStoredChanges, lagMonitorGroups, readAlerts, readChanges, readDeadLetters, storedAggregates, storedChangeIds } from './verify';
import { type WebhookReceiver, startWebhookReceiver } from './webhook';

/** Aggregator settings of every chaos run: small windows so many close within a run, no idle closing. */
export const CHAOS_AGGREGATOR = { windowMs: 2_000, latenessMs: 6_000, idleCloseMs: 600_000, topPages: 5 };
/** lag-monitor: a 1 s cycle and a 5-cycle window, so a stopped consumer shows as STOP within seconds. */
export const CHAOS_LAG_MONITOR = { cycleMs: 1_000, windowCycles: 5 };

export interface ChaosOptions {
  scenarios: Scenario[];
  /** Real recorded events per scenario (4,053 = all of them). */
  events: number;
  /** Events per second the SSE source sends. */
  rate: number;
  seed: number;
  /** Private stack (restarts allowed) or someone else's endpoints (restart and proxy scenarios are then refused). */
  stack: PrivateStack | StackEndpoints;
  /** Route the apps' Kafka traffic through a fault-injecting proxy (needs the stack's proxied listener). */
  useProxy: boolean;
  workDir: string;
  log: (line: string) => void;
  /** Bound on waiting for PostgreSQL to hold every expected event after the faults. */
  recoveryTimeoutMs?: number;
  /** Bound on waiting for every group to reach lag 0 / OK. */
  groupsTimeoutMs?: number;
  /** Keep the run's topics and database for inspection. */
  keep?: boolean;
}

export interface ScenarioResult {
  scenario: string;
  description: string;
  passed: boolean;
  failures: string[];
  eventsIn: number;
  stored: number;
  lost: number;
  duplicated: number;
  /** Ids in PostgreSQL that were never sent. */
  unexpected: number;
  /** Copies of events that reached wiki.changes.all more than once (producer resends), absorbed by dedup. */
  resentUpstream: number;
  deadLettered: number;
  expectedDeadLetters: number;
  /** From the later of (last fault lifted, last event sent) to every expected event stored. */
  recoverySeconds: number | null;
  aggregates: { compared: number; openAtEnd: number; late: number; emittedTwice: number; diff: Omit<AggregateDiff, 'equal'> & { equal: number } } | null;
  groups: Array<{ groupId: string; status: string; totalLag: number; ageSeconds: number }>;
  alert: { expected: boolean; raised: boolean; detail: string };
  crashes: Partial<Record<AppName, number>>;
  actions: string[];
  seconds: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitUntil<T>(timeoutMs: number, fn: () => Promise<T | undefined | false>, intervalMs = 500): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) return undefined;
    await sleep(intervalMs);
  }
}

async function sourceStats(p: Pipeline): Promise<{ eventsSent: number; eventsLoaded: number; sent: { malformed: number } } | undefined> {
  try {
    const res = await fetch(`${p.apps['sse-source'].url}/stats`, { signal: AbortSignal.timeout(3000) });
    return (await res.json()) as { eventsSent: number; eventsLoaded: number; sent: { malformed: number } };
  } catch {
    return undefined;
  }
}

function isPrivate(stack: PrivateStack | StackEndpoints): stack is PrivateStack {
  return typeof (stack as PrivateStack).restart === 'function';
}

/** Runs one scenario against a fresh pipeline (own topics, groups, ids and database) and checks the outcome. */
export async function runScenario(scenario: Scenario, opts: ChaosOptions, input: Input, webhook: WebhookReceiver): Promise<ScenarioResult> {
  const started = Date.now();
  const log = (msg: string) => opts.log(`${scenario.name}: ${msg}`);
  const names = runNames(uniqueName(`chaos-${scenario.name}`));
  const rng = seededRandom(opts.seed + [...scenario.name].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) | 0, 0));
  const actions: string[] = [];
  const failures: string[] = [];
  const result: ScenarioResult = {
    scenario: scenario.name,
    description: scenario.description,
    passed: false,
    failures,
    eventsIn: input.ids.length,
    stored: 0,
    lost: 0,
    duplicated: 0,
    unexpected: 0,
    resentUpstream: 0,
    deadLettered: 0,
    expectedDeadLetters: 0,
    recoverySeconds: null,
    aggregates: null,
    groups: [],
    alert: { expected: false, raised: false, detail: '' },
    crashes: {},
    actions,
    seconds: 0,
  };
  if (scenario.needs.includes('private-stack') && !isPrivate(opts.stack)) {
    failures.push('needs the private stack');
    return result;
  }
  if (scenario.needs.includes('proxy') && !opts.useProxy) {
    failures.push('needs the proxy (private stack with a proxied listener)');
    return result;
  }

  const stack = opts.stack;
  let proxy: TcpProxy | undefined;
  let pipeline: Pipeline | undefined;
  const poisonSent: PoisonRecord[] = [];
  const alertWindows: Array<{ group: string; from: number; to: number }> = [];
  try {
    if (opts.useProxy) {
      if (!stack.proxy) throw new Error('the stack has no proxied listener');
      proxy = await startTcpProxy({ listenPort: stack.proxy.proxyPort, targetPort: stack.proxy.externalPort });
    }
    await provisionTopics(stack.bootstrapServers, names);
    pipeline = await createPipeline({
      endpoints: stack,
      appBootstrap: proxy ? `127.0.0.1:${proxy.port}` : stack.bootstrapServers,
      names,
      data: input.file,
      sourceArgs: ['--time', 'now', '--rate', String(opts.rate), ...(scenario.sourceArgs ?? [])],
      aggregator: CHAOS_AGGREGATOR,
      lagMonitor: { ...CHAOS_LAG_MONITOR, webhookUrl: webhook.url },
      extraEnv: { aggregator: { TOP_PAGES: String(CHAOS_AGGREGATOR.topPages) } },
      workDir: opts.workDir,
      logDir: join(opts.workDir, 'logs'),
      log,
    });
    const p = pipeline;
    log(`starting the pipeline (prefix ${names.prefix})`);
    await p.start();
    const loaded = await sourceStats(p);
    if (loaded?.eventsLoaded !== input.ids.length) throw new Error(`sse-source loaded ${loaded?.eventsLoaded} events, expected ${input.ids.length}`);
    const t0 = Date.now();
    const inputMs = (input.ids.length / opts.rate) * 1000;
    log(`input flowing: ${input.ids.length} events at ${opts.rate}/s (~${Math.round(inputMs / 1000)} s)`);

    const ctx: ScenarioContext = {
      pipeline: p,
      stack: isPrivate(stack) ? stack : undefined,
      proxy,
      rng,
      inputMs,
      elapsed: () => Date.now() - t0,
      at: async (ms) => {
        const wait = t0 + ms - Date.now();
        if (wait > 0) await sleep(wait);
      },
      sleep,
      note: (text) => {
        const line = `+${((Date.now() - t0) / 1000).toFixed(1)}s ${text}`;
        actions.push(line);
        log(line);
      },
      kill: async (app, restartAfterMs) => {
        ctx.note(`kill -9 ${app} (restart in ${(restartAfterMs / 1000).toFixed(1)} s)`);
        await p.apps[app].kill9(restartAfterMs);
      },
      poison: async (records) => {
        const producer = createProducer({ connection: connection(stack.bootstrapServers, 'wikimonitor-e2e-poison'), log: createLogger('e2e-poison', 'silent') });
        await producer.start();
        try {
          for (const r of records) {
            await producer.send({ topic: r.topic === 'raw' ? names.topics.raw : names.topics.routes.all, key: r.key, value: r.value });
            poisonSent.push(r);
          }
        } finally {
          await producer.close();
        }
      },
      expectAlert: (group, from, to) => alertWindows.push({ group, from, to }),
    };

    // Bounded: a scenario's faults get the input's duration plus two minutes.
    await Promise.race([
      scenario.run(ctx),
      sleep(inputMs + 120_000).then(() => {
        throw new Error('scenario faults did not finish in time');
      }),
    ]);
    const faultEnd = Date.now();
    if (actions.length) ctx.note('faults over');

    const inputDone = await waitUntil(inputMs * 3 + 120_000, async () => {
      const s = await sourceStats(p);
      return s && s.eventsSent >= input.ids.length ? Date.now() : undefined;
    });
    if (!inputDone) failures.push('the SSE source did not send the whole input in time');
    const settledFrom = Math.max(faultEnd, inputDone ?? faultEnd);

    const recoveryTimeout = opts.recoveryTimeoutMs ?? 240_000;
    const complete = await waitUntil(recoveryTimeout, async () => ((await countStoredChanges(p.databaseUrl)) >= input.ids.length ? Date.now() : undefined), 250);
    if (complete) {
      result.recoverySeconds = Math.max(0, (complete - settledFrom) / 1000);
      log(`PostgreSQL complete ${result.recoverySeconds.toFixed(1)} s after faults and input ended`);
    } else failures.push(`PostgreSQL did not reach ${input.ids.length} rows within ${recoveryTimeout / 1000} s`);

    // Exactly the expected ids.
    const stored = await storedChangeIds(p.databaseUrl);
    const expected = new Set(input.ids);
    const storedSet = new Set(stored);
    result.stored = stored.length;
    result.duplicated = stored.length - storedSet.size;
    result.lost = input.ids.filter((id) => !storedSet.has(id)).length;
    result.unexpected = [...storedSet].filter((id) => !expected.has(id)).length;
    if (result.lost) failures.push(`${result.lost} events lost (e.g. ${input.ids.filter((id) => !storedSet.has(id)).slice(0, 3).join(', ')})`);
    if (result.duplicated) failures.push(`${result.duplicated} duplicate rows`);
    if (result.unexpected) failures.push(`${result.unexpected} ids stored that were never sent`);

    // Every group back to lag 0 and OK.
    const groupIds = Object.values(names.groups);
    let lastGroups: Awaited<ReturnType<typeof lagMonitorGroups>>;
    const groupsOk = await waitUntil(complete ? (opts.groupsTimeoutMs ?? 120_000) : 15_000, async () => {
      lastGroups = await lagMonitorGroups(p.apps['lag-monitor'].url);
      const mine = (lastGroups ?? []).filter((g) => groupIds.includes(g.groupId));
      // A fresh cycle only: a monitor whose cycles stopped would report its last state forever.
      const fresh = mine.every((g) => Date.now() - g.observedAt < Math.max(5_000, 5 * CHAOS_LAG_MONITOR.cycleMs));
      return fresh && mine.length === groupIds.length && mine.every((g) => g.totalLag === 0 && g.status === 'OK');
    });
    result.groups = (lastGroups ?? []).filter((g) => groupIds.includes(g.groupId)).map((g) => ({ groupId: g.groupId, status: g.status, totalLag: g.totalLag, ageSeconds: Math.round((Date.now() - g.observedAt) / 1000) }));
    if (!groupsOk) failures.push(`groups not all at lag 0 / OK in a fresh lag-monitor cycle: ${JSON.stringify(result.groups)}`);

    // Dead letters: every poison record (and nothing else) in the DLQ.
    const dead = await readDeadLetters(stack.bootstrapServers, names.topics.dlq);
    const stats = await sourceStats(p);
    const malformed = scenario.malformedFromSource ? (stats?.sent.malformed ?? 0) : 0;
    const expectedPoison = poisonSent.flatMap((r) => r.apps.map((app) => ({ key: r.key, app })));
    result.expectedDeadLetters = malformed + expectedPoison.length;
    const fromSource = dead.filter((d) => d.app === 'producer' && (d.error.code === 'NOT_JSON' || d.error.code === 'INVALID_EVENT'));
    const sourceOffsets = new Set(fromSource.map((d) => String(d.sourceOffset)));
    const found = expectedPoison.filter((e) => dead.some((d) => d.app === e.app && String(d.key ?? '') === e.key));
    const others = dead.filter((d) => !fromSource.includes(d) && !poisonSent.some((r) => String(d.key ?? '') === r.key));
    result.deadLettered = Math.min(sourceOffsets.size, malformed) + found.length;
    if (sourceOffsets.size !== malformed) failures.push(`malformed SSE events: source sent ${malformed}, ${sourceOffsets.size} distinct ones dead-lettered by the producer`);
    if (found.length !== expectedPoison.length) failures.push(`poison records missing from the DLQ: ${expectedPoison.filter((e) => !found.includes(e)).map((e) => `${e.key}@${e.app}`).join(', ')}`);
    if (others.length) failures.push(`${others.length} unexpected dead letters (e.g. ${others.slice(0, 2).map((d) => `${d.app}:${d.error.code}:${d.error.message.slice(0, 120)}`).join(' | ')})`);

    // Aggregates equal the offline recount of what the aggregator read (wiki.changes.all, read_committed, log order).
    const all = await readChanges(stack.bootstrapServers, names.topics.routes.all);
    const ids = new Set(all.changes.map((c) => c.id));
    result.resentUpstream = all.changes.length - ids.size;
    const recount = recountAggregates(all.changes, CHAOS_AGGREGATOR);
    const storedAggs = await storedAggregates(p.databaseUrl);
    const diff = diffAggregates(recount.closed, storedAggs);
    const emits = await countAggregateEmits(stack.bootstrapServers, names.topics.aggregates);
    const emittedTwice = [...emits.values()].filter((n) => n > 1).length;
    const late = await readChanges(stack.bootstrapServers, names.topics.late);
    const lateIds = late.changes.map((c) => c.id).sort();
    result.aggregates = { compared: recount.closed.length, openAtEnd: recount.open.length, late: lateIds.length, emittedTwice, diff };
    if (diff.missing.length || diff.unexpected.length || diff.different.length) {
      failures.push(`aggregates differ from the recount: ${diff.missing.length} missing, ${diff.unexpected.length} unexpected, ${diff.different.length} different${diff.different[0] ? ` (e.g. ${JSON.stringify(diff.different[0])})` : ''}`);
    }
    if (emittedTwice) failures.push(`${emittedTwice} windows emitted more than once on the aggregates topic`);
    if (JSON.stringify(lateIds) !== JSON.stringify(recount.lateIds)) failures.push(`late topic holds ${lateIds.length} events, the recount says ${recount.lateIds.length}`);

    // lag-monitor's alert during the stall: on the alerts topic (and the webhook).
    if (alertWindows.length) {
      result.alert.expected = true;
      const alerts = await readAlerts(stack.bootstrapServers, names.topics.alerts);
      const hooked = webhook.received().map((r) => r.alert);
      const matches = (a: WikiAlert, w: (typeof alertWindows)[number]) =>
        a.kind === 'consumer_status' && a.subject === w.group && a.status !== 'OK' && a.created_at >= w.from - 1000 && a.created_at <= w.to;
      const missing = alertWindows.filter((w) => !alerts.some((a) => matches(a, w)));
      const hit = alerts.find((a) => alertWindows.some((w) => matches(a, w)));
      result.alert.raised = missing.length === 0;
      result.alert.detail = hit
        ? `${hit.status} after ${((hit.created_at - (alertWindows[0]?.from ?? 0)) / 1000).toFixed(1)} s (on Kafka${hooked.some((h) => h.id === hit.id) ? ' and the webhook' : ''})`
        : 'none';
      if (missing.length) failures.push(`lag-monitor raised no alert for ${missing.map((w) => w.group).join(', ')} during the stall`);
    } else {
      const alerts = await readAlerts(stack.bootstrapServers, names.topics.alerts);
      const raised = alerts.filter((a) => a.kind === 'consumer_status' && a.status !== 'OK');
      result.alert.detail = raised.length ? `${raised.length} (${[...new Set(raised.map((a) => `${a.subject.replace(`${names.prefix}-`, '')}:${a.status}`))].join(', ')})` : 'none';
    }
    for (const app of Object.keys(p.apps) as AppName[]) {
      const crashes = p.apps[app].counts().crashes;
      if (crashes) result.crashes[app] = crashes;
    }
  } catch (err) {
    failures.push(`error: ${(err as Error).message}`);
  } finally {
    await pipeline?.stop().catch((err: unknown) => log(`stopping the pipeline failed: ${(err as Error).message}`));
    await proxy?.close();
    if (!opts.keep) {
      await deleteTopics(stack.bootstrapServers, names).catch(() => undefined);
      await dropDatabase(stack.databaseUrl, names.database).catch(() => undefined);
    }
  }
  result.passed = failures.length === 0;
  result.seconds = Math.round((Date.now() - started) / 1000);
  log(result.passed ? `PASSED (${result.seconds} s)` : `FAILED: ${failures.join('; ')}`);
  return result;
}

export interface SuiteResult {
  seed: number;
  events: number;
  rate: number;
  results: ScenarioResult[];
  passed: boolean;
}

/** Runs scenarios one after the other (each on a fresh pipeline), bounded in time by each scenario's own bounds. */
export async function runChaosSuite(opts: ChaosOptions): Promise<SuiteResult> {
  mkdirSync(opts.workDir, { recursive: true });
  const input = writeInput(opts.workDir, opts.events);
  const webhook = await startWebhookReceiver();
  const results: ScenarioResult[] = [];
  try {
    for (const s of opts.scenarios) {
      opts.log(`=== ${s.name}: ${s.description}`);
      results.push(await runScenario(s, opts, input, webhook));
    }
  } finally {
    await webhook.close();
  }
  return { seed: opts.seed, events: input.ids.length, rate: opts.rate, results, passed: results.every((r) => r.passed) };
}

const fmt = (v: number | null) => (v === null ? '-' : v.toFixed(1));

/** The summary table: scenario, events in, stored, lost, duplicated, dead-lettered, recovery time (+ the other checks). */
export function summaryTable(results: ScenarioResult[]): string {
  const rows = [
    ['scenario', 'events in', 'stored', 'lost', 'duplicated', 'dead-lettered', 'recovery (s)', 'resent upstream', 'aggregates = recount', 'groups lag 0 / OK', 'lag alert', 'result'],
    ...results.map((r) => [
      r.scenario,
      String(r.eventsIn),
      String(r.stored),
      String(r.lost),
      String(r.duplicated),
      `${r.deadLettered}/${r.expectedDeadLetters}`,
      fmt(r.recoverySeconds),
      String(r.resentUpstream),
      r.aggregates ? `${r.aggregates.diff.equal}/${r.aggregates.compared} windows${r.aggregates.late ? `, ${r.aggregates.late} late` : ''}` : '-',
      r.groups.length ? (r.groups.every((g) => g.totalLag === 0 && g.status === 'OK') ? 'yes' : 'NO') : '-',
      r.alert.expected ? (r.alert.raised ? `yes: ${r.alert.detail}` : 'MISSING') : r.alert.detail,
      r.passed ? 'PASS' : 'FAIL',
    ]),
  ];
  return [`| ${(rows[0] as string[]).join(' | ')} |`, `|${(rows[0] as string[]).map(() => '---').join('|')}|`, ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export const DEFAULT_WORK_DIR = join(REPO_ROOT, 'tmp', 'chaos');
