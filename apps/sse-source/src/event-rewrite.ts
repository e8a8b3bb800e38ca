import { type IsoFormat, formatIsoAs, isoFormatOf, isoPrecisionMs, parseIsoMs, wholeMillisecondFormat } from './event-time';
import type { RecordedEvent } from './recording';
import { isRecord } from './types';

type Slot = 'metaId' | 'metaDt' | 'timestamp' | 'metaOffset';

/**
 * A recorded event's text cut at the values a replay rewrites (meta.id, meta.dt, timestamp), compiled
 * once per event so serving a rewritten event is a few string joins: no JSON parse, no span sorting.
 */
export interface EventTemplate {
  /** The text around the slots, in text order: `pieces.length === slots.length + 1`. */
  readonly pieces: readonly string[];
  readonly slots: readonly Slot[];
  /** How meta.dt is written; undefined when the event has none or it is no ISO-8601 date-time. */
  readonly dtFormat: IsoFormat | undefined;
  /** meta.dt in ms (NaN when absent or unreadable). */
  readonly dtMs: number;
  /** The precision meta.dt is written in when restamped (1 ms when the event has none). */
  readonly dtPrecisionMs: number;
  /** The recorded text of each slot. */
  readonly original: Readonly<Partial<Record<Slot, string>>>;
}

export function compileEventTemplate(ev: RecordedEvent): EventTemplate {
  const found: Array<[Slot, { start: number; end: number }]> = [];
  if (ev.spans.metaId) found.push(['metaId', ev.spans.metaId]);
  if (ev.dt !== undefined && ev.spans.metaDt) found.push(['metaDt', ev.spans.metaDt]);
  if (ev.timestampSec !== undefined && ev.spans.timestamp) found.push(['timestamp', ev.spans.timestamp]);
  if (ev.metaOffset !== undefined && ev.spans.metaOffset) found.push(['metaOffset', ev.spans.metaOffset]);
  found.sort((a, b) => a[1].start - b[1].start);
  const pieces: string[] = [];
  const original: Partial<Record<Slot, string>> = {};
  let at = 0;
  for (const [slot, span] of found) {
    if (span.start < at) throw new RangeError(`${ev.file}:${ev.position}: overlapping rewrite spans`);
    pieces.push(ev.text.slice(at, span.start));
    original[slot] = ev.text.slice(span.start, span.end);
    at = span.end;
  }
  pieces.push(ev.text.slice(at));
  const dtFormat = ev.dt === undefined ? undefined : isoFormatOf(ev.dt);
  return {
    pieces,
    slots: found.map(([slot]) => slot),
    dtFormat,
    dtPrecisionMs: dtFormat === undefined ? 1 : isoPrecisionMs(dtFormat),
    dtMs: ev.dt === undefined ? NaN : parseIsoMs(ev.dt),
    original,
  };
}

/** Joins the template with new (JSON-encoded) slot values; a slot without one keeps its recorded text. */
function renderTemplate(t: EventTemplate, values: Partial<Record<Slot, string>>): string {
  let out = t.pieces[0];
  for (let k = 0; k < t.slots.length; k++) {
    const slot = t.slots[k];
    out += (values[slot] ?? t.original[slot]) + t.pieces[k + 1];
  }
  return out;
}

/**
 * A recorded event as served again: a later pass of a looped replay gets a fresh meta.id and meta.dt /
 * timestamp moved forward by `shiftMs`; `metaOffset` replaces meta.offset (the upstream offset in the
 * serving datacenter) when the event has one. Only those values change in the text; everything else
 * keeps the recorded bytes (a change that is absent or a zero shift keeps that value's recorded text).
 */
export function rewriteLoopedEvent(
  ev: RecordedEvent,
  change: { metaId?: string; shiftMs: number; metaOffset?: number },
  template: EventTemplate = compileEventTemplate(ev),
): string {
  const { metaId, shiftMs, metaOffset } = change;
  if (metaId !== undefined && ev.spans.metaId === undefined) {
    return rewriteByParsing(ev.text, { metaId, metaOffset, dt: (dt) => shiftDt(dt, shiftMs), timestamp: (ts) => ts + shiftMs / 1000 });
  }
  const { dtFormat } = template;
  const shifted = shiftMs !== 0;
  return renderTemplate(template, {
    metaId: metaId === undefined ? undefined : JSON.stringify(metaId),
    metaDt: dtFormat === undefined || !shifted ? undefined : `"${formatIsoAs(template.dtMs + shiftMs, dtFormat)}"`,
    timestamp: ev.timestampSec === undefined || !shifted ? undefined : String(ev.timestampSec + shiftMs / 1000),
    metaOffset: offsetText(ev, metaOffset),
  });
}

function offsetText(ev: RecordedEvent, metaOffset: number | undefined): string | undefined {
  return metaOffset === undefined || ev.metaOffset === undefined || metaOffset === ev.metaOffset ? undefined : String(metaOffset);
}

function shiftDt(dt: string, shiftMs: number): string {
  const format = isoFormatOf(dt);
  return format === undefined ? dt : formatIsoAs(parseIsoMs(dt) + shiftMs, format);
}

/** meta.dt for an event sent at `ms`, written like the recorded one (or like toISOString when that was no date-time). */
function dtAt(format: IsoFormat | undefined, ms: number): string {
  return format === undefined ? new Date(ms).toISOString() : formatIsoAs(ms, wholeMillisecondFormat(format));
}

/** `timestamp` (seconds) for an event sent at `ms`: whole seconds when the recorded one was whole. */
function timestampAt(recorded: number, ms: number): number {
  return Number.isInteger(recorded) ? Math.floor(ms / 1000) : ms / 1000;
}

/**
 * `now` time mode: the event as sent at `sentAtMs` (wall clock): meta.dt (in its recorded form: `Z` or
 * `+00:00`, with or without fraction) and `timestamp` (seconds) become that instant, and meta.id becomes
 * `metaId` when given (later passes). Fields the event does not have are not added, except meta.id.
 * Everything else keeps the recorded bytes.
 */
export function restampEvent(
  ev: RecordedEvent,
  change: { sentAtMs: number; metaId?: string; metaOffset?: number },
  template: EventTemplate = compileEventTemplate(ev),
): string {
  const { sentAtMs, metaId, metaOffset } = change;
  if (metaId !== undefined && ev.spans.metaId === undefined) {
    return rewriteByParsing(ev.text, { metaId, metaOffset, dt: (dt) => dtAt(isoFormatOf(dt), sentAtMs), timestamp: (ts) => timestampAt(ts, sentAtMs) });
  }
  return renderTemplate(template, {
    metaId: metaId === undefined ? undefined : JSON.stringify(metaId),
    metaDt: `"${dtAt(template.dtFormat, sentAtMs)}"`,
    timestamp: ev.timestampSec === undefined ? undefined : String(timestampAt(ev.timestampSec, sentAtMs)),
    metaOffset: offsetText(ev, metaOffset),
  });
}

/** Fallback for events without a meta.id string: re-serialises the event. */
function rewriteByParsing(
  text: string,
  change: { metaId: string; metaOffset?: number; dt: (dt: string) => string; timestamp: (ts: number) => number },
): string {
  const ev = JSON.parse(text) as Record<string, unknown>;
  const meta = isRecord(ev.meta) ? { ...ev.meta } : {};
  meta.id = change.metaId;
  if (change.metaOffset !== undefined && typeof meta.offset === 'number') meta.offset = change.metaOffset;
  if (typeof meta.dt === 'string') meta.dt = change.dt(meta.dt);
  ev.meta = meta;
  if (typeof ev.timestamp === 'number') ev.timestamp = change.timestamp(ev.timestamp);
  return JSON.stringify(ev);
}

function rehost(url: unknown, domain: string): unknown {
  if (typeof url !== 'string') return url;
  try {
    const u = new URL(url);
    u.host = domain;
    return u.toString();
  } catch {
    return url;
  }
}

export interface InjectedEventChange {
  metaId: string;
  timeMs: number;
  /** Set when the template comes from another wiki: wiki, domain, server name and URLs are rewritten. */
  retarget?: { wiki: string; domain: string };
}

/** An extra event cloned from a real one: fresh meta.id, event time `timeMs`, optionally moved to another wiki. */
export function buildInjectedEvent(templateText: string, change: InjectedEventChange): string {
  const ev = JSON.parse(templateText) as Record<string, unknown>;
  const meta: Record<string, unknown> = isRecord(ev.meta) ? { ...ev.meta } : {};
  meta.id = change.metaId;
  meta.dt = new Date(change.timeMs).toISOString();
  if (change.retarget) {
    const { wiki, domain } = change.retarget;
    meta.domain = domain;
    meta.uri = rehost(meta.uri, domain);
    ev.wiki = wiki;
    ev.server_name = domain;
    ev.server_url = `https://${domain}`;
    if ('title_url' in ev) ev.title_url = rehost(ev.title_url, domain);
    if ('notify_url' in ev) ev.notify_url = rehost(ev.notify_url, domain);
  }
  ev.meta = meta;
  if (typeof ev.timestamp === 'number') ev.timestamp = Math.floor(change.timeMs / 1000);
  return JSON.stringify(ev);
}

/** EventStreams' synthetic health-check event: a real event's shape with `meta.domain == "canary"`. */
export function buildCanaryEvent(templateText: string, metaId: string): string {
  const ev = JSON.parse(templateText) as Record<string, unknown>;
  ev.meta = { ...(isRecord(ev.meta) ? ev.meta : {}), id: metaId, domain: 'canary' };
  return JSON.stringify(ev);
}
