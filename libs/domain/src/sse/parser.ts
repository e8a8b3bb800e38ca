/**
 * Incremental Server-Sent Events parser following the WHATWG "event stream interpretation":
 * LF, CR or CRLF line ends (a CRLF split across chunks included), multi-line `data:`, comments,
 * `id:` (ignored when it contains NUL), `retry:` (digits only), one optional space after the colon.
 * Pure: feed it decoded text chunks of any size, it returns the complete events.
 */
export interface SseEvent {
  /** `event:` field, `message` when absent. */
  type: string;
  data: string;
  /** The last event id seen so far on this connection (persists across events, per spec). */
  lastEventId: string;
  /** Whether this event itself carried an `id:` line. */
  hasId: boolean;
}

export interface SseParseResult {
  events: SseEvent[];
  /** A `retry:` value seen in this chunk (ms), if any. */
  retryMs?: number;
  comments: string[];
}

export class SseParser {
  private buffer = '';
  private pendingCR = false;
  private data: string[] = [];
  private eventType = '';
  private lastEventId = '';
  private sawId = false;
  private sawData = false;

  constructor(initialLastEventId = '') {
    this.lastEventId = initialLastEventId;
  }

  get currentLastEventId(): string {
    return this.lastEventId;
  }

  push(chunk: string): SseParseResult {
    const out: SseParseResult = { events: [], comments: [] };
    let text = chunk;
    if (this.pendingCR) {
      // The previous chunk ended in CR; an LF right here belongs to that line end.
      if (text.startsWith('\n')) text = text.slice(1);
      this.pendingCR = false;
    }
    this.buffer += text;
    let start = 0;
    if (!this.buffer.includes('\r')) {
      // Fast path for LF-only streams (EventStreams): jump from line end to line end.
      for (let nl = this.buffer.indexOf('\n'); nl !== -1; nl = this.buffer.indexOf('\n', start)) {
        this.line(this.buffer.slice(start, nl), out);
        start = nl + 1;
      }
      this.buffer = this.buffer.slice(start);
      return out;
    }
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buffer.slice(start, i);
      if (c === 13) {
        if (i + 1 < this.buffer.length) {
          if (this.buffer.charCodeAt(i + 1) === 10) i++;
        } else {
          this.pendingCR = true;
        }
      }
      start = i + 1;
      this.line(line, out);
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** Discards a partial event (call on reconnect: an unterminated event must not be dispatched). */
  reset(): void {
    this.buffer = '';
    this.pendingCR = false;
    this.data = [];
    this.eventType = '';
    this.sawData = false;
    this.sawId = false;
  }

  private line(line: string, out: SseParseResult): void {
    if (line === '') {
      this.dispatch(out);
      return;
    }
    if (line.startsWith(':')) {
      out.comments.push(line.slice(1).trimStart());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        this.sawData = true;
        break;
      case 'id':
        if (!value.includes('\u0000')) {
          this.lastEventId = value;
          this.sawId = true;
        }
        break;
      case 'retry':
        if (/^\d+$/.test(value)) out.retryMs = Number(value);
        break;
      default:
        break; // unknown fields are ignored per spec
    }
  }

  private dispatch(out: SseParseResult): void {
    if (this.sawData) {
      out.events.push({ type: this.eventType || 'message', data: this.data.join('\n'), lastEventId: this.lastEventId, hasId: this.sawId });
    }
    this.data = [];
    this.eventType = '';
    this.sawData = false;
    this.sawId = false;
  }
}

/** Formats one event in EventStreams' framing: `event:`, `id:`, `data:` lines, blank line. */
export function formatSseEvent(ev: { type?: string; id?: string; data: string }): string {
  let s = `event: ${ev.type ?? 'message'}\n`;
  if (ev.id !== undefined) s += `id: ${ev.id}\n`;
  for (const line of ev.data.split(/\r\n|\r|\n/)) s += `data: ${line}\n`;
  return `${s}\n`;
}
