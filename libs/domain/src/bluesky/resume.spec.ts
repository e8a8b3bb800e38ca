import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CursorTracker } from './resume';

const FILE = resolve(__dirname, '../../../../data/recordings/bluesky-jetstream/bluesky-social_jetstream__internal_corpus_testdata_expected_v1.jsonl');
/** The real recording in relay order: time_us goes backwards in 42 of its 151 steps. */
const recorded = readFileSync(FILE, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l, i) => ({ key: `e${i}`, t: (JSON.parse(l) as { time_us: number }).time_us }));

/** A Jetstream-like server: on a cursor, the events of its log with time_us >= cursor, in log order. */
const replay = (log: typeof recorded, cursor: number | undefined) => (cursor === undefined ? log : log.filter((e) => e.t >= cursor));

/** Disorder of the log: the largest amount by which an event's time_us is below an earlier one's. */
function disorder(log: typeof recorded): number {
  let max = -Infinity;
  let worst = 0;
  for (const e of log) {
    worst = Math.max(worst, max - e.t);
    max = Math.max(max, e.t);
  }
  return worst;
}

/** Runs a client that is killed after each count in `cuts` (losing what it had not committed) and resumes from its last commit. */
function run(log: typeof recorded, marginUs: number, cuts: number[], commitEvery = 7) {
  const written: string[] = [];
  let state: ReturnType<CursorTracker['snapshot']> | undefined;
  for (const cut of [...cuts, Infinity]) {
    const t = new CursorTracker({ marginUs, maxIds: 10_000 }, state);
    const cursor = t.cursor();
    t.connected(cursor);
    let pending: string[] = [];
    let n = 0;
    for (const e of replay(log, cursor)) {
      if (n++ >= cut) break; // kill -9: the pending batch is lost
      if (t.decide(e.key, e.t) !== 'new') continue;
      t.accept(e.key, e.t);
      pending.push(e.key);
      if (pending.length >= commitEvery) {
        written.push(...pending);
        pending = [];
        state = t.snapshot();
      }
    }
    if (cut === Infinity) {
      written.push(...pending);
      state = t.snapshot();
    }
  }
  return written;
}

describe('CursorTracker (Jetstream resume by cursor)', () => {
  it('the recording should be out of time_us order (what makes the naive cursor wrong)', () => {
    expect(disorder(recorded)).toBeGreaterThan(0);
  });

  it('should write every recorded event exactly once over many kills when the margin exceeds the disorder', () => {
    const margin = disorder(recorded) + 1;
    for (const cuts of [[10], [3, 40, 41, 90], [1, 1, 1, 60, 20, 70], Array.from({ length: 30 }, (_, i) => 5 + (i % 9))]) {
      const written = run(recorded, margin, cuts);
      expect(written.sort()).toEqual(recorded.map((e) => e.key).sort());
    }
  });

  it('should drop the overlap exactly: each re-delivered event is either kept as written or below the cursor', () => {
    const t = new CursorTracker({ marginUs: 100, maxIds: 100 });
    t.accept('a', 1_000);
    t.accept('b', 950); // reordered: below the max
    t.accept('c', 880); // below max - margin: pruned at the snapshot, never replayed by a cursor of 900
    const resumed = new CursorTracker({ marginUs: 100, maxIds: 100 }, t.snapshot());
    expect(resumed.cursor()).toBe(900);
    resumed.connected(resumed.cursor());
    expect(resumed.decide('a', 1_000)).toBe('written');
    expect(resumed.decide('b', 950)).toBe('written');
    expect(resumed.decide('c', 880)).toBe('before-cursor');
    expect(resumed.decide('d', 950)).toBe('new'); // same time_us as b, another event
    expect(resumed.keptCount()).toBe(2);
  });

  it('a second copy of a written event with a later time_us should keep its key until the copy leaves the window (regression: chaos bsky-kill-producer wrote such a copy twice)', () => {
    // The 2024-format recording lists the same event twice: copy A at 1,000 written; copy B (same id) at 1,030 dropped.
    const t = new CursorTracker({ marginUs: 100, maxIds: 100 });
    t.accept('a', 1_000);
    expect(t.decide('a', 1_030)).toBe('written');
    t.accept('z', 1_101); // the position moves on: A's own time is now below max - margin
    const resumed = new CursorTracker({ marginUs: 100, maxIds: 100 }, t.snapshot());
    resumed.connected(resumed.cursor()); // cursor 1,001: a replay sends B (1,030) again, not A
    expect(resumed.decide('a', 1_030)).toBe('written');
  });

  it('a margin smaller than the disorder should lose events (the documented bound)', () => {
    const cuts = Array.from({ length: 30 }, (_, i) => 5 + (i % 9));
    const written = run(recorded, 0, cuts);
    expect(new Set(written).size).toBe(written.length); // never a duplicate
    expect(written.length).toBeLessThan(recorded.length);
  });

  it('should start live without a position, and count keys dropped by the bound', () => {
    const t = new CursorTracker({ marginUs: 1_000_000, maxIds: 2 });
    expect(t.cursor()).toBeUndefined();
    t.accept('a', 1);
    t.accept('b', 2);
    expect(t.accept('c', 3)).toBe(1);
    expect(t.snapshot()).toEqual({ maxTimeUs: 3, ids: [[2, 'b'], [3, 'c']], idsDropped: 1 });
  });
});
