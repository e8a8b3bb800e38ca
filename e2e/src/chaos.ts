import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { WikiAlert } from '@wikimonitor/contracts';
import { seededRandom } from '@wikimonitor/domain';
import { TOPOLOGY, createProducer } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';
import { type AppName, INSTANCE_STOP_GRACE_MS, REPO_ROOT, uniqueName } from '@wikimonitor/testing';
import { runBlueskyScenario } from './bluesky';
import { scenarioClock, sleep, waitUntil } from './clock';
import { type PoisonOutcome, type TopicCopies, checkAggregates, copyAndAggregateFailures, countCopies, countTopicCopies, letterHolds, poisonOutcomes, rowDuplicates, windowKey } from './checks';
import { type Input, writeInput } from './input';
import { type Pipeline, ROUTES, connection, createPipeline, deleteTopics, dropDatabase, provisionTopics, runNames } from './pipeline';
import { sharedPoisonBuilder } from './poison-input';
import type { AggregateDiff } from './recount';
import type { PoisonRecord, Scenario, ScenarioContext } from './scenarios';
import type { PrivateStack, StackEndpoints } from './stack';
import { type TcpProxy, startTcpProxy } from './tcp-proxy';
import { countStoredChanges, lagMonitorGroups, readAggregates, readAlerts, readChanges, readDeadLetters, readEnrichErrors, readEnriched, storedAggregates, storedChangeIds, storedContentRows } from './verify';
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
  /** Expected meta.ids (real events and published poison) missing from PostgreSQL. */
  lost: number;
  /** Extra copies summed over every topic checked (raw, every routed topic, aggregates, alerts, late). */
  topicDuplicates: number;
  /** Per topic: records, distinct keys, extra copies, missing and unexpected keys. */
  topics: TopicCopies[];
  /** The same change stored under more than one meta.id (see checks.ts rowDuplicates). */
  rowDuplicates: number;
  /** Ids in PostgreSQL that were never sent. */
  unexpected: number;
  /** Every closed window of the recount of the distinct input equal in PostgreSQL and on the aggregates topic, late topic equal. */
  aggregatesEqualRecount: boolean;
  /** Poison events served by the source: expected and actual outcome. */
  poison: PoisonOutcome[];
  /** Poison classes the source could not serve from its file (listed, not checked). */
  poisonUnservable: Array<{ name: string; reason: string }>;
  deadLettered: number;
  expectedDeadLetters: number;
  /** Stream connections the source served (1 + reconnects and restarts). */
  sourceConnections: number;
  /** From the later of (last fault lifted, last event sent) to every expected event stored. */
  recoverySeconds: number | null;
  aggregates: { compared: number; openAtEnd: number; late: number; diff: AggregateDiff; topicDiff: AggregateDiff } | null;
  groups: Array<{ groupId: string; status: string; totalLag: number; ageSeconds: number }>;
  /** The largest lag in seconds lag-monitor reported for each group while the scenario ran (rebalances included), by group suffix. */
  maxLagSeconds: Record<string, number>;
  alert: { expected: boolean; raised: boolean; detail: string };
  crashes: Partial<Record<AppName, number>>;
  /** Runs with the enricher: human-content records in, enriched, and in the error topic by reason. */
  enricher?: { in: number; enriched: number; errors: Record<string, number> };
  actions: string[];
  seconds: number;
}

interface SourceStats {
  eventsSent: number;
  eventsLoaded: number;
  sent: { malformed: number };
  connections: { total: number };
}

async function sourceStats(p: Pipeline): Promise<SourceStats | undefined> {
  try {
    const res = await fetch(`${p.apps['sse-source'].url}/stats`, { signal: AbortSignal.timeout(3000) });
    return (await res.json()) as SourceStats;
  } catch {
    return undefined;
  }
}

function isPrivate(stack: PrivateStack | StackEndpoints): stack is PrivateStack {
  return typeof (stack as PrivateStack).restart === 'function';
}

/** Runs one scenario against a fresh pipeline (own topics, groups, ids and database) and checks the outcome. */
export async function runScenario(scenario: Scenario, opts: ChaosOptions, webhook: WebhookReceiver): Promise<ScenarioResult> {
  if (scenario.bluesky) return runBlueskyScenario({ ...scenario, bluesky: scenario.bluesky }, opts);
  const started = Date.now();
  const log = (msg: string) => opts.log(`${scenario.name}: ${msg}`);
  const names = runNames(uniqueName(`chaos-${scenario.name}`));
  // Written per scenario: events dated from now at the planned rate (see input.ts).
  mkdirSync(opts.workDir, { recursive: true });
  const input: Input = writeInput(opts.workDir, opts.events, { rate: opts.rate, poison: scenario.poisonEvents?.(), name: `${names.prefix}-input.jsonl` });
  if (scenario.poisonEvents) log(`poison from ${sharedPoisonBuilder() ? 'libs/testing poisonEvents()' : 'the local list (libs/testing poisonEvents() not found)'}: ${input.poison.length} served, ${input.unservable.length} unservable`);
  const rng = scenarioRandom(opts.seed, scenario.name);
  const result = emptyResult(scenario, { eventsIn: input.ids.length, poisonUnservable: input.unservable });
  const { actions, failures } = result;
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
  let sampling = false;
  let lagSampler: Promise<void> | undefined;
  try {
    if (opts.useProxy) {
      if (!stack.proxy) throw new Error('the stack has no proxied listener');
      proxy = await startTcpProxy({ listenPort: stack.proxy.proxyPort, targetPort: stack.proxy.externalPort });
    }
    await provisionTopics(stack, names);
    pipeline = await createPipeline({
      endpoints: stack,
      appBootstrap: proxy ? `127.0.0.1:${proxy.port}` : stack.bootstrapServers,
      names,
      data: input.file,
      // The input's own times (dated by writeInput), the same on every connection.
      sourceArgs: ['--time', 'original', '--rate', String(opts.rate), ...(scenario.sourceArgs ?? [])],
      aggregator: CHAOS_AGGREGATOR,
      lagMonitor: { ...CHAOS_LAG_MONITOR, webhookUrl: webhook.url },
      extraEnv: { aggregator: { TOP_PAGES: String(CHAOS_AGGREGATOR.topPages) } },
      instances: scenario.instances,
      aggregation: scenario.aggregation,
      enricher: scenario.enricher ? { apiArgs: scenario.enricher.apiArgs } : undefined,
      workDir: opts.workDir,
      logDir: join(opts.workDir, 'logs'),
      log,
    });
    const p = pipeline;
    log(`starting the pipeline (prefix ${names.prefix})`);
    await p.start();
    const loaded = await sourceStats(p);
    if (loaded?.eventsLoaded !== input.lines) throw new Error(`sse-source loaded ${loaded?.eventsLoaded} events, expected ${input.lines}`);
    const t0 = Date.now();
    const inputMs = (input.lines / opts.rate) * 1000;
    log(`input flowing: ${input.lines} events at ${opts.rate}/s (~${Math.round(inputMs / 1000)} s)`);

    const ctx: ScenarioContext = {
      pipeline: p,
      stack: isPrivate(stack) ? stack : undefined,
      proxy,
      rng,
      inputMs,
      ...scenarioClock(t0, actions, log),
      kill: async (app, restartAfterMs, ordinal = 0) => {
        const target = p.instances(app)[ordinal];
        if (!target) throw new Error(`${app} has no instance ${ordinal}`);
        ctx.note(`kill -9 ${app}${ordinal ? `-${ordinal}` : ''} (restart in ${(restartAfterMs / 1000).toFixed(1)} s)`);
        await target.kill9(restartAfterMs);
      },
      scale: async (app, count) => {
        const from = p.instances(app).length;
        ctx.note(`scale ${app} ${from} -> ${count}`);
        await p.scale(app, count);
        ctx.note(`${app}: ${count} instance(s) ${count > from ? 'ready' : 'left'}`);
      },
      restart: async (app, ordinal) => {
        const target = p.instances(app)[ordinal];
        if (!target) throw new Error(`${app} has no instance ${ordinal}`);
        ctx.note(`SIGTERM ${app}-${ordinal} (rolling restart)`);
        await target.stop(INSTANCE_STOP_GRACE_MS);
        target.start();
        await target.waitReady('/readyz', 180_000);
        ctx.note(`${app}-${ordinal} ready again`);
      },
      instances: (app) => p.instances(app).length,
      poison: async (records) => {
        const producer = createProducer({ connection: connection(stack, 'wikimonitor-e2e-poison'), log: createLogger('e2e-poison', 'silent') });
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

    // The largest lag in seconds of every group while the scenario runs, from whichever lag-monitor instance answers.
    const groupIdsForLag = [...Object.values(names.groups), ...(scenario.enricher ? [names.enricherGroup] : [])];
    sampling = true;
    lagSampler = (async () => {
      while (sampling) {
        for (const lm of p.instances('lag-monitor')) {
          const gs = await lagMonitorGroups(lm.url);
          if (!gs) continue;
          for (const g of gs.filter((x) => groupIdsForLag.includes(x.groupId) && x.maxLagSeconds !== null)) {
            const key = g.groupId.replace(`${names.prefix}-`, '');
            result.maxLagSeconds[key] = Math.max(result.maxLagSeconds[key] ?? 0, g.maxLagSeconds as number);
          }
          break;
        }
        await sleep(1_000);
      }
    })();

    // Bounded: a scenario's faults get the input's duration plus two minutes, unless it says otherwise.
    // The bound's timer is cleared once the faults are over: left pending, it held the test process
    // (and so `nx test e2e`) open until it fired, minutes after the last scenario.
    let budget: NodeJS.Timeout | undefined;
    await Promise.race([
      scenario.run(ctx),
      new Promise<never>((_, reject) => {
        budget = setTimeout(() => reject(new Error('scenario faults did not finish in time')), scenario.faultBudgetMs?.(inputMs) ?? inputMs + 120_000);
      }),
    ]).finally(() => clearTimeout(budget));
    const faultEnd = Date.now();
    if (actions.length) ctx.note('faults over');

    // The input is sent when the source has sent as many events as the file holds, or, since a client that
    // resumes past events (a naive timestamp resume) makes it send fewer, when its count has stood still for
    // 20 s after the planned end. Only the recovery time is dated by this; lost events are the checks' business.
    let lastSent = -1;
    let stillSince = Date.now();
    const inputDone = await waitUntil(inputMs * 3 + 120_000, async () => {
      const s = await sourceStats(p);
      if (!s) return undefined;
      if (s.eventsSent >= input.lines) return Date.now();
      if (s.eventsSent !== lastSent) [lastSent, stillSince] = [s.eventsSent, Date.now()];
      if (ctx.elapsed() <= inputMs || Date.now() - stillSince <= 20_000) return undefined;
      ctx.note(`the source sent ${lastSent} of ${input.lines} events (resumes skipped some)`);
      return stillSince;
    });
    if (!inputDone) failures.push('the SSE source did not send the whole input in time');
    const settledFrom = Math.max(faultEnd, inputDone ?? faultEnd);

    const recoveryTimeout = opts.recoveryTimeoutMs ?? 240_000;
    const complete = await waitUntil(recoveryTimeout, async () => ((await countStoredChanges(p.databaseUrl)) >= input.ids.length ? Date.now() : undefined), 250);
    if (complete) {
      result.recoverySeconds = Math.max(0, (complete - settledFrom) / 1000);
      log(`PostgreSQL complete ${result.recoverySeconds.toFixed(1)} s after faults and input ended`);
    } else failures.push(`PostgreSQL did not reach ${input.ids.length} rows within ${recoveryTimeout / 1000} s`);
    sampling = false;
    await lagSampler;

    // Exactly the expected ids in PostgreSQL.
    const stored = await storedChangeIds(p.databaseUrl);
    const expected = new Set(input.ids);
    const storedSet = new Set(stored);
    result.stored = stored.length;
    result.lost = input.ids.filter((id) => !storedSet.has(id)).length;
    result.unexpected = [...storedSet].filter((id) => !expected.has(id)).length;
    if (result.lost) failures.push(`${result.lost} events lost (e.g. ${input.ids.filter((id) => !storedSet.has(id)).slice(0, 3).join(', ')})`);
    if (result.unexpected) failures.push(`${result.unexpected} ids stored that were never sent`);
    result.rowDuplicates = rowDuplicates(await storedContentRows(p.databaseUrl), input.changes);

    // Every group back to lag 0 and OK.
    const groupIds = [...Object.values(names.groups), ...(scenario.enricher ? [names.enricherGroup] : [])];
    // The enricher's group reaches lag 0 while records still wait for a retry (parked in its state): wait for those too.
    if (scenario.enricher && p.apps.enricher) {
      const enricher = p.apps.enricher;
      const drained = await waitUntil(120_000, async () => (await enricher.metric('enricher_parked_records')) === 0 && (await enricher.metric('enricher_records_consumed_total')) > 0);
      if (!drained) failures.push('the enricher still had parked records after 120 s');
    }
    let lastGroups: Awaited<ReturnType<typeof lagMonitorGroups>>;
    const groupsOk = await waitUntil(complete ? (opts.groupsTimeoutMs ?? 120_000) : 15_000, async () => {
      lastGroups = await lagMonitorGroups((p.instances('lag-monitor')[0] ?? p.apps['lag-monitor']).url);
      const mine = (lastGroups ?? []).filter((g) => groupIds.includes(g.groupId));
      // A fresh cycle only: a monitor whose cycles stopped would report its last state forever.
      const fresh = mine.every((g) => Date.now() - g.observedAt < Math.max(5_000, 5 * CHAOS_LAG_MONITOR.cycleMs));
      return fresh && mine.length === groupIds.length && mine.every((g) => g.totalLag === 0 && g.status === 'OK');
    });
    result.groups = (lastGroups ?? []).filter((g) => groupIds.includes(g.groupId)).map((g) => ({ groupId: g.groupId, status: g.status, totalLag: g.totalLag, ageSeconds: Math.round((Date.now() - g.observedAt) / 1000) }));
    if (!groupsOk) failures.push(`groups not all at lag 0 / OK in a fresh lag-monitor cycle: ${JSON.stringify(result.groups)}`);

    // Dead letters: every poison record (and nothing else) in the DLQ.
    const dead = await readDeadLetters(stack, names.topics.dlq);
    const stats = await sourceStats(p);
    const malformed = scenario.malformedFromSource ? (stats?.sent.malformed ?? 0) : 0;
    result.sourceConnections = stats?.connections.total ?? 0;
    const minConnections = scenario.minConnections?.(inputMs);
    if (minConnections !== undefined && (stats?.connections.total ?? 0) < minConnections) {
      failures.push(`the source served ${stats?.connections.total ?? 0} connections, the scenario needs at least ${minConnections} (its resumes did not happen)`);
    }
    const expectedPoison = poisonSent.flatMap((r) => r.apps.map((app) => ({ key: r.key, app })));
    result.expectedDeadLetters = malformed + expectedPoison.length;
    // Producer dead letters are the served poison (matched by bytes) or, in a scenario with the source's
    // malformed fault, the malformed events: one letter each (the scenario has no resume, so none is re-sent).
    const servedPoison = dead.filter((d) => d.app === 'producer' && input.poison.some((p) => letterHolds(d, p.data)));
    const fromSource = scenario.malformedFromSource ? dead.filter((d) => d.app === 'producer' && !servedPoison.includes(d)) : [];
    const found = expectedPoison.filter((e) => dead.some((d) => d.app === e.app && String(d.key ?? '') === e.key));
    const others = dead.filter((d) => !fromSource.includes(d) && !servedPoison.includes(d) && !poisonSent.some((r) => String(d.key ?? '') === r.key));
    result.expectedDeadLetters += input.poison.filter((p) => p.expected === 'dead-letter').length;
    result.deadLettered = Math.min(fromSource.length, malformed) + found.length + servedPoison.length;
    if (fromSource.length !== malformed) failures.push(`malformed SSE events: source sent ${malformed}, the producer dead-lettered ${fromSource.length}`);
    if (found.length !== expectedPoison.length) failures.push(`poison records missing from the DLQ: ${expectedPoison.filter((e) => !found.includes(e)).map((e) => `${e.key}@${e.app}`).join(', ')}`);
    if (others.length) failures.push(`${others.length} unexpected dead letters (e.g. ${others.slice(0, 2).map((d) => `${d.app}:${d.error.code}:${d.error.message.slice(0, 120)}`).join(' | ')})`);

    // Copies of every meta.id on every change topic, of every window and alert (read_committed, whole topics),
    // and the aggregates against the recount of the DISTINCT input (the input file, not what the pipeline wrote).
    const bs = stack;
    const raw = await readChanges(bs, names.topics.raw);
    const routed = await Promise.all(ROUTES.map(async (r) => ({ route: r, topic: names.topics.routes[r], read: await readChanges(bs, names.topics.routes[r]) })));
    const all = routed.find((r) => r.route === 'all')?.read ?? { changes: [], undecodable: 0 };
    const late = await readChanges(bs, names.topics.late);
    const aggs = await readAggregates(bs, names.topics.aggregates);
    const alerts = await readAlerts(bs, names.topics.alerts);
    const storedAggs = await storedAggregates(p.databaseUrl);
    const byPartition = (): string[][] => {
      const out: string[][] = [];
      all.changes.forEach((c, i) => (out[all.partitions?.[i] ?? 0] ??= []).push(c.id));
      return Array.from({ length: Math.max(out.length, TOPOLOGY.changesAll.partitions) }, (_, i) => out[i] ?? []);
    };
    const readOrder = scenario.aggregation === 'two-stage' ? { byPartition: byPartition() } : all.changes.map((c) => c.id);
    const agg = checkAggregates(input.changes, readOrder, { stored: storedAggs, topic: aggs.aggregates, lateIds: late.changes.map((c) => c.id) }, CHAOS_AGGREGATOR);
    const closed = new Set(agg.recount.closed.map(windowKey));
    const ids = (t: { changes: Array<{ id: string }> }) => t.changes.map((c) => c.id);
    result.topics = [
      countTopicCopies(names.topics.raw, ids(raw), { mustHold: expected, allowed: expected, undecodable: raw.undecodable }),
      ...routed.map((r) => countTopicCopies(r.topic, ids(r.read), r.route === 'all' ? { mustHold: expected, allowed: expected, undecodable: r.read.undecodable } : { allowed: expected, undecodable: r.read.undecodable })),
      countTopicCopies(names.topics.late, ids(late), { allowed: new Set(agg.recount.lateIds) }),
      countTopicCopies(names.topics.aggregates, aggs.aggregates.map(windowKey), { mustHold: closed, allowed: closed, undecodable: aggs.undecodable }),
      countTopicCopies(names.topics.alerts, alerts.map((a) => a.id)),
    ];
    if (scenario.enricher) {
      // Each human-content record once, enriched or in the error topic, with a reason the scenario's faults allow.
      const human = new Set(ids(routed.find((r) => r.route === 'human-content')?.read ?? { changes: [] }));
      const enriched = await readEnriched(bs, names.topicsById.enriched);
      const errors = await readEnrichErrors(bs, names.topicsById.enrichErrors);
      const outIds = [...enriched.ids, ...errors.map((e) => e.id)];
      const copies = countTopicCopies(`${names.topicsById.enriched}+error`, outIds, { mustHold: human, allowed: human, undecodable: enriched.undecodable + errors.filter((e) => !e.id).length });
      result.topics.push(copies);
      const reasons = countCopies(errors.map((e) => e.reason));
      result.enricher = { in: human.size, enriched: enriched.ids.length, errors: Object.fromEntries(reasons) };
      const bad = [...reasons.keys()].filter((r) => !scenario.enricher?.errorReasons.includes(r));
      if (bad.length) failures.push(`enricher error-topic reasons the scenario does not allow: ${bad.join(', ')}`);
      if (copies.missing || copies.unexpected || copies.undecodable) failures.push(`enricher outputs: ${copies.missing} human-content records in neither the enriched nor the error topic, ${copies.unexpected} unexpected, ${copies.undecodable} undecodable`);
    }
    result.topicDuplicates = result.topics.reduce((n, t) => n + t.extraCopies, 0);
    result.aggregates = { compared: agg.recount.closed.length, openAtEnd: agg.recount.open.length, late: late.changes.length, diff: agg.stored, topicDiff: agg.topic };
    const aggFailures = copyAndAggregateFailures([], 0, agg);
    result.aggregatesEqualRecount = aggFailures.length === 0;
    failures.push(...copyAndAggregateFailures(result.topics, result.rowDuplicates, agg));

    // Poison served by the source: dead-lettered once, dropped without a trace, or published, as expected.
    if (input.poison.length) {
      const letters = dead.map((d) => ({ app: d.app, code: d.error.code, value: d.value }));
      result.poison = poisonOutcomes(input.poison, letters, countCopies(ids(raw)), storedSet);
      for (const o of result.poison.filter((x) => !x.ok)) {
        const want = input.poison.find((x) => x.name === o.name)?.code;
        failures.push(`poison ${o.name}: expected ${o.expected}${want ? ` ${want}` : ''}, got ${o.deadLetters} dead letters${o.codes.length ? ` (${o.codes.join(', ')})` : ''}, ${o.onRaw} copies on raw, ${o.stored ? '' : 'not '}stored`);
      }
    }

    // lag-monitor's alert during the stall: on the alerts topic (and the webhook).
    if (alertWindows.length) {
      result.alert.expected = true;
      const alerts = await readAlerts(stack, names.topics.alerts);
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
      const alerts = await readAlerts(stack, names.topics.alerts);
      const raised = alerts.filter((a) => a.kind === 'consumer_status' && a.status !== 'OK');
      result.alert.detail = raised.length ? `${raised.length} (${[...new Set(raised.map((a) => `${a.subject.replace(`${names.prefix}-`, '')}:${a.status}`))].join(', ')})` : 'none';
    }
    for (const proc of p.allInstances()) {
      const crashes = proc.counts().crashes;
      if (crashes) result.crashes[proc.name] = (result.crashes[proc.name] ?? 0) + crashes;
    }
  } catch (err) {
    failures.push(`error: ${(err as Error).message}`);
  } finally {
    sampling = false;
    await lagSampler;
    await pipeline?.stop().catch((err: unknown) => log(`stopping the pipeline failed: ${(err as Error).message}`));
    await proxy?.close();
    if (!opts.keep) {
      await deleteTopics(stack, names).catch(() => undefined);
      await dropDatabase(stack.databaseUrl, names.database).catch(() => undefined);
    }
  }
  result.passed = failures.length === 0;
  result.seconds = Math.round((Date.now() - started) / 1000);
  log(result.passed ? `PASSED (${result.seconds} s)` : `FAILED: ${failures.join('; ')}`);
  return result;
}

/** A scenario's seeded random source: the same seed repeats its fault moments. */
export function scenarioRandom(seed: number, name: string): () => number {
  return seededRandom(seed + [...name].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) | 0, 0));
}

/** A result with nothing checked yet (failures and actions are filled as the scenario runs). */
export function emptyResult(scenario: Pick<Scenario, 'name' | 'description'>, fields: Partial<ScenarioResult> = {}): ScenarioResult {
  return {
    scenario: scenario.name,
    description: scenario.description,
    passed: false,
    failures: [],
    eventsIn: 0,
    stored: 0,
    lost: 0,
    topicDuplicates: 0,
    topics: [],
    rowDuplicates: 0,
    unexpected: 0,
    aggregatesEqualRecount: false,
    poison: [],
    poisonUnservable: [],
    deadLettered: 0,
    expectedDeadLetters: 0,
    sourceConnections: 0,
    recoverySeconds: null,
    aggregates: null,
    groups: [],
    maxLagSeconds: {},
    alert: { expected: false, raised: false, detail: '' },
    crashes: {},
    actions: [],
    seconds: 0,
    ...fields,
  };
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
  const webhook = await startWebhookReceiver();
  const results: ScenarioResult[] = [];
  try {
    for (const s of opts.scenarios) {
      opts.log(`=== ${s.name}: ${s.description}`);
      results.push(await runScenario(s, opts, webhook));
    }
  } finally {
    await webhook.close();
  }
  return { seed: opts.seed, events: opts.events, rate: opts.rate, results, passed: results.every((r) => r.passed) };
}

const fmt = (v: number | null) => (v === null ? '-' : v.toFixed(1));
const topicShort = (topic: string) => topic.slice(topic.indexOf('.') + 1);

/** The largest lag in seconds of any group, and whose ("12.3 (dedup-persister)"). */
export function maxLagCell(byGroup: Record<string, number>): string {
  const top = Object.entries(byGroup).sort((a, b) => b[1] - a[1])[0];
  return top ? `${top[1].toFixed(1)} (${top[0]})` : '-';
}

/** Per topic extra copies, e.g. "raw.changes 3, changes.all 3" (or "0"). */
export function topicBreakdown(r: Pick<ScenarioResult, 'topics'>): string {
  const dup = r.topics.filter((t) => t.extraCopies > 0);
  return dup.length ? dup.map((t) => `${topicShort(t.topic)} ${t.extraCopies}`).join(', ') : '0';
}

/** The figures chaos-summary.json gives per scenario (the rest of the result is beside them). */
export function scenarioFigures(r: ScenarioResult) {
  return {
    scenario: r.scenario,
    passed: r.passed,
    lost: r.lost,
    topicDuplicates: r.topicDuplicates,
    topicDuplicatesByTopic: Object.fromEntries(r.topics.map((t) => [topicShort(t.topic), t.extraCopies])),
    rowDuplicates: r.rowDuplicates,
    aggregatesEqualRecount: r.aggregatesEqualRecount,
    sourceConnections: r.sourceConnections,
    recoverySeconds: r.recoverySeconds,
    maxLagSeconds: r.maxLagSeconds,
    aggregates: r.aggregates ? { closedWindows: r.aggregates.compared, equalStored: r.aggregates.diff.equal, equalOnTopic: r.aggregates.topicDiff.equal, late: r.aggregates.late } : null,
  };
}

/** The summary table: lost, topic duplicates (and where), row duplicates, aggregates vs the recount, and the other checks. */
export function summaryTable(results: ScenarioResult[]): string {
  const rows = [
    ['scenario', 'events in', 'stored', 'lost', 'topic duplicates', 'row duplicates', 'aggregates = recount', 'dead-lettered', 'recovery (s)', 'max lag (s)', 'groups lag 0 / OK', 'lag alert', 'result'],
    ...results.map((r) => [
      r.scenario,
      String(r.eventsIn),
      String(r.stored),
      String(r.lost),
      r.topicDuplicates ? `${r.topicDuplicates} (${topicBreakdown(r)})` : '0',
      String(r.rowDuplicates),
      r.aggregates ? `${r.aggregatesEqualRecount ? 'yes' : 'NO'}: ${r.aggregates.diff.equal}/${r.aggregates.compared} windows${r.aggregates.late ? `, ${r.aggregates.late} late` : ''}` : '-',
      `${r.deadLettered}/${r.expectedDeadLetters}`,
      fmt(r.recoverySeconds),
      maxLagCell(r.maxLagSeconds),
      r.groups.length ? (r.groups.every((g) => g.totalLag === 0 && g.status === 'OK') ? 'yes' : 'NO') : '-',
      r.alert.expected ? (r.alert.raised ? `yes: ${r.alert.detail}` : 'MISSING') : r.alert.detail,
      r.passed ? 'PASS' : 'FAIL',
    ]),
  ];
  return [`| ${(rows[0] as string[]).join(' | ')} |`, `|${(rows[0] as string[]).map(() => '---').join('|')}|`, ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export const DEFAULT_WORK_DIR = join(REPO_ROOT, 'tmp', 'chaos');
