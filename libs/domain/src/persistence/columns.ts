import type { BlueskyEvent, WikiAggregate, WikiAlert, WikiChange } from '@wikimonitor/contracts';
import type { RecordPosition } from './dedup';

/** A value as written to PostgreSQL: text, number, boolean, or SQL NULL. Timestamps are ISO-8601 text. */
export type SqlValue = string | number | boolean | null;

/** Column types as PostgreSQL names them (information_schema.columns.udt_name). */
export type SqlType = 'text' | 'timestamptz' | 'int4' | 'int8' | 'bool' | 'float8' | 'jsonb';

/** Where a column's value comes from. */
export type ColumnSource =
  /** A field of the record, as a dot path (`user`, `source.topic`, `by_type.edit`). */
  | { readonly field: string }
  /** Where the record was read from (the first copy's Kafka position). */
  | { readonly position: keyof RecordPosition }
  /** Filled in by PostgreSQL (a column default); never written by the persister. */
  | { readonly databaseDefault: string };

export interface Column<R> {
  readonly name: string;
  readonly type: SqlType;
  readonly nullable: boolean;
  readonly source: ColumnSource;
  /** The value written for a record read at `at` (undefined for database defaults). */
  readonly write?: (record: R, at: RecordPosition) => SqlValue;
  /** A stored value as `pg` returns it, back as the record's field (timestamps as epoch ms). */
  readonly read: (stored: unknown) => unknown;
}

export interface Table<R> {
  readonly name: string;
  readonly columns: readonly Column<R>[];
}

// PostgreSQL text cannot hold U+0000; upstream strings are user-controlled (titles, comments).
// eslint-disable-next-line no-control-regex
const NUL = /\u0000/g;

/** A string as PostgreSQL text accepts it (NUL characters removed). */
export function pgText(s: string): string {
  return s.includes('\u0000') ? s.replace(NUL, '') : s;
}

/** JavaScript's Date range (±8.64e15 ms, years -271821 to 275760): inside PostgreSQL's timestamptz range. */
const MAX_DATE_MS = 8.64e15;

/** Epoch ms as ISO-8601 text; throws a RangeError naming the value when it is no representable instant. */
function isoTime(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > MAX_DATE_MS) throw new RangeError(`timestamp ${String(v)} is out of range`);
  return new Date(v).toISOString();
}

/** How a record field's value is written, by column type. */
const WRITE: Record<SqlType, (v: unknown) => SqlValue> = {
  text: (v) => (v === null || v === undefined ? null : pgText(String(v))),
  timestamptz: (v) => (v === null || v === undefined ? null : isoTime(v)),
  int4: (v) => (v ?? null) as SqlValue,
  int8: (v) => (v ?? null) as SqlValue,
  bool: (v) => (v ?? null) as SqlValue,
  // NaN and infinities are valid doubles in Avro and in float8, but not in JSON answers: keep them as NULL.
  float8: (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null),
  jsonb: (v) => (v === null || v === undefined ? null : JSON.stringify(v)),
};

/** How a stored value (as `pg` returns it) is read back, by column type: int8 arrives as a string. */
const READ: Record<SqlType, (v: unknown) => unknown> = {
  text: (v) => v ?? null,
  timestamptz: (v) => (v === null || v === undefined ? null : v instanceof Date ? v.getTime() : Date.parse(String(v))),
  int4: (v) => (v === null || v === undefined ? null : Number(v)),
  int8: (v) => (v === null || v === undefined ? null : Number(v)),
  bool: (v) => v ?? null,
  float8: (v) => (v === null || v === undefined ? null : Number(v)),
  jsonb: (v) => v ?? null,
};

function getter(path: string): (r: unknown) => unknown {
  const parts = path.split('.');
  if (parts.length === 1) return (r) => (r as Record<string, unknown>)[path];
  return (r) => parts.reduce<unknown>((o, p) => (o === null || o === undefined ? undefined : (o as Record<string, unknown>)[p]), r);
}

type TypeSpec = SqlType | `${SqlType}?`;

interface ColumnOptions<R> {
  /** Record field (dot path); default: the column name. */
  field?: string;
  write?: (record: R, at: RecordPosition) => SqlValue;
  read?: (stored: unknown) => unknown;
}

function parseType(t: TypeSpec): { type: SqlType; nullable: boolean } {
  return t.endsWith('?') ? { type: t.slice(0, -1) as SqlType, nullable: true } : { type: t as SqlType, nullable: false };
}

/** A column holding a record field (`type?` = nullable). */
function field<R>(name: string, t: TypeSpec, opts: ColumnOptions<R> = {}): Column<R> {
  const { type, nullable } = parseType(t);
  const get = getter(opts.field ?? name);
  const convert = WRITE[type];
  return { name, type, nullable, source: { field: opts.field ?? name }, write: opts.write ?? ((r) => convert(get(r))), read: opts.read ?? READ[type] };
}

function position<R>(name: string, type: SqlType, key: keyof RecordPosition): Column<R> {
  return { name, type, nullable: false, source: { position: key }, write: (_r, at) => at[key], read: READ[type] };
}

function databaseDefault<R>(name: string, type: SqlType, expression: string): Column<R> {
  return { name, type, nullable: false, source: { databaseDefault: expression }, read: READ[type] };
}

const KAFKA_POSITION = <R>(): Column<R>[] => [position('kafka_topic', 'text', 'topic'), position('kafka_partition', 'int4', 'partition'), position('kafka_offset', 'int8', 'offset')];

/** `wiki_changes`: one row per change (meta.id), with the Kafka position of the first copy read. */
export const WIKI_CHANGES: Table<WikiChange> = {
  name: 'wiki_changes',
  columns: [
    field('id', 'text'),
    field('event_time', 'timestamptz'),
    field('received_time', 'timestamptz'),
    field('wiki', 'text'),
    field('domain', 'text'),
    field('stream', 'text?'),
    field('type', 'text'),
    field('namespace', 'int4'),
    field('title', 'text'),
    field('title_url', 'text?'),
    field('user_name', 'text', { field: 'user' }),
    field('bot', 'bool'),
    field('minor', 'bool?'),
    field('patrolled', 'bool?'),
    field('length_old', 'int8?'),
    field('length_new', 'int8?'),
    field('revision_old', 'int8?'),
    field('revision_new', 'int8?'),
    field('comment', 'text'),
    field('rc_id', 'int8?'),
    field('server_name', 'text?'),
    field('request_id', 'text?'),
    field('schema_uri', 'text?'),
    field('log_id', 'int8?'),
    field('log_type', 'text?'),
    field('log_action', 'text?'),
    field('log_action_comment', 'text?'),
    field('log_params', 'text?'),
    field('source_topic', 'text?', { field: 'source.topic' }),
    field('source_partition', 'int4?', { field: 'source.partition' }),
    field('source_offset', 'int8?', { field: 'source.offset' }),
    field('sse_id', 'text?', { field: 'source.sse_id' }),
    ...KAFKA_POSITION<WikiChange>(),
    databaseDefault('persisted_at', 'timestamptz', 'now()'),
  ],
};

type TopPage = { title: string; count: number };

/** `wiki_aggregates`: one row per wiki and window (the newest emit wins). */
export const WIKI_AGGREGATES: Table<WikiAggregate> = {
  name: 'wiki_aggregates',
  columns: [
    field('wiki', 'text'),
    field('window_start', 'timestamptz'),
    field('window_end', 'timestamptz'),
    field('total', 'int8'),
    field('count_edit', 'int8', { field: 'by_type.edit' }),
    field('count_new', 'int8', { field: 'by_type.new' }),
    field('count_log', 'int8', { field: 'by_type.log' }),
    field('count_categorize', 'int8', { field: 'by_type.categorize' }),
    field('count_external', 'int8', { field: 'by_type.external' }),
    field('count_unknown', 'int8', { field: 'by_type.unknown' }),
    field('bot', 'int8'),
    field('human', 'int8'),
    field('bytes_added', 'int8'),
    field('bytes_removed', 'int8'),
    field('distinct_editors', 'int4'),
    // [{title, count}], most changed first; written as JSON text and cast to jsonb on insert.
    field('top_pages', 'jsonb', {
      write: (a) => JSON.stringify(a.top_pages.map((p) => ({ title: pgText(p.title), count: p.count }))),
      read: (v) => ((v as TopPage[] | null) ?? []).map((p) => ({ title: p.title, count: Number(p.count) })),
    }),
    field('first_event_time', 'timestamptz'),
    field('last_event_time', 'timestamptz'),
    ...KAFKA_POSITION<WikiAggregate>(),
    databaseDefault('persisted_at', 'timestamptz', 'now()'),
  ],
};

/** `wiki_alerts`: one row per deterministic alert id. */
export const WIKI_ALERTS: Table<WikiAlert> = {
  name: 'wiki_alerts',
  columns: [
    field('id', 'text'),
    field('kind', 'text'),
    field('source', 'text'),
    field('subject', 'text'),
    field('severity', 'text'),
    field('observed', 'float8?'),
    field('expected', 'float8?'),
    field('score', 'float8?'),
    field('window_start', 'timestamptz?'),
    field('window_end', 'timestamptz?'),
    field('status', 'text?'),
    field('previous_status', 'text?'),
    field('message', 'text'),
    field('created_at', 'timestamptz'),
    ...KAFKA_POSITION<WikiAlert>(),
    databaseDefault('persisted_at', 'timestamptz', 'now()'),
  ],
};

/** `bsky_events`: one row per Bluesky event id (migration 003), with the Kafka position of the first copy read. */
export const BSKY_EVENTS: Table<BlueskyEvent> = {
  name: 'bsky_events',
  columns: [
    field('id', 'text'),
    field('did', 'text'),
    field('time_us', 'int8'),
    field('event_time', 'timestamptz'),
    field('received_time', 'timestamptz'),
    field('kind', 'text'),
    field('early_format', 'bool'),
    field('collection', 'text?', { field: 'commit.collection' }),
    field('operation', 'text?', { field: 'commit.operation' }),
    field('rkey', 'text?', { field: 'commit.rkey' }),
    field('rev', 'text?', { field: 'commit.rev' }),
    field('cid', 'text?', { field: 'commit.cid' }),
    field('record_json', 'text?', { field: 'commit.record_json' }),
    field('post_text', 'text?', { field: 'commit.post.text' }),
    field('post_langs', 'jsonb?', { field: 'commit.post.langs', write: (e) => (e.commit?.post ? JSON.stringify(e.commit.post.langs.map(pgText)) : null) }),
    field('post_created_at', 'text?', { field: 'commit.post.created_at' }),
    field('reply_root_uri', 'text?', { field: 'commit.post.reply_root_uri' }),
    field('reply_parent_uri', 'text?', { field: 'commit.post.reply_parent_uri' }),
    field('quote_uri', 'text?', { field: 'commit.post.quote_uri' }),
    field('handle', 'text?', { field: 'identity.handle' }),
    field('account_active', 'bool?', { field: 'account.active' }),
    field('account_status', 'text?', { field: 'account.status' }),
    field('seq', 'int8?', { write: (e) => e.identity?.seq ?? e.account?.seq ?? null, read: READ.int8 }),
    ...KAFKA_POSITION<BlueskyEvent>(),
    databaseDefault('persisted_at', 'timestamptz', 'now()'),
  ],
};

/** The columns the persister writes, in row order (database defaults left out). */
export function writtenColumns<R>(table: Table<R>): Array<Column<R> & { write: (record: R, at: RecordPosition) => SqlValue }> {
  return table.columns.filter((c): c is Column<R> & { write: (record: R, at: RecordPosition) => SqlValue } => c.write !== undefined);
}

/** A record as one row of `table` (writtenColumns order), with where it was read from. */
export function rowOf<R>(table: Table<R>, record: R, at: RecordPosition): SqlValue[] {
  const cols = writtenColumns(table);
  const row = new Array<SqlValue>(cols.length);
  for (let i = 0; i < cols.length; i++) row[i] = (cols[i] as (typeof cols)[number]).write(record, at);
  return row;
}

export interface FromRowOptions {
  /** Timestamps as epoch ms (the record's form, default) or ISO-8601 text (the HTTP API's). */
  times?: 'ms' | 'iso';
  /** Also the database-filled columns (e.g. persisted_at), under their column names. */
  withDefaults?: boolean;
}

/** A stored row (as `pg` returns it) back as the record it was written from: field names, nesting and types. */
export function recordFromRow<R>(table: Table<R>, row: Record<string, unknown>, opts: FromRowOptions = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of table.columns) {
    let key: string;
    if ('field' in c.source) key = c.source.field;
    else if ('databaseDefault' in c.source && opts.withDefaults) key = c.name;
    else continue;
    let value = c.read(row[c.name]);
    if (opts.times === 'iso' && c.type === 'timestamptz' && typeof value === 'number') value = new Date(value).toISOString();
    const parts = key.split('.');
    let target = out;
    for (const p of parts.slice(0, -1)) target = (target[p] ??= {}) as Record<string, unknown>;
    target[parts[parts.length - 1] as string] = value;
  }
  return out;
}
