import {
  type MergeInput,
  type MergeState,
  type OpenWindow,
  type PartitionPartials,
  type WikiState,
  type WindowConfig,
  type WindowJson,
  closeIdlePartition,
  emptyMergeState,
  emptyPartitionPartials,
  reduceMerge,
  reducePartitionChanges,
  windowFromJson,
  windowToJson,
} from '@wikimonitor/domain';
import { type Headers, type Message, type OutgoingRecord, type StateChangelog, type Step, type StepRecord, type Tick, deadLetterFrom, headersFromMessage } from '@wikimonitor/kafka';
import { type Tracer, context, injectTraceHeaders, startBatchProcessSpan, trace } from '@wikimonitor/telemetry';
import { type AggregateStepDeps, type AggregateSummary, decodeChanges, emptySummary, lateRecord, windowRecord } from './aggregate-step';

/**
 * The aggregator's AGGREGATION_MODE=two-stage (libs/domain aggregation/two-stage.ts has the rule):
 * stage 1 turns each input partition's changes into partial windows and progress records on the
 * partials topic; stage 2 merges them per wiki into the same aggregates and alerts as the single
 * stage. Each stage is a transactional loop of its own (own group, transactional id and changelog),
 * so the exactly-once and restore guarantees are the kernel's, as for every other step.
 */

/** Format version of the partials topic and of both changelogs' values. */
const FORMAT = 1;
/** Changelog key of a partition's clock (stage 1) or of the merge's progress (stage 2): no wiki database name has a '#' (and a NUL would not survive the client's C-string keys). */
const META_KEY = '#meta';

/** A record of the partials topic. */
type PartialsRecord =
  | { v: typeof FORMAT; kind: 'partial'; source: number; wiki: string; window: WindowJson }
  | { v: typeof FORMAT; kind: 'progress'; source: number; sources: number; closedUpTo: number | null };

const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');

function parseJson<T>(buf: Buffer | null | undefined, what: string): T {
  if (!buf) throw Object.assign(new Error(`${what} has no value`), { code: 'DESERIALIZE_FAILED' });
  let out: { v?: unknown };
  try {
    out = JSON.parse(buf.toString('utf8')) as { v?: unknown };
  } catch (err) {
    throw Object.assign(new Error(`${what} is not JSON: ${(err as Error).message}`), { code: 'DESERIALIZE_FAILED' });
  }
  if (out?.v !== FORMAT) throw Object.assign(new Error(`${what} has format ${JSON.stringify(out?.v)}, this app reads ${FORMAT}`), { code: 'DESERIALIZE_FAILED' });
  return out as T;
}

// ---------------------------------------------------------------- stage 1: partial windows

export interface PartialPartitionState {
  partials: PartitionPartials;
  /** Processing time of the last input (or of the restore): drives idle closing. */
  lastInputAt: number;
  /** The partition reported itself idle; its next batch reports its progress again. */
  idle: boolean;
}

export interface PartialStepDeps extends Pick<AggregateStepDeps, 'decode' | 'maxFutureSkewMs' | 'app' | 'tracer'> {
  topics: { partials: string; late: string; dlq: string; changelog: string };
  window: Pick<WindowConfig, 'sizeMs' | 'allowedLatenessMs'>;
  idleCloseMs: number;
  /** Partitions of the partials topic (each gets every progress record) and of the input. */
  partialPartitions: () => number;
  inputPartitions: () => number;
  now?: () => number;
}

export interface PartialSteps {
  step: Step<PartialPartitionState, AggregateSummary>;
  closeIdle: Tick<PartialPartitionState, AggregateSummary>;
  changelog: StateChangelog<PartialPartitionState>;
  initial: () => PartialPartitionState;
}

export function createPartialSteps(deps: PartialStepDeps): PartialSteps {
  const { topics } = deps;
  const now = deps.now ?? Date.now;

  const progressRecords = (source: number, closedUpTo: number | null): StepRecord[] => {
    const sources = deps.inputPartitions();
    return Array.from({ length: deps.partialPartitions() }, (_, partition) => ({
      topic: topics.partials,
      partition,
      key: null,
      value: json({ v: FORMAT, kind: 'progress', source, sources, closedUpTo } satisfies PartialsRecord),
    }));
  };
  const partialRecord = (source: number, wiki: string, window: OpenWindow, headers: Headers): StepRecord => ({
    topic: topics.partials,
    key: wiki,
    value: json({ v: FORMAT, kind: 'partial', source, wiki, window: windowToJson(window) } satisfies PartialsRecord),
    headers,
  });

  const step: PartialSteps['step'] = async (batch, state, ctx) => {
    const summary = emptySummary();
    if (deps.tracer) summary.span = startBatchProcessSpan(deps.tracer, ctx.topic, batch.map((m) => headersFromMessage(m.headers)));
    try {
      const deadLetters: OutgoingRecord[] = [];
      const { changes, sources } = await decodeChanges(batch, { ...deps, dlqTopic: topics.dlq }, ctx.now, summary, deadLetters);
      const r = reducePartitionChanges(state.partials, changes, deps.window);
      const span = summary.span;
      const headers = (): Headers => (span ? (injectTraceHeaders({}, trace.setSpan(context.active(), span)) as Headers) : {});
      const records: StepRecord[] = [];
      for (const o of r.outputs) {
        if (o.kind === 'late') {
          records.push(lateRecord(topics.late, sources[o.index] as Message, o.windowStart, o.watermark));
          summary.late++;
        } else records.push(partialRecord(ctx.partition, o.wiki, o.window, headers()));
      }
      // After the partials it covers, on every partition of the partials topic (one producer, in order).
      if (r.progress !== null || (state.idle && r.state.closedUpTo !== null)) records.push(...progressRecords(ctx.partition, r.state.closedUpTo));
      summary.consumed = batch.length;
      for (const c of changes) if (c.event_time > summary.maxEventTime) summary.maxEventTime = c.event_time;
      return { records, deadLetters, nextState: { partials: r.state, lastInputAt: ctx.now, idle: state.idle && r.state.closedUpTo === null }, summary };
    } catch (err) {
      summary.span?.recordException(err as Error);
      summary.span?.end();
      throw err;
    }
  };

  /** A quiet partition sends its open windows and stops holding the merge back (progress "idle"). */
  const closeIdle: PartialSteps['closeIdle'] = (state, ctx) => {
    if (state.idle || ctx.now - state.lastInputAt < deps.idleCloseMs) return null;
    const r = closeIdlePartition(state.partials, deps.window);
    const summary = emptySummary();
    const records: StepRecord[] = r.outputs.flatMap((o) => (o.kind === 'partial' ? [partialRecord(ctx.partition, o.wiki, o.window, {})] : []));
    records.push(...progressRecords(ctx.partition, null));
    return { records, deadLetters: [], nextState: { partials: r.state, lastInputAt: state.lastInputAt, idle: true }, summary };
  };

  const changelog: StateChangelog<PartialPartitionState> = {
    topic: topics.changelog,
    restore(_partition, messages) {
      const windows = new Map<string, OpenWindow[]>();
      let meta: { maxEventTime: number | null; closedUpTo: number | null; idle: boolean } = { maxEventTime: null, closedUpTo: null, idle: false };
      for (const m of messages) {
        const key = m.key?.toString();
        if (key === undefined) continue;
        if (key === META_KEY) {
          if (m.value) meta = parseJson<typeof meta & { v: number }>(m.value, 'partial-stage clock');
        } else if (m.value === null) windows.delete(key);
        else windows.set(key, parseJson<{ v: number; windows: WindowJson[] }>(m.value, `partial windows of ${key}`).windows.map(windowFromJson));
      }
      return { partials: { maxEventTime: meta.maxEventTime, closedUpTo: meta.closedUpTo, windows }, lastInputAt: now(), idle: meta.idle };
    },
    encode(partition, next, prev) {
      const out: OutgoingRecord[] = [];
      for (const [wiki, list] of next.partials.windows) {
        if (prev.partials.windows.get(wiki) !== list) out.push({ topic: topics.changelog, partition, key: wiki, value: json({ v: FORMAT, windows: list.map(windowToJson) }) });
      }
      for (const wiki of prev.partials.windows.keys()) if (!next.partials.windows.has(wiki)) out.push({ topic: topics.changelog, partition, key: wiki, value: null });
      const p = prev.partials;
      const n = next.partials;
      if (p.maxEventTime !== n.maxEventTime || p.closedUpTo !== n.closedUpTo || prev.idle !== next.idle) {
        out.push({ topic: topics.changelog, partition, key: META_KEY, value: json({ v: FORMAT, maxEventTime: n.maxEventTime, closedUpTo: n.closedUpTo, idle: next.idle }) });
      }
      return out;
    },
  };

  return { step, closeIdle, changelog, initial: () => ({ partials: emptyPartitionPartials(), lastInputAt: now(), idle: false }) };
}

// ---------------------------------------------------------------- stage 2: merge per wiki

export interface MergeStepDeps extends Pick<AggregateStepDeps, 'encodeAggregate' | 'encodeAlert' | 'app'> {
  topics: { aggregates: string; alerts: string; dlq: string; changelog: string };
  window: WindowConfig;
  tracer: Tracer | null;
}

export interface MergeSteps {
  step: Step<MergeState, AggregateSummary>;
  changelog: StateChangelog<MergeState>;
  initial: () => MergeState;
}

export function createMergeSteps(deps: MergeStepDeps): MergeSteps {
  const { topics } = deps;

  const step: MergeSteps['step'] = (batch, state, ctx) => {
    const summary = emptySummary();
    if (deps.tracer) summary.span = startBatchProcessSpan(deps.tracer, ctx.topic, batch.map((m) => headersFromMessage(m.headers)));
    try {
      const deadLetters: OutgoingRecord[] = [];
      const inputs: MergeInput[] = [];
      const sources: Message[] = [];
      for (const m of batch) {
        try {
          const r = parseJson<PartialsRecord>(m.value, 'partials record');
          inputs.push(r.kind === 'partial' ? { kind: 'partial', sourcePartition: r.source, wiki: r.wiki, window: windowFromJson(r.window) } : { kind: 'progress', sourcePartition: r.source, sources: r.sources, closedUpTo: r.closedUpTo });
          sources.push(m);
        } catch (err) {
          deadLetters.push(deadLetterFrom(m, { code: 'DESERIALIZE_FAILED', message: (err as Error).message }, { topic: topics.dlq, app: deps.app }));
          summary.dead.push('DESERIALIZE_FAILED');
        }
      }
      const r = reduceMerge(state, inputs, deps.window, ctx.now);
      const span = summary.span;
      const headers = (): Headers => (span ? (injectTraceHeaders({}, trace.setSpan(context.active(), span)) as Headers) : {});
      const records: StepRecord[] = [];
      for (const o of r.outputs) {
        if (o.kind === 'aggregate' || o.kind === 'alert') records.push(windowRecord(o, deps, topics, summary, headers()));
        else if (o.kind === 'late-partial') {
          // Only after an idle close (processing time) upstream: the window was emitted without it.
          deadLetters.push(deadLetterFrom(sources[o.index] as Message, { code: 'PARTIAL_AFTER_MERGE', message: `partial window ${o.wiki}@${new Date(o.windowStart).toISOString()} arrived after the window was merged (frontier ${new Date(o.frontier).toISOString()})` }, { topic: topics.dlq, app: deps.app }));
          summary.dead.push('PARTIAL_AFTER_MERGE');
        }
      }
      summary.consumed = batch.length;
      return { records, deadLetters, nextState: r.state, summary };
    } catch (err) {
      summary.span?.recordException(err as Error);
      summary.span?.end();
      throw err;
    }
  };

  interface MergeMetaJson {
    v: number;
    sources: number;
    progress: Array<[number, number | null]>;
    frontier: number | null;
  }
  interface MergeWikiJson {
    v: number;
    pending: WindowJson[];
    spike: WikiState['spike'] | null;
    lastScoredEnd: number | null;
  }

  const changelog: StateChangelog<MergeState> = {
    topic: topics.changelog,
    restore(_partition, messages) {
      let meta: MergeMetaJson | null = null;
      const perWiki = new Map<string, MergeWikiJson>();
      for (const m of messages) {
        const key = m.key?.toString();
        if (key === undefined) continue;
        if (key === META_KEY) meta = m.value ? parseJson<MergeMetaJson>(m.value, 'merge progress') : null;
        else if (m.value === null) perWiki.delete(key);
        else perWiki.set(key, parseJson<MergeWikiJson>(m.value, `merge state of ${key}`));
      }
      const state = emptyMergeState();
      const pending = new Map<string, Map<number, OpenWindow>>();
      const wikis = new Map<string, WikiState>();
      for (const [wiki, s] of perWiki) {
        if (s.pending.length) pending.set(wiki, new Map(s.pending.map((w) => [w.start, windowFromJson(w)])));
        if (s.spike) wikis.set(wiki, { wiki, maxEventTime: null, closedUpTo: null, lastScoredEnd: s.lastScoredEnd, windows: [], spike: { ...s.spike } });
      }
      return { ...state, sources: meta?.sources ?? 0, progress: new Map(meta?.progress ?? []), frontier: meta?.frontier ?? null, pending, wikis };
    },
    encode(partition, next, prev) {
      const out: OutgoingRecord[] = [];
      const wikis = new Set([...next.pending.keys(), ...next.wikis.keys(), ...prev.pending.keys()]);
      for (const wiki of wikis) {
        const pending = next.pending.get(wiki);
        const s = next.wikis.get(wiki);
        if (pending === prev.pending.get(wiki) && s === prev.wikis.get(wiki)) continue;
        if (!pending && !s) out.push({ topic: topics.changelog, partition, key: wiki, value: null });
        else out.push({ topic: topics.changelog, partition, key: wiki, value: json({ v: FORMAT, pending: [...(pending?.values() ?? [])].map(windowToJson), spike: s?.spike ?? null, lastScoredEnd: s?.lastScoredEnd ?? null } satisfies MergeWikiJson) });
      }
      if (next.progress !== prev.progress || next.frontier !== prev.frontier || next.sources !== prev.sources) {
        out.push({ topic: topics.changelog, partition, key: META_KEY, value: json({ v: FORMAT, sources: next.sources, progress: [...next.progress], frontier: next.frontier } satisfies MergeMetaJson) });
      }
      return out;
    },
  };

  return { step, changelog, initial: emptyMergeState };
}

