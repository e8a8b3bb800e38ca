import type { WikiAggregate, WikiAlert, WikiChange } from '@wikimonitor/contracts';
import type { RecordPosition } from './dedup';

/** A value as written to PostgreSQL: text, number, boolean, or SQL NULL. Timestamps are ISO-8601 text. */
export type SqlValue = string | number | boolean | null;

/** Columns of `wiki_changes` written by the persister, in row order (persisted_at has a default). */
export const CHANGE_COLUMNS = [
  'id',
  'event_time',
  'received_time',
  'wiki',
  'domain',
  'stream',
  'type',
  'namespace',
  'title',
  'title_url',
  'user_name',
  'bot',
  'minor',
  'patrolled',
  'length_old',
  'length_new',
  'revision_old',
  'revision_new',
  'comment',
  'rc_id',
  'server_name',
  'request_id',
  'schema_uri',
  'log_id',
  'log_type',
  'log_action',
  'log_action_comment',
  'log_params',
  'source_topic',
  'source_partition',
  'source_offset',
  'sse_id',
  'kafka_topic',
  'kafka_partition',
  'kafka_offset',
] as const;

/** PostgreSQL types of CHANGE_COLUMNS (same order), for `unnest($1::text[], ...)`. */
export const CHANGE_COLUMN_TYPES: Record<(typeof CHANGE_COLUMNS)[number], string> = {
  id: 'text',
  event_time: 'timestamptz',
  received_time: 'timestamptz',
  wiki: 'text',
  domain: 'text',
  stream: 'text',
  type: 'text',
  namespace: 'int4',
  title: 'text',
  title_url: 'text',
  user_name: 'text',
  bot: 'bool',
  minor: 'bool',
  patrolled: 'bool',
  length_old: 'int8',
  length_new: 'int8',
  revision_old: 'int8',
  revision_new: 'int8',
  comment: 'text',
  rc_id: 'int8',
  server_name: 'text',
  request_id: 'text',
  schema_uri: 'text',
  log_id: 'int8',
  log_type: 'text',
  log_action: 'text',
  log_action_comment: 'text',
  log_params: 'text',
  source_topic: 'text',
  source_partition: 'int4',
  source_offset: 'int8',
  sse_id: 'text',
  kafka_topic: 'text',
  kafka_partition: 'int4',
  kafka_offset: 'int8',
};

/** Columns of `wiki_alerts`, in row order. */
export const ALERT_COLUMNS = [
  'id',
  'kind',
  'source',
  'subject',
  'severity',
  'observed',
  'expected',
  'score',
  'window_start',
  'window_end',
  'status',
  'previous_status',
  'message',
  'created_at',
  'kafka_topic',
  'kafka_partition',
  'kafka_offset',
] as const;

export const ALERT_COLUMN_TYPES: Record<(typeof ALERT_COLUMNS)[number], string> = {
  id: 'text',
  kind: 'text',
  source: 'text',
  subject: 'text',
  severity: 'text',
  observed: 'float8',
  expected: 'float8',
  score: 'float8',
  window_start: 'timestamptz',
  window_end: 'timestamptz',
  status: 'text',
  previous_status: 'text',
  message: 'text',
  created_at: 'timestamptz',
  kafka_topic: 'text',
  kafka_partition: 'int4',
  kafka_offset: 'int8',
};

/** Columns of `wiki_aggregates`, in row order (top_pages is JSON text, cast to jsonb on insert). */
export const AGGREGATE_COLUMNS = [
  'wiki',
  'window_start',
  'window_end',
  'total',
  'count_edit',
  'count_new',
  'count_log',
  'count_categorize',
  'count_external',
  'count_unknown',
  'bot',
  'human',
  'bytes_added',
  'bytes_removed',
  'distinct_editors',
  'top_pages',
  'first_event_time',
  'last_event_time',
  'kafka_topic',
  'kafka_partition',
  'kafka_offset',
] as const;

export const AGGREGATE_COLUMN_TYPES: Record<(typeof AGGREGATE_COLUMNS)[number], string> = {
  wiki: 'text',
  window_start: 'timestamptz',
  window_end: 'timestamptz',
  total: 'int8',
  count_edit: 'int8',
  count_new: 'int8',
  count_log: 'int8',
  count_categorize: 'int8',
  count_external: 'int8',
  count_unknown: 'int8',
  bot: 'int8',
  human: 'int8',
  bytes_added: 'int8',
  bytes_removed: 'int8',
  distinct_editors: 'int4',
  top_pages: 'jsonb',
  first_event_time: 'timestamptz',
  last_event_time: 'timestamptz',
  kafka_topic: 'text',
  kafka_partition: 'int4',
  kafka_offset: 'int8',
};

// PostgreSQL text cannot hold U+0000; upstream strings are user-controlled (titles, comments).
// eslint-disable-next-line no-control-regex
const NUL = /\u0000/g;

/** A string as PostgreSQL text accepts it (NUL characters removed). */
export function pgText(s: string): string {
  return s.includes('\u0000') ? s.replace(NUL, '') : s;
}

const text = (s: string | null): string | null => (s === null ? null : pgText(s));
const time = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A WikiChange as a `wiki_changes` row (CHANGE_COLUMNS order), with where it was read from. */
export function changeRow(c: WikiChange, at: RecordPosition): SqlValue[] {
  return [
    pgText(c.id),
    time(c.event_time),
    time(c.received_time),
    pgText(c.wiki),
    pgText(c.domain),
    text(c.stream),
    c.type,
    c.namespace,
    pgText(c.title),
    text(c.title_url),
    pgText(c.user),
    c.bot,
    c.minor,
    c.patrolled,
    c.length_old,
    c.length_new,
    c.revision_old,
    c.revision_new,
    pgText(c.comment),
    c.rc_id,
    text(c.server_name),
    text(c.request_id),
    text(c.schema_uri),
    c.log_id,
    text(c.log_type),
    text(c.log_action),
    text(c.log_action_comment),
    text(c.log_params),
    text(c.source.topic),
    c.source.partition,
    c.source.offset,
    text(c.source.sse_id),
    at.topic,
    at.partition,
    at.offset,
  ];
}

/** A WikiAlert as a `wiki_alerts` row (ALERT_COLUMNS order). */
export function alertRow(a: WikiAlert, at: RecordPosition): SqlValue[] {
  return [
    pgText(a.id),
    a.kind,
    pgText(a.source),
    pgText(a.subject),
    a.severity,
    finite(a.observed),
    finite(a.expected),
    finite(a.score),
    time(a.window_start),
    time(a.window_end),
    text(a.status),
    text(a.previous_status),
    pgText(a.message),
    time(a.created_at),
    at.topic,
    at.partition,
    at.offset,
  ];
}

/** A WikiAggregate as a `wiki_aggregates` row (AGGREGATE_COLUMNS order). */
export function aggregateRow(a: WikiAggregate, at: RecordPosition): SqlValue[] {
  return [
    pgText(a.wiki),
    time(a.window_start),
    time(a.window_end),
    a.total,
    a.by_type.edit,
    a.by_type.new,
    a.by_type.log,
    a.by_type.categorize,
    a.by_type.external,
    a.by_type.unknown,
    a.bot,
    a.human,
    a.bytes_added,
    a.bytes_removed,
    a.distinct_editors,
    JSON.stringify(a.top_pages.map((p) => ({ title: pgText(p.title), count: p.count }))),
    time(a.first_event_time),
    time(a.last_event_time),
    at.topic,
    at.partition,
    at.offset,
  ];
}

/** NaN and infinities are valid doubles in Avro and in float8, but not in JSON answers: keep them as NULL. */
function finite(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

/**
 * One line of PostgreSQL's COPY text format: tab-separated, `\N` for NULL, and backslash, tab,
 * newline and carriage return escaped inside values.
 */
export function copyTextLine(values: readonly SqlValue[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) line += '\t';
    const v = values[i];
    if (v === null || v === undefined) line += '\\N';
    else if (typeof v === 'boolean') line += v ? 't' : 'f';
    else if (typeof v === 'number') line += String(v);
    else line += escapeCopy(v);
  }
  return `${line}\n`;
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_G = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function escapeCopy(s: string): string {
  return COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_G, (ch) => COPY_ESCAPES[ch] as string) : s;
}
