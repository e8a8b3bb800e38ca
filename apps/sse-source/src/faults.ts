import { formatSseEvent } from '@wikimonitor/domain';

export const FAULT_KINDS = ['none', 'drop', 'stall', 'malformed'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A per-connection fault, applied after every `every` real events. */
export interface FaultPlan {
  kind: FaultKind;
  every: number;
  /** Pause length for `stall`. */
  stallMs: number;
}

export const STATUS_CODES = [429, 503] as const;
/** Refuse the first `times` connection attempts with this status. */
export interface StatusFault {
  status: (typeof STATUS_CODES)[number];
  times: number;
}

/** True when the fault fires right after the `realSent`-th real event of a connection. */
export function faultDueAfter(plan: FaultPlan, realSent: number): boolean {
  return plan.kind !== 'none' && plan.every > 0 && realSent > 0 && realSent % plan.every === 0;
}

/** True when a canary follows the event at log `offset` (every N-th offset, so replays put it in the same place). */
export function canaryDueAfter(offset: number, every: number): boolean {
  return every > 0 && (offset + 1) % every === 0;
}

/** Malformed extras alternate between these, starting with the first. */
export const MALFORMED_KINDS = ['not-json', 'not-recentchange'] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

export function malformedKindFor(seq: number): MalformedKind {
  return MALFORMED_KINDS[seq % MALFORMED_KINDS.length];
}

/** A line that is no SSE field (the SSE rules say to ignore it), sent inside `not-json` frames. */
export const MALFORMED_LINE = 'this line is not an sse field';

/**
 * An extra frame with bad content: `not-json` carries a stray line and `data: {not json`, `not-recentchange`
 * carries valid JSON that is no recentchange event (`{"foo":1}`). Each is exactly one SSE message.
 */
export function malformedFrame(kind: MalformedKind, id: string): string {
  if (kind === 'not-recentchange') return formatSseEvent({ id, data: '{"foo":1}' });
  return formatSseEvent({ id, data: '{not json' }).replace('\ndata: ', `\n${MALFORMED_LINE}\ndata: `);
}

/** Malformed extras a connection that delivered `realEvents` real events has seen, by kind. */
export function expectedMalformed(realEvents: number, every: number): Record<MalformedKind, number> {
  const total = every > 0 ? Math.floor(realEvents / every) : 0;
  return { 'not-json': Math.ceil(total / 2), 'not-recentchange': Math.floor(total / 2) };
}
