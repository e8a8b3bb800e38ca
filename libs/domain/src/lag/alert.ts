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
  totalLag: number;
  maxLagSeconds: number | null;
  worst?: { topic: string; partition: number; status: ConsumerStatus; rule: string };
}

const SEVERITY: Record<ConsumerStatus, AlertSeverity> = { OK: 'info', WARN: 'warning', REWIND: 'warning', STALL: 'critical', STOP: 'critical' };

export function statusAlertSeverity(status: ConsumerStatus): AlertSeverity {
  return SEVERITY[status];
}

/** Whether a status change is worth an alert: every change, except a group first seen healthy. */
export function shouldAlert(change: Pick<StatusChange, 'previous' | 'status'>): boolean {
  return change.previous === null ? change.status !== 'OK' : change.previous !== change.status;
}

/**
 * The WikiAlert for a consumer-status change. Its id is deterministic per (group, transition,
 * window bucket), so two monitors seeing the same change in the same window agree on it.
 */
export function consumerStatusAlert(change: StatusChange, source = 'lag-monitor'): WikiAlert {
  const bucket = Math.floor(change.at / Math.max(1, change.windowMs));
  const lagText = `lag ${change.totalLag} messages${change.maxLagSeconds === null ? '' : `, ${change.maxLagSeconds.toFixed(1)} s`}`;
  const worst = change.worst && change.worst.status !== 'OK' ? `; worst partition ${change.worst.topic}/${change.worst.partition} ${change.worst.status} (${change.worst.rule})` : '';
  return {
    id: `${source}:consumer_status:${change.group}:${change.previous ?? 'NONE'}->${change.status}:${bucket}`,
    kind: 'consumer_status',
    source,
    subject: change.group,
    severity: statusAlertSeverity(change.status),
    observed: change.totalLag,
    expected: 0,
    score: change.maxLagSeconds ?? 0,
    window_start: change.windowStart,
    window_end: change.at,
    status: change.status,
    previous_status: change.previous,
    message: `consumer group ${change.group} is ${change.status}${change.previous ? ` (was ${change.previous})` : ''}: ${lagText}${worst}`,
    created_at: change.at,
  };
}
