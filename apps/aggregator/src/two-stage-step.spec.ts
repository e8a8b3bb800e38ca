import type { WikiChange } from '@wikimonitor/contracts';
import { DEFAULT_SPIKE_CONFIG, type WindowConfig, changeKey, normalizeRecentChange } from '@wikimonitor/domain';
import type { Message, OutgoingRecord } from '@wikimonitor/kafka';
import { loadRecordedEvents } from '@wikimonitor/testing';
import { type PartialPartitionState, createMergeSteps, createPartialSteps } from './two-stage-step';

const cfg: WindowConfig = { sizeMs: 10_000, allowedLatenessMs: 0, topPages: 5, spike: DEFAULT_SPIKE_CONFIG, alertSource: 'test' };
/** The recordings, files oldest first, each in its recorded order (its real disorder kept). */
const changes: WikiChange[] = (() => {
  const byFile = new Map<string, WikiChange[]>();
  for (const e of loadRecordedEvents()) {
    const n = normalizeRecentChange(e.json, { receivedTime: 0 });
    if (n.kind === 'change') byFile.set(e.file, [...(byFile.get(e.file) ?? []), n.change]);
  }
  return [...byFile.values()].sort((a, b) => Math.min(...a.map((c) => c.event_time)) - Math.min(...b.map((c) => c.event_time))).flat();
})();
const byId = new Map(changes.map((c) => [c.id, c]));

const asMessages = (records: OutgoingRecord[], topic: string): Message[] =>
  records.map((r, i) => ({ topic, partition: r.partition ?? 0, offset: i, key: r.key === null || r.key === undefined ? null : Buffer.from(String(r.key)), value: (r.value as Buffer | null) ?? null, headers: [], timestamp: 0 }) as unknown as Message);

describe('two-stage steps: changelogs restore exactly what they persisted', () => {
  const partial = createPartialSteps({
    topics: { partials: 'p', late: 'l', dlq: 'd', changelog: 'c1' },
    window: cfg,
    idleCloseMs: 1_000,
    decode: async (v) => byId.get(v.toString()) as WikiChange,
    tracer: null,
    app: 'aggregator',
    maxFutureSkewMs: 1e15,
    partialPartitions: () => 3,
    inputPartitions: () => 2,
    now: () => 0,
  });
  const merge = createMergeSteps({ topics: { aggregates: 'a', alerts: 'al', dlq: 'd', changelog: 'c2' }, window: cfg, encodeAggregate: (a) => Buffer.from(JSON.stringify(a)), encodeAlert: (a) => Buffer.from(JSON.stringify(a)), tracer: null, app: 'aggregator' });

  it('stage 1 and stage 2 state survive encode -> restore at every batch of a real replay (closures, tombstones, progress)', async () => {
    const input = changes.filter((c) => (changeKey(c).length % 2) === 0);
    let s1: PartialPartitionState = partial.initial();
    const log1: OutgoingRecord[] = [];
    let s2 = merge.initial();
    const log2: OutgoingRecord[] = [];
    let offset = 0;
    for (let i = 0; i < input.length; i += 97) {
      const batch = asMessages(input.slice(i, i + 97).map((c) => ({ topic: 'in', key: changeKey(c), value: Buffer.from(c.id) })), 'in');
      const r1 = await partial.step(batch, s1, { topic: 'in', partition: 1, now: 0 });
      log1.push(...partial.changelog.encode(1, r1.nextState, s1));
      s1 = r1.nextState;
      const restored1 = partial.changelog.restore(1, asMessages(log1, 'c1'));
      expect(restored1.partials).toEqual(s1.partials);
      expect(restored1.idle).toBe(s1.idle);
      // Stage 2 reads what stage 1 wrote to partials partition 0 (all wikis and progress, in order).
      const toMerge = asMessages(r1.records.filter((r) => r.topic === 'p' && (r.partition === undefined || r.partition === 0)), 'p').map((m) => ({ ...m, offset: offset++ }));
      const r2 = await merge.step(toMerge, s2, { topic: 'p', partition: 0, now: 0 });
      expect(r2.deadLetters).toEqual([]);
      log2.push(...merge.changelog.encode(0, r2.nextState, s2));
      s2 = r2.nextState;
      const restored2 = merge.changelog.restore(0, asMessages(log2, 'c2'));
      expect({ ...restored2, wikis: [...restored2.wikis].map(([w, s]) => [w, s.spike, s.lastScoredEnd]) }).toEqual({ ...s2, wikis: [...s2.wikis].map(([w, s]) => [w, s.spike, s.lastScoredEnd]) });
    }
    expect(s1.partials.closedUpTo).not.toBeNull();
    expect(log1.some((r) => r.value === null)).toBe(true);
    expect(log2.some((r) => r.key?.toString() === '#meta')).toBe(true);
  });

  it('an idle partition sends its windows, reports itself idle once, and reports progress again with its next input', async () => {
    const batch = asMessages(changes.slice(0, 50).map((c) => ({ topic: 'in', key: changeKey(c), value: Buffer.from(c.id) })), 'in');
    const r1 = await partial.step(batch, partial.initial(), { topic: 'in', partition: 0, now: 0 });
    const idle = partial.closeIdle(r1.nextState, { topic: 'in', partition: 0, now: 5_000 });
    expect(idle?.nextState.idle).toBe(true);
    expect(idle?.nextState.partials.windows.size).toBe(0);
    const progress = (idle?.records ?? []).filter((r) => r.key === null).map((r) => JSON.parse(String(r.value)));
    expect(progress).toHaveLength(3);
    expect(progress.every((p) => p.closedUpTo === null && p.sources === 2 && p.source === 0)).toBe(true);
    expect(partial.closeIdle(idle?.nextState as PartialPartitionState, { topic: 'in', partition: 0, now: 9_000 })).toBeNull();
    const more = asMessages(changes.slice(50, 60).map((c) => ({ topic: 'in', key: changeKey(c), value: Buffer.from(c.id) })), 'in');
    const r2 = await partial.step(more, idle?.nextState as PartialPartitionState, { topic: 'in', partition: 0, now: 10_000 });
    expect(r2.nextState.idle).toBe(false);
    expect(r2.records.filter((r) => r.key === null)).toHaveLength(3);
  });
});
