import type { SseEvent } from '@wikimonitor/domain';
import { DEAD_LETTER_MAX_VALUE_BYTES, DLQ_TRUNCATION_HEADERS } from '@wikimonitor/kafka';

/**
 * The value and extra headers of a producer dead letter for one SSE event: the event's bytes as
 * received (invalid UTF-8 included). An event over the parser's bound keeps a prefix that fits the
 * dead-letter topic, with the whole data's size and sha256 and `dlq.value.truncated`, so the replay
 * CLI reports it and never replays it.
 */
export function deadLetterPayload(ev: Pick<SseEvent, 'data' | 'lastEventId' | 'problem'>, maxValueBytes = DEAD_LETTER_MAX_VALUE_BYTES): { value: Buffer; headers: Record<string, string> } {
  const headers: Record<string, string> = ev.lastEventId ? { 'sse.id': ev.lastEventId } : {};
  const p = ev.problem;
  if (p?.code === 'EVENT_TOO_LARGE') {
    headers[DLQ_TRUNCATION_HEADERS.truncated] = 'true';
    headers[DLQ_TRUNCATION_HEADERS.originalSize] = String(p.size);
    if (p.sha256) headers[DLQ_TRUNCATION_HEADERS.originalSha256] = p.sha256;
    return { value: Buffer.from(p.prefix.buffer, p.prefix.byteOffset, Math.min(p.prefix.length, maxValueBytes)), headers };
  }
  if (p?.code === 'INVALID_UTF8') return { value: Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.length), headers };
  return { value: Buffer.from(ev.data, 'utf8'), headers };
}
