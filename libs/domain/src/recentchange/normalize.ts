import type { ChangeType, WikiChange } from '@wikimonitor/contracts';
import { ChangeTypeSymbols } from '@wikimonitor/contracts';

export type NormalizeResult =
  | { kind: 'change'; change: WikiChange }
  | { kind: 'canary'; id: string }
  | { kind: 'invalid'; code: InvalidEventCode; reason: string };

/** Why an event is invalid: its text is not JSON at all, or it is JSON but not a recentchange event. */
export type InvalidEventCode = 'NOT_JSON' | 'INVALID_EVENT';

export interface NormalizeContext {
  /** When the event arrived (epoch ms). */
  receivedTime: number;
  /** The SSE `id:` that accompanied the event, if any. */
  sseId?: string | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : null);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
const KNOWN_TYPES = new Set<string>(ChangeTypeSymbols);

/**
 * Turns one parsed recentchange event into a WikiChange. Handles every shape seen in real data:
 * current `$schema` 1.0.0 events, 2018 events (`meta.schema_uri`, no `meta.stream`, `+00:00` dates),
 * `id` missing or null on log events, `log_params` as object or array, no length/revision on
 * log and categorize events. Canary events are recognised so they can be dropped and counted.
 */
export function normalizeRecentChange(event: unknown, ctx: NormalizeContext): NormalizeResult {
  if (!isObj(event)) return { kind: 'invalid', code: 'INVALID_EVENT', reason: 'event is not a JSON object' };
  const meta = event['meta'];
  if (!isObj(meta)) return { kind: 'invalid', code: 'INVALID_EVENT', reason: 'meta is missing' };
  const id = str(meta['id']);
  if (!id) return { kind: 'invalid', code: 'INVALID_EVENT', reason: 'meta.id is missing' };
  if (meta['domain'] === 'canary') return { kind: 'canary', id };

  const dt = str(meta['dt']);
  const eventTime = dt ? Date.parse(dt) : NaN;
  if (!Number.isFinite(eventTime)) return { kind: 'invalid', code: 'INVALID_EVENT', reason: `meta.dt is not a date: ${JSON.stringify(meta['dt'] ?? null)}` };
  const wiki = str(event['wiki']);
  if (!wiki) return { kind: 'invalid', code: 'INVALID_EVENT', reason: 'wiki is missing' };
  const title = str(event['title']);
  if (title === null) return { kind: 'invalid', code: 'INVALID_EVENT', reason: 'title is missing' };
  const namespace = int(event['namespace']);
  if (namespace === null) return { kind: 'invalid', code: 'INVALID_EVENT', reason: 'namespace is missing' };
  const rawType = str(event['type']);
  if (!rawType) return { kind: 'invalid', code: 'INVALID_EVENT', reason: 'type is missing' };
  const type: ChangeType = KNOWN_TYPES.has(rawType) ? (rawType as ChangeType) : 'unknown';

  const length = isObj(event['length']) ? event['length'] : {};
  const revision = isObj(event['revision']) ? event['revision'] : {};
  const logParams = event['log_params'];

  return {
    kind: 'change',
    change: {
      id,
      event_time: eventTime,
      received_time: ctx.receivedTime,
      wiki,
      domain: str(meta['domain']) ?? str(event['server_name']) ?? wiki,
      stream: str(meta['stream']),
      type,
      namespace,
      title,
      title_url: str(event['title_url']),
      user: str(event['user']) ?? '',
      bot: bool(event['bot']) ?? false,
      minor: bool(event['minor']),
      patrolled: bool(event['patrolled']),
      length_old: int(length['old']),
      length_new: int(length['new']),
      revision_old: int(revision['old']),
      revision_new: int(revision['new']),
      comment: str(event['comment']) ?? '',
      rc_id: int(event['id']),
      server_name: str(event['server_name']),
      request_id: str(meta['request_id']),
      schema_uri: str(event['$schema']) ?? str(meta['schema_uri']),
      log_id: int(event['log_id']),
      log_type: str(event['log_type']),
      log_action: str(event['log_action']),
      log_action_comment: str(event['log_action_comment']),
      log_params: logParams === undefined || logParams === null ? null : JSON.stringify(logParams),
      source: {
        topic: str(meta['topic']),
        partition: int(meta['partition']),
        offset: int(meta['offset']),
        sse_id: ctx.sseId ?? null,
      },
    },
  };
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
