// Parsing a Last-Event-ID is libs/domain's parseEventId (one parser for the producer and this source).
import type { PartitionKey } from './upstream';

/** How ids are written: per-partition upstream timestamps (EventStreams' default) or this source's log offset. */
export const ID_MODES = ['timestamp', 'offset'] as const;
export type IdMode = (typeof ID_MODES)[number];

/**
 * The `id:` of a served event in id mode `offset` (the old mode): `offset` is the NEXT offset to read
 * (this event's log offset + 1), `timestamp` the event time in ms.
 */
export function encodeEventId(topic: string, nextOffset: number, timestampMs: number): string {
  return `[{"topic":${JSON.stringify(topic)},"partition":0,"offset":${nextOffset},"timestamp":${timestampMs}}]`;
}

/** What an id entry says about one partition: a timestamp to seek, or an offset (-1: nothing read yet). */
export type PartitionPosition = { timestamp: number } | { offset: number };

/**
 * The id of a connection in id mode `timestamp` (KafkaSSE's useTimestampForId): one entry per upstream
 * topic-partition, in the order of `partitions`. A partition this connection has served an event of
 * carries `timestamp` = that event's upstream Kafka timestamp + 1 ms; one it has not carries the
 * position the connection resumed it from, else `"offset":-1`, like
 * `[{"topic":"eqiad.mediawiki.recentchange","partition":0,"timestamp":1670732822001},{"topic":"codfw.mediawiki.recentchange","partition":0,"offset":-1}]`.
 */
export class TimestampIdWriter {
  private readonly prefixes: string[];
  private readonly entries: string[];
  private current: string | undefined;

  constructor(partitions: readonly PartitionKey[], resumedFrom: ReadonlyArray<PartitionPosition | undefined> = []) {
    this.prefixes = partitions.map((p) => `{"topic":${JSON.stringify(p.topic)},"partition":${p.partition},`);
    this.entries = this.prefixes.map((prefix, i) => {
      const at = resumedFrom[i];
      return at !== undefined && 'timestamp' in at ? `${prefix}"timestamp":${at.timestamp}}` : `${prefix}"offset":${at?.offset ?? -1}}`;
    });
  }

  /** Records that an event of `partition` with upstream timestamp `upstreamMs` was served. */
  served(partition: number, upstreamMs: number): void {
    this.entries[partition] = `${this.prefixes[partition]}"timestamp":${upstreamMs + 1}}`;
    this.current = undefined;
  }

  id(): string {
    this.current ??= `[${this.entries.join(',')}]`;
    return this.current;
  }
}
