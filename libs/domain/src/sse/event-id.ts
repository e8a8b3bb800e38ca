/** One entry of an EventStreams SSE id: where that upstream Kafka partition stands. */
export interface StreamPosition {
  topic: string;
  partition: number;
  offset?: number;
  timestamp?: number;
}

/**
 * Parses an EventStreams `id:` / `Last-Event-ID` value: a JSON array of {topic, partition} with
 * an `offset` (next offset to read) or a `timestamp` (ms). Returns null when it is not that shape.
 */
export function parseStreamPositions(id: string): StreamPosition[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(id);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed)) return null;
  const out: StreamPosition[] = [];
  for (const e of parsed) {
    if (typeof e !== 'object' || e === null) return null;
    const { topic, partition, offset, timestamp } = e as Record<string, unknown>;
    if (typeof topic !== 'string' || typeof partition !== 'number') return null;
    const p: StreamPosition = { topic, partition };
    if (typeof offset === 'number') p.offset = offset;
    if (typeof timestamp === 'number') p.timestamp = timestamp;
    out.push(p);
  }
  return out;
}
