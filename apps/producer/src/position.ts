import { DEFAULT_MAX_FUTURE_SKEW_MS, type StreamPosition, parseEventId } from '@wikimonitor/domain';

/**
 * The source position written in every transaction (JSON, version 2), and the overlap filter built
 * on it. Pure: no I/O. See README "Resume and the overlap filter" for why the filter is exact.
 */
export const POSITION_VERSION = 2;

export interface PositionRecord {
  v: typeof POSITION_VERSION;
  /** Increases with every transaction of this producer (resolves an ambiguous commit). */
  seq: number;
  url: string;
  at: string;
  /** Events covered since this checkpoint key was first written (diagnostics). */
  events: number;
  /** The id of the newest event written: one entry per upstream topic-partition, as the server gave it. */
  position: StreamPosition[];
  /**
   * Per upstream partition (`topic/partition`): the dedup keys (meta.id) of the events written with
   * upstream timestamp >= the partition's latest timestamp - 2 * margin, grouped by that
   * timestamp: `[ts, id, id, ...]`, in the order they were written.
   */
  ids: Record<string, Array<[number, ...string[]]>>;
  /** Keys dropped by the POSITION_MAX_IDS bound, over the life of this checkpoint key. */
  idsDropped: number;
}

/** The checkpoint before version 2: the last id only (no kept ids: a resume from it cannot filter). */
export interface LegacyCheckpoint {
  lastEventId: string;
  url: string;
  events: number;
  at: string;
}

export type StoredCheckpoint = PositionRecord | LegacyCheckpoint;

export const isLegacyCheckpoint = (cp: StoredCheckpoint): cp is LegacyCheckpoint => !('v' in cp) && typeof (cp as LegacyCheckpoint).lastEventId === 'string';

export interface TrackerOptions {
  marginMs: number;
  maxIds: number;
  url: string;
  /**
   * An id whose own timestamp is later than receipt + this is not taken as the position (default
   * DEFAULT_MAX_FUTURE_SKEW_MS, the rule that dead-letters such events): a resume from a timestamp in
   * the future would make the server skip everything after it.
   */
  maxFutureSkewMs?: number;
}

/** What the tracker needs of one accepted event. */
export interface AcceptedEvent {
  /** The SSE id in effect for this event (the connection's last id). */
  sseId: string;
  /** meta.id (or another stable key); null: the event cannot be filtered. */
  key: string | null;
  /** meta.topic / meta.partition: the event's own upstream partition. */
  topic?: string | null;
  partition?: number | null;
  /** Wall-clock receipt (ms): with it, an id dated beyond receipt + skew does not move the position. */
  receivedTime?: number;
}

const partitionKey = (topic: string | undefined, partition: number | undefined) => `${topic ?? ''}/${partition ?? 0}`;

/**
 * The id to send as Last-Event-ID on a resume: each partition's timestamp moved back by `marginMs`
 * (entries with an offset are kept as they are: offsets resume exactly). Undefined without a position.
 */
export function resumeIdFrom(position: readonly StreamPosition[] | undefined, marginMs: number): string | undefined {
  if (!position?.length) return undefined;
  return JSON.stringify(position.map((p) => (p.timestamp !== undefined && p.offset === undefined ? { ...p, timestamp: Math.max(0, p.timestamp - marginMs) } : { ...p })));
}

/**
 * The entry of `next` that belongs to the event: the one of its meta.topic/meta.partition, else the
 * one whose timestamp changed from `prev`, else the only timestamp entry.
 */
export function ownEntry(next: readonly StreamPosition[], prev: readonly StreamPosition[] | undefined, topic?: string | null, partition?: number | null): StreamPosition | undefined {
  if (topic) {
    const own = next.find((p) => p.topic === topic && (p.partition ?? 0) === (partition ?? 0));
    if (own) return own;
  }
  const stamped = next.filter((p) => p.timestamp !== undefined && p.offset === undefined);
  const changed = stamped.filter((p) => prev?.find((q) => q.topic === p.topic && q.partition === p.partition)?.timestamp !== p.timestamp);
  if (changed.length === 1) return changed[0];
  return stamped.length === 1 ? stamped[0] : undefined;
}

/**
 * The working position: the newest id accepted, and the keys of the events written in the last
 * 2 * margin of each upstream partition (bounded by `maxIds`, oldest dropped first).
 */
export class PositionTracker {
  private entries: StreamPosition[] | undefined;
  private lastRaw = '';
  /** key -> partition and upstream timestamp; Map order is insertion order (oldest first). */
  private readonly kept = new Map<string, { pk: string; ts: number; n: number }>();
  /**
   * The kept keys oldest first, for the POSITION_MAX_IDS bound: `kept.keys().next()` would be the
   * oldest too, but V8 leaves deleted Map entries in place until a rehash and every new iterator
   * walks over them (~10 µs per event at the bound, a quarter of the producer's per-event cost).
   * Entries whose `n` no longer matches the Map (re-accepted or pruned keys) are skipped.
   */
  private order: Array<{ key: string; n: number }> = [];
  private head = 0;
  private seqNo = 0;
  private events = 0;
  private dropped = 0;
  /** Ids not taken as the position because their own timestamp was beyond receipt + skew. */
  futureIdsIgnored = 0;
  /** Loaded from a version-1 checkpoint: nothing to filter the first overlap with. */
  readonly legacy: boolean;

  constructor(
    private readonly opts: TrackerOptions,
    from?: StoredCheckpoint,
  ) {
    this.legacy = from !== undefined && isLegacyCheckpoint(from);
    if (!from) return;
    if (isLegacyCheckpoint(from)) {
      this.setId(from.lastEventId);
      this.events = from.events;
      return;
    }
    this.entries = from.position.map((p) => ({ ...p }));
    this.lastRaw = JSON.stringify(from.position);
    this.events = from.events;
    this.dropped = from.idsDropped;
    for (const [pk, groups] of Object.entries(from.ids)) for (const [ts, ...keys] of groups) for (const k of keys) this.keep(k, pk, ts);
  }

  /** Whether an event with this key was written already (a re-delivery of the overlap). */
  isWritten(key: string | null): boolean {
    return key !== null && this.kept.has(key);
  }

  /** Records an accepted (written, dead-lettered or dropped) event; returns how many kept keys the bound dropped. */
  accept(ev: AcceptedEvent): number {
    this.events++;
    const prev = this.entries;
    if (ev.sseId && ev.sseId !== this.lastRaw) {
      const parsed = parseEventId(ev.sseId);
      this.lastRaw = ev.sseId;
      if (parsed.ok && !this.datedBeyondSkew(parsed.value, prev, ev)) this.entries = parsed.value;
    }
    if (ev.key === null || !this.entries) return 0;
    const own = ownEntry(this.entries, prev, ev.topic, ev.partition);
    if (own?.timestamp === undefined || own.offset !== undefined) return 0;
    this.keep(ev.key, partitionKey(own.topic, own.partition), own.timestamp - 1);
    let dropped = 0;
    while (this.kept.size > this.opts.maxIds) {
      this.dropOldest();
      dropped++;
    }
    this.dropped += dropped;
    return dropped;
  }

  private keep(key: string, pk: string, ts: number): void {
    const n = ++this.seqNo;
    this.kept.delete(key); // re-inserted: the Map's order stays the order of writing
    this.kept.set(key, { pk, ts, n });
    this.order.push({ key, n });
  }

  private dropOldest(): void {
    while (this.head < this.order.length) {
      const o = this.order[this.head++] as { key: string; n: number };
      if (this.kept.get(o.key)?.n === o.n) {
        this.kept.delete(o.key);
        break;
      }
    }
    this.compactOrder();
  }

  /** Drops the consumed head and the stale entries of `order` once they outnumber the live ones. */
  private compactOrder(): void {
    if (this.order.length - this.head <= 2 * this.kept.size + 1024) {
      if (this.head > 1024 && this.head * 2 > this.order.length) {
        this.order = this.order.slice(this.head);
        this.head = 0;
      }
      return;
    }
    this.order = [];
    this.head = 0;
    for (const [key, v] of this.kept) this.order.push({ key, n: v.n });
  }

  /** Last-Event-ID for a resume now (undefined: no position yet). */
  resumeId(): string | undefined {
    return resumeIdFrom(this.entries, this.opts.marginMs);
  }

  /** Forgets keys older than each partition's latest timestamp - 2 * margin. */
  prune(): void {
    const floor = new Map<string, number>();
    for (const p of this.entries ?? []) if (p.timestamp !== undefined) floor.set(partitionKey(p.topic, p.partition), p.timestamp - 1 - 2 * this.opts.marginMs);
    for (const [k, v] of this.kept) {
      const f = floor.get(v.pk);
      if (f !== undefined && v.ts < f) this.kept.delete(k);
    }
    this.compactOrder();
  }

  /** The record for the checkpoint topic (prunes first). */
  snapshot(seq: number, at: Date): PositionRecord {
    this.prune();
    const ids: PositionRecord['ids'] = {};
    for (const [k, { pk, ts }] of this.kept) {
      const groups = (ids[pk] ??= []);
      const last = groups[groups.length - 1];
      if (last && last[0] === ts) last.push(k);
      else groups.push([ts, k]);
    }
    return { v: POSITION_VERSION, seq, url: this.opts.url, at: at.toISOString(), events: this.events, position: (this.entries ?? []).map((p) => ({ ...p })), ids, idsDropped: this.dropped };
  }

  keptCount(): number {
    return this.kept.size;
  }

  position(): readonly StreamPosition[] | undefined {
    return this.entries;
  }

  /** Whether the event's own entry in `next` is dated later than its receipt + the skew bound. */
  private datedBeyondSkew(next: StreamPosition[], prev: readonly StreamPosition[] | undefined, ev: AcceptedEvent): boolean {
    if (ev.receivedTime === undefined) return false;
    const own = ownEntry(next, prev, ev.topic, ev.partition);
    if (own?.timestamp === undefined || own.offset !== undefined) return false;
    const beyond = own.timestamp - 1 > ev.receivedTime + (this.opts.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS);
    if (beyond) this.futureIdsIgnored++;
    return beyond;
  }

  private setId(raw: string): void {
    const parsed = parseEventId(raw);
    this.lastRaw = raw;
    if (parsed.ok) this.entries = parsed.value;
  }
}
