import type { BlueskyAccount, BlueskyCommit, BlueskyEvent, BlueskyEventKind, BlueskyIdentity, BlueskyOperation, BlueskyPost } from '@wikimonitor/contracts';
import { memberSpans } from './json-span';

/**
 * Why a Jetstream message is not an event (each ends as a dead letter with that code):
 * - NOT_JSON: the text is not JSON (or not a JSON object);
 * - INVALID_EVENT: no did, or no integer time_us;
 * - UNKNOWN_KIND: a kind (or early-format type) this version does not know;
 * - INVALID_COMMIT / INVALID_IDENTITY / INVALID_ACCOUNT: the body lacks what the id or the schema needs;
 * - EVENT_TIME_FUTURE: time_us beyond receipt + the allowed skew (it would become the resume cursor).
 */
export const JETSTREAM_INVALID_CODES = ['NOT_JSON', 'INVALID_EVENT', 'UNKNOWN_KIND', 'INVALID_COMMIT', 'INVALID_IDENTITY', 'INVALID_ACCOUNT', 'EVENT_TIME_FUTURE'] as const;
export type JetstreamInvalidCode = (typeof JETSTREAM_INVALID_CODES)[number];

export type JetstreamNormalizeResult =
  | { kind: 'event'; event: BlueskyEvent }
  /** `id` and `timeUs` when they could be read (the overlap filter uses them), `did` the dead letter's key. */
  | { kind: 'invalid'; code: JetstreamInvalidCode; reason: string; id: string | null; did: string | null; timeUs: number | null };

export interface JetstreamNormalizeContext {
  /** When the message arrived (epoch ms). */
  receivedTime: number;
  /** When set, time_us later than receivedTime + this (ms) is EVENT_TIME_FUTURE (the producer sets it). */
  maxFutureSkewMs?: number;
}

export const POST_COLLECTION = 'app.bsky.feed.post';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const nonEmpty = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** The early (2024) format's `type` values. */
const EARLY_KINDS: Record<string, BlueskyEventKind> = { com: 'commit', id: 'identity', acc: 'account' };
const EARLY_OPERATIONS: Record<string, BlueskyOperation> = { c: 'create', u: 'update', d: 'delete' };
const OPERATIONS = new Set<string>(['create', 'update', 'delete']);
const KINDS = new Set<string>(['commit', 'identity', 'account']);

/** The dedup id of a commit: the record's at:// URI and the repository revision. */
export const commitId = (did: string, collection: string, rkey: string, rev: string) => `at://${did}/${collection}/${rkey}#${rev}`;
export const identityId = (did: string, seq: number) => `${did}#identity#${seq}`;
export const accountId = (did: string, seq: number) => `${did}#account#${seq}`;

/** The reply and quote targets and the text of an app.bsky.feed.post record (any field may be missing or mistyped). */
export function postFields(record: Obj): BlueskyPost {
  const reply = isObj(record.reply) ? record.reply : {};
  const uriOf = (v: unknown) => (isObj(v) ? nonEmpty(v.uri) : null);
  const embed = isObj(record.embed) ? record.embed : {};
  let quote: string | null = null;
  if (embed.$type === 'app.bsky.embed.record') quote = uriOf(embed.record);
  else if (embed.$type === 'app.bsky.embed.recordWithMedia' && isObj(embed.record)) quote = uriOf(embed.record.record);
  return {
    text: str(record.text) ?? '',
    langs: Array.isArray(record.langs) ? record.langs.filter((l): l is string => typeof l === 'string') : [],
    created_at: str(record.createdAt),
    reply_root_uri: uriOf(reply.root),
    reply_parent_uri: uriOf(reply.parent),
    quote_uri: quote,
  };
}

/**
 * One Jetstream message (one WebSocket text frame) to a BlueskyEvent, or why it is not one. Both
 * formats: the current one (`kind`, `commit.operation`) and the 2024 one (`type: com|id|acc`, the
 * body in `payload` or under its kind's name, `commit.type: c|u|d`). Pure.
 */
export function normalizeJetstreamEvent(text: string, ctx: JetstreamNormalizeContext): JetstreamNormalizeResult {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return invalid('NOT_JSON', `not JSON: ${(err as Error).message}`);
  }
  if (!isObj(v)) return invalid('NOT_JSON', 'not a JSON object');
  const did = nonEmpty(v.did);
  const timeUs = typeof v.time_us === 'number' && Number.isSafeInteger(v.time_us) && v.time_us > 0 ? v.time_us : null;
  const bad = (code: JetstreamInvalidCode, reason: string, id: string | null = null) => invalid(code, reason, id, did, timeUs);
  if (!did) return bad('INVALID_EVENT', 'no did');
  if (timeUs === null) return bad('INVALID_EVENT', 'no integer time_us');
  const early = typeof v.kind !== 'string' && typeof v.type === 'string';
  const rawKind = early ? (v.type as string) : str(v.kind);
  const kind = early ? EARLY_KINDS[rawKind as string] : rawKind !== null && KINDS.has(rawKind) ? (rawKind as BlueskyEventKind) : undefined;
  if (!kind) return bad('UNKNOWN_KIND', `unknown ${early ? 'type' : 'kind'} ${JSON.stringify(rawKind)}`);
  const bodyKey = isObj(v[kind]) ? kind : early && isObj(v.payload) ? 'payload' : null;
  const body = bodyKey ? (v[bodyKey] as Obj) : null;
  const base = { did, time_us: timeUs, event_time: Math.floor(timeUs / 1000), received_time: ctx.receivedTime, kind, early_format: early, commit: null, identity: null, account: null };

  let event: BlueskyEvent;
  if (kind === 'commit') {
    const c = commitOf(body, early, text, bodyKey);
    if (typeof c === 'string') return bad('INVALID_COMMIT', c);
    event = { ...base, id: commitId(did, c.collection, c.rkey, c.rev), commit: c };
  } else {
    const seq = body && typeof body.seq === 'number' && Number.isSafeInteger(body.seq) ? body.seq : null;
    const code = kind === 'identity' ? 'INVALID_IDENTITY' : 'INVALID_ACCOUNT';
    if (!body) return bad(code, `no ${kind} body`);
    if (seq === null) return bad(code, `${kind} without an integer seq`);
    const time = str(body.time) ?? '';
    if (kind === 'identity') {
      const identity: BlueskyIdentity = { handle: nonEmpty(body.handle), seq, time };
      event = { ...base, id: identityId(did, seq), identity };
    } else {
      const status = nonEmpty(body.status);
      const account: BlueskyAccount = { active: typeof body.active === 'boolean' ? body.active : status === null, status, seq, time };
      event = { ...base, id: accountId(did, seq), account };
    }
  }
  if (ctx.maxFutureSkewMs !== undefined && event.event_time > ctx.receivedTime + ctx.maxFutureSkewMs) {
    return bad('EVENT_TIME_FUTURE', `time_us ${timeUs} is more than ${ctx.maxFutureSkewMs} ms after receipt ${ctx.receivedTime}`, event.id);
  }
  return { kind: 'event', event };
}

function commitOf(body: Obj | null, early: boolean, text: string, bodyKey: string | null): BlueskyCommit | string {
  if (!body) return 'no commit body';
  const rev = nonEmpty(body.rev);
  const collection = nonEmpty(body.collection);
  const rkey = nonEmpty(body.rkey);
  const rawOp = str(body.operation) ?? (early || typeof body.type === 'string' ? str(body.type) : null);
  const operation = rawOp === null ? undefined : OPERATIONS.has(rawOp) ? (rawOp as BlueskyOperation) : EARLY_OPERATIONS[rawOp];
  if (!rev || !collection || !rkey) return `commit without ${[!rev && 'rev', !collection && 'collection', !rkey && 'rkey'].filter(Boolean).join(', ')}`;
  if (!operation) return `unknown commit operation ${JSON.stringify(rawOp)}`;
  const record = body.record;
  let recordJson: string | null = null;
  if (record !== undefined && record !== null && bodyKey) {
    const outer = memberSpans(text).get(bodyKey);
    const inner = outer && memberSpans(text, outer.start).get('record');
    recordJson = inner ? text.slice(inner.start, inner.end) : JSON.stringify(record);
  }
  const post = collection === POST_COLLECTION && operation !== 'delete' && isObj(record) ? postFields(record) : null;
  return { rev, operation, collection, rkey, cid: nonEmpty(body.cid), record_json: recordJson, post };
}

/** A Jetstream message known to be valid (the recordings, tests) as the producer writes it; throws with the reason otherwise. */
export function jetstreamEventOrThrow(text: string, receivedTime = Date.UTC(2026, 11, 1)): BlueskyEvent {
  const n = normalizeJetstreamEvent(text, { receivedTime });
  if (n.kind !== 'event') throw new Error(`Jetstream message did not normalize (${n.code}: ${n.reason})`);
  return n.event;
}

function invalid(code: JetstreamInvalidCode, reason: string, id: string | null = null, did: string | null = null, timeUs: number | null = null): JetstreamNormalizeResult {
  return { kind: 'invalid', code, reason, id, did, timeUs };
}
