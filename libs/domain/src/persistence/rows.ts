import type { BlueskyEvent, WikiAggregate, WikiAlert, WikiChange } from '@wikimonitor/contracts';
import { BSKY_EVENTS, type SqlValue, type Table, WIKI_AGGREGATES, WIKI_ALERTS, WIKI_CHANGES, rowOf, writtenColumns } from './columns';
import type { RecordPosition } from './dedup';

// The column lists are declared once, in ./columns.ts; these are the forms the store's SQL uses.
const names = <R>(t: Table<R>): readonly string[] => writtenColumns(t).map((c) => c.name);
const types = <R>(t: Table<R>): Readonly<Record<string, string>> => Object.fromEntries(writtenColumns(t).map((c) => [c.name, c.type]));

/** Columns of `wiki_changes` written by the persister, in row order (persisted_at has a default). */
export const CHANGE_COLUMNS = names(WIKI_CHANGES);
/** PostgreSQL types of CHANGE_COLUMNS, for `unnest($1::text[], ...)`. */
export const CHANGE_COLUMN_TYPES = types(WIKI_CHANGES);
/** Columns of `wiki_alerts`, in row order. */
export const ALERT_COLUMNS = names(WIKI_ALERTS);
export const ALERT_COLUMN_TYPES = types(WIKI_ALERTS);
/** Columns of `wiki_aggregates`, in row order (top_pages is JSON text, cast to jsonb on insert). */
export const AGGREGATE_COLUMNS = names(WIKI_AGGREGATES);
export const AGGREGATE_COLUMN_TYPES = types(WIKI_AGGREGATES);

/** Columns of `bsky_events`, in row order. */
export const BSKY_COLUMNS = names(BSKY_EVENTS);
export const BSKY_COLUMN_TYPES = types(BSKY_EVENTS);

/** A BlueskyEvent as a `bsky_events` row (BSKY_COLUMNS order). */
export function bskyRow(e: BlueskyEvent, at: RecordPosition): SqlValue[] {
  return rowOf(BSKY_EVENTS, e, at);
}

/** A WikiChange as a `wiki_changes` row (CHANGE_COLUMNS order), with where it was read from. */
export function changeRow(c: WikiChange, at: RecordPosition): SqlValue[] {
  return rowOf(WIKI_CHANGES, c, at);
}

/** A WikiAlert as a `wiki_alerts` row (ALERT_COLUMNS order). */
export function alertRow(a: WikiAlert, at: RecordPosition): SqlValue[] {
  return rowOf(WIKI_ALERTS, a, at);
}

/** A WikiAggregate as a `wiki_aggregates` row (AGGREGATE_COLUMNS order). */
export function aggregateRow(a: WikiAggregate, at: RecordPosition): SqlValue[] {
  return rowOf(WIKI_AGGREGATES, a, at);
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
