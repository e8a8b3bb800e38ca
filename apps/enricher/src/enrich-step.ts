import type { WikiChange, WikiChangeEnriched } from '@wikimonitor/contracts';
import { type ApiAnswer, type Decision, type EnrichReason, type RetryPolicy, type RevisionFacts, classify, decide, parseRevisionsBody, utf8Prefix } from '@wikimonitor/domain';
import { type ConsumedRecord, type Message, type OutgoingRecord, type Step, type StepContext, type StepRecord, type StepResult, type AsyncTick, deadLetterFrom, headersFromMessage } from '@wikimonitor/kafka';
import { describeError, isRetriable } from '@wikimonitor/service-kit';
import { type Context, type Link, type Span, type Tracer, context, extractTraceContext, injectTraceHeaders, startProcessSpan, trace } from '@wikimonitor/telemetry';
import type { ApiClient } from './api-client';
import { type HeldRecord, type ParkedPage, type ParkedState, consumedOf, heldFrom, pageKeyOf } from './parked';

/** The error code of each reason in the error topic (`dlq.error.code`, what `replay-dlq --error-code` selects). */
export const REASON_CODES: Readonly<Record<EnrichReason, string>> = {
  'connection-timeout': 'ENRICH_CONNECTION_TIMEOUT',
  'read-timeout': 'ENRICH_READ_TIMEOUT',
  'no-content': 'ENRICH_NO_CONTENT',
  'further-action': 'ENRICH_FURTHER_ACTION',
  'request-error': 'ENRICH_REQUEST_ERROR',
  'internal-error': 'ENRICH_INTERNAL_ERROR',
  badrevids: 'ENRICH_BADREVIDS',
  maxlag: 'ENRICH_MAXLAG',
};

/** Rounds of a tick: a page whose retried record finished offers its next record in the same tick. */
const MAX_TICK_ROUNDS = 10;
const MAX_LINKS = 128;

export interface EnrichDeps {
  api: Pick<ApiClient, 'revisions'>;
  decode: (buf: Buffer) => Promise<WikiChange>;
  encode: (e: WikiChangeEnriched) => Buffer;
  topics: { output: string; errors: string; dlq: string };
  policy: RetryPolicy;
  /** Revids per call and wiki (the API takes 50). */
  maxRevidsPerCall: number;
  /** Bytes of content kept in the enriched record (0: none, the content is not asked for). */
  contentPrefixBytes: number;
  tracer: Tracer | null;
  app: string;
  random?: () => number;
}

/** What a transaction attempt did, for the metrics and spans (counted once it commits). */
export interface EnrichSummary {
  enriched: number;
  /** Records sent to the error topic, by reason. */
  errors: Partial<Record<EnrichReason, number>>;
  /** Retries scheduled (a record parked or kept parked), by reason. */
  retries: Partial<Record<EnrichReason, number>>;
  /** Records held behind a parked record of their page. */
  held: number;
  /** Invalid inputs dead-lettered, by code. */
  invalid: Record<string, number>;
  spans: Span[];
}

/** An input record on its way: decoded, with its page and its attempts so far. */
interface Item {
  source: ConsumedRecord & { timestamp: number | null };
  held: HeldRecord;
  change: WikiChange;
  revid: number;
  page: string;
  /** API calls made for it before this one. */
  attempts: number;
  headers: Record<string, string | Buffer>;
  span?: Span;
  ctx?: Context;
}

const emptySummary = (): EnrichSummary => ({ enriched: 0, errors: {}, retries: {}, held: 0, invalid: {}, spans: [] });
const bump = <K extends string>(o: Partial<Record<K, number>>, k: K) => {
  o[k] = (o[k] ?? 0) + 1;
};

/** A call failed as a whole (no per-revision answer in it). */
function wholeCallFailure(a: ApiAnswer): boolean {
  if (a.kind === 'error' || a.status !== 200) return true;
  const body = parseRevisionsBody(a.body);
  return body === null || body.error !== null;
}

/**
 * The enricher's step and tick. The step decodes a batch, asks the Action API for the revisions
 * of the records whose page has nothing parked (batched per wiki), then walks the batch in offset
 * order: a record whose page has a parked record is held behind it; otherwise `decide` says
 * enrich (an output record), error topic (a dead letter there with reason, status and attempts),
 * or retry after a delay (the record is parked in the state). The tick retries the parked records
 * that are due, one revid per call (so a revision is given up on its own answers, never on a
 * neighbour's), and releases the records held behind them in order. Outputs, error records, state
 * changes and input offsets are one transaction (the kernel's).
 */
export function createEnrichSteps(deps: EnrichDeps): { step: Step<ParkedState, EnrichSummary>; tick: AsyncTick<ParkedState, EnrichSummary> } {
  const random = deps.random ?? Math.random;

  function traced(item: Item, topic: string): void {
    if (!deps.tracer) return;
    const span = startProcessSpan(deps.tracer, { topic, partition: item.source.partition, offset: Number(item.source.offset), messageId: item.change.id }, extractTraceContext(item.headers));
    if (!span.isRecording()) return;
    item.span = span;
    item.ctx = trace.setSpan(context.active(), span);
  }

  async function toItem(source: Item['source'], held: HeldRecord, page: string, attempts: number, summary: EnrichSummary, deadLetters: OutgoingRecord[], topic: string): Promise<Item | null> {
    let change: WikiChange;
    try {
      if (!source.value) throw Object.assign(new Error('null value (tombstone) on the input topic'), { code: 'DESERIALIZE_FAILED' });
      change = await deps.decode(source.value);
    } catch (err) {
      if (isRetriable(err)) throw err;
      const e = describeError(err);
      const code = e.code === 'INTERNAL' ? 'DESERIALIZE_FAILED' : e.code;
      deadLetters.push(deadLetterFrom(source, { code, message: e.message }, { topic: deps.topics.dlq, app: deps.app }));
      summary.invalid[code] = (summary.invalid[code] ?? 0) + 1;
      return null;
    }
    if (change.revision_new === null || !change.domain) {
      const code = 'ENRICH_NO_REVISION';
      deadLetters.push(deadLetterFrom(source, { code, message: `change ${change.id} (${change.type}) has no revision to enrich` }, { topic: deps.topics.dlq, app: deps.app }));
      summary.invalid[code] = (summary.invalid[code] ?? 0) + 1;
      return null;
    }
    const item: Item = { source, held, change, revid: change.revision_new, page, attempts, headers: headersFromMessage(source.headers) };
    traced(item, topic);
    if (item.span) summary.spans.push(item.span);
    return item;
  }

  const call = (domain: string, items: Item[]): Promise<ApiAnswer> => {
    const sampled = items.filter((i) => i.ctx);
    return deps.api.revisions({
      domain,
      revids: [...new Set(items.map((i) => i.revid))],
      parent: sampled[0]?.ctx,
      links: sampled.slice(1, MAX_LINKS).flatMap((i): Link[] => (i.span ? [{ context: i.span.spanContext() }] : [])),
    });
  };

  /**
   * First calls: per wiki, up to `maxRevidsPerCall` revids a call. A call refused as a whole for a
   * reason the table does not retry (4xx, 3xx, 204, other 5xx) is asked again one revid per call,
   * so one bad revision does not send its 49 neighbours to the error topic.
   */
  async function callFirst(items: Item[]): Promise<Map<Item, ApiAnswer>> {
    const byWiki = new Map<string, Item[]>();
    for (const i of items) {
      let l = byWiki.get(i.change.domain);
      if (!l) byWiki.set(i.change.domain, (l = []));
      l.push(i);
    }
    const chunks: Array<{ domain: string; items: Item[] }> = [];
    for (const [domain, list] of byWiki) {
      let chunk: Item[] = [];
      let revids = new Set<number>();
      for (const i of list) {
        if (!revids.has(i.revid) && revids.size >= deps.maxRevidsPerCall) {
          chunks.push({ domain, items: chunk });
          chunk = [];
          revids = new Set();
        }
        chunk.push(i);
        revids.add(i.revid);
      }
      if (chunk.length) chunks.push({ domain, items: chunk });
    }
    const out = new Map<Item, ApiAnswer>();
    await Promise.all(
      chunks.map(async ({ domain, items: chunk }) => {
        const answer = await call(domain, chunk);
        const revids = new Set(chunk.map((i) => i.revid));
        const c = classify(answer, chunk[0]?.revid ?? 0);
        if (revids.size > 1 && wholeCallFailure(answer) && !c.ok && !c.retriable) {
          const single = new Map<number, Promise<ApiAnswer>>();
          for (const i of chunk) if (!single.has(i.revid)) single.set(i.revid, call(domain, chunk.filter((x) => x.revid === i.revid)));
          for (const i of chunk) out.set(i, await (single.get(i.revid) as Promise<ApiAnswer>));
        } else {
          for (const i of chunk) out.set(i, answer);
        }
      }),
    );
    return out;
  }

  function outcome(item: Item, answer: ApiAnswer, now: number, records: StepRecord[], errors: OutgoingRecord[], summary: EnrichSummary): Decision {
    const attempt = item.attempts + 1;
    const d = decide(answer, item.revid, attempt, deps.policy, { random, now });
    if (d.action === 'enrich') {
      records.push(enrichedRecord(item, d.facts, attempt, now));
      summary.enriched++;
    } else if (d.action === 'error-topic') {
      errors.push(
        deadLetterFrom(item.source, { code: REASON_CODES[d.reason], message: d.message }, {
          topic: deps.topics.errors,
          app: deps.app,
          attempts: d.attempts,
          // The transaction's processing time, as enriched_time: one clock for both outcomes.
          failedAt: new Date(now),
          details: { 'enrich.reason': d.reason, ...(d.status === null ? {} : { 'http.status': String(d.status) }), 'enrich.revid': String(item.revid) },
        }),
      );
      bump(summary.errors, d.reason);
    } else {
      bump(summary.retries, d.reason);
    }
    return d;
  }

  function enrichedRecord(item: Item, facts: RevisionFacts, attempts: number, now: number): StepRecord {
    const value: WikiChangeEnriched = {
      change: item.change,
      revision: {
        rev_id: facts.revId,
        parent_id: facts.parentId,
        page_id: facts.pageId,
        size: facts.size,
        sha1: facts.sha1,
        content_model: facts.contentModel,
        timestamp: facts.timestamp,
        content_prefix: deps.contentPrefixBytes > 0 && facts.content !== null ? utf8Prefix(facts.content, deps.contentPrefixBytes) : null,
      },
      enriched_time: now,
      attempts,
    };
    const headers = item.ctx ? injectTraceHeaders({ ...item.headers }, item.ctx) : item.headers;
    return { topic: deps.topics.output, key: item.source.key ?? null, value: deps.encode(value), headers, timestamp: item.source.timestamp ?? undefined };
  }

  const parkedPage = (records: HeldRecord[], d: Extract<Decision, { action: 'retry-after' }>, attempts: number, now: number): ParkedPage => ({
    records,
    attempts,
    dueAt: now + d.delayMs,
    reason: d.reason,
    status: d.status,
  });

  const step: Step<ParkedState, EnrichSummary> = async (batch: Message[], state: ParkedState, ctx: StepContext): Promise<StepResult<ParkedState, EnrichSummary>> => {
    const summary = emptySummary();
    const records: StepRecord[] = [];
    const deadLetters: OutgoingRecord[] = [];
    const next = new Map(state);
    const items: Item[] = [];
    try {
      for (const m of batch) {
        const held = heldFrom(m);
        const item = await toItem({ ...m, timestamp: m.timestamp ?? null }, held, pageKeyOf(m, `${m.topic}/${m.partition}/${m.offset}`), 0, summary, deadLetters, m.topic);
        if (item) items.push(item);
      }
      // Records of a page parked before this batch wait without a call.
      const answers = await callFirst(items.filter((i) => !state.has(i.page)));
      for (const item of items) {
        const parked = next.get(item.page);
        if (parked) {
          next.set(item.page, { ...parked, records: [...parked.records, item.held] });
          summary.held++;
          continue;
        }
        const d = outcome(item, answers.get(item) as ApiAnswer, ctx.now, records, deadLetters, summary);
        if (d.action === 'retry-after') next.set(item.page, parkedPage([item.held], d, 1, ctx.now));
      }
    } catch (err) {
      for (const s of summary.spans) s.end();
      throw err;
    }
    return { records, deadLetters, nextState: next, summary };
  };

  const tick: AsyncTick<ParkedState, EnrichSummary> = async (state, ctx) => {
    const isDue = (p: ParkedPage) => p.records.length > 0 && p.dueAt <= ctx.now;
    if (![...state.values()].some(isDue)) return null;
    const summary = emptySummary();
    const records: StepRecord[] = [];
    const deadLetters: OutgoingRecord[] = [];
    const next = new Map(state);
    try {
      for (let round = 0; round < MAX_TICK_ROUNDS; round++) {
        const due = [...next].filter(([, p]) => isDue(p));
        if (!due.length) break;
        const heads = new Map<string, Item>();
        for (const [page, p] of due) {
          const head = p.records[0] as HeldRecord;
          const item = await toItem(consumedOf(head), head, page, p.attempts, summary, deadLetters, head.topic);
          if (item) heads.set(page, item);
          else release(next, page, p, ctx.now);
        }
        // Records that waited behind another get their first call batched; retries go one revid per call.
        const firsts = [...heads.values()].filter((i) => i.attempts === 0);
        const answers = await callFirst(firsts);
        await Promise.all([...heads.values()].filter((i) => i.attempts > 0).map(async (i) => answers.set(i, await call(i.change.domain, [i]))));
        for (const [page, item] of heads) {
          const p = next.get(page) as ParkedPage;
          const d = outcome(item, answers.get(item) as ApiAnswer, ctx.now, records, deadLetters, summary);
          if (d.action === 'retry-after') next.set(page, parkedPage(p.records, d, item.attempts + 1, ctx.now));
          else release(next, page, p, ctx.now);
        }
      }
    } catch (err) {
      for (const s of summary.spans) s.end();
      throw err;
    }
    return { records, deadLetters, nextState: next, summary };
  };

  /** The page's first record is done: the next one (if any) is due now, for its first call. */
  function release(next: Map<string, ParkedPage>, page: string, p: ParkedPage, now: number): void {
    const rest = p.records.slice(1);
    if (rest.length) next.set(page, { records: rest, attempts: 0, dueAt: now, reason: null, status: null });
    else next.delete(page);
  }

  return { step, tick };
}
