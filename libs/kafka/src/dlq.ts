import { createHash } from 'node:crypto';
import { describeError } from '@wikimonitor/service-kit';
import { type Headers, headerString, headersFromMessage } from './headers';
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
  /** More about the failure (e.g. `http.status`), as `dlq.<name>` headers; a replay drops them with the others. */
  details?: Readonly<Record<string, string>>;
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
  for (const [name, value] of Object.entries(dl.details ?? {})) headers[`dlq.${name}`] = value;
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


/** Headers a dead letter carries when its value was cut to fit (the original did not fit its topic). */
export const DLQ_TRUNCATION_HEADERS = {
  originalSize: 'dlq.original.size',
  originalSha256: 'dlq.original.sha256',
  truncated: 'dlq.value.truncated',
  targetTopic: 'dlq.target.topic',
  /** The key was cut: its original size and sha256 digest. */
  keyTruncated: 'dlq.key.truncated',
  originalKeySize: 'dlq.original.key.size',
  originalKeySha256: 'dlq.original.key.sha256',
  /** Names of original headers left out (they did not fit the header bound). */
  headersDropped: 'dlq.headers.dropped',
} as const;

/** Default bound for a dead letter's value: well under the broker's default message.max.bytes (1 MiB). */
export const DEAD_LETTER_MAX_VALUE_BYTES = 256 * 1024;
/** Default bound for a dead letter's key. */
export const DEAD_LETTER_MAX_KEY_BYTES = 16 * 1024;
/** Default bound for the original headers a dead letter keeps (names and values together). */
export const DEAD_LETTER_MAX_HEADER_BYTES = 64 * 1024;

export interface DeadLetterFromOptions {
  /** Dead-letter topic. */
  topic: string;
  /** App name for `dlq.app`. */
  app: string;
  attempts?: number;
  /** Cut the value to this many bytes (recording size and digest in headers) when it is longer. */
  maxValueBytes?: number;
  /** Cut the key to this many bytes (recording size and digest in headers) when it is longer. */
  maxKeyBytes?: number;
  /** Keep original headers (in order) while their names and values fit this many bytes; the others are left out and named in a header. */
  maxHeaderBytes?: number;
  /** The output topic a record was meant for, when the dead letter replaces an unwritable output. */
  targetTopic?: string;
  failedAt?: Date;
  /** More about the failure, written as `dlq.<name>` headers (e.g. `{ 'http.status': '503' }`). */
  details?: Readonly<Record<string, string>>;
}

/** What {@link deadLetterFrom} needs of a consumed message. */
export interface ConsumedRecord {
  /** A Kafka topic, or the upstream source (the SSE URL) of a producer-side failure. */
  topic: string;
  partition?: number;
  /** A Kafka offset, or the SSE event id of a producer-side failure. */
  offset?: number | string;
  key?: Buffer | string | null;
  value: Buffer | null;
  headers?: Array<Record<string, string | Buffer>>;
}

/**
 * The dead letter for a consumed message: source topic/partition/offset, the original key, value
 * and headers, the error's code and message and the attempt count. A value longer than
 * `maxValueBytes` is cut, with its original size and sha256 digest in headers; so is a key longer
 * than `maxKeyBytes`, and original headers beyond `maxHeaderBytes` are left out (named in a header).
 */
export function deadLetterFrom(message: ConsumedRecord, error: unknown, opts: DeadLetterFromOptions): OutgoingRecord {
  const e = isCodedError(error) ? { code: error.code, message: error.message } : describeError(error);
  const limited = limitValue(message.value, opts.maxValueBytes ?? DEAD_LETTER_MAX_VALUE_BYTES);
  const key = limitKey(message.key ?? null, opts.maxKeyBytes ?? DEAD_LETTER_MAX_KEY_BYTES);
  const original = limitHeaders(headersFromMessage(message.headers), opts.maxHeaderBytes ?? DEAD_LETTER_MAX_HEADER_BYTES);
  return deadLetterRecord(opts.topic, {
    sourceTopic: message.topic,
    sourcePartition: message.partition,
    sourceOffset: message.offset,
    key: key.key,
    value: limited.value,
    headers: { ...original, ...limited.headers, ...key.headers, ...(opts.targetTopic ? { [DLQ_TRUNCATION_HEADERS.targetTopic]: opts.targetTopic } : {}) },
    error: { code: e.code, message: e.message },
    attempts: opts.attempts ?? 1,
    app: opts.app,
    failedAt: opts.failedAt,
    details: opts.details,
  });
}

function limitValue(value: Buffer | null, max: number): { value: Buffer | null; headers: Headers } {
  if (!value || value.length <= max) return { value, headers: {} };
  return {
    value: value.subarray(0, max),
    headers: {
      [DLQ_TRUNCATION_HEADERS.truncated]: 'true',
      [DLQ_TRUNCATION_HEADERS.originalSize]: String(value.length),
      [DLQ_TRUNCATION_HEADERS.originalSha256]: createHash('sha256').update(value).digest('hex'),
    },
  };
}

function limitKey(key: Buffer | string | null, max: number): { key: Buffer | string | null; headers: Headers } {
  if (key === null || Buffer.byteLength(key) <= max) return { key, headers: {} };
  const bytes = Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8');
  return {
    key: bytes.subarray(0, max),
    headers: {
      [DLQ_TRUNCATION_HEADERS.keyTruncated]: 'true',
      [DLQ_TRUNCATION_HEADERS.originalKeySize]: String(bytes.length),
      [DLQ_TRUNCATION_HEADERS.originalKeySha256]: createHash('sha256').update(bytes).digest('hex'),
    },
  };
}

function limitHeaders(headers: Headers, max: number): Headers {
  const kept: Headers = {};
  const dropped: string[] = [];
  let size = 0;
  for (const [name, value] of Object.entries(headers)) {
    const bytes = Buffer.byteLength(name) + Buffer.byteLength(value);
    if (size + bytes <= max) {
      kept[name] = value;
      size += bytes;
    } else {
      dropped.push(name);
    }
  }
  if (dropped.length) kept[DLQ_TRUNCATION_HEADERS.headersDropped] = dropped.join(',').slice(0, 1000);
  return kept;
}

const isCodedError = (e: unknown): e is { code: string; message: string } =>
  typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' && typeof (e as { message?: unknown }).message === 'string';
