import { SseParser } from '@wikimonitor/domain';
import { parseIsoMs } from './event-time';
import { type Span, locateJsonValues } from './json-spans';
import { isRecord } from './types';

export type RecordingFormat = 'jsonl' | 'sse';

/** Where the fields a replay rewrites sit in the original text. */
export interface EventSpans {
  metaId?: Span;
  metaDt?: Span;
  timestamp?: Span;
  metaOffset?: Span;
}

/** One recorded event: its original JSON text, byte for byte, plus what serving it needs. */
export interface RecordedEvent {
  file: string;
  /** Line number (.jsonl) or event number (.sse), 1-based. */
  position: number;
  text: string;
  metaId?: string;
  topic?: string;
  /** meta.partition (the upstream Kafka partition). */
  partition?: number;
  /** meta.offset as recorded (the upstream Kafka offset in the recorder's datacenter). */
  metaOffset?: number;
  wiki?: string;
  /** meta.dt as written. */
  dt?: string;
  /** Top-level `timestamp` (seconds). */
  timestampSec?: number;
  /** Event time in ms: meta.dt, else timestamp; NaN when the event has neither. */
  timeMs: number;
  spans: EventSpans;
}

export interface SkippedRecord {
  position: number;
  reason: string;
}

export interface ParsedRecording {
  file: string;
  format: RecordingFormat;
  events: RecordedEvent[];
  skipped: SkippedRecord[];
}

const FORMATS: ReadonlyArray<[string, RecordingFormat]> = [
  ['.jsonl', 'jsonl'],
  ['.ndjson', 'jsonl'],
  ['.sse', 'sse'],
];

export function recordingFormatOf(fileName: string): RecordingFormat | undefined {
  const lower = fileName.toLowerCase();
  return FORMATS.find(([ext]) => lower.endsWith(ext))?.[1];
}

const SPAN_PATHS = ['meta.id', 'meta.dt', 'timestamp', 'meta.offset'] as const;

/** Validates one event's JSON text and extracts its id, time and rewrite positions; a string explains a rejection. */
export function toRecordedEvent(file: string, position: number, text: string): RecordedEvent | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `not JSON (${err instanceof Error ? err.message : String(err)})`;
  }
  if (!isRecord(value)) return 'not a JSON object';
  const meta = isRecord(value.meta) ? value.meta : undefined;
  const metaId = typeof meta?.id === 'string' ? meta.id : undefined;
  const dt = typeof meta?.dt === 'string' ? meta.dt : undefined;
  const timestampSec = typeof value.timestamp === 'number' && Number.isFinite(value.timestamp) ? value.timestamp : undefined;
  const dtMs = dt === undefined ? NaN : parseIsoMs(dt);
  const timeMs = Number.isFinite(dtMs) ? dtMs : timestampSec !== undefined ? Math.round(timestampSec * 1000) : NaN;
  const located = locateJsonValues(text, SPAN_PATHS);
  const spans: EventSpans = {};
  if (metaId !== undefined) spans.metaId = located.get('meta.id');
  if (dt !== undefined) spans.metaDt = located.get('meta.dt');
  if (timestampSec !== undefined) spans.timestamp = located.get('timestamp');
  const metaOffset = typeof meta?.offset === 'number' && Number.isSafeInteger(meta.offset) ? meta.offset : undefined;
  if (metaOffset !== undefined) spans.metaOffset = located.get('meta.offset');
  const event: RecordedEvent = { file, position, text, timeMs, spans };
  if (metaId !== undefined) event.metaId = metaId;
  if (typeof meta?.topic === 'string') event.topic = meta.topic;
  if (typeof meta?.partition === 'number' && Number.isInteger(meta.partition) && meta.partition >= 0) event.partition = meta.partition;
  if (metaOffset !== undefined) event.metaOffset = metaOffset;
  if (typeof value.wiki === 'string') event.wiki = value.wiki;
  if (dt !== undefined) event.dt = dt;
  if (timestampSec !== undefined) event.timestampSec = timestampSec;
  return event;
}

/**
 * Parses a recording: `.jsonl` holds one JSON event per line (blank lines ignored); `.sse` holds raw
 * SSE frames, of which the data payloads are kept. Records that are not JSON objects are skipped and reported.
 */
export function parseRecording(file: string, text: string, format: RecordingFormat | undefined = recordingFormatOf(file)): ParsedRecording {
  if (format === undefined) throw new TypeError(`${file}: unknown recording format (expected .jsonl, .ndjson or .sse)`);
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const out: ParsedRecording = { file, format, events: [], skipped: [] };
  const add = (position: number, payload: string) => {
    const ev = toRecordedEvent(file, position, payload);
    if (typeof ev === 'string') out.skipped.push({ position, reason: ev });
    else out.events.push(ev);
  };
  if (format === 'jsonl') {
    const lines = body.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
      if (line.trim() !== '') add(i + 1, line);
    }
  } else {
    const parser = new SseParser();
    // A recording may end without the blank line that dispatches its last event.
    const events = [...parser.push(body).events, ...parser.push('\n\n').events];
    events.forEach((ev, i) => add(i + 1, ev.data));
  }
  return out;
}
