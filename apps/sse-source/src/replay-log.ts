import { type EventTemplate, compileEventTemplate, restampEvent, rewriteLoopedEvent } from './event-rewrite';
import { loopedIdName } from './fresh-id';
import type { RecordedEvent } from './recording';
import type { SendClock } from './time-mode';

/** Gap between the last event of one pass and the first of the next, on top of the recording's own span. */
export const PASS_GAP_MS = 1000;

/** An event as served at a log offset. */
export interface ServedEvent {
  offset: number;
  pass: number;
  /** Index into the recorded events. */
  index: number;
  text: string;
  timeMs: number;
  topic: string;
  metaId: string | undefined;
  wiki: string | undefined;
}

export interface ReplayLogOptions {
  /** Topic for ids when an event has no meta.topic. */
  defaultTopic: string;
  /** Derives a UUID from a name (see fresh-id.ts). */
  deriveId: (name: string) => string;
}

/**
 * The ordered events a source serves. Offset = index in the recording for the first pass and keeps
 * counting in later passes, whose events get fresh meta.ids and times moved forward by whole passes,
 * so event time keeps growing from pass to pass.
 */
export class ReplayLog {
  readonly size: number;
  /** How far each pass moves event time (a whole number of seconds, so `timestamp` stays an integer). */
  readonly passSpanMs: number;
  private readonly times: number[];
  private readonly prefixMax: number[];
  private readonly maxTime: number;
  /** Compiled on first use (each event's text cut at the values a rewrite changes). */
  private readonly templates: Array<EventTemplate | undefined>;

  constructor(
    readonly events: readonly RecordedEvent[],
    private readonly opts: ReplayLogOptions,
  ) {
    if (events.length === 0) throw new RangeError('a replay log needs at least one event');
    this.size = events.length;
    this.templates = new Array<EventTemplate | undefined>(events.length);
    this.times = [];
    this.prefixMax = [];
    let prev = 0;
    let max = -Infinity;
    let min = Infinity;
    for (const ev of events) {
      const t = Number.isFinite(ev.timeMs) ? ev.timeMs : prev; // an event without a time inherits its predecessor's
      this.times.push(t);
      max = Math.max(max, t);
      min = Math.min(min, t);
      this.prefixMax.push(max);
      prev = t;
    }
    this.maxTime = max;
    this.passSpanMs = Math.ceil((max - min) / 1000) * 1000 + PASS_GAP_MS;
  }

  /** Offset after the last event served with `passes` passes (Infinity for endless looping). */
  endOffset(passes: number): number {
    return passes === Infinity ? Infinity : this.size * passes;
  }

  timeAt(offset: number): number {
    const pass = Math.floor(offset / this.size);
    return this.times[offset - pass * this.size] + pass * this.passSpanMs;
  }

  topicAt(offset: number): string {
    return this.events[offset % this.size].topic ?? this.opts.defaultTopic;
  }

  /**
   * The event at `offset`. Without a clock (time mode `original`) it carries its recorded time, moved
   * forward by whole passes after the first (whose text is the recorded one, byte for byte). With the
   * connection's send clock (time mode `now`) its meta.dt, `timestamp` and time are the send time the
   * clock gives, in every pass. Passes after the first get fresh meta.ids in both modes.
   */
  eventAt(offset: number, sendClock?: SendClock): ServedEvent {
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`bad offset ${offset}`);
    const pass = Math.floor(offset / this.size);
    const index = offset - pass * this.size;
    const ev = this.events[index];
    const topic = ev.topic ?? this.opts.defaultTopic;
    const freshId = pass === 0 ? undefined : this.opts.deriveId(loopedIdName(ev.metaId ?? `${ev.file}:${ev.position}`, pass));
    const metaId = freshId ?? ev.metaId;
    if (sendClock !== undefined) {
      const template = this.templateAt(index);
      const sentAtMs = sendClock(template.dtPrecisionMs);
      const text = restampEvent(ev, { sentAtMs, metaId: freshId }, template);
      return { offset, pass, index, text, timeMs: sentAtMs, topic, metaId, wiki: ev.wiki };
    }
    const timeMs = this.times[index] + pass * this.passSpanMs;
    if (freshId === undefined) return { offset, pass, index, text: ev.text, timeMs, topic, metaId, wiki: ev.wiki };
    const text = rewriteLoopedEvent(ev, { metaId: freshId, shiftMs: pass * this.passSpanMs }, this.templateAt(index));
    return { offset, pass, index, text, timeMs, topic, metaId, wiki: ev.wiki };
  }

  private templateAt(index: number): EventTemplate {
    let t = this.templates[index];
    if (t === undefined) {
      t = compileEventTemplate(this.events[index]);
      this.templates[index] = t;
    }
    return t;
  }

  /**
   * First offset whose event time is >= `ms` (EventStreams' timestamp semantics), or the end offset.
   * Recorded files need not be in time order, so this is the first such event in log order.
   */
  firstOffsetAtOrAfter(ms: number, passes: number): number {
    const end = this.endOffset(passes);
    const pass = Math.max(0, Math.ceil((ms - this.maxTime) / this.passSpanMs));
    if (pass >= passes) return end;
    const target = ms - pass * this.passSpanMs;
    let lo = 0;
    let hi = this.size - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.prefixMax[mid] >= target) hi = mid;
      else lo = mid + 1;
    }
    return Math.min(end, pass * this.size + lo);
  }

  /** Log indexes of each wiki's events (templates for injected bursts). */
  indexByWiki(): Map<string, number[]> {
    const map = new Map<string, number[]>();
    this.events.forEach((ev, i) => {
      if (ev.wiki === undefined) return;
      const list = map.get(ev.wiki) ?? [];
      list.push(i);
      map.set(ev.wiki, list);
    });
    return map;
  }
}
