import { type EventTemplate, compileEventTemplate, restampEvent, rewriteLoopedEvent } from './event-rewrite';
import { loopedIdName } from './fresh-id';
import type { RecordedEvent } from './recording';
import type { SendClock } from './time-mode';
import { DATACENTER_TOPICS, type PartitionKey } from './upstream';

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
  /** Index of the upstream topic-partition in `ReplayLog.partitions`. */
  partition: number;
  /**
   * The upstream Kafka timestamp: meta.dt in ms as written (the recorded, pass-shifted time; in time
   * mode `now` the send time truncated to meta.dt's precision); the event time when it has no meta.dt.
   */
  upstreamMs: number;
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
  /** The upstream topic-partitions: both datacenter topics (partition 0) first, then any other of the recordings. */
  readonly partitions: readonly PartitionKey[];
  private readonly partitionOf: Uint32Array;
  /** Per partition: its events' indexes in log order, the running maximum of their times, its meta.offset span. */
  private readonly byPartition: Array<{ indexes: number[]; prefixMax: number[]; offsetSpan: number }>;
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
    this.passSpanMs = Math.ceil((max - min) / 1000) * 1000 + PASS_GAP_MS;

    const keys = new Map<string, number>();
    const partitions: PartitionKey[] = [];
    const keyOf = (topic: string, partition: number) => {
      const k = `${topic}\u0000${partition}`;
      let i = keys.get(k);
      if (i === undefined) {
        i = partitions.length;
        keys.set(k, i);
        partitions.push({ topic, partition });
      }
      return i;
    };
    for (const topic of DATACENTER_TOPICS) keyOf(topic, 0);
    this.partitionOf = new Uint32Array(events.length);
    events.forEach((ev, i) => {
      this.partitionOf[i] = keyOf(ev.topic ?? opts.defaultTopic, ev.partition ?? 0);
    });
    this.partitions = partitions;
    this.byPartition = partitions.map(() => ({ indexes: [] as number[], prefixMax: [] as number[], offsetSpan: 0 }));
    const offsetRange = partitions.map(() => ({ min: Infinity, max: -Infinity }));
    this.partitionOf.forEach((p, i) => {
      const part = this.byPartition[p];
      const last = part.prefixMax.length === 0 ? -Infinity : part.prefixMax[part.prefixMax.length - 1];
      part.indexes.push(i);
      part.prefixMax.push(Math.max(last, this.times[i]));
      const o = events[i].metaOffset;
      if (o !== undefined) offsetRange[p] = { min: Math.min(offsetRange[p].min, o), max: Math.max(offsetRange[p].max, o) };
    });
    this.byPartition.forEach((part, p) => {
      const r = offsetRange[p];
      part.offsetSpan = r.max >= r.min ? r.max - r.min + 1 : 0;
    });
  }

  /** Index (in `partitions`) of the upstream topic-partition of the event at `offset`. */
  partitionAt(offset: number): number {
    return this.partitionOf[offset % this.size];
  }

  /** The precision (ms) meta.dt of the event at `offset` is written in (1 ms when it has none). */
  precisionAt(offset: number): number {
    return this.templateAt(offset % this.size).dtPrecisionMs;
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
  eventAt(offset: number, sendClock?: SendClock, datacenterOffsetShift = 0): ServedEvent {
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`bad offset ${offset}`);
    const pass = Math.floor(offset / this.size);
    const index = offset - pass * this.size;
    const ev = this.events[index];
    const topic = ev.topic ?? this.opts.defaultTopic;
    const partition = this.partitionOf[index];
    const freshId = pass === 0 ? undefined : this.opts.deriveId(loopedIdName(ev.metaId ?? `${ev.file}:${ev.position}`, pass));
    const metaId = freshId ?? ev.metaId;
    const shift = pass * this.byPartition[partition].offsetSpan + datacenterOffsetShift;
    const metaOffset = ev.metaOffset === undefined || shift === 0 ? undefined : ev.metaOffset + shift;
    const served = { offset, pass, index, topic, partition, metaId, wiki: ev.wiki };
    if (sendClock !== undefined) {
      const template = this.templateAt(index);
      const sentAtMs = sendClock(template.dtPrecisionMs, offset);
      const text = restampEvent(ev, { sentAtMs, metaId: freshId, metaOffset }, template);
      return { ...served, text, timeMs: sentAtMs, upstreamMs: sentAtMs - (sentAtMs % template.dtPrecisionMs) };
    }
    const timeMs = this.times[index] + pass * this.passSpanMs;
    if (freshId === undefined && metaOffset === undefined) return { ...served, text: ev.text, timeMs, upstreamMs: timeMs };
    const text = rewriteLoopedEvent(ev, { metaId: freshId, shiftMs: pass * this.passSpanMs, metaOffset }, this.templateAt(index));
    return { ...served, text, timeMs, upstreamMs: timeMs };
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
   * First offset whose event time is >= `ms` (Kafka's offsetsForTimes, EventStreams' timestamp
   * semantics), or the end offset; with `partition`, the first such event of that upstream partition.
   * Recordings need not be in time order, so this is the first such event in log order.
   */
  firstOffsetAtOrAfter(ms: number, passes: number, partition?: number): number {
    const end = this.endOffset(passes);
    const part = partition === undefined ? undefined : this.byPartition[partition];
    const prefixMax = part ? part.prefixMax : this.prefixMax;
    if (prefixMax.length === 0) return end;
    const maxTime = prefixMax[prefixMax.length - 1];
    const pass = Math.max(0, Math.ceil((ms - maxTime) / this.passSpanMs));
    if (pass >= passes) return end;
    const target = ms - pass * this.passSpanMs;
    let lo = 0;
    let hi = prefixMax.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (prefixMax[mid] >= target) hi = mid;
      else lo = mid + 1;
    }
    return Math.min(end, pass * this.size + (part ? part.indexes[lo] : lo));
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
