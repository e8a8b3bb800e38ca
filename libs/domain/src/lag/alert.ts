import type { AlertSeverity, WikiAlert } from '@wikimonitor/contracts';
import type { ConsumerStatus } from './types';

export interface StatusChange {
  group: string;
  /** Null for the first status seen for the group (at start-up or for a new group). */
  previous: ConsumerStatus | null;
  status: ConsumerStatus;
  /** Cycle time of the change (epoch ms). */
  at: number;
  windowStart: number;
  windowMs: number;
  /** Null when the lag of one of the group's partitions is unknown. */
  totalLag: number | null;
  maxLagSeconds: number | null;
  /** Records deleted by retention before the group read them. */
  messagesLost?: number;
  unknownLagPartitions?: number;
  /** No active member but committed offsets. */
  memberless?: boolean;
  worst?: {
    topic: string;
    partition: number;
    status: ConsumerStatus;
    rule: string;
    committedOffset?: number | null;
    lowWatermark?: number | null;
    lastStableOffset?: number | null;
    logHighWatermark?: number | null;
    messagesLost?: number;
    stuckTransactionSince?: number | null;
  };
}

const SEVERITY: Record<ConsumerStatus, AlertSeverity> = {
  OK: 'info',
  UNKNOWN: 'warning',
  INACTIVE: 'warning',
  WARN: 'warning',
  REWIND: 'warning',
  STALL: 'critical',
  STUCK_TRANSACTION: 'critical',
  STOP: 'critical',
  DATA_LOST: 'critical',
};

export function statusAlertSeverity(status: ConsumerStatus): AlertSeverity {
  return SEVERITY[status];
}

/** Whether a status change is worth an alert: every change, except a group first seen healthy. */
export function shouldAlert(change: Pick<StatusChange, 'previous' | 'status'>): boolean {
  return change.previous === null ? change.status !== 'OK' : change.previous !== change.status;
}

/** What the worst partition shows, in words, for the statuses that need more than their name. */
function worstDetail(w: NonNullable<StatusChange['worst']>): string {
  const tp = `${w.topic}/${w.partition}`;
  if (w.status === 'DATA_LOST') return `; ${w.messagesLost ?? 0} messages of ${tp} deleted by retention before being read (committed offset ${w.committedOffset}, log start ${w.lowWatermark})`;
  if (w.status === 'STUCK_TRANSACTION') {
    const since = w.stuckTransactionSince ? ` since ${new Date(w.stuckTransactionSince).toISOString()}` : '';
    return `; last stable offset of ${tp} stuck at ${w.lastStableOffset}${since} while its high watermark grew to ${w.logHighWatermark} (a transaction left open)`;
  }
  return w.status === 'OK' ? '' : `; worst partition ${tp} ${w.status} (${w.rule})`;
}

/**
 * The WikiAlert for a consumer-status change. Its id is deterministic per (group, transition,
 * window bucket), so two monitors seeing the same change in the same window agree on it.
 * `observed` is the total lag (-1 when unknown), or the messages lost for DATA_LOST.
 */
export function consumerStatusAlert(change: StatusChange, source = 'lag-monitor'): WikiAlert {
  const bucket = Math.floor(change.at / Math.max(1, change.windowMs));
  const lagText =
    change.totalLag === null
      ? `lag unknown (${change.unknownLagPartitions ?? 0} partition(s) not measurable)`
      : `lag ${change.totalLag} messages${change.maxLagSeconds === null ? '' : `, ${change.maxLagSeconds.toFixed(1)} s`}`;
  const lost = change.status === 'DATA_LOST';
  const members = change.memberless ? '; no active members' : '';
  const worst = change.worst ? worstDetail(change.worst) : '';
  return {
    id: `${source}:consumer_status:${change.group}:${change.previous ?? 'NONE'}->${change.status}:${bucket}`,
    kind: 'consumer_status',
    source,
    subject: change.group,
    severity: statusAlertSeverity(change.status),
    observed: lost ? (change.messagesLost ?? 0) : (change.totalLag ?? -1),
    expected: 0,
    score: change.maxLagSeconds ?? 0,
    window_start: change.windowStart,
    window_end: change.at,
    status: change.status,
    previous_status: change.previous,
    message: `consumer group ${change.group} is ${change.status}${change.previous ? ` (was ${change.previous})` : ''}: ${lagText}${lost ? `, ${change.messagesLost ?? 0} messages lost` : ''}${members}${worst}`,
    created_at: change.at,
  };
}
