/** Closed list of error codes used across WikiMonitor. Retry decisions read `retriable`, never messages. */
export const ErrorCodes = [
  'CONFIG_INVALID',
  'DEPENDENCY_UNAVAILABLE',
  'KAFKA_PRODUCE_FAILED',
  'KAFKA_CONSUME_FAILED',
  'KAFKA_TRANSACTION_FAILED',
  'KAFKA_ADMIN_FAILED',
  'KAFKA_AUTH_FAILED',
  'TOPIC_MISMATCH',
  'SCHEMA_REGISTRY_FAILED',
  'SCHEMA_INCOMPATIBLE',
  'DESERIALIZE_FAILED',
  'SERIALIZE_FAILED',
  'INVALID_EVENT',
  'NOT_JSON',
  'SSE_HTTP_ERROR',
  'SSE_NETWORK_ERROR',
  'JETSTREAM_REFUSED',
  'DB_FAILED',
  'DB_SCHEMA_TOO_NEW',
  'TIMEOUT',
  'SHUTTING_DOWN',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ErrorCodes)[number];

export interface WikiMonitorErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  details?: Record<string, unknown>;
}

/** Base error: a code from {@link ErrorCodes}, a cause, and whether trying again may succeed. */
export class WikiMonitorError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: WikiMonitorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WikiMonitorError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details;
  }
}

/** True when the error says trying again may help. Unknown errors are not retried. */
export function isRetriable(err: unknown): boolean {
  return err instanceof WikiMonitorError ? err.retriable : false;
}

/** Short, safe description for logs and dead-letter headers. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof WikiMonitorError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: 'INTERNAL', message: err.message };
  return { code: 'INTERNAL', message: String(err) };
}
