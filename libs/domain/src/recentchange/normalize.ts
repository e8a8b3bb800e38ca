import type { ChangeType, WikiChange } from '@wikimonitor/contracts';
import { ChangeTypeSymbols } from '@wikimonitor/contracts';
import type { SseEvent } from '../sse/parser';

export type NormalizeResult =
  /** `fixed`: optional fields that had a wrong type (or were over their bound) and were coerced or dropped. */
  | { kind: 'change'; change: WikiChange; fixed: readonly string[] }
  | { kind: 'canary'; id: string | null }
  | { kind: 'invalid'; code: InvalidEventCode; reason: string };

/**
 * Why an event is invalid (every code ends as a dead letter with that code):
 * - NOT_JSON: its text is not JSON; INVALID_EVENT: JSON but not a recentchange event (a required field is missing);
 * - MISSING_META_ID: no `meta.id`, the only dedup key downstream;
 * - EVENT_TIME_FUTURE / EVENT_TIME_TOO_OLD: `meta.dt` beyond the allowed clock skew ahead of receipt, or before 2001;
 * - EVENT_TOO_LARGE: the event's data was over the SSE parser's bound (only a prefix was kept);
 * - INVALID_UTF8: the event's bytes are not UTF-8.
 */
export const INVALID_EVENT_CODES = ['NOT_JSON', 'INVALID_EVENT', 'MISSING_META_ID', 'EVENT_TIME_FUTURE', 'EVENT_TIME_TOO_OLD', 'EVENT_TOO_LARGE', 'INVALID_UTF8'] as const;
export type InvalidEventCode = (typeof INVALID_EVENT_CODES)[number];

/** Default bound of how far ahead of its receipt an event may be dated (clock skew between Wikimedia and us). */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000;
/** No Wikimedia change is older than this (Wikipedia started on 2001-01-15): earlier dates are corrupt. */
export const MIN_EVENT_TIME_MS = Date.UTC(2001, 0, 1);
/** Deepest `log_params` nesting kept (real ones are 1 to 3 levels deep). */
export const MAX_LOG_PARAMS_DEPTH = 16;
/** Longest `log_params` JSON kept, in UTF-16 code units. */
export const MAX_LOG_PARAMS_CHARS = 64 * 1024;

export interface NormalizeContext {
  /** When the event arrived (epoch ms). */
  receivedTime: number;
  /** The SSE `id:` that accompanied the event, if any. */
  sseId?: string | null;
  /**
   * When set, an event dated more than this many ms after `receivedTime` is EVENT_TIME_FUTURE. The
   * producer sets it (its receivedTime is the wall clock); tests and tools that normalize recordings
   * with an arbitrary receivedTime leave it out.
   */
  maxFutureSkewMs?: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const INT_TEXT = /^-?\d{1,16}$/;
const KNOWN_TYPES = new Set<string>(ChangeTypeSymbols);
const NOTHING_FIXED: readonly string[] = Object.freeze([]);

/**
 * Why an event time cannot drive event-time processing, or null when it can: before 2001, or more
 * than `maxFutureSkewMs` after `nowMs` (skipped when maxFutureSkewMs is undefined). Shared by the
 * producer's normalization and the aggregator's watermark guard.
 */
export function eventTimeProblem(eventTime: number, nowMs: number, maxFutureSkewMs: number | undefined): { code: 'EVENT_TIME_FUTURE' | 'EVENT_TIME_TOO_OLD'; reason: string } | null {
  if (eventTime < MIN_EVENT_TIME_MS) return { code: 'EVENT_TIME_TOO_OLD', reason: `event time ${isoOrRaw(eventTime)} is before ${new Date(MIN_EVENT_TIME_MS).toISOString()}` };
  if (maxFutureSkewMs !== undefined && eventTime > nowMs + maxFutureSkewMs) {
    return { code: 'EVENT_TIME_FUTURE', reason: `event time ${isoOrRaw(eventTime)} is more than ${maxFutureSkewMs} ms after ${isoOrRaw(nowMs)}` };
  }
  return null;
}

/** A value for a reason text: strings quoted (cut), other values by type only (a hostile value may be huge or too deep to stringify). */
const describeValue = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v.slice(0, 100)) : v === undefined || v === null ? 'null' : typeof v === 'object' ? (Array.isArray(v) ? 'an array' : 'an object') : String(v));

const isoOrRaw = (t: number): string => (Math.abs(t) <= 8.64e15 ? new Date(t).toISOString() : String(t));

/** Reads optional fields, coercing what is unambiguous and dropping the rest, and remembers which. */
class FieldReader {
  fixed: string[] | null = null;

  private note(name: string): void {
    (this.fixed ??= []).push(name);
  }

  /** A string; a number or boolean becomes its text, anything else is dropped. */
  str(name: string, v: unknown): string | null {
    if (v === undefined || v === null) return null;
    if (typeof v === 'string') return v;
    this.note(name);
    return typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;
  }

  /** An integer within the Avro type's range; integer text is parsed, anything else is dropped. */
  int(name: string, v: unknown, range?: { min: number; max: number }): number | null {
    if (v === undefined || v === null) return null;
    let n: number | null = null;
    if (typeof v === 'number' && Number.isFinite(v)) n = Math.trunc(v);
    else if (typeof v === 'string' && INT_TEXT.test(v)) n = Number(v);
    const ok = n !== null && Number.isSafeInteger(n) && (!range || (n >= range.min && n <= range.max));
    if (!ok || typeof v !== 'number' || !Number.isInteger(v)) this.note(name);
    return ok ? n : null;
  }

  /** A boolean; `"true"` / `"false"` are parsed, anything else is dropped. */
  bool(name: string, v: unknown): boolean | null {
    if (v === undefined || v === null) return null;
    if (typeof v === 'boolean') return v;
    this.note(name);
    return v === 'true' ? true : v === 'false' ? false : null;
  }

  /** An object of sub-fields (length, revision); anything else is dropped. */
  obj(name: string, v: unknown): Obj {
    if (v === undefined || v === null) return {};
    if (isObj(v)) return v;
    this.note(name);
    return {};
  }

  /** `log_params` as JSON text, dropped when deeper or longer than its bounds. */
  logParams(v: unknown): string | null {
    if (v === undefined || v === null) return null;
    if (depthOver(v, MAX_LOG_PARAMS_DEPTH)) {
      this.note('log_params');
      return null;
    }
    const text = JSON.stringify(v);
    if (text.length > MAX_LOG_PARAMS_CHARS) {
      this.note('log_params');
      return null;
    }
    return text;
  }
}

/** Whether a JSON value nests deeper than `max` levels (iterative: no recursion on hostile input). */
function depthOver(root: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Turns one parsed recentchange event into a WikiChange. Handles every shape seen in real data:
 * current `$schema` 1.0.0 events, 2018 events (`meta.schema_uri`, no `meta.stream`, `+00:00` dates),
 * `id` missing or null on log events, `log_params` as object or array, no length/revision on
 * log and categorize events. Canary events (`meta.domain == "canary"`, with or without wiki/type)
 * are recognised so they can be dropped and counted. Never throws: a wrong type in an optional
 * field is coerced or dropped (named in `fixed`), a missing required field makes the event invalid.
 */
export function normalizeRecentChange(event: unknown, ctx: NormalizeContext): NormalizeResult {
  if (!isObj(event)) return { kind: 'invalid', code: 'INVALID_EVENT', reason: 'event is not a JSON object' };
  const meta = event['meta'];
  if (!isObj(meta)) return { kind: 'invalid', code: 'INVALID_EVENT', reason: 'meta is missing' };
  if (meta['domain'] === 'canary') return { kind: 'canary', id: str(meta['id']) };
  const id = str(meta['id']);
  if (!id) return { kind: 'invalid', code: 'MISSING_META_ID', reason: 'meta.id is missing' };

  const dt = str(meta['dt']);
  const eventTime = dt ? Date.parse(dt) : NaN;
  if (!Number.isFinite(eventTime)) return { kind: 'invalid', code: 'INVALID_EVENT', reason: `meta.dt is not a date: ${describeValue(meta['dt'])}` };
  const timeProblem = eventTimeProblem(eventTime, ctx.receivedTime, ctx.maxFutureSkewMs);
  if (timeProblem) return { kind: 'invalid', code: timeProblem.code, reason: timeProblem.reason };
  const wiki = str(event['wiki']);
  if (!wiki) return { kind: 'invalid', code: 'INVALID_EVENT', reason: 'wiki is missing' };
  const title = str(event['title']);
  if (title === null) return { kind: 'invalid', code: 'INVALID_EVENT', reason: 'title is missing' };
  const f = new FieldReader();
  const namespace = f.int('namespace', event['namespace'], INT32);
  if (namespace === null) return { kind: 'invalid', code: 'INVALID_EVENT', reason: 'namespace is missing' };
  const rawType = str(event['type']);
  if (!rawType) return { kind: 'invalid', code: 'INVALID_EVENT', reason: 'type is missing' };
  const type: ChangeType = KNOWN_TYPES.has(rawType) ? (rawType as ChangeType) : 'unknown';

  const length = f.obj('length', event['length']);
  const revision = f.obj('revision', event['revision']);

  const change: WikiChange = {
    id,
    event_time: eventTime,
    received_time: ctx.receivedTime,
    wiki,
    domain: f.str('meta.domain', meta['domain']) ?? f.str('server_name', event['server_name']) ?? wiki,
    stream: f.str('meta.stream', meta['stream']),
    type,
    namespace,
    title,
    title_url: f.str('title_url', event['title_url']),
    user: f.str('user', event['user']) ?? '',
    bot: f.bool('bot', event['bot']) ?? false,
    minor: f.bool('minor', event['minor']),
    patrolled: f.bool('patrolled', event['patrolled']),
    length_old: f.int('length.old', length['old']),
    length_new: f.int('length.new', length['new']),
    revision_old: f.int('revision.old', revision['old']),
    revision_new: f.int('revision.new', revision['new']),
    comment: f.str('comment', event['comment']) ?? '',
    rc_id: f.int('id', event['id']),
    server_name: f.str('server_name', event['server_name']),
    request_id: f.str('meta.request_id', meta['request_id']),
    schema_uri: f.str('$schema', event['$schema']) ?? f.str('meta.schema_uri', meta['schema_uri']),
    log_id: f.int('log_id', event['log_id']),
    log_type: f.str('log_type', event['log_type']),
    log_action: f.str('log_action', event['log_action']),
    log_action_comment: f.str('log_action_comment', event['log_action_comment']),
    log_params: f.logParams(event['log_params']),
    source: {
      topic: f.str('meta.topic', meta['topic']),
      partition: f.int('meta.partition', meta['partition'], INT32),
      offset: f.int('meta.offset', meta['offset']),
      sse_id: ctx.sseId ?? null,
    },
  };
  return { kind: 'change', change, fixed: f.fixed ? [...new Set(f.fixed)] : NOTHING_FIXED };
}

/** Parses and normalizes raw `data:` text; non-JSON is invalid (with the parser's reason). */
export function normalizeRecentChangeText(text: string, ctx: NormalizeContext): NormalizeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { kind: 'invalid', code: 'NOT_JSON', reason: `not JSON: ${(err as Error).message}` };
  }
  return normalizeRecentChange(parsed, ctx);
}

/**
 * The producer's entry point: one SSE event as received. An event the parser flagged (over its
 * bound, or not UTF-8) is invalid with the parser's code; any other is parsed and normalized with
 * the clock-skew rule on (default {@link DEFAULT_MAX_FUTURE_SKEW_MS}: receivedTime is the wall clock).
 */
export function normalizeSseEvent(ev: Pick<SseEvent, 'data' | 'lastEventId' | 'problem'>, ctx: Omit<NormalizeContext, 'sseId'>): NormalizeResult {
  const p = ev.problem;
  if (p?.code === 'EVENT_TOO_LARGE') {
    return { kind: 'invalid', code: 'EVENT_TOO_LARGE', reason: `event is over the SSE bound: data of ${p.size} bytes (sha256 ${p.sha256 ?? 'not computed'}), first ${p.prefix.length} bytes kept` };
  }
  if (p?.code === 'INVALID_UTF8') return { kind: 'invalid', code: 'INVALID_UTF8', reason: `event data (${p.bytes.length} bytes) is not valid UTF-8` };
  return normalizeRecentChangeText(ev.data, { ...ctx, sseId: ev.lastEventId || null, maxFutureSkewMs: ctx.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS });
}

/**
 * Partition key: wiki + page title, so every change of one page lands in one partition in order.
 * Skew: a few wikis (wikidata, commons, enwiki) carry most traffic, but keying by page spreads
 * even a single busy wiki across partitions; only a single hot page concentrates on one.
 */
export function changeKey(change: Pick<WikiChange, 'wiki' | 'title'>): string {
  return `${change.wiki}:${change.title}`;
}

/** Size delta in bytes (new - old), 0 when either side is unknown. */
export function sizeDelta(change: Pick<WikiChange, 'length_old' | 'length_new'>): number {
  return (change.length_new ?? 0) - (change.length_old ?? 0);
}
