/** Where a consumed record sits in Kafka. */
export interface RecordPosition {
  topic: string;
  partition: number;
  offset: number;
}

/** The next offset to read (last consumed + 1), per topic-partition: what is stored with the rows. */
export interface NextOffset {
  topic: string;
  partition: number;
  nextOffset: number;
}

export interface DedupResult<T> {
  unique: T[];
  /** How many items were dropped because an earlier (keep=first) or later (keep=last) one had the same key. */
  duplicates: number;
}

/**
 * Drops items whose key was already seen in the same batch. `first` keeps the first occurrence
 * (immutable facts such as changes: a repeat is the same event); `last` keeps the newest occurrence
 * at the position of the first (upserted state such as a window aggregate re-emitted with new counts).
 */
export function dedupeByKey<T>(items: readonly T[], key: (item: T) => string, keep: 'first' | 'last' = 'first'): DedupResult<T> {
  const index = new Map<string, number>();
  const unique: T[] = [];
  for (const item of items) {
    const k = key(item);
    const at = index.get(k);
    if (at === undefined) {
      index.set(k, unique.length);
      unique.push(item);
    } else if (keep === 'last') {
      unique[at] = item;
    }
  }
  return { unique, duplicates: items.length - unique.length };
}

/** Dedup key of a change: its event id (meta.id). Never request_id (shared by many events) nor rc_id (missing on some log events). */
export function changeDedupKey(change: { id: string }): string {
  return change.id;
}

/** Dedup key of a window aggregate: the wiki and the window bounds (epoch ms). */
export function aggregateDedupKey(a: { wiki: string; window_start: number; window_end: number }): string {
  return `${a.wiki}\u0000${a.window_start}\u0000${a.window_end}`;
}

/** Dedup key of an alert: its deterministic id (same condition, same id). */
export function alertDedupKey(a: { id: string }): string {
  return a.id;
}
