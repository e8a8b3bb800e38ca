/**
 * Exactly-once resume over Jetstream's cursor (pure; see apps/producer/README.md, "Jetstream:
 * resume by cursor"). Jetstream's time_us is neither unique nor in delivery order, so the cursor
 * alone either loses events (resume at the last time_us) or repeats them (resume earlier). The
 * tracker keeps the highest time_us written and the keys of the events written with
 * time_us >= that - margin; a resume connects at cursor = max - margin and drops every event whose
 * key is kept (written already) or whose time_us is below the cursor (a server replaying more than
 * asked). Exact while the delivery disorder of time_us stays below the margin and the window holds
 * at most maxIds events.
 */

export interface CursorPositionState {
  /** The highest time_us among the events written (null: none yet). */
  maxTimeUs: number | null;
  /** The kept keys grouped by time_us, `[time_us, key, key, ...]`, oldest group first. */
  ids: Array<[number, ...string[]]>;
  /** Keys dropped by the maxIds bound, over the life of this position. */
  idsDropped: number;
}

export interface CursorTrackerOptions {
  /** The resume rewind, in microseconds (must exceed the stream's time_us disorder). */
  marginUs: number;
  /** Bound of the kept keys (oldest dropped first). */
  maxIds: number;
}

export type OverlapDecision = 'new' | 'written' | 'before-cursor';

export class CursorTracker {
  private max: number | null = null;
  /** key -> time_us; Map order is the order of writing. */
  private readonly kept = new Map<string, number>();
  private dropped = 0;
  /** The cursor of the current connection: events below it are not new (see decide). */
  private lowBound: number | null = null;

  constructor(
    private readonly opts: CursorTrackerOptions,
    from?: CursorPositionState,
  ) {
    if (!from) return;
    this.max = from.maxTimeUs;
    this.dropped = from.idsDropped;
    for (const [t, ...keys] of from.ids) for (const k of keys) this.kept.set(k, t);
  }

  /** The cursor to connect with now: max - margin (undefined: nothing written, start live). */
  cursor(): number | undefined {
    return this.max === null ? undefined : Math.max(0, this.max - this.opts.marginUs);
  }

  /** A connection was opened with this cursor (undefined: live, no cursor). */
  connected(cursor: number | undefined): void {
    this.lowBound = cursor ?? null;
  }

  /**
   * Whether an event is new: not when its key was written (a re-delivery of the overlap, or another
   * copy of the same event: its later time_us then becomes the key's), nor when its time_us is below
   * the connection's cursor (the server replays time_us >= cursor only; below it an event was written
   * before the window's low bound, or the disorder exceeded the margin).
   */
  decide(key: string, timeUs: number | null): OverlapDecision {
    const kept = this.kept.get(key);
    if (kept !== undefined) {
      // The same event can come again with another time_us (a second copy, not a replay of the first):
      // the key stays as long as its latest copy is in the window, or a resume would write that copy.
      if (timeUs !== null && timeUs > kept) {
        this.kept.delete(key);
        this.kept.set(key, timeUs);
      }
      return 'written';
    }
    if (timeUs !== null && this.lowBound !== null && timeUs < this.lowBound) return 'before-cursor';
    return 'new';
  }

  /** Records an event written (or dead-lettered); an event without time_us is kept at the current max. Returns the keys the bound dropped. */
  accept(key: string, timeUs: number | null): number {
    const t = timeUs ?? this.max ?? 0;
    if (this.max === null || t > this.max) this.max = t;
    this.kept.delete(key);
    this.kept.set(key, t);
    let dropped = 0;
    while (this.kept.size > this.opts.maxIds) {
      const oldest = this.kept.keys().next().value as string;
      this.kept.delete(oldest);
      dropped++;
    }
    this.dropped += dropped;
    return dropped;
  }

  /** Forgets keys below max - margin: a resume's cursor never reaches them (decide drops them by time). */
  prune(): void {
    const floor = this.cursor();
    if (floor === undefined) return;
    for (const [k, t] of this.kept) if (t < floor) this.kept.delete(k);
  }

  /** The state to commit with the records it covers (prunes first). */
  snapshot(): CursorPositionState {
    this.prune();
    const byTime = new Map<number, string[]>();
    for (const [k, t] of this.kept) {
      const g = byTime.get(t);
      if (g) g.push(k);
      else byTime.set(t, [k]);
    }
    const ids = [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([t, keys]) => [t, ...keys] as [number, ...string[]]);
    return { maxTimeUs: this.max, ids, idsDropped: this.dropped };
  }

  keptCount(): number {
    return this.kept.size;
  }

  maxTimeUs(): number | null {
    return this.max;
  }
}
