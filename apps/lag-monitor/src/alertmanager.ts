import type { AlertSeverity, WikiAlert } from '@wikimonitor/contracts';
import { CONSUMER_STATUSES, type ConsumerStatus, statusAlertSeverity } from '@wikimonitor/domain';

/**
 * The webhook payload Alertmanager sends (version 4), so a receiver written for Alertmanager (a chat
 * bridge, an incident tool) takes lag-monitor's alerts as they are. Pure: no I/O.
 */
export interface AlertmanagerPayload {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: AlertmanagerAlert[];
}

export interface AlertmanagerAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export const ALERTMANAGER_ALERTNAME = 'WikiMonitorConsumerStatus';
export const ALERTMANAGER_RECEIVER = 'lag-monitor';
/** Alertmanager's "not ended" time (Go's zero time). */
const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface AlertmanagerOptions {
  /** Where lag-monitor is reached (links to the group); empty when not configured. */
  externalUrl: string;
  /** When the previous status's alert fired (epoch ms), if this sink sent it: the resolved alert's startsAt. */
  previousSince?: number;
}

const isStatus = (s: string | null): s is ConsumerStatus => s !== null && (CONSUMER_STATUSES as readonly string[]).includes(s);

/**
 * One consumer-status change as an Alertmanager webhook payload. An alert's identity is its labels
 * (alertname, group, status, severity, source): a change from a bad status resolves that status's
 * alert, a change to a bad status fires one; WARN -> STOP does both in one payload, STOP -> OK only
 * resolves. Null when there is nothing to say (a change between two OK, which is never raised).
 */
export function alertmanagerPayload(alert: WikiAlert, opts: AlertmanagerOptions): AlertmanagerPayload | null {
  const group = alert.subject;
  const generatorURL = opts.externalUrl ? `${opts.externalUrl.replace(/\/+$/, '')}/api/groups/${encodeURIComponent(group)}` : '';
  const at = new Date(alert.created_at).toISOString();
  const make = (status: ConsumerStatus, severity: AlertSeverity, state: 'firing' | 'resolved', startsAt: string, endsAt: string): AlertmanagerAlert => {
    const labels = { alertname: ALERTMANAGER_ALERTNAME, group, status, severity, source: alert.source };
    return {
      status: state,
      labels,
      annotations: { summary: `consumer group ${group} ${state === 'firing' ? 'is' : 'is no longer'} ${status}`, description: alert.message, alert_id: alert.id },
      startsAt,
      endsAt,
      generatorURL,
      fingerprint: labelsFingerprint(labels),
    };
  };
  const alerts: AlertmanagerAlert[] = [];
  const prev = alert.previous_status;
  if (isStatus(prev) && prev !== 'OK') alerts.push(make(prev, statusAlertSeverity(prev), 'resolved', opts.previousSince !== undefined ? new Date(opts.previousSince).toISOString() : at, at));
  if (isStatus(alert.status) && alert.status !== 'OK') alerts.push(make(alert.status, alert.severity, 'firing', at, ZERO_TIME));
  if (!alerts.length) return null;
  return {
    version: '4',
    groupKey: `{}:{group=${JSON.stringify(group)}}`,
    truncatedAlerts: 0,
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: ALERTMANAGER_RECEIVER,
    groupLabels: { group },
    commonLabels: common(alerts.map((a) => a.labels)),
    commonAnnotations: common(alerts.map((a) => a.annotations)),
    externalURL: opts.externalUrl,
    alerts,
  };
}

function common(sets: Array<Record<string, string>>): Record<string, string> {
  const [first, ...rest] = sets;
  return Object.fromEntries(Object.entries(first ?? {}).filter(([k, v]) => rest.every((s) => s[k] === v)));
}

/** Prometheus's label-set fingerprint: FNV-1a 64 over sorted name, 0xff, value, 0xff; 16 hex digits. */
export function labelsFingerprint(labels: Record<string, string>): string {
  const PRIME = 0x100000001b3n;
  const MASK = 0xffffffffffffffffn;
  let h = 0xcbf29ce484222325n;
  const add = (b: number) => {
    h = ((h ^ BigInt(b)) * PRIME) & MASK;
  };
  const enc = new TextEncoder();
  for (const name of Object.keys(labels).sort()) {
    for (const b of enc.encode(name)) add(b);
    add(0xff);
    for (const b of enc.encode(labels[name] ?? '')) add(b);
    add(0xff);
  }
  return h.toString(16).padStart(16, '0');
}
