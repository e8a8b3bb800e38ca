import { type StreamPosition, parseEventId } from '@wikimonitor/domain';
import type { IdMode, PartitionPosition } from './event-id';
import { parseIsoMs } from './event-time';
import type { ReplayLog } from './replay-log';
import type { TimeMode } from './time-mode';
import { type Parsed, parsed, rejected } from './types';
import type { PartitionKey, UpstreamTimes } from './upstream';

/** What resume resolution needs to know about the log. */
export interface PositionIndex {
  endOffset: number;
  /** The oldest offset still served (0, except beyond the retention of time mode `now`'s upstream log). */
  baseOffset: number;
  partitions: readonly PartitionKey[];
  /** The first offset (of `partition`, or of any) whose upstream time is >= `ms`, else the end. */
  firstOffsetAtOrAfter(ms: number, partition?: number): number;
}

type LogView = Pick<ReplayLog, 'endOffset' | 'firstOffsetAtOrAfter' | 'partitions' | 'partitionAt' | 'precisionAt'>;

/**
 * How a connection in time mode `mode` with `passes` passes finds times in the log. `original`: the
 * first event (in log order) whose recorded, pass-shifted time is at or after the given time.
 * `now` with `upstream` (timestamp ids): the server-wide upstream log's kept times (see upstream.ts); a
 * time after the last dated event starts at the live edge. `now` without it (offset ids, the old mode):
 * events are dated when sent and nothing sent is kept, so every event a new connection gets is dated at
 * or after its connect time: any time resolves to offset 0, the start of the log.
 */
export function positionIndexFor(log: LogView, passes: number, mode: TimeMode, upstream?: UpstreamTimes): PositionIndex {
  const endOffset = log.endOffset(passes);
  const partitions = log.partitions;
  if (mode === 'original') return { endOffset, baseOffset: 0, partitions, firstOffsetAtOrAfter: (ms, p) => log.firstOffsetAtOrAfter(ms, passes, p) };
  if (upstream === undefined) return { endOffset, baseOffset: 0, partitions, firstOffsetAtOrAfter: () => 0 };
  const written = (sentAtMs: number, offset: number) => sentAtMs - (sentAtMs % log.precisionAt(offset));
  return {
    endOffset,
    baseOffset: upstream.base,
    partitions,
    firstOffsetAtOrAfter: (ms, p) => upstream.firstOffsetAtOrAfter(ms, written, p === undefined ? undefined : (o) => log.partitionAt(o) === p),
  };
}

export type StartFrom = 'beginning' | 'last-event-id-offset' | 'last-event-id-timestamp' | 'since';

export type StartPosition =
  | {
      ok: true;
      /** The first log offset the connection reads. */
      offset: number;
      from: StartFrom;
      /** Id mode `timestamp`: per partition, the first offset of it to serve (events before are skipped). */
      partitionStarts?: number[];
      /** Id mode `timestamp`: per partition, the position it was resumed from (carried in ids until it serves one). */
      resumedFrom?: Array<PartitionPosition | undefined>;
    }
  | { ok: false; error: 'invalid_last_event_id' | 'invalid_since'; detail: string };

/** `since`: epoch milliseconds or an ISO-8601 date(-time). */
export function parseSince(raw: string): Parsed<number> {
  const value = raw.trim();
  if (/^\d+$/.test(value)) return parsed(Number(value));
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : parseIsoMs(value);
  return Number.isFinite(ms) ? parsed(ms) : rejected([`since must be ISO-8601 (e.g. 2026-02-26T15:49:37Z) or epoch milliseconds, got ${JSON.stringify(raw)}`]);
}

/** The position an id entry gives: an offset >= 0 first, else a timestamp; a negative (Kafka sentinel) offset gives none. */
function positionOf(e: StreamPosition): PartitionPosition | undefined {
  if (e.offset !== undefined && e.offset >= 0) return { offset: e.offset };
  if (e.timestamp !== undefined) return { timestamp: e.timestamp };
  return undefined;
}

/**
 * Where a connection starts. As in EventStreams, Last-Event-ID wins over `since`.
 *
 * Id mode `offset` (the old mode; this source's one log): entries with an offset >= 0 resume at the
 * largest such offset (offsets of all topics count); otherwise the earliest timestamp resumes at the
 * first event at or after it.
 *
 * Id mode `timestamp` (EventStreams): each upstream partition resumes on its own, at the first of its
 * events whose upstream timestamp is >= the entry's `timestamp` (which repeats every event of that ms
 * and later), or at an entry's `offset` >= 0 (a log offset, as in the old mode). An entry without a topic
 * applies to every partition without an entry of its own; one naming a topic-partition this source does
 * not serve is refused. Partitions without a position (`offset: -1`, no entry) start where the earliest
 * positioned one does. `since` seeks every partition to its first event at or after that time.
 */
export function resolveStartPosition(req: { lastEventId?: string; since?: string }, index: PositionIndex, idMode: IdMode = 'offset'): StartPosition {
  const clamp = (o: number) => Math.min(Math.max(index.baseOffset, o), index.endOffset);
  const hasId = req.lastEventId !== undefined && req.lastEventId.trim() !== '';
  if (hasId) {
    const id = parseEventId(req.lastEventId ?? '');
    if (!id.ok) return { ok: false, error: 'invalid_last_event_id', detail: id.problems.join('; ') };
    if (idMode === 'offset') {
      const offsets = id.value.flatMap((e) => (e.offset !== undefined && e.offset >= 0 ? [e.offset] : []));
      if (offsets.length > 0) return { ok: true, offset: clamp(Math.max(...offsets)), from: 'last-event-id-offset' };
      const timestamps = id.value.flatMap((e) => (e.timestamp !== undefined ? [e.timestamp] : []));
      if (timestamps.length > 0) {
        return { ok: true, offset: clamp(index.firstOffsetAtOrAfter(Math.min(...timestamps))), from: 'last-event-id-timestamp' };
      }
      return { ok: false, error: 'invalid_last_event_id', detail: 'Last-Event-ID has no entry with an offset >= 0 or a timestamp' };
    }
    const own: Array<PartitionPosition | undefined> = index.partitions.map(() => undefined);
    let any: PartitionPosition | undefined;
    for (const e of id.value) {
      const at = positionOf(e);
      if (e.topic === undefined) {
        any = at ?? any;
        continue;
      }
      const p = index.partitions.findIndex((k) => k.topic === e.topic && k.partition === (e.partition ?? 0));
      if (p === -1) {
        const served = index.partitions.map((k) => `${k.topic}/${k.partition}`).join(', ');
        return { ok: false, error: 'invalid_last_event_id', detail: `Last-Event-ID names ${e.topic}/${e.partition ?? 0}, which this source does not serve (it serves ${served})` };
      }
      own[p] = at;
    }
    const resumedFrom = own.map((at) => at ?? any);
    if (resumedFrom.every((at) => at === undefined)) {
      return { ok: false, error: 'invalid_last_event_id', detail: 'Last-Event-ID has no entry with an offset >= 0 or a timestamp' };
    }
    const starts = resumedFrom.map((at, p) => (at === undefined ? undefined : clamp('offset' in at ? at.offset : index.firstOffsetAtOrAfter(at.timestamp, p))));
    const from = resumedFrom.some((at) => at !== undefined && 'timestamp' in at) ? 'last-event-id-timestamp' : 'last-event-id-offset';
    return perPartition(starts, resumedFrom, from);
  }
  if (req.since !== undefined && req.since !== '') {
    const since = parseSince(req.since);
    if (!since.ok) return { ok: false, error: 'invalid_since', detail: since.problems.join('; ') };
    if (idMode === 'offset') return { ok: true, offset: clamp(index.firstOffsetAtOrAfter(since.value)), from: 'since' };
    const starts = index.partitions.map((_, p) => clamp(index.firstOffsetAtOrAfter(since.value, p)));
    return perPartition(
      starts,
      index.partitions.map(() => ({ timestamp: since.value })),
      'since',
    );
  }
  return { ok: true, offset: index.baseOffset, from: 'beginning' };
}

function perPartition(starts: Array<number | undefined>, resumedFrom: Array<PartitionPosition | undefined>, from: StartFrom): StartPosition {
  const offset = Math.min(...starts.flatMap((s) => (s === undefined ? [] : [s])));
  return { ok: true, offset, from, partitionStarts: starts.map((s) => s ?? offset), resumedFrom };
}
