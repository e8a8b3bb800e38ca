import type { WikiAggregate, WikiAlert } from '@wikimonitor/contracts';
import { type AggregatableChange, type AggregationOutput, type ReduceResult, type WikiState, type WindowConfig, closeIdleWikis, decodeWikiState, distrustFutureState, encodeWikiState, eventTimeProblem, reduceChanges } from '@wikimonitor/domain';
import { type Headers, type Message, type OutgoingRecord, type StateChangelog, type Step, type StepRecord, type Tick, deadLetterFrom, headersFromMessage } from '@wikimonitor/kafka';
import { describeError, isRetriable } from '@wikimonitor/service-kit';
import { type Span, type Tracer, context, injectTraceHeaders, startBatchProcessSpan, trace } from '@wikimonitor/telemetry';

export const LATE_HEADERS = {
  windowStart: 'late.window.start',
  watermark: 'late.watermark',
  sourceTopic: 'late.source.topic',
  sourcePartition: 'late.source.partition',
  sourceOffset: 'late.source.offset',
} as const;

export interface AggregateTopics {
  aggregates: string;
  alerts: string;
  late: string;
  dlq: string;
  changelog: string;
}

/** Window state of one input partition (never modified: each step returns a new one). */
export interface PartitionWindows {
  wikis: ReadonlyMap<string, WikiState>;
  /** Processing time of each wiki's last change (or of the restore): drives idle closing. */
  lastSeen: ReadonlyMap<string, number>;
}

/** What one attempt produced, for the app's metrics (and the span its hooks end). */
export interface AggregateSummary {
  consumed: number;
  late: number;
  windows: Record<'watermark' | 'idle', number>;
  alerts: Array<WikiAlert['severity']>;
  dead: string[];
  /** Newest event time of the changes, 0 if none. */
  maxEventTime: number;
  span?: Span;
}

export interface AggregateStepDeps {
  topics: AggregateTopics;
  window: WindowConfig;
  idleCloseMs: number;
  /** Decodes an input value into what the windows read (a WikiChange, or a Bluesky event mapped by blueskyAggregatable). */
  decode: (value: Buffer) => Promise<AggregatableChange>;
  encodeAggregate: (a: WikiAggregate) => Buffer;
  encodeAlert: (a: WikiAlert) => Buffer;
  /** Null when tracing is off. */
  tracer: Tracer | null;
  app: string;
  /** Processing time for restored wikis' idle clocks. */
  now?: () => number;
  /**
   * A change dated more than this after the wall clock (or before 2001) never reaches the windows:
   * it is dead-lettered with EVENT_TIME_FUTURE (EVENT_TIME_TOO_OLD), and restored state beyond the
   * wall clock plus this is not trusted (see distrustFutureState).
   */
  maxFutureSkewMs: number;
  /** A restored wiki state reached beyond the wall clock plus the skew and was rebuilt. */
  onDistrustedState?: (wiki: string, before: WikiState, after: WikiState) => void;
}

export interface AggregateSteps {
  step: Step<PartitionWindows, AggregateSummary>;
  /** Closes the windows of wikis that saw no change for idleCloseMs (the end of a replay, a quiet wiki). */
  closeIdle: Tick<PartitionWindows, AggregateSummary>;
  changelog: StateChangelog<PartitionWindows>;
  initial: () => PartitionWindows;
}

/** The record of a closed window's aggregate or of its spike alert (counted in the summary). */
export function windowRecord(
  o: Extract<AggregationOutput, { kind: 'aggregate' | 'alert' }>,
  deps: Pick<AggregateStepDeps, 'encodeAggregate' | 'encodeAlert'>,
  topics: Pick<AggregateTopics, 'aggregates' | 'alerts'>,
  summary: AggregateSummary,
  headers: Headers,
): StepRecord {
  if (o.kind === 'aggregate') {
    summary.windows[o.reason]++;
    return { topic: topics.aggregates, key: o.aggregate.wiki, value: deps.encodeAggregate(o.aggregate), headers };
  }
  summary.alerts.push(o.alert.severity);
  return { topic: topics.alerts, key: o.alert.subject, value: deps.encodeAlert(o.alert), headers };
}

/** A late change, as it came, on the late topic, with where it came from and why it was late. */
export function lateRecord(topic: string, m: Message, windowStart: number, watermark: number): StepRecord {
  return {
    topic,
    key: m.key ?? null,
    value: m.value ?? null,
    headers: {
      ...headersFromMessage(m.headers),
      [LATE_HEADERS.windowStart]: new Date(windowStart).toISOString(),
      [LATE_HEADERS.watermark]: new Date(watermark).toISOString(),
      [LATE_HEADERS.sourceTopic]: m.topic,
      [LATE_HEADERS.sourcePartition]: String(m.partition),
      [LATE_HEADERS.sourceOffset]: String(m.offset),
    },
    source: m,
  };
}

/**
 * Decodes a batch of WikiChange records: bad ones (undecodable, event time beyond the skew) become
 * dead letters; a retriable failure (the registry unreachable) throws, so the batch is retried.
 */
export async function decodeChanges(
  batch: Message[],
  deps: Pick<AggregateStepDeps, 'decode' | 'maxFutureSkewMs' | 'app'> & { dlqTopic: string },
  now: number,
  summary: Pick<AggregateSummary, 'dead'>,
  deadLetters: OutgoingRecord[],
): Promise<{ changes: AggregatableChange[]; sources: Message[] }> {
  const changes: AggregatableChange[] = [];
  const sources: Message[] = [];
  for (const m of batch) {
    try {
      if (!m.value) throw Object.assign(new Error('record has no value'), { code: 'DESERIALIZE_FAILED' });
      const change = await deps.decode(m.value);
      // Defence in depth behind the producer's rule: a future event time would move the wiki's
      // watermark and make every later change of that wiki late.
      const bad = eventTimeProblem(change.event_time, now, deps.maxFutureSkewMs);
      if (bad) {
        deadLetters.push(deadLetterFrom(m, { code: bad.code, message: bad.reason }, { topic: deps.dlqTopic, app: deps.app }));
        summary.dead.push(bad.code);
        continue;
      }
      changes.push(change);
      sources.push(m);
    } catch (err) {
      if (isRetriable(err)) throw err; // e.g. registry unreachable: retry the batch, do not dead-letter
      const e = describeError(err);
      const code = e.code === 'INTERNAL' ? 'DESERIALIZE_FAILED' : e.code;
      deadLetters.push(deadLetterFrom(m, { code, message: e.message }, { topic: deps.dlqTopic, app: deps.app }));
      summary.dead.push(code);
    }
  }
  return { changes, sources };
}

export const emptySummary = (): AggregateSummary => ({ consumed: 0, late: 0, windows: { watermark: 0, idle: 0 }, alerts: [], dead: [], maxEventTime: 0 });

/**
 * The aggregator's steps: changes of one partition -> closed-window aggregates, spike alerts,
 * late records and dead letters, plus the partition's next window state (persisted by the loop to
 * the compacted changelog, partition = input partition).
 */
export function createAggregateSteps(deps: AggregateStepDeps): AggregateSteps {
  const { topics } = deps;
  const now = deps.now ?? Date.now;

  /** Turns reducer outputs into records (late ones carry their source message). */
  function stage(r: ReduceResult, source: (index: number) => Message, out: StepRecord[], summary: AggregateSummary): void {
    const span = summary.span;
    const traced = (): Headers => (span ? (injectTraceHeaders({}, trace.setSpan(context.active(), span)) as Headers) : {});
    for (const o of r.outputs as AggregationOutput[]) {
      if (o.kind === 'aggregate' || o.kind === 'alert') {
        out.push(windowRecord(o, deps, topics, summary, traced()));
      } else {
        out.push(lateRecord(topics.late, source(o.index), o.windowStart, o.watermark));
        summary.late++;
      }
    }
  }

  const withStates = (prev: PartitionWindows, r: ReduceResult, seen: Iterable<string>, t: number): PartitionWindows => {
    const wikis = new Map(prev.wikis);
    for (const [wiki, s] of r.states) wikis.set(wiki, s);
    let lastSeen = prev.lastSeen;
    const touched = [...seen];
    if (touched.length) {
      const next = new Map(prev.lastSeen);
      for (const wiki of touched) next.set(wiki, t);
      lastSeen = next;
    }
    return { wikis, lastSeen };
  };

  const step: AggregateSteps['step'] = async (batch, state, ctx) => {
    const summary = emptySummary();
    if (deps.tracer) summary.span = startBatchProcessSpan(deps.tracer, ctx.topic, batch.map((m) => headersFromMessage(m.headers)));
    try {
      const records: StepRecord[] = [];
      const deadLetters: OutgoingRecord[] = [];
      const { changes, sources } = await decodeChanges(batch, { ...deps, dlqTopic: topics.dlq }, ctx.now, summary, deadLetters);
      const r = reduceChanges(state.wikis, changes, deps.window, ctx.now);
      stage(r, (i) => sources[i] as Message, records, summary);
      summary.consumed = batch.length;
      for (const c of changes) if (c.event_time > summary.maxEventTime) summary.maxEventTime = c.event_time;
      return { records, deadLetters, nextState: withStates(state, r, changes.map((c) => c.wiki), ctx.now), summary };
    } catch (err) {
      summary.span?.recordException(err as Error);
      summary.span?.end();
      throw err;
    }
  };

  const closeIdle: AggregateSteps['closeIdle'] = (state, ctx) => {
    const idle = [...state.wikis.values()].filter((s) => s.windows.length && ctx.now - (state.lastSeen.get(s.wiki) ?? ctx.now) >= deps.idleCloseMs).map((s) => s.wiki);
    if (!idle.length) return null;
    const r = closeIdleWikis(state.wikis, idle, deps.window, ctx.now);
    const records: StepRecord[] = [];
    const summary = emptySummary();
    stage(r, () => {
      throw new Error('idle closing yields no late records');
    }, records, summary);
    return { records, deadLetters: [], nextState: withStates(state, r, [], ctx.now), summary };
  };

  const changelog: StateChangelog<PartitionWindows> = {
    topic: topics.changelog,
    restore(_partition, messages) {
      const wikis = new Map<string, WikiState>();
      for (const m of messages) {
        const key = m.key?.toString();
        if (key === undefined) continue;
        if (m.value === null) wikis.delete(key);
        else wikis.set(key, decodeWikiState(m.value.toString('utf8')));
      }
      const t = now();
      for (const [wiki, s] of wikis) {
        const checked = distrustFutureState(s, t + deps.maxFutureSkewMs, deps.window);
        if (!checked.distrusted) continue;
        wikis.set(wiki, checked.state);
        deps.onDistrustedState?.(wiki, s, checked.state);
      }
      return { wikis, lastSeen: new Map([...wikis.keys()].map((w) => [w, t])) };
    },
    encode(partition, next, prev) {
      const out: OutgoingRecord[] = [];
      for (const [wiki, s] of next.wikis) if (prev.wikis.get(wiki) !== s) out.push({ topic: topics.changelog, partition, key: wiki, value: Buffer.from(encodeWikiState(s), 'utf8') });
      return out;
    },
  };

  return { step, closeIdle, changelog, initial: () => ({ wikis: new Map(), lastSeen: new Map() }) };
}
