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
  /** target - current (negative: re-reads, positive: skips); null when there was no position. */
  delta: number | null;
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
    const delta = p.current === null ? null : value - p.current;
    return { topic: p.topic, partition: p.partition, current: p.current, target: value, delta, low: p.low, high: p.high, lagAfter: p.high - value, clamped };
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

/**
 * Where a group's consuming position lives, which is what a reset has to move:
 * - `kafka`: its committed offsets (what the broker hands the group on assignment).
 * - `postgres`: rows of the dedup-persister's `consumer_offsets` table; the persister seeks to them on
 *   every assignment, so its Kafka offsets (committed after each database commit, for lag
 *   monitoring only) are overwritten and a reset of them alone has no effect.
 * - `changelog`: the aggregator: committed offsets plus window state in a compacted changelog,
 *   written in the same transaction. Moving the offsets alone desynchronises the two.
 */
export type OffsetHome = 'kafka' | 'postgres' | 'changelog';

/** The PostgreSQL table of the dedup-persister's offsets (apps/dedup-persister/migrations). */
export const PERSISTER_OFFSETS_TABLE = 'consumer_offsets';

export interface OffsetHomeRules {
  /** Groups known to keep their position in PostgreSQL (the persister's CONSUMER_GROUP). */
  postgresGroups: readonly string[];
  /** Groups with window state in a changelog (the aggregator's GROUP_ID). */
  changelogGroups: readonly string[];
}

/**
 * Where the group's position lives. `postgresRows` is the number of rows the group has in the
 * persister's offsets table (null: not looked up): a persister running under another group id is
 * recognised by its rows, not only by name.
 */
export function offsetHomeOf(groupId: string, rules: OffsetHomeRules, postgresRows: number | null): OffsetHome {
  if (rules.changelogGroups.includes(groupId)) return 'changelog';
  if (rules.postgresGroups.includes(groupId) || (postgresRows ?? 0) > 0) return 'postgres';
  return 'kafka';
}

/**
 * Partitions a reset would move behind what the group already consumed. Without a position the
 * previous one is unknown (offsets can expire while state lives on), so anything short of the end
 * counts as backward, unless the partition holds no record at all.
 */
export function backwardEntries(plan: readonly ResetPlanEntry[]): ResetPlanEntry[] {
  return plan.filter((p) => (p.current === null ? p.target < p.high : p.target < p.current));
}

export interface ResetPolicyInput {
  groupId: string;
  home: OffsetHome;
  plan: readonly ResetPlanEntry[];
  /** Whether the persister's table can be written (a database is configured and reachable). */
  postgresAvailable: boolean;
}

/**
 * Why this reset cannot be applied to where the group's position lives (null = it can). Group
 * membership is judged separately ({@link resetRefusal}).
 */
export function resetPolicyRefusal(input: ResetPolicyInput): string | null {
  const { groupId, home, plan } = input;
  if (home === 'postgres' && !input.postgresAvailable) {
    return (
      `refusing to reset offsets of group '${groupId}': it keeps its offsets in PostgreSQL (table ${PERSISTER_OFFSETS_TABLE}), ` +
      `not in Kafka, so moving its Kafka offsets would have no effect. Set DATABASE_URL to the persister's database to reset them there.`
    );
  }
  if (home === 'changelog') {
    const back = backwardEntries(plan);
    if (back.length) {
      const where = back.slice(0, 5).map((p) => `${p.topic}/${p.partition} ${p.current ?? 'none'} -> ${p.target}`).join(', ');
      return (
        `refusing to reset offsets of group '${groupId}' backwards (${where}${back.length > 5 ? `, +${back.length - 5} more` : ''}): ` +
        `its window state lives in a compacted changelog written in the same transaction as its offsets, ` +
        `so re-reading records would count them again in the windows still open (and send the rest of them late). ` +
        `Only forward resets (--to-latest, a later offset or time) are allowed; to re-aggregate history use a new GROUP_ID, CHANGELOG_TOPIC and output topics.`
      );
    }
  }
  return null;
}

/** What an allowed reset leaves for the operator to know (printed with the plan). */
export function resetWarnings(home: OffsetHome, plan: readonly ResetPlanEntry[]): string[] {
  const skipped = plan.reduce((n, p) => n + (p.delta !== null && p.delta > 0 ? p.delta : 0), 0);
  const out: string[] = [];
  if (home === 'changelog' && skipped > 0) out.push(`${skipped} record(s) skipped are never counted: the windows they belong to are emitted without them.`);
  if (home === 'postgres') out.push(`the offsets are written to PostgreSQL table ${PERSISTER_OFFSETS_TABLE} (the persister's source of truth) and committed to Kafka too (for lag monitoring).`);
  return out;
}
