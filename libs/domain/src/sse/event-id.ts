/** One entry of an EventStreams SSE id: where that upstream Kafka partition stands. */
export interface StreamPosition {
  topic?: string;
  partition?: number;
  /** The next offset to read (the event's own offset + 1); negative values are Kafka sentinels. */
  offset?: number;
  /** Event time, epoch ms. */
  timestamp?: number;
}

export type EventIdParse = { ok: true; value: StreamPosition[] } | { ok: false; problems: string[] };

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/**
 * Parses an EventStreams `id:` / `Last-Event-ID` value: a non-empty JSON array of
 * `{topic?, partition?, offset | timestamp}` (other keys are ignored). Every problem is named, with
 * its path (`Last-Event-ID[0].offset: ...`), so a client can be told what is wrong.
 */
export function parseEventId(raw: string): EventIdParse {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, problems: ['Last-Event-ID is not JSON; expected an array like [{"topic":"...","partition":0,"offset":123}]'] };
  }
  if (!Array.isArray(value)) return { ok: false, problems: ['Last-Event-ID: expected an array of positions'] };
  if (value.length === 0) return { ok: false, problems: ['Last-Event-ID: the array is empty'] };
  const problems: string[] = [];
  const out: StreamPosition[] = [];
  value.forEach((e: unknown, i) => {
    const at = `Last-Event-ID[${i}]`;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) {
      problems.push(`${at}: expected an object`);
      return;
    }
    const { topic, partition, offset, timestamp } = e as Record<string, unknown>;
    const before = problems.length;
    if (topic !== undefined && typeof topic !== 'string') problems.push(`${at}.topic: expected a string`);
    if (partition !== undefined && !(isInt(partition) && partition >= 0)) problems.push(`${at}.partition: expected a non-negative integer`);
    if (offset !== undefined && !isInt(offset)) problems.push(`${at}.offset: expected an integer`);
    if (timestamp !== undefined && !(typeof timestamp === 'number' && Number.isFinite(timestamp) && timestamp >= 0)) problems.push(`${at}.timestamp: expected a non-negative number`);
    if (offset === undefined && timestamp === undefined) problems.push(`${at}: each entry needs an offset or a timestamp`);
    if (problems.length > before) return;
    const p: StreamPosition = {};
    if (topic !== undefined) p.topic = topic as string;
    if (partition !== undefined) p.partition = partition as number;
    if (offset !== undefined) p.offset = offset as number;
    if (timestamp !== undefined) p.timestamp = timestamp as number;
    out.push(p);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: out };
}
