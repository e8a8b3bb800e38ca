/** What to do about a failed database call. */
export type DbErrorClass = 'retriable' | 'data' | 'fatal';

/** 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown, cancel), 58 system error, XX internal. */
const RETRIABLE_CLASSES = new Set(['08', '53', '57', '58', 'XX']);
/** serialization failure, deadlock, lock not available, in failed transaction, object in use. */
const RETRIABLE_STATES = new Set(['40001', '40P01', '55P03', '25P02', '55006']);

/**
 * Classifies a PostgreSQL failure by SQLSTATE (never by message text):
 * - `retriable`: connection lost or refused, server shutting down or starting, out of resources,
 *   serialization failure or deadlock. Trying the same transaction again may succeed.
 * - `data`: a row the database will not take (class 22 data exception, class 23 integrity
 *   violation). Retrying cannot help; the offending record is isolated and dead-lettered.
 * - `fatal`: anything else (undefined table or column, permissions, syntax): a deployment problem.
 * A missing or non-SQLSTATE code means the failure happened below SQL (socket reset, connection
 * refused or terminated, timeout): retriable.
 */
export function classifyDbError(code: string | undefined | null): DbErrorClass {
  if (!code || !/^[0-9A-Z]{5}$/.test(code)) return 'retriable';
  if (RETRIABLE_STATES.has(code)) return 'retriable';
  const cls = code.slice(0, 2);
  if (RETRIABLE_CLASSES.has(cls)) return 'retriable';
  if (cls === '22' || cls === '23') return 'data';
  return 'fatal';
}
