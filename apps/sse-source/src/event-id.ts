// Parsing a Last-Event-ID is libs/domain's parseEventId (one parser for the producer and this source).

/**
 * The `id:` of a served event, EventStreams style: `offset` is the NEXT offset to read (this event's
 * log offset + 1), `timestamp` the event time in ms.
 */
export function encodeEventId(topic: string, nextOffset: number, timestampMs: number): string {
  return `[{"topic":${JSON.stringify(topic)},"partition":0,"offset":${nextOffset},"timestamp":${timestampMs}}]`;
}
