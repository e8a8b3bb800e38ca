import type { EnrichReason } from '@wikimonitor/domain';
import { type ConsumedRecord, type Message, type OutgoingRecord, type StateChangelog } from '@wikimonitor/kafka';

/** An input record kept in the state until its page's turn: everything a dead letter or a replay needs. */
export interface HeldRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  /** The input value (Avro, Confluent wire format), base64. */
  value: string | null;
  /** Original headers in order, values base64. */
  headers: Array<[string, string]>;
  timestamp: number | null;
}

/**
 * A page whose oldest record waits for an API retry. `records[0]` is the one being retried
 * (`attempts` calls so far, the next at `dueAt`); the others arrived later and wait behind it, so
 * the page's records leave in their input order. A page with `attempts` 0 is due for its first call.
 */
export interface ParkedPage {
  records: HeldRecord[];
  attempts: number;
  /** Epoch ms of the next call for `records[0]`. */
  dueAt: number;
  /** The last failure (for logs and the state topic). */
  reason: EnrichReason | null;
  status: number | null;
}

/** One input partition's parked pages, by record key (wiki:title). Replaced, never mutated: the loop keeps the committed one. */
export type ParkedState = ReadonlyMap<string, ParkedPage>;

export function heldFrom(m: Message): HeldRecord {
  const headers: Array<[string, string]> = [];
  for (const h of m.headers ?? []) for (const [k, v] of Object.entries(h)) headers.push([k, Buffer.from(v).toString('base64')]);
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    key: m.key === undefined || m.key === null ? null : m.key.toString(),
    value: m.value ? m.value.toString('base64') : null,
    headers,
    timestamp: m.timestamp ?? null,
  };
}

/** The held record as the consumed record it was (for dead letters and the step). */
export function consumedOf(h: HeldRecord): ConsumedRecord & { timestamp: number | null } {
  return {
    topic: h.topic,
    partition: h.partition,
    offset: h.offset,
    key: h.key,
    value: h.value === null ? null : Buffer.from(h.value, 'base64'),
    headers: h.headers.map(([k, v]) => ({ [k]: Buffer.from(v, 'base64') })),
    timestamp: h.timestamp,
  };
}

/** The key a record parks under: its page (the input key is wiki:title). */
export const pageKeyOf = (m: { key?: Buffer | string | null }, fallback: string): string => (m.key === undefined || m.key === null ? fallback : m.key.toString());

/**
 * The state's changelog (compacted, partition n = input partition n): one record per page that
 * changed in the transaction, its JSON, or a tombstone when the page has nothing parked any more.
 */
export function parkedChangelog(topic: string): StateChangelog<ParkedState> {
  return {
    topic,
    restore(_partition, messages) {
      const pages = new Map<string, ParkedPage>();
      for (const m of messages) {
        const key = m.key?.toString();
        if (key === undefined) continue;
        if (m.value === null) pages.delete(key);
        else pages.set(key, JSON.parse(m.value.toString('utf8')) as ParkedPage);
      }
      return pages;
    },
    encode(partition, next, prev) {
      const out: OutgoingRecord[] = [];
      for (const [key, page] of next) if (prev.get(key) !== page) out.push({ topic, partition, key, value: Buffer.from(JSON.stringify(page), 'utf8') });
      for (const key of prev.keys()) if (!next.has(key)) out.push({ topic, partition, key, value: null });
      return out;
    },
  };
}

export const parkedCounts = (state: ParkedState): { pages: number; records: number } => {
  let records = 0;
  for (const p of state.values()) records += p.records.length;
  return { pages: state.size, records };
};
