import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AlwaysOnSampler, InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { WikiChange, WikiChangeEnriched } from '@wikimonitor/contracts';
import type { ApiAnswer } from '@wikimonitor/domain';
import { type Message, type OutgoingRecord, parseDeadLetter } from '@wikimonitor/kafka';
import type { RevisionsCall } from './api-client';
import { createEnrichSteps } from './enrich-step';
import { type ParkedState, parkedChangelog } from './parked';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [new SimpleSpanProcessor({ exporter })] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(provider);
afterAll(() => provider.shutdown());

const TOPIC = 'wiki.changes.human-content';
const POLICY = { maxAttempts: 3, initialMs: 100, maxMs: 1_000, maxRetryAfterMs: 5_000 };

const change = (title: string, revid: number, domain = 'en.wikipedia.org'): WikiChange => ({
  id: `id-${revid}`,
  event_time: 1_700_000_000_000,
  received_time: 1_700_000_000_100,
  wiki: domain === 'en.wikipedia.org' ? 'enwiki' : 'dewiki',
  domain,
  stream: 'mediawiki.recentchange',
  type: 'edit',
  namespace: 0,
  title,
  title_url: null,
  user: 'Alice',
  bot: false,
  minor: false,
  patrolled: null,
  length_old: 10,
  length_new: 20,
  revision_old: revid - 1,
  revision_new: revid,
  comment: '',
  rc_id: null,
  server_name: domain,
  request_id: null,
  schema_uri: null,
  log_id: null,
  log_type: null,
  log_action: null,
  log_action_comment: null,
  log_params: null,
  source: { topic: null, partition: null, offset: null, sse_id: null },
});

const message = (c: WikiChange, offset: number, headers: Message['headers'] = []): Message => ({
  topic: TOPIC,
  partition: 0,
  offset,
  key: Buffer.from(`${c.wiki}:${c.title}`),
  value: Buffer.from(JSON.stringify(c)),
  headers,
  timestamp: c.event_time,
  size: 0,
});

/** An Action API answering by rule: `fail(revids, call#)` may answer for the whole call; else each revid is found unless in `bad`. */
function fakeApi(rules: { whole?: (revids: readonly number[], n: number) => ApiAnswer | undefined; bad?: (revid: number, n: number) => boolean } = {}) {
  const calls: RevisionsCall[] = [];
  return {
    calls,
    revisions: async (call: RevisionsCall): Promise<ApiAnswer> => {
      calls.push(call);
      const n = calls.length;
      const whole = rules.whole?.(call.revids, n);
      if (whole) return whole;
      const bad = call.revids.filter((r) => rules.bad?.(r, n));
      const good = call.revids.filter((r) => !bad.includes(r));
      return {
        kind: 'response',
        status: 200,
        retryAfter: null,
        body: {
          batchcomplete: true,
          query: {
            ...(bad.length ? { badrevids: Object.fromEntries(bad.map((r) => [r, { revid: r, missing: true }])) } : {}),
            ...(good.length ? { pages: good.map((r) => ({ pageid: r * 10, ns: 0, title: `T${r}`, revisions: [{ revid: r, parentid: r - 1, size: 20, sha1: 'a'.repeat(40), timestamp: '2026-02-26T15:49:36Z', slots: { main: { contentmodel: 'wikitext' } } }] })) } : {}),
          },
        },
      };
    },
  };
}

function steps(api: ReturnType<typeof fakeApi>, tracing = false) {
  return createEnrichSteps({
    api,
    decode: async (b) => JSON.parse(b.toString()) as WikiChange,
    encode: (e: WikiChangeEnriched) => Buffer.from(JSON.stringify(e)),
    topics: { output: 'out', errors: 'err', dlq: 'dlq' },
    policy: POLICY,
    maxRevidsPerCall: 50,
    contentPrefixBytes: 0,
    tracer: tracing ? trace.getTracer('test') : null,
    app: 'enricher',
    random: () => 0.5,
  });
}

const ctx = (now: number) => ({ topic: TOPIC, partition: 0, now });
const enrichedIds = (records: OutgoingRecord[]) => records.filter((r) => r.topic === 'out').map((r) => (JSON.parse(String(r.value)) as WikiChangeEnriched).change.id);
const errors = (records: OutgoingRecord[]) => records.filter((r) => r.topic === 'err').map((r) => parseDeadLetter(r.key, r.value, r.headers ?? {}));

describe('enrich step', () => {
  const a1 = change('A', 101);
  const a2 = change('A', 102);
  const b1 = change('B', 201);
  const batch = [message(a1, 0), message(a2, 1), message(b1, 2)];

  it('step should enrich a batch in one call per wiki and change no state', async () => {
    const api = fakeApi();
    const r = await steps(api).step([...batch, message(change('C', 301, 'de.wikipedia.org'), 3)], new Map(), ctx(1_000));
    expect(api.calls.map((c) => [c.domain, [...c.revids]])).toEqual([
      ['en.wikipedia.org', [101, 102, 201]],
      ['de.wikipedia.org', [301]],
    ]);
    expect(enrichedIds(r.records)).toEqual(['id-101', 'id-102', 'id-201', 'id-301']);
    expect(r.nextState.size).toBe(0);
    expect(r.summary).toMatchObject({ enriched: 4, held: 0 });
  });

  it('step should park a revision to retry, hold the later records of its page without a call, and let other pages through', async () => {
    const api = fakeApi({ bad: (revid, n) => revid === 101 && n === 1 });
    const { step, tick } = steps(api);
    const r = await step(batch, new Map(), ctx(1_000));
    expect(enrichedIds(r.records)).toEqual(['id-201']);
    const parked = r.nextState.get('enwiki:A');
    expect(parked).toMatchObject({ attempts: 1, reason: 'badrevids', status: 200, dueAt: 1_000 + 75 });
    expect(parked?.records.map((h) => h.offset)).toEqual([0, 1]);
    expect(r.summary).toMatchObject({ enriched: 1, held: 1, retries: { badrevids: 1 } });

    // Not due yet: no work, no transaction.
    expect(await tick(r.nextState, ctx(1_050))).toBeNull();
    // Due: the parked revision alone, then the one held behind it, in order, in the same tick.
    const t = await tick(r.nextState, ctx(1_100));
    expect(api.calls.slice(1).map((c) => [...c.revids])).toEqual([[101], [102]]);
    expect(enrichedIds(t?.records ?? [])).toEqual(['id-101', 'id-102']);
    expect(JSON.parse(String(t?.records[0]?.value)).attempts).toBe(2);
    expect(t?.nextState.size).toBe(0);
    // The changelog records the release as a tombstone of the page.
    expect(parkedChangelog('parked').encode(0, t?.nextState as ParkedState, r.nextState)).toEqual([{ topic: 'parked', partition: 0, key: 'enwiki:A', value: null }]);
  });

  it('step should hold a record whose page was parked by an earlier batch, without calling for it', async () => {
    const api = fakeApi({ bad: (revid) => revid === 101 });
    const { step } = steps(api);
    const first = await step([message(a1, 0)], new Map(), ctx(1_000));
    const second = await step([message(a2, 1), message(b1, 2)], first.nextState, ctx(1_010));
    expect(api.calls.map((c) => [...c.revids])).toEqual([[101], [201]]);
    expect(second.nextState.get('enwiki:A')?.records.map((h) => h.offset)).toEqual([0, 1]);
    expect(enrichedIds(second.records)).toEqual(['id-201']);
    // The committed state is not touched: the loop keeps it for a retry of the transaction.
    expect(first.nextState.get('enwiki:A')?.records).toHaveLength(1);
  });

  it('step should ask again one revid per call when a batch is refused as a whole for a reason the table does not retry', async () => {
    const api = fakeApi({ whole: (revids) => (revids.includes(101) ? { kind: 'response', status: 404, retryAfter: null } : undefined) });
    const r = await steps(api).step(batch, new Map(), ctx(1_000));
    expect(api.calls.map((c) => [...c.revids])).toEqual([[101, 102, 201], [101], [102], [201]]);
    expect(errors(r.deadLetters).map((l) => [l.error.code, l.headers?.['dlq.http.status'], l.attempts, l.sourceOffset])).toEqual([['ENRICH_REQUEST_ERROR', '404', 1, 0]]);
    expect(enrichedIds(r.records)).toEqual(['id-102', 'id-201']);
    expect(r.nextState.size).toBe(0);
  });

  it('a revision failing past the bound should go to the error topic with its reason, status and attempts, and release its page', async () => {
    const maxlag: ApiAnswer = { kind: 'response', status: 200, retryAfter: '1', body: { error: { code: 'maxlag', info: 'Waiting for x: 7 seconds lagged.', lag: 7 } } };
    const api = fakeApi({ whole: (revids) => (revids.includes(101) ? maxlag : undefined) });
    const { step, tick } = steps(api);
    // The batch fails as a whole (maxlag is retried): every revision of it parks with one attempt.
    let state = (await step(batch, new Map(), ctx(0))).nextState;
    expect([...state.keys()].sort()).toEqual(['enwiki:A', 'enwiki:B']);
    expect(state.get('enwiki:A')?.dueAt).toBe(1_000);
    const out: OutgoingRecord[] = [];
    for (let now = 1_000; state.size && now < 60_000; now += 1_000) {
      const t = await tick(state, ctx(now));
      if (t) {
        out.push(...t.records, ...t.deadLetters);
        state = t.nextState;
      }
    }
    expect(state.size).toBe(0);
    expect(errors(out).map((l) => [l.error.code, l.headers?.['dlq.enrich.reason'], l.headers?.['dlq.http.status'], l.attempts, l.sourceOffset])).toEqual([['ENRICH_MAXLAG', 'maxlag', '200', POLICY.maxAttempts, 0]]);
    // B had its own call and was enriched; A's second record came after A's first left.
    expect(enrichedIds(out)).toEqual(['id-201', 'id-102']);
  });

  it('step should dead-letter an input it cannot decode or that has no revision, not call for it', async () => {
    const api = fakeApi();
    const noRev = { ...change('L', 0), revision_new: null, type: 'log' as const };
    const r = await steps(api).step([{ ...message(a1, 0), value: Buffer.from('not json') }, message(noRev, 1)], new Map(), ctx(0));
    expect(api.calls).toHaveLength(0);
    expect(r.deadLetters.map((d) => [d.topic, parseDeadLetter(d.key, d.value, d.headers ?? {}).error.code])).toEqual([
      ['dlq', 'DESERIALIZE_FAILED'],
      ['dlq', 'ENRICH_NO_REVISION'],
    ]);
  });

  it('the API call should be made inside the trace of its first sampled record, the others linked', async () => {
    const traced = () => {
      const producer = trace.getTracer('test').startSpan('publish');
      const headers: Record<string, string> = {};
      propagation.inject(trace.setSpan(context.active(), producer), headers);
      producer.end();
      return { producer, headers };
    };
    const first = traced();
    const second = traced();
    const api = fakeApi();
    const r = await steps(api, true).step([message(a1, 0), message(b1, 1, [first.headers]), message(change('C', 301), 2, [second.headers])], new Map(), ctx(0));
    const call = api.calls[0] as RevisionsCall;
    expect(trace.getSpanContext(call.parent as never)?.traceId).toBe(first.producer.spanContext().traceId);
    expect(call.links?.map((l) => l.context.traceId)).toEqual([second.producer.spanContext().traceId]);
    // The enriched record carries its trace on.
    const out = r.records.find((x) => enrichedIds([x])[0] === 'id-201');
    expect(String(out?.headers?.['traceparent'])).toContain(first.producer.spanContext().traceId);
    for (const span of r.summary?.spans ?? []) span.end();
  });
});
