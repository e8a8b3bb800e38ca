/** Where to move a group's committed offsets. */
export type ResetTarget =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: number }
  /** First record with timestamp >= this (epoch ms); partitions without one go to the end. */
  | { kind: 'timestamp'; timestamp: number }
  | { kind: 'shift'; by: number };

export interface ResetPartitionState {
  topic: string;
  partition: number;
  /** Current committed offset, null when none. */
  current: number | null;
  low: number;
  high: number;
  /** For a timestamp target: the broker's answer (first offset at/after the time; null or -1 = none). */
  offsetForTimestamp?: number | null;
}

export interface ResetPlanEntry {
  topic: string;
  partition: number;
  current: number | null;
  target: number;
  low: number;
  high: number;
  /** Lag right after the reset. */
  lagAfter: number;
  /** The requested position was outside [low, high] and was moved to the nearest end. */
  clamped: boolean;
}

function clamp(value: number, low: number, high: number): { value: number; clamped: boolean } {
  if (value < low) return { value: low, clamped: true };
  if (value > high) return { value: high, clamped: true };
  return { value, clamped: false };
}

/** The offsets a reset would commit, per partition (like kafka-consumer-groups --reset-offsets: targets are kept within the retained range). */
export function planOffsetReset(partitions: ResetPartitionState[], target: ResetTarget): ResetPlanEntry[] {
  return partitions.map((p) => {
    let wanted: number;
    switch (target.kind) {
      case 'earliest':
        wanted = p.low;
        break;
      case 'latest':
        wanted = p.high;
        break;
      case 'offset':
        wanted = target.offset;
        break;
      case 'timestamp':
        wanted = p.offsetForTimestamp === null || p.offsetForTimestamp === undefined || p.offsetForTimestamp < 0 ? p.high : p.offsetForTimestamp;
        break;
      case 'shift':
        wanted = (p.current ?? p.low) + target.by;
        break;
    }
    const { value, clamped } = clamp(wanted, p.low, p.high);
    return { topic: p.topic, partition: p.partition, current: p.current, target: value, low: p.low, high: p.high, lagAfter: p.high - value, clamped };
  });
}

/** Group states in which nobody consumes, so committed offsets may be changed safely. */
const INACTIVE_STATES = new Set(['EMPTY', 'DEAD']);

/**
 * Why a reset must be refused (null = allowed): offsets of a group with active members would be
 * overwritten by the members' next commit, and the broker rejects commits from non-members anyway.
 */
export function resetRefusal(group: { groupId: string; state: string; members: number }): string | null {
  if (group.members > 0 || !INACTIVE_STATES.has(group.state.toUpperCase())) {
    return `refusing to reset offsets of group '${group.groupId}': it has ${group.members} active member(s) (state ${group.state}). Stop its consumers first, then retry.`;
  }
  return null;
}
