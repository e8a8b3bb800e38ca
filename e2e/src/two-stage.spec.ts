import type { WikiAggregate, WikiChange } from '@wikimonitor/contracts';
import {
  type MergeInput,
  type OpenWindow,
  type MergeState,
  type PartitionPartials,
  type WindowConfig,
  DEFAULT_SPIKE_CONFIG,
  changeKey,
  emptyMergeState,
  emptyPartitionPartials,
  normalizeRecentChange,
  reduceMerge,
  reducePartitionChanges,
  seededRandom,
} from '@wikimonitor/domain';
import { loadRecordedEvents } from '@wikimonitor/testing';
import { diffAggregates, recountAggregates, recountTwoStage } from './recount';

// The two-stage reducers (libs/domain aggregation/two-stage.ts) against the recount written from the
// rule (recount.ts), on the real recordings spread over partitions by wiki:title as the pipeline does,
// with batches cut at random points and the stages' records interleaved at random (each source
// partition's records stay in its order, as on a Kafka partition written by one transactional producer).

const cfg: WindowConfig = { sizeMs: 2_000, allowedLatenessMs: 6_000, topPages: 5, spike: DEFAULT_SPIKE_CONFIG, alertSource: 'test' };

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The recordings' changes re-timed as the chaos suite serves them: 135 per second, in file order. */
function changes(): WikiChange[] {
  const out: WikiChange[] = [];
  const seen = new Set<string>();
  const t0 = Date.UTC(2026, 11, 7);
  for (const e of loadRecordedEvents()) {
    const n = normalizeRecentChange(e.json, { receivedTime: t0 });
    if (n.kind !== 'change' || seen.has(n.change.id)) continue;
    seen.add(n.change.id);
    out.push({ ...n.change, event_time: t0 + Math.floor(out.length / 135) * 1_000 + (hash(n.change.id) % 9_000) - 4_500 });
  }
  return out;
}

interface Run {
  aggregates: WikiAggregate[];
  late: string[];
  latePartials: number;
}

function runTwoStage(input: WikiChange[], inputPartitions: number, mergePartitions: number, seed: number): Run {
  const random = seededRandom(seed);
  const byPartition: WikiChange[][] = Array.from({ length: inputPartitions }, () => []);
  for (const c of input) byPartition[hash(changeKey(c)) % inputPartitions]?.push(c);

  // Stage 1: each partition in batches of random size; its records to the merge partitions, in order.
  const toMerge: MergeInput[][][] = Array.from({ length: mergePartitions }, () => Array.from({ length: inputPartitions }, () => []));
  const late: string[] = [];
  byPartition.forEach((list, p) => {
    let state: PartitionPartials = emptyPartitionPartials();
    for (let i = 0; i < list.length; ) {
      const batch = list.slice(i, i + 1 + Math.floor(random() * 300));
      i += batch.length;
      const r = reducePartitionChanges(state, batch, cfg);
      state = r.state;
      for (const o of r.outputs) {
        if (o.kind === 'late') late.push((batch[o.index] as WikiChange).id);
        else toMerge[hash(o.wiki) % mergePartitions]?.[p]?.push({ kind: 'partial', sourcePartition: p, wiki: o.wiki, window: o.window });
      }
      if (r.progress !== null) for (const q of toMerge) q[p]?.push({ kind: 'progress', sourcePartition: p, sources: inputPartitions, closedUpTo: r.progress });
    }
  });

  // Stage 2: each merge partition reads its sources' records interleaved at random, in random batches.
  const aggregates: WikiAggregate[] = [];
  let latePartials = 0;
  for (const perSource of toMerge) {
    const log: MergeInput[] = [];
    const cursors = perSource.map(() => 0);
    for (;;) {
      const open = perSource.map((l, s) => (cursors[s] as number) < l.length ? s : -1).filter((s) => s >= 0);
      if (!open.length) break;
      const s = open[Math.floor(random() * open.length)] as number;
      log.push((perSource[s] as MergeInput[])[cursors[s] as number] as MergeInput);
      cursors[s] = (cursors[s] as number) + 1;
    }
    let state: MergeState = emptyMergeState();
    for (let i = 0; i < log.length; ) {
      const batch = log.slice(i, i + 1 + Math.floor(random() * 200));
      i += batch.length;
      const r = reduceMerge(state, batch, cfg, 0);
      state = r.state;
      for (const o of r.outputs) {
        if (o.kind === 'aggregate') aggregates.push(o.aggregate);
        else if (o.kind === 'late-partial') latePartials++;
      }
    }
  }
  return { aggregates, late: late.sort(), latePartials };
}

describe('two-stage aggregation equals its recount on the real recordings', () => {
  const input = changes();

  it.each([
    { inputPartitions: 6, mergePartitions: 6, seed: 1 },
    { inputPartitions: 6, mergePartitions: 3, seed: 2 },
    { inputPartitions: 3, mergePartitions: 1, seed: 3 },
    { inputPartitions: 12, mergePartitions: 6, seed: 4 },
    { inputPartitions: 1, mergePartitions: 2, seed: 5 },
  ])('$inputPartitions input partitions, $mergePartitions merge partitions, seed $seed: every closed window field by field, the late set, nothing twice', ({ inputPartitions, mergePartitions, seed }) => {
    const run = runTwoStage(input, inputPartitions, mergePartitions, seed);
    const byPartition: WikiChange[][] = Array.from({ length: inputPartitions }, () => []);
    for (const c of input) byPartition[hash(changeKey(c)) % inputPartitions]?.push(c);
    const expected = recountTwoStage(byPartition, { windowMs: cfg.sizeMs, latenessMs: cfg.allowedLatenessMs, topPages: cfg.topPages });
    const diff = diffAggregates(expected.closed, run.aggregates);
    expect({ missing: diff.missing, unexpected: diff.unexpected, different: diff.different }).toEqual({ missing: [], unexpected: [], different: [] });
    expect(run.aggregates).toHaveLength(expected.closed.length);
    expect(new Set(run.aggregates.map((a) => `${a.wiki}@${a.window_start}`)).size).toBe(run.aggregates.length);
    expect(run.late).toEqual(expected.lateIds);
    expect(run.latePartials).toBe(0);
    // The input is busy enough that the check covers real windows and real late changes.
    expect(expected.closed.length).toBeGreaterThan(20);
    expect(expected.lateIds.length).toBeGreaterThan(0);
  });

  it('the busiest wiki spreads over the partitions instead of filling one', () => {
    const top = [...input.reduce((m, c) => m.set(c.wiki, (m.get(c.wiki) ?? 0) + 1), new Map<string, number>())].sort((a, b) => b[1] - a[1])[0] as [string, number];
    const perPartition = Array.from({ length: 6 }, (_, p) => input.filter((c) => c.wiki === top[0] && hash(changeKey(c)) % 6 === p).length);
    expect(Math.max(...perPartition)).toBeLessThan(top[1] / 3);
  });

  it('a wiki counted in two stages over one partition keeps the windows a per-wiki recount closes when the wiki is alone', () => {
    const one = input.filter((c) => c.wiki === 'enwiki');
    const run = runTwoStage(one, 1, 1, 9);
    const single = recountAggregates(one, { windowMs: cfg.sizeMs, latenessMs: cfg.allowedLatenessMs, topPages: cfg.topPages });
    expect(diffAggregates(single.closed, run.aggregates)).toMatchObject({ missing: [], unexpected: [], different: [] });
  });

  it('at the edges of the rule: a change whose window ends exactly at the watermark is late; a window closes exactly when every partition reaches its end', () => {
    const base = input[0] as WikiChange;
    const c = (id: string, t: number): WikiChange => ({ ...base, id, event_time: t, wiki: 'edgewiki' });
    // lateness 6 s, windows of 2 s: 8000 - 6000 = 2000 closes [0, 2000); a change at 1999 is then late.
    const s0: PartitionPartials = emptyPartitionPartials();
    const r0 = reducePartitionChanges(s0, [c('a', 1_000), c('b', 8_000), c('late', 1_999), c('kept', 2_000)], cfg);
    expect(r0.outputs.filter((o) => o.kind === 'late').map((o) => (o.kind === 'late' ? o.index : -1))).toEqual([2]);
    expect(r0.progress).toBe(2_000);
    const partial = r0.outputs.find((o) => o.kind === 'partial');
    expect(partial).toMatchObject({ wiki: 'edgewiki', window: { start: 0, total: 1 } });
    // Partition 1 at 1999 holds the window open; at 2000 it closes it.
    const merge: MergeInput[] = [
      { kind: 'partial', sourcePartition: 0, wiki: 'edgewiki', window: (partial as { window: OpenWindow }).window },
      { kind: 'progress', sourcePartition: 0, sources: 2, closedUpTo: 2_000 },
      { kind: 'progress', sourcePartition: 1, sources: 2, closedUpTo: 1_999 },
    ];
    const m1 = reduceMerge(emptyMergeState(), merge, cfg, 0);
    expect(m1.outputs).toEqual([]);
    const m2 = reduceMerge(m1.state, [{ kind: 'progress', sourcePartition: 1, sources: 2, closedUpTo: 2_000 }], cfg, 0);
    expect(m2.outputs.map((o) => (o.kind === 'aggregate' ? [o.aggregate.window_start, o.aggregate.total] : o.kind))).toEqual([[0, 1]]);
    // An idle partition no longer holds the merge back.
    const idle = reduceMerge(m1.state, [{ kind: 'progress', sourcePartition: 1, sources: 2, closedUpTo: null }], cfg, 0);
    expect(idle.outputs.map((o) => o.kind)).toEqual(['aggregate']);
  });
});
