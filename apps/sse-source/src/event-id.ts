import { z } from 'zod';
import { type Parsed, parsed, rejected } from './types';

/** One entry of an EventStreams event id: a Kafka topic-partition and either an offset or a timestamp. */
export interface EventIdEntry {
  topic?: string;
  partition?: number;
  offset?: number;
  timestamp?: number;
}

/**
 * The `id:` of a served event, EventStreams style: `offset` is the NEXT offset to read (this event's
 * log offset + 1), `timestamp` the event time in ms.
 */
export function encodeEventId(topic: string, nextOffset: number, timestampMs: number): string {
  return `[{"topic":${JSON.stringify(topic)},"partition":0,"offset":${nextOffset},"timestamp":${timestampMs}}]`;
}

const entrySchema = z
  .object({
    topic: z.string().optional(),
    partition: z.number().int().nonnegative().optional(),
    offset: z.number().int().optional(),
    timestamp: z.number().finite().nonnegative().optional(),
  })
  .passthrough()
  .refine((e) => e.offset !== undefined || e.timestamp !== undefined, 'each entry needs an offset or a timestamp');

const idSchema = z.array(entrySchema).min(1, 'the array is empty');

/** Parses a Last-Event-ID header: a JSON array of {topic, partition, offset | timestamp}. */
export function parseEventId(raw: string): Parsed<EventIdEntry[]> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return rejected(['Last-Event-ID is not JSON; expected an array like [{"topic":"...","partition":0,"offset":123}]']);
  }
  const result = idSchema.safeParse(value);
  if (!result.success) {
    return rejected(
      result.error.issues.map((i) => `Last-Event-ID${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('')}: ${i.message}`),
    );
  }
  return parsed(result.data.map(({ topic, partition, offset, timestamp }) => ({ topic, partition, offset, timestamp })));
}
