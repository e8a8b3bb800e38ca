import type { WikiAggregate } from '@wikimonitor/contracts';
import type { ServedPoison } from './input';
import { type AggregateDiff, type CountedChange, type Recount, aggregateKey, diffAggregates, recountAggregates, recountTwoStage, type RecountOptions } from './recount';

// The chaos suite's checks, as pure functions of what was read back: each can fail (see checks.spec.ts).

/** Copies of one key (a meta.id, a window, an alert id) on one topic, read whole with read_committed. */
export interface TopicCopies {
  topic: string;
  records: number;
  distinct: number;
  /** Records beyond the first of their key: 0 when every key is on the topic once. */
  extraCopies: number;
  /** Expected keys that are not on the topic (only for topics that must hold every expected key). */
  missing: number;
  /** Keys on the topic that are not allowed there (never sent, or not a window the recount closed). */
  unexpected: number;
  /** Records that did not decode with the topic's schema. */
  undecodable: number;
  /** A few keys with more than one copy, for the report. */
  examples: string[];
}

export interface CountOptions {
  /** Every one of these must be on the topic. */
  mustHold?: ReadonlySet<string>;
  /** Keys outside this set count as unexpected. */
  allowed?: ReadonlySet<string>;
  undecodable?: number;
}

export function countCopies(keys: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return counts;
}

export function countTopicCopies(topic: string, keys: readonly string[], opts: CountOptions = {}): TopicCopies {
  const counts = countCopies(keys);
  let missing = 0;
  for (const k of opts.mustHold ?? []) if (!counts.has(k)) missing++;
  let unexpected = 0;
  if (opts.allowed) for (const k of counts.keys()) if (!opts.allowed.has(k)) unexpected++;
  const dup = [...counts.entries()].filter(([, n]) => n > 1);
  return {
    topic,
    records: keys.length,
    distinct: counts.size,
    extraCopies: dup.reduce((s, [, n]) => s + n - 1, 0),
    missing,
    unexpected,
    undecodable: opts.undecodable ?? 0,
    examples: dup.slice(0, 3).map(([k, n]) => `${k} x${n}`),
  };
}

/** The key of a window on the aggregates topic and in PostgreSQL: wiki + window start + window end. */
export function windowKey(a: Pick<WikiAggregate, 'wiki' | 'window_start' | 'window_end'>): string {
  return `${a.wiki}@${a.window_start}-${a.window_end}`;
}

/** The fields of a stored change that identify the edit itself, independent of its meta.id. */
export type ContentFields = Pick<CountedChange, 'wiki' | 'type' | 'title' | 'user'> & { rc_id: number | null; log_id: number | null; revision_new: number | null };

/**
 * What makes two rows the same change although their meta.id differ: the wiki's recentchange id
 * (`rc_id`, unique per wiki in every recording), else the log id, else type + title + user + new
 * revision. The event time is left out on purpose: a re-sent copy may be dated differently.
 */
export function contentKey(c: ContentFields): string {
  if (c.rc_id !== null) return `${c.wiki}#rc:${c.rc_id}`;
  if (c.log_id !== null) return `${c.wiki}#log:${c.log_id}`;
  return `${c.wiki}#${c.type}#${c.title}#${c.user}#${c.revision_new ?? ''}`;
}

/**
 * Duplicate rows of the persister's changes table. Its primary key is meta.id, so "rows minus distinct
 * ids" is 0 by construction; a change can still be stored twice under two meta.ids (a replay pass
 * minting fresh ids, a resume that re-reads a pass, a stage that rewrites ids). Counted per content
 * key: rows beyond the number of input events with that key (at least one).
 */
export function rowDuplicates(rows: readonly ContentFields[], input: readonly ContentFields[]): number {
  const want = countCopies(input.map(contentKey));
  let extra = 0;
  for (const [k, n] of countCopies(rows.map(contentKey))) extra += Math.max(0, n - Math.max(1, want.get(k) ?? 0));
  return extra;
}

/**
 * The recount's input: the DISTINCT input (the events the source served, normalized from the input
 * file, once each), in the order the aggregator read them. Only the order comes from the pipeline
 * (`readOrder`: the meta.ids of wiki.changes.all in log order, partition by partition; a wiki's
 * state lives in one partition, so only the order within a wiki matters), because it decides which
 * events are late. A second copy of an id adds nothing; an input event that never reached the topic
 * is counted at the end (it is lost, and the windows must show it).
 */
export function distinctInReadOrder<T extends { id: string }>(input: readonly T[], readOrder: readonly string[]): T[] {
  const byId = new Map<string, T>();
  for (const c of input) if (!byId.has(c.id)) byId.set(c.id, c);
  const out: T[] = [];
  const taken = new Set<string>();
  for (const id of readOrder) {
    const c = byId.get(id);
    if (c && !taken.has(id)) {
      taken.add(id);
      out.push(c);
    }
  }
  for (const c of byId.values()) if (!taken.has(c.id)) out.push(c);
  return out;
}

/**
 * The two-stage recount's input: the DISTINCT input split by the partition of wiki.changes.all each
 * event was read from, in that partition's log order (a change is late or not by its partition's
 * clock). A second copy of an id adds nothing; an input event that never reached the topic is counted
 * in the last partition (it is lost, and the windows must show it).
 */
export function distinctByPartition<T extends { id: string }>(input: readonly T[], byPartition: ReadonlyArray<readonly string[]>): T[][] {
  const byId = new Map<string, T>();
  for (const c of input) if (!byId.has(c.id)) byId.set(c.id, c);
  const taken = new Set<string>();
  const out = byPartition.map((ids) => {
    const list: T[] = [];
    for (const id of ids) {
      const c = byId.get(id);
      if (c && !taken.has(id)) {
        taken.add(id);
        list.push(c);
      }
    }
    return list;
  });
  const lost = [...byId.values()].filter((c) => !taken.has(c.id));
  if (lost.length) (out[out.length - 1] ?? (out[0] = [])).push(...lost);
  return out;
}

export interface AggregateCheck {
  recount: Recount;
  /** PostgreSQL's windows against the recount, field by field. */
  stored: AggregateDiff;
  /** The aggregates topic's windows (last copy of each) against the recount, field by field. */
  topic: AggregateDiff;
  /** Ids on the late topic against the recount's late ids. */
  lateMissing: number;
  lateUnexpected: number;
}

/** Recounts the distinct input (in read order) and compares it with what the aggregator wrote. */
export function checkAggregates(
  input: readonly CountedChange[],
  readOrder: readonly string[] | { byPartition: ReadonlyArray<readonly string[]> },
  written: { stored: WikiAggregate[]; topic: WikiAggregate[]; lateIds: readonly string[] },
  opts: RecountOptions,
): AggregateCheck {
  const recount = Array.isArray(readOrder) ? recountAggregates(distinctInReadOrder(input, readOrder), opts) : recountTwoStage(distinctByPartition(input, (readOrder as { byPartition: ReadonlyArray<readonly string[]> }).byPartition), opts);
  const lastCopy = new Map(written.topic.map((a) => [aggregateKey(a), a]));
  const late = new Set(written.lateIds);
  const want = new Set(recount.lateIds);
  return {
    recount,
    stored: diffAggregates(recount.closed, written.stored),
    topic: diffAggregates(recount.closed, [...lastCopy.values()]),
    lateMissing: [...want].filter((id) => !late.has(id)).length,
    lateUnexpected: [...late].filter((id) => !want.has(id)).length,
  };
}

const diffText = (d: AggregateDiff) =>
  `${d.missing.length} missing, ${d.unexpected.length} unexpected, ${d.different.length} different${d.different[0] ? ` (e.g. ${JSON.stringify(d.different[0])})` : ''}`;
const differs = (d: AggregateDiff) => d.missing.length + d.unexpected.length + d.different.length > 0;

/** Every failure the copy, row and aggregate checks find (empty when all hold). */
export function copyAndAggregateFailures(topics: readonly TopicCopies[], rowDups: number, agg: AggregateCheck | undefined): string[] {
  const failures: string[] = [];
  for (const t of topics) {
    if (t.extraCopies) failures.push(`${t.topic}: ${t.extraCopies} extra copies (${t.examples.join(', ')})`);
    if (t.missing) failures.push(`${t.topic}: ${t.missing} expected keys missing`);
    if (t.unexpected) failures.push(`${t.topic}: ${t.unexpected} keys that must not be there`);
  }
  if (rowDups) failures.push(`${rowDups} duplicate rows in wiki_changes (same change under another meta.id)`);
  if (agg) {
    if (differs(agg.stored)) failures.push(`stored aggregates differ from the recount of the distinct input: ${diffText(agg.stored)}`);
    if (differs(agg.topic)) failures.push(`aggregates topic differs from the recount of the distinct input: ${diffText(agg.topic)}`);
    if (agg.lateMissing || agg.lateUnexpected) failures.push(`late topic: ${agg.lateMissing} late events missing, ${agg.lateUnexpected} unexpected (recount: ${agg.recount.lateIds.length})`);
  }
  return failures;
}

/** A dead letter as read back: the app that wrote it, its value and headers. */
export interface LetterSeen {
  app: string;
  /** `dlq.error.code`. */
  code?: string;
  value: Buffer | null;
}

/**
 * Whether a producer dead letter holds this poison event: its value is the served bytes, or a cut of
 * them (a strict prefix: an oversized event keeps what fits). The size/digest headers are not compared:
 * which bytes the digest covers (the whole event or what the producer handed over) is the producer's
 * business, and a prefix of a poison event with its own meta.id already names it.
 */
export function letterHolds(letter: LetterSeen, served: Buffer): boolean {
  const v = letter.value;
  if (!v || v.length === 0) return false;
  return v.equals(served) || (v.length < served.length && served.subarray(0, v.length).equals(v));
}

export interface PoisonOutcome {
  name: string;
  expected: ServedPoison['expected'];
  /** Producer dead letters holding it. */
  deadLetters: number;
  /** Their error codes (one must be the expected code when the builder names one). */
  codes: string[];
  /** Copies of its meta.id on the raw topic. */
  onRaw: number;
  stored: boolean;
  ok: boolean;
}

/** Each served poison event's outcome against its expectation: dead-lettered once, dropped without trace, or published. */
export function poisonOutcomes(poison: readonly ServedPoison[], letters: readonly LetterSeen[], rawIds: ReadonlyMap<string, number>, storedIds: ReadonlySet<string>): PoisonOutcome[] {
  return poison.map((p) => {
    const holding = letters.filter((l) => l.app === 'producer' && letterHolds(l, p.data));
    const deadLetters = holding.length;
    const codes = holding.map((l) => l.code ?? '');
    const codeOk = p.code === undefined || codes.every((c) => c === p.code);
    const onRaw = p.metaId === undefined ? 0 : (rawIds.get(p.metaId) ?? 0);
    const stored = p.metaId !== undefined && storedIds.has(p.metaId);
    const ok =
      p.expected === 'dead-letter' ? deadLetters === 1 && codeOk && onRaw === 0 && !stored : p.expected === 'dropped' ? deadLetters === 0 && onRaw === 0 && !stored : deadLetters === 0 && onRaw === 1 && stored;
    return { name: p.name, expected: p.expected, deadLetters, codes, onRaw, stored, ok };
  });
}
