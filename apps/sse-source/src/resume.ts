import { parseEventId } from '@wikimonitor/domain';
import { parseIsoMs } from './event-time';
import type { ReplayLog } from './replay-log';
import type { TimeMode } from './time-mode';
import { type Parsed, parsed, rejected } from './types';

/** What resume resolution needs to know about the log. */
export interface PositionIndex {
  endOffset: number;
  firstOffsetAtOrAfter(ms: number): number;
}

/**
 * How a connection in time mode `mode` with `passes` passes finds times in the log. `original`: the
 * first event (in log order) whose recorded, pass-shifted time is at or after the given time.
 * `now`: events are dated when sent and nothing sent is kept, so every event a new connection gets is
 * dated at or after its connect time: any time (a `since`, a timestamp-only Last-Event-ID) resolves
 * to offset 0, the start of the log. A time up to the connect time is thereby honoured exactly; a
 * later one is not waited for. Offsets in a Last-Event-ID still resume exactly in both modes.
 */
export function positionIndexFor(log: Pick<ReplayLog, 'endOffset' | 'firstOffsetAtOrAfter'>, passes: number, mode: TimeMode): PositionIndex {
  return {
    endOffset: log.endOffset(passes),
    firstOffsetAtOrAfter: mode === 'now' ? () => 0 : (ms) => log.firstOffsetAtOrAfter(ms, passes),
  };
}

export type StartPosition =
  | { ok: true; offset: number; from: 'beginning' | 'last-event-id-offset' | 'last-event-id-timestamp' | 'since' }
  | { ok: false; error: 'invalid_last_event_id' | 'invalid_since'; detail: string };

/** `since`: epoch milliseconds or an ISO-8601 date(-time). */
export function parseSince(raw: string): Parsed<number> {
  const value = raw.trim();
  if (/^\d+$/.test(value)) return parsed(Number(value));
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : parseIsoMs(value);
  return Number.isFinite(ms) ? parsed(ms) : rejected([`since must be ISO-8601 (e.g. 2026-02-26T15:49:37Z) or epoch milliseconds, got ${JSON.stringify(raw)}`]);
}

/**
 * Where a connection starts. As in EventStreams, Last-Event-ID wins over `since`. In the id, entries with
 * an offset >= 0 resume at the largest such offset (this source has one log, so offsets of all topics
 * count); otherwise the earliest timestamp resumes at the first event at or after it (which may repeat
 * the event that carried it). Negative (Kafka sentinel) offsets give no position.
 */
export function resolveStartPosition(req: { lastEventId?: string; since?: string }, index: PositionIndex): StartPosition {
  const clamp = (o: number) => Math.min(Math.max(0, o), index.endOffset);
  if (req.lastEventId !== undefined && req.lastEventId.trim() !== '') {
    const id = parseEventId(req.lastEventId);
    if (!id.ok) return { ok: false, error: 'invalid_last_event_id', detail: id.problems.join('; ') };
    const offsets = id.value.flatMap((e) => (e.offset !== undefined && e.offset >= 0 ? [e.offset] : []));
    if (offsets.length > 0) return { ok: true, offset: clamp(Math.max(...offsets)), from: 'last-event-id-offset' };
    const timestamps = id.value.flatMap((e) => (e.timestamp !== undefined ? [e.timestamp] : []));
    if (timestamps.length > 0) {
      return { ok: true, offset: clamp(index.firstOffsetAtOrAfter(Math.min(...timestamps))), from: 'last-event-id-timestamp' };
    }
    return { ok: false, error: 'invalid_last_event_id', detail: 'Last-Event-ID has no entry with an offset >= 0 or a timestamp' };
  }
  if (req.since !== undefined && req.since !== '') {
    const since = parseSince(req.since);
    if (!since.ok) return { ok: false, error: 'invalid_since', detail: since.problems.join('; ') };
    return { ok: true, offset: clamp(index.firstOffsetAtOrAfter(since.value)), from: 'since' };
  }
  return { ok: true, offset: 0, from: 'beginning' };
}
