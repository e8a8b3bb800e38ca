import { type Headers, headerString } from './headers';
import type { OutgoingRecord } from './producer';

/**
 * Dead letters keep the original key, value bytes and headers untouched (so a replay is a plain
 * re-produce), and add `dlq.*` headers describing where the record came from and why it failed.
 */
export const DLQ_HEADERS = {
  sourceTopic: 'dlq.source.topic',
  sourcePartition: 'dlq.source.partition',
  sourceOffset: 'dlq.source.offset',
  errorCode: 'dlq.error.code',
  errorMessage: 'dlq.error.message',
  attempts: 'dlq.attempts',
  failedAt: 'dlq.failed.at',
  app: 'dlq.app',
} as const;

export interface DeadLetter {
  /** Topic the record was read from, or the upstream source (e.g. the SSE URL) for producer-side failures. */
  sourceTopic: string;
  sourcePartition?: number;
  /** Kafka offset, or the SSE event id for producer-side failures. */
  sourceOffset?: number | string;
  key?: Buffer | string | null;
  value: Buffer | null;
  headers?: Headers;
  error: { code: string; message: string };
  attempts: number;
  app: string;
  failedAt?: Date;
}

/** The record that goes to the dead-letter topic for a failed input. */
export function deadLetterRecord(dlqTopic: string, dl: DeadLetter): OutgoingRecord {
  const headers: Headers = { ...(dl.headers ?? {}) };
  headers[DLQ_HEADERS.sourceTopic] = dl.sourceTopic;
  if (dl.sourcePartition !== undefined) headers[DLQ_HEADERS.sourcePartition] = String(dl.sourcePartition);
  if (dl.sourceOffset !== undefined) headers[DLQ_HEADERS.sourceOffset] = String(dl.sourceOffset);
  headers[DLQ_HEADERS.errorCode] = dl.error.code;
  headers[DLQ_HEADERS.errorMessage] = dl.error.message.slice(0, 2000);
  headers[DLQ_HEADERS.attempts] = String(dl.attempts);
  headers[DLQ_HEADERS.failedAt] = (dl.failedAt ?? new Date()).toISOString();
  headers[DLQ_HEADERS.app] = dl.app;
  return { topic: dlqTopic, key: dl.key ?? null, value: dl.value, headers };
}

export interface ParsedDeadLetter extends DeadLetter {
  /** Original headers without the dlq.* ones: what a replay sends. */
  originalHeaders: Headers;
}

/** Reads a dead-letter record back (for replay tooling and tests). */
export function parseDeadLetter(key: Buffer | string | null | undefined, value: Buffer | null, headers: Headers): ParsedDeadLetter {
  const originalHeaders: Headers = {};
  for (const [k, v] of Object.entries(headers)) if (!k.startsWith('dlq.')) originalHeaders[k] = v;
  const partition = headerString(headers, DLQ_HEADERS.sourcePartition);
  const offset = headerString(headers, DLQ_HEADERS.sourceOffset);
  return {
    sourceTopic: headerString(headers, DLQ_HEADERS.sourceTopic) ?? '',
    sourcePartition: partition === undefined ? undefined : Number(partition),
    sourceOffset: offset === undefined ? undefined : /^\d+$/.test(offset) ? Number(offset) : offset,
    key: key ?? null,
    value,
    headers,
    originalHeaders,
    error: { code: headerString(headers, DLQ_HEADERS.errorCode) ?? 'UNKNOWN', message: headerString(headers, DLQ_HEADERS.errorMessage) ?? '' },
    attempts: Number(headerString(headers, DLQ_HEADERS.attempts) ?? '1'),
    app: headerString(headers, DLQ_HEADERS.app) ?? '',
    failedAt: new Date(headerString(headers, DLQ_HEADERS.failedAt) ?? 0),
  };
}
