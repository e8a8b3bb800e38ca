import type { WikiChange } from '@wikimonitor/contracts';
import { DEFAULT_SPIKE_CONFIG, decodeWikiState } from '@wikimonitor/domain';
import { DLQ_HEADERS, type Message } from '@wikimonitor/kafka';
import { WikiMonitorError } from '@wikimonitor/service-kit';
import { LATE_HEADERS, type PartitionWindows, createAggregateSteps } from './aggregate-step';

const T0 = Date.UTC(2026, 1, 26, 15, 0, 0);
const NOW = T0 + 3_600_000;
const topics = { aggregates: 'agg', alerts: 'alerts', late: 'late', dlq: 'dlq', changelog: 'cl' };

function change(wiki: string, offsetMs: number): WikiChange {
  return {
    id: `${wiki}-${offsetMs}`, event_time: T0 + offsetMs, received_time: 0, wiki, domain: 'x', stream: null, type: 'edit', namespace: 0, title: 'P', title_url: null,
    user: 'U', bot: false, minor: null, patrolled: null, length_old: 1, length_new: 2, revision_old: null, revision_new: null, comment: '', rc_id: null,
    server_name: null, request_id: null, schema_uri: null, log_id: null, log_type: null, log_action: null, log_action_comment: null, log_params: null,
    source: { topic: null, partition: null, offset: null, sse_id: null },
  };
}

const msg = (offset: number, value: Buffer | null, partition = 0): Message => ({ topic: 'in', partition, offset, key: Buffer.from('k'), value, size: value?.length ?? 0, timestamp: 0, headers: [{ h: 'v' }] });
const encode = (c: WikiChange) => Buffer.from(JSON.stringify(c));
const ctx = (now = NOW) => ({ topic: 'in', partition: 0, now });

const SKEW_MS = 300_000;

function steps(decodeError?: WikiMonitorError, distrusted: string[] = []) {
  return createAggregateSteps({
    maxFutureSkewMs: SKEW_MS,
    onDistrustedState: (wiki) => distrusted.push(wiki),
    topics,
    window: { sizeMs: 60_000, allowedLatenessMs: 0, topPages: 3, spike: DEFAULT_SPIKE_CONFIG, alertSource: 'aggregator' },
    idleCloseMs: 1_000,
    decode: async (v) => {
      if (decodeError && v.toString() === 'bad') throw decodeError;
      return JSON.parse(v.toString()) as WikiChange;
    },
    encodeAggregate: (a) => Buffer.from(JSON.stringify(a)),
    encodeAlert: (a) => Buffer.from(JSON.stringify(a)),
    tracer: null,
    app: 'aggregator',
    now: () => NOW,
  });
}

describe('aggregate step', () => {
  it('aggregate step should emit a closed window and a new state, leaving the given state untouched', async () => {
    const s = steps();
    const initial = s.initial();
    const r = await s.step([msg(10, encode(change('a', 1_000))), msg(11, encode(change('a', 61_000)))], initial, ctx());
    expect(r.records.filter((o) => o.topic === 'agg').map((o) => (JSON.parse(String(o.value)) as { window_start: number }).window_start)).toEqual([T0]);
    expect(r.summary).toMatchObject({ consumed: 2, windows: { watermark: 1, idle: 0 }, dead: [], maxEventTime: T0 + 61_000 });
    expect(initial.wikis.size).toBe(0);
    expect(r.nextState.wikis.get('a')?.windows.map((w) => w.start)).toEqual([T0 + 60_000]);
    expect(r.nextState.lastSeen.get('a')).toBe(NOW);
  });

  it('aggregate step changelog should encode only the wikis whose state changed, to the input partition', async () => {
    const s = steps();
    const one = await s.step([msg(0, encode(change('a', 1_000))), msg(1, encode(change('b', 1_000)))], s.initial(), ctx());
    const two = await s.step([msg(2, encode(change('b', 2_000)))], one.nextState, ctx());
    const records = s.changelog.encode(3, two.nextState, one.nextState);
    expect(records.map((r) => [r.topic, r.partition, r.key])).toEqual([['cl', 3, 'b']]);
    expect(decodeWikiState(String(records[0]?.value)).windows[0]?.total).toBe(2);
  });

  it('aggregate step changelog should restore the latest state per wiki, a tombstone removing it', async () => {
    const s = steps();
    const one = await s.step([msg(0, encode(change('a', 1_000))), msg(1, encode(change('b', 1_000)))], s.initial(), ctx());
    const log = s.changelog.encode(0, one.nextState, s.initial()).map((r, i): Message => ({ topic: 'cl', partition: 0, offset: i, key: Buffer.from(String(r.key)), value: r.value, size: 0 }));
    log.push({ topic: 'cl', partition: 0, offset: 9, key: Buffer.from('b'), value: null, size: 0 });
    const restored: PartitionWindows = s.changelog.restore(0, log);
    expect([...restored.wikis.keys()]).toEqual(['a']);
    expect(restored.wikis.get('a')).toEqual(one.nextState.wikis.get('a'));
    expect(restored.lastSeen.get('a')).toBe(NOW);
  });

  it('aggregate step should dead-letter an undecodable record with its source position and go on', async () => {
    const s = steps(new WikiMonitorError('DESERIALIZE_FAILED', 'bad magic'));
    const r = await s.step([msg(0, Buffer.from('bad')), msg(1, encode(change('a', 1_000))), msg(2, null)], s.initial(), ctx());
    expect(r.deadLetters.map((d) => d.headers?.[DLQ_HEADERS.sourceOffset])).toEqual(['0', '2']);
    expect(r.deadLetters[0]?.headers).toMatchObject({ 'dlq.error.code': 'DESERIALIZE_FAILED', 'dlq.source.topic': 'in', 'dlq.app': 'aggregator', h: 'v' });
    expect(r.summary?.dead).toEqual(['DESERIALIZE_FAILED', 'DESERIALIZE_FAILED']);
    expect(r.nextState.wikis.has('a')).toBe(true);
  });

  it('aggregate step should throw (the loop retries) when decoding failed retriably, not dead-letter', async () => {
    const s = steps(new WikiMonitorError('SCHEMA_REGISTRY_FAILED', 'registry down', { retriable: true }));
    await expect(s.step([msg(5, Buffer.from('bad'))], s.initial(), ctx())).rejects.toMatchObject({ code: 'SCHEMA_REGISTRY_FAILED' });
  });

  it('aggregate step should send a change to an already closed window to the late topic with its source', async () => {
    const s = steps();
    const one = await s.step([msg(0, encode(change('a', 1_000))), msg(1, encode(change('a', 61_000)))], s.initial(), ctx());
    const m = msg(2, encode(change('a', 2_000)));
    const two = await s.step([m], one.nextState, ctx());
    const late = two.records.filter((r) => r.topic === 'late');
    expect(late).toHaveLength(1);
    expect(late[0]?.headers).toMatchObject({ [LATE_HEADERS.sourceOffset]: '2', [LATE_HEADERS.sourceTopic]: 'in', h: 'v' });
    expect(late[0]?.source).toBe(m);
    expect(two.summary?.late).toBe(1);
  });

  it('aggregate closeIdle should close the windows of a wiki quiet for idleCloseMs, and nothing before', async () => {
    const s = steps();
    const one = await s.step([msg(7, encode(change('a', 1_000)))], s.initial(), ctx());
    expect(s.closeIdle(one.nextState, ctx(NOW + 999))).toBeNull();
    const closed = s.closeIdle(one.nextState, ctx(NOW + 1_000));
    expect(closed?.records.filter((r) => r.topic === 'agg').map((r) => (JSON.parse(String(r.value)) as { total: number }).total)).toEqual([1]);
    expect(closed?.summary?.windows).toEqual({ watermark: 0, idle: 1 });
    // The window is closed now: a change in it is late.
    const after = await s.step([msg(8, encode(change('a', 2_000)))], closed?.nextState as PartitionWindows, ctx(NOW + 2_000));
    expect(after.records.filter((r) => r.topic === 'late')).toHaveLength(1);
  });

  it('aggregate step should dead-letter a change dated beyond the wall clock plus skew, leaving the watermark of its wiki alone', async () => {
    const s = steps();
    const future = change('a', NOW - T0 + SKEW_MS + 1);
    const r = await s.step([msg(0, encode(change('a', 1_000))), msg(1, encode(future)), msg(2, encode(change('a', 61_000))), msg(3, encode(change('a', 62_000)))], s.initial(), ctx());
    expect(r.deadLetters.map((d) => [d.headers?.[DLQ_HEADERS.sourceOffset], d.headers?.[DLQ_HEADERS.errorCode]])).toEqual([['1', 'EVENT_TIME_FUTURE']]);
    expect(r.summary).toMatchObject({ dead: ['EVENT_TIME_FUTURE'], late: 0, maxEventTime: T0 + 62_000 });
    expect(r.nextState.wikis.get('a')).toMatchObject({ maxEventTime: T0 + 62_000, closedUpTo: T0 + 62_000 });
    const pre2001 = await s.step([msg(4, encode({ ...change('a', 0), event_time: Date.UTC(1999, 0, 1) }))], r.nextState, ctx());
    expect(pre2001.summary?.dead).toEqual(['EVENT_TIME_TOO_OLD']);
    const edge = await s.step([msg(5, encode(change('b', NOW - T0 + SKEW_MS)))], s.initial(), ctx());
    expect(edge.deadLetters).toEqual([]);
  });

  it('aggregate step changelog should not trust a watermark restored beyond the wall clock plus skew (old changelog with a 2099 event)', async () => {
    const distrusted: string[] = [];
    const s = steps(undefined, distrusted);
    // State written before the guard: the 2099 event was accepted and moved the watermark.
    const ancientNow = Date.UTC(2100, 0, 1);
    const one = await s.step([msg(0, encode(change('a', 1_000))), msg(1, encode({ ...change('a', 0), id: 'future', event_time: Date.UTC(2099, 0, 1) }))], s.initial(), ctx(ancientNow));
    expect(one.nextState.wikis.get('a')?.closedUpTo).toBe(Date.UTC(2099, 0, 1));
    const two = await s.step([msg(2, encode(change('b', 5_000)))], one.nextState, ctx(ancientNow));
    const log = s.changelog.encode(0, two.nextState, s.initial()).map((r, i): Message => ({ topic: 'cl', partition: 0, offset: i, key: Buffer.from(String(r.key)), value: r.value, size: 0 }));
    const restored = s.changelog.restore(0, log);
    expect(distrusted).toEqual(['a']);
    expect(restored.wikis.get('b')).toEqual(two.nextState.wikis.get('b'));
    const a = restored.wikis.get('a');
    expect(a?.windows.map((w) => w.start)).toEqual([]);
    expect([a?.maxEventTime, a?.closedUpTo, a?.lastScoredEnd]).toEqual([null, T0 + 60_000, T0 + 60_000]);
    // The wiki flows again: a change at the wall clock is counted, not late.
    const after = await s.step([msg(3, encode(change('a', 3_000_000))), msg(4, encode(change('a', 3_061_000)))], restored, ctx());
    expect(after.summary?.late).toBe(0);
    expect(after.records.filter((r) => r.topic === 'agg').map((r) => (JSON.parse(String(r.value)) as { total: number }).total)).toEqual([1]);
  });
});
