import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { formatSseEvent } from '@wikimonitor/domain';
import { sleep } from '@wikimonitor/service-kit';
import { type PartitionPosition, TimestampIdWriter, encodeEventId } from './event-id';
import { buildCanaryEvent, buildInjectedEvent } from './event-rewrite';
import { canaryDueAfter, faultDueAfter, malformedFrame, malformedKindFor } from './faults';
import { canaryIdName, injectedIdName } from './fresh-id';
import { injectedDueCount, nextInjectionDueMs, pickInjectionTemplate } from './inject';
import type { ReplayLog } from './replay-log';
import { type RateSchedule, eventsDueBy, timeForEvent } from './schedule';
import type { SentKind, SourceStats } from './stats';
import type { StreamOptions } from './stream-options';
import { type SendClock, createSendClock, effectiveTimeMode } from './time-mode';
import type { UpstreamTimes } from './upstream';

/** EventStreams opens every stream with this comment. */
export const STREAM_PREAMBLE = ':ok\n\n';
/** Sent on an idle stream every keep-alive interval. */
export const KEEPALIVE_COMMENT = ':\n\n';
/** Frames are joined into writes of about this size: one syscall per many events is what makes 50k+/s possible. */
const BATCH_BYTES = 128 * 1024;
const MAX_BATCH_EVENTS = 2000;
/** Events of partitions not served yet (resumed later) skipped per batch before yielding. */
const MAX_BATCH_SKIPS = 8192;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * formatSseEvent for a message, without its per-line split when the payload is one line (as every
 * recorded event is): the same bytes, at a fraction of the cost per event.
 */
function messageFrame(id: string, data: string): string {
  return data.includes('\n') || data.includes('\r') ? formatSseEvent({ id, data }) : `event: message\nid: ${id}\ndata: ${data}\n\n`;
}

export interface StreamDeps {
  log: ReplayLog;
  wikiIndex: ReadonlyMap<string, readonly number[]>;
  deriveId: (name: string) => string;
  stats: SourceStats;
}

export interface StreamRequest {
  res: ServerResponse;
  /** Aborted when the client goes away or the server closes. */
  signal: AbortSignal;
  options: StreamOptions;
  startOffset: number;
  /** Id mode `timestamp`: per upstream partition, its first offset to serve (see resume.ts). */
  partitionStarts?: readonly number[];
  /** Id mode `timestamp`: per partition, the position it resumed from (in ids until it serves an event). */
  resumedFrom?: ReadonlyArray<PartitionPosition | undefined>;
  /** Added to recorded meta.offset values: the serving datacenter's cluster (upstream.ts). */
  datacenterOffsetShift: number;
  /** Time mode `now` with timestamp ids: the server-wide upstream times (upstream.ts). */
  upstream?: UpstreamTimes;
  connectionId: number;
}

export interface StreamOutcome {
  /** closed: by the client or the server's shutdown; dropped: fault; ended: after the last event; cut: lifetime. */
  end: 'closed' | 'dropped' | 'ended' | 'cut';
  /** The next log offset this connection would have served. */
  nextOffset: number;
  sent: Record<SentKind, number>;
}

const zeroCounts = (): Record<SentKind, number> => ({ real: 0, canary: 0, injected: 0, malformed: 0 });

function waitForDrainOrClose(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Collects frames and writes them in batches, honouring socket backpressure. */
class FrameWriter {
  private parts: string[] = [];
  private size = 0;
  private counts = zeroCounts();
  readonly total = zeroCounts();
  lastWriteAt = performance.now();

  constructor(
    private readonly res: ServerResponse,
    private readonly signal: AbortSignal,
    private readonly stats: SourceStats,
  ) {}

  get open(): boolean {
    return !this.signal.aborted && !this.res.destroyed && !this.res.writableEnded;
  }

  get pendingBytes(): number {
    return this.size;
  }

  push(frame: string, kind?: SentKind): void {
    this.parts.push(frame);
    this.size += frame.length;
    if (kind) this.counts[kind]++;
  }

  /**
   * Writes the pending frames. When the socket buffer is full (write() returned false) waits for 'drain';
   * with `settle`, waits until the bytes were handed to the socket (before a stall or a drop).
   */
  async flush(settle = false): Promise<void> {
    if (this.parts.length === 0) return;
    const chunk = this.parts.length === 1 ? this.parts[0] : this.parts.join('');
    const counts = this.counts;
    this.parts = [];
    this.size = 0;
    this.counts = zeroCounts();
    if (!this.open) return;
    for (const k of Object.keys(counts) as SentKind[]) this.total[k] += counts[k];
    this.stats.addSent(counts, Buffer.byteLength(chunk));
    this.lastWriteAt = performance.now();
    if (settle) {
      const written = new Promise<void>((resolve) => this.res.write(chunk, () => resolve()));
      await Promise.race([written, waitForDrainOrClose(this.res, this.signal)]);
    } else if (!this.res.write(chunk)) {
      await waitForDrainOrClose(this.res, this.signal);
    }
  }
}

/**
 * Serves the log from `startOffset` on an open SSE response (headers and preamble already sent):
 * real events at the configured rate and bursts, with canaries, injected wiki spikes and faults
 * mixed in. Extra events (canary, injected, malformed) carry the id of the real event before them,
 * so resuming from them neither repeats nor skips a real event. In time mode `now` real, canary and
 * injected events (and the ids' `timestamp`) carry the wall-clock time at which they are queued (real
 * events with timestamp ids: the time the upstream log gave their offset when first served). After
 * `lifetimeMs` the response ends (a clean end, the client reconnects).
 */
export async function streamEvents(deps: StreamDeps, req: StreamRequest): Promise<StreamOutcome> {
  const { log, stats } = deps;
  const { res, signal, options } = req;
  const out = new FrameWriter(res, signal, stats);
  const endOffset = log.endOffset(options.passes);
  const schedule: RateSchedule = { rate: options.rate, burst: options.burst };
  const openedAt = performance.now();
  // The rate clock; a stall moves it forward so the rate resumes afterwards instead of catching up.
  let clockStart = openedAt;
  let offset = req.startOffset;
  let realSent = 0;
  let malformedSeq = 0;
  // Time mode `now`: every event is dated when it is queued for the socket, never earlier than the one before
  // (extras always so; real events with timestamp ids by the server-wide upstream log, which keeps the times).
  const sendClock = effectiveTimeMode(options) === 'now' ? createSendClock() : undefined;
  const eventClock: SendClock | undefined = sendClock && (req.upstream?.timeFor ?? sendClock);
  const starts = options.idMode === 'timestamp' ? req.partitionStarts : undefined;
  const ids = options.idMode === 'timestamp' ? new TimestampIdWriter(log.partitions, req.resumedFrom) : undefined;
  const previous = Math.max(0, offset - 1);
  // (A plain reading: nothing is written with it, so it must not hold back the first event's meta.dt.)
  let lastTimeMs = sendClock ? Date.now() : log.timeAt(previous);
  let lastId = ids ? ids.id() : encodeEventId(log.topicAt(previous), offset, lastTimeMs);
  const deadline = options.lifetimeMs > 0 ? openedAt + options.lifetimeMs : Infinity;
  /** The lifetime is over: end the response cleanly, as EventStreams does, so the client reconnects. */
  const cut = async (): Promise<StreamOutcome> => {
    await out.flush();
    stats.lifetimeCut();
    res.end();
    return outcome('cut');
  };
  const injections = options.injections.map((spec, i) => ({ spec, i, emitted: 0 }));
  const outcome = (end: StreamOutcome['end']): StreamOutcome => ({ end, nextOffset: offset, sent: out.total });

  /** Queues the injected events due now; true when more are due than fit in this batch. */
  const pushDueInjections = (): boolean => {
    const now = performance.now() - openedAt;
    for (const inj of injections) {
      const due = injectedDueCount(inj.spec, now);
      while (inj.emitted < due) {
        if (out.pendingBytes >= BATCH_BYTES) return true;
        const seq = inj.emitted++;
        const template = pickInjectionTemplate(inj.spec.wiki, deps.wikiIndex, log.size, seq);
        const text = buildInjectedEvent(log.events[template.index].text, {
          metaId: deps.deriveId(injectedIdName(req.connectionId, inj.i, seq)),
          timeMs: sendClock ? sendClock() : lastTimeMs,
          retarget: template.sameWiki ? undefined : { wiki: inj.spec.wiki, domain: inj.spec.domain },
        });
        out.push(messageFrame(lastId, text), 'injected');
      }
    }
    return false;
  };
  const nextInjectionAt = () => openedAt + Math.min(Infinity, ...injections.map((i) => nextInjectionDueMs(i.spec, i.emitted)));

  /** Sleeps until `target` (performance.now() time), sending keep-alive comments while the stream is idle. */
  const idleUntil = async (until: number) => {
    const target = Math.min(until, deadline);
    while (out.open) {
      const now = performance.now();
      if (now >= target) return;
      const keepaliveAt = out.lastWriteAt + options.keepaliveMs;
      if (now >= keepaliveAt) {
        out.push(KEEPALIVE_COMMENT);
        await out.flush();
        continue;
      }
      await sleep(Math.min(target - now, keepaliveAt - now, MAX_TIMER_MS), signal);
    }
  };

  while (out.open && offset < endOffset) {
    if (performance.now() >= deadline) return cut();
    const moreInjected = pushDueInjections();
    let budget = MAX_BATCH_EVENTS;
    if (schedule.rate > 0) budget = Math.min(budget, eventsDueBy(performance.now() - clockStart, schedule) - realSent);
    if (budget <= 0 && !moreInjected) {
      await out.flush();
      await idleUntil(Math.min(clockStart + timeForEvent(realSent + 1, schedule), nextInjectionAt()));
      continue;
    }
    let n = 0;
    let skipped = 0;
    while (n < budget && offset < endOffset && out.pendingBytes < BATCH_BYTES && skipped < MAX_BATCH_SKIPS) {
      if (performance.now() >= deadline) break;
      if (starts !== undefined && offset < starts[log.partitionAt(offset)]) {
        // A partition resumed later than the connection's start: its events before that are not served.
        offset++;
        skipped++;
        continue;
      }
      const ev = log.eventAt(offset, eventClock, req.datacenterOffsetShift);
      offset++;
      n++;
      realSent++;
      if (ids) {
        ids.served(ev.partition, ev.upstreamMs);
        lastId = ids.id();
      } else lastId = encodeEventId(ev.topic, offset, ev.timeMs);
      lastTimeMs = ev.timeMs;
      out.push(messageFrame(lastId, ev.text), 'real');
      if (canaryDueAfter(ev.offset, options.canaryEvery)) {
        out.push(messageFrame(lastId, buildCanaryEvent(ev.text, deps.deriveId(canaryIdName(ev.offset)))), 'canary');
      }
      if (!faultDueAfter(options.fault, realSent)) continue;
      const kind = options.fault.kind;
      if (kind === 'malformed') {
        out.push(malformedFrame(malformedKindFor(malformedSeq++), lastId), 'malformed');
        stats.fault('malformed');
      } else if (kind === 'stall') {
        stats.fault('stall');
        await out.flush(true);
        const stalledAt = performance.now();
        await sleep(Math.max(0, Math.min(options.fault.stallMs, deadline - stalledAt)), signal);
        clockStart += performance.now() - stalledAt;
        break;
      } else if (kind === 'drop') {
        stats.fault('drop');
        await out.flush(true);
        res.destroy();
        return outcome('dropped');
      }
    }
    await out.flush();
    // Let other connections, timers and /metrics run between batches.
    await yieldToLoop();
  }

  // The log is exhausted (or the client left). Injections still due go out on time; then hold or close.
  while (out.open) {
    if (performance.now() >= deadline) return cut();
    const more = pushDueInjections();
    await out.flush();
    if (more) {
      await yieldToLoop();
      continue;
    }
    const next = nextInjectionAt();
    if (next === Infinity && options.end === 'close') {
      res.end();
      return outcome('ended');
    }
    await idleUntil(next);
  }
  return outcome('closed');
}
