/**
 * Incremental Server-Sent Events parser following the WHATWG "event stream interpretation":
 * LF, CR or CRLF line ends (a CRLF split across chunks included), multi-line `data:`, comments,
 * `id:` (ignored when it contains NUL), `retry:` (digits only), one optional space after the colon.
 *
 * It works on bytes, so that one event with invalid UTF-8 cannot spoil its neighbours: each event's
 * data is decoded on its own with a fatal decoder, and an event that is not UTF-8 comes out with
 * `problem.code = 'INVALID_UTF8'` and its raw bytes. Memory is bounded: at most `maxEventBytes` of an
 * event's data and one line of at most `maxEventBytes + 64` bytes are held; an event over the bound
 * is skipped to its end (only counted, and digested when a digest is given) and comes out with
 * `problem.code = 'EVENT_TOO_LARGE'`, its size, the digest and the kept prefix.
 * Pure: feed it chunks (bytes, or text for tests and local tools), it returns the complete events.
 */
export interface SseEvent {
  /** `event:` field, `message` when absent. */
  type: string;
  /** The data (lines joined by LF); for an event with a problem, a lossy decoding of what was kept. */
  data: string;
  /** The last event id seen so far on this connection (persists across events, per spec). */
  lastEventId: string;
  /** Whether this event itself carried an `id:` line. */
  hasId: boolean;
  /** Set when the event cannot be used as is: it must be dead-lettered with this code. */
  problem?: SseEventProblem;
}

export type SseEventProblem =
  /** `size`: bytes of the whole data; `sha256`: hex digest of the whole data (null without a digest); `prefix`: the first bytes kept. */
  | { code: 'EVENT_TOO_LARGE'; size: number; sha256: string | null; prefix: Uint8Array }
  /** `bytes`: the event's data as received. */
  | { code: 'INVALID_UTF8'; bytes: Uint8Array };

export interface SseParseResult {
  events: SseEvent[];
  /** A `retry:` value seen in this chunk (ms), if any. */
  retryMs?: number;
  comments: string[];
}

/** An incremental digest (e.g. `() => createHash('sha256')` adapted), injected: the parser does no I/O. */
export type SseDigestFactory = () => { update(bytes: Uint8Array): void; digest(): string };

export interface SseParserOptions {
  /** Most bytes of one event's data kept (default {@link DEFAULT_SSE_MAX_EVENT_BYTES}). */
  maxEventBytes?: number;
  /** Digest of an oversized event's whole data, reported as `problem.sha256`. */
  digest?: SseDigestFactory;
}

/**
 * Default bound of one event's data: 512 KiB. Real recentchange events are a few KiB; with Avro and
 * headers a change of this size still fits the broker's and producer's default 1 MiB message limit.
 */
export const DEFAULT_SSE_MAX_EVENT_BYTES = 512 * 1024;
/** Room for a field name and its colon on top of the data bound. */
const LINE_SLACK = 64;
const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;
const EMPTY = new Uint8Array(0);
const FIELD = { data: bytesOf('data'), id: bytesOf('id'), event: bytesOf('event'), retry: bytesOf('retry') };

function bytesOf(ascii: string): Uint8Array {
  return Uint8Array.from(ascii, (c) => c.charCodeAt(0));
}

/** A copy (`slice` would not do: on a Node Buffer it is a view of the same memory). */
const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (!a.length) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function join(parts: readonly Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  if (parts.length === 0) return EMPTY;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function fieldIs(line: Uint8Array, end: number, name: Uint8Array): boolean {
  if (end !== name.length) return false;
  for (let i = 0; i < end; i++) if (line[i] !== name[i]) return false;
  return true;
}

export class SseParser {
  private readonly maxEventBytes: number;
  private readonly digest: SseDigestFactory | undefined;
  private readonly strict = new TextDecoder('utf-8', { fatal: true });
  private readonly lossy = new TextDecoder('utf-8');
  private readonly encoder = new TextEncoder();
  /** The current incomplete line. */
  private pending: Uint8Array = EMPTY;
  private pendingCR = false;
  /** Inside a line over the bound: its data bytes go on being counted ('data') or are dropped ('skip'). */
  private longLine: 'data' | 'skip' | null = null;
  private parts: Uint8Array[] = [];
  /** parts[0, owned) are copies; later ones may still point into the chunk being parsed. */
  private owned = 0;
  private kept = 0;
  private size = 0;
  private over = false;
  private lineDropped = false;
  private hasher: ReturnType<SseDigestFactory> | null = null;
  private eventType = '';
  private lastEventId = '';
  private sawId = false;
  private sawData = false;

  constructor(initialLastEventId = '', opts: SseParserOptions = {}) {
    this.lastEventId = initialLastEventId;
    this.maxEventBytes = opts.maxEventBytes ?? DEFAULT_SSE_MAX_EVENT_BYTES;
    this.digest = opts.digest;
  }

  get currentLastEventId(): string {
    return this.lastEventId;
  }

  push(chunk: Uint8Array | string): SseParseResult {
    const out: SseParseResult = { events: [], comments: [] };
    let bytes = typeof chunk === 'string' ? this.encoder.encode(chunk) : chunk;
    if (this.pendingCR) {
      // The previous chunk ended in CR; an LF right here belongs to that line end.
      if (bytes[0] === LF) bytes = bytes.subarray(1);
      this.pendingCR = false;
    }
    let pos = 0;
    if (this.longLine) {
      const end = this.lineEnd(bytes, 0);
      this.continueLongLine(bytes.subarray(0, end === -1 ? bytes.length : end));
      if (end === -1) {
        this.ownParts();
        return out;
      }
      this.longLine = null;
      pos = this.afterLineEnd(bytes, end);
    }
    const buf = this.pending.length ? concat(this.pending, bytes.subarray(pos)) : bytes.subarray(pos);
    this.pending = EMPTY;
    const anyCR = buf.indexOf(CR) !== -1;
    let start = 0;
    for (;;) {
      const end = anyCR ? this.lineEnd(buf, start) : buf.indexOf(LF, start);
      if (end === -1) break;
      this.line(buf.subarray(start, end), out);
      start = this.afterLineEnd(buf, end);
    }
    const tail = buf.subarray(start);
    if (tail.length > this.maxEventBytes + LINE_SLACK) this.startLongLine(tail);
    else if (tail.length) this.pending = copy(tail);
    this.ownParts();
    return out;
  }

  /** The data of an event still open at the end of a push is copied: the chunk belongs to the caller. */
  private ownParts(): void {
    for (let i = this.owned; i < this.parts.length; i++) this.parts[i] = copy(this.parts[i] as Uint8Array);
    this.owned = this.parts.length;
  }

  /** Discards a partial event (call on reconnect: an unterminated event must not be dispatched). */
  reset(): void {
    this.pending = EMPTY;
    this.pendingCR = false;
    this.longLine = null;
    this.clearEvent();
  }

  private clearEvent(): void {
    this.parts = [];
    this.owned = 0;
    this.kept = 0;
    this.size = 0;
    this.over = false;
    this.lineDropped = false;
    this.hasher = null;
    this.eventType = '';
    this.sawData = false;
    this.sawId = false;
  }

  /** Index of the next CR or LF at or after `from`, or -1. */
  private lineEnd(buf: Uint8Array, from: number): number {
    for (let i = from; i < buf.length; i++) {
      const c = buf[i];
      if (c === LF || c === CR) return i;
    }
    return -1;
  }

  private afterLineEnd(buf: Uint8Array, end: number): number {
    if (buf[end] !== CR) return end + 1;
    if (end + 1 < buf.length) return buf[end + 1] === LF ? end + 2 : end + 1;
    this.pendingCR = true;
    return end + 1;
  }

  /** The unterminated line is over the bound: route what it holds and what follows, without keeping it. */
  private startLongLine(head: Uint8Array): void {
    const colon = head.indexOf(COLON);
    if (head[0] !== COLON && colon !== -1 && fieldIs(head, colon, FIELD.data)) {
      this.startDataLine();
      this.appendData(head.subarray(head[colon + 1] === SPACE ? colon + 2 : colon + 1));
      this.longLine = 'data';
      return;
    }
    // A comment is no part of an event; any other line this long (id, event, ...) spoils its event.
    if (head[0] !== COLON) this.lineDropped = true;
    this.longLine = 'skip';
  }

  private continueLongLine(bytes: Uint8Array): void {
    if (this.longLine === 'data') this.appendData(bytes);
  }

  private startDataLine(): void {
    if (this.sawData) this.appendData(Uint8Array.of(LF));
    this.sawData = true;
  }

  private appendData(bytes: Uint8Array): void {
    if (!bytes.length) return;
    this.size += bytes.length;
    if (!this.over) {
      if (this.kept + bytes.length <= this.maxEventBytes) {
        this.parts.push(bytes);
        this.kept += bytes.length;
        return;
      }
      // Over the bound from here on: digest what was kept, keep what still fits, then only count.
      this.over = true;
      this.hasher = this.digest ? this.digest() : null;
      for (const p of this.parts) this.hasher?.update(p);
      const room = this.maxEventBytes - this.kept;
      if (room > 0) {
        this.parts.push(bytes.subarray(0, room));
        this.kept += room;
      }
    }
    this.hasher?.update(bytes);
  }

  private line(line: Uint8Array, out: SseParseResult): void {
    if (line.length === 0) {
      this.dispatch(out);
      return;
    }
    if (line[0] === COLON) {
      out.comments.push(this.lossy.decode(line.subarray(1)).trimStart());
      return;
    }
    let colon = line.indexOf(COLON);
    if (colon === -1) colon = line.length;
    const valueAt = colon + 1 < line.length && line[colon + 1] === SPACE ? colon + 2 : colon + 1;
    const value = line.subarray(Math.min(valueAt, line.length));
    if (fieldIs(line, colon, FIELD.data)) {
      this.startDataLine();
      this.appendData(value);
    } else if (fieldIs(line, colon, FIELD.id)) {
      const id = this.lossy.decode(value);
      if (!id.includes('\u0000')) {
        this.lastEventId = id;
        this.sawId = true;
      }
    } else if (fieldIs(line, colon, FIELD.event)) {
      this.eventType = this.lossy.decode(value);
    } else if (fieldIs(line, colon, FIELD.retry)) {
      const v = this.lossy.decode(value);
      if (/^\d+$/.test(v)) out.retryMs = Number(v);
    } // unknown fields are ignored per spec
  }

  private dispatch(out: SseParseResult): void {
    if (this.sawData) {
      const type = this.eventType || 'message';
      const bytes = join(this.parts, this.kept);
      if (this.over || this.lineDropped) {
        let sha256: string | null = null;
        if (this.hasher) sha256 = this.hasher.digest();
        else if (this.digest) {
          const h = this.digest();
          h.update(bytes);
          sha256 = h.digest();
        }
        const prefix = copy(bytes);
        out.events.push({ type, data: this.lossy.decode(prefix), lastEventId: this.lastEventId, hasId: this.sawId, problem: { code: 'EVENT_TOO_LARGE', size: this.size, sha256, prefix } });
      } else {
        let data: string | null;
        try {
          data = this.strict.decode(bytes);
        } catch {
          data = null;
        }
        if (data !== null) out.events.push({ type, data, lastEventId: this.lastEventId, hasId: this.sawId });
        else out.events.push({ type, data: this.lossy.decode(bytes), lastEventId: this.lastEventId, hasId: this.sawId, problem: { code: 'INVALID_UTF8', bytes: copy(bytes) } });
      }
    }
    this.clearEvent();
  }
}

/** Formats one event in EventStreams' framing: `event:`, `id:`, `data:` lines, blank line. */
export function formatSseEvent(ev: { type?: string; id?: string; data: string }): string {
  let s = `event: ${ev.type ?? 'message'}\n`;
  if (ev.id !== undefined) s += `id: ${ev.id}\n`;
  for (const line of ev.data.split(/\r\n|\r|\n/)) s += `data: ${line}\n`;
  return `${s}\n`;
}
