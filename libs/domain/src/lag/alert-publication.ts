import type { WikiAlert } from '@wikimonitor/contracts';

/** The fields of a consumer-status alert the publication decision reads (a WikiAlert has them). */
export type StatusAlert = Pick<WikiAlert, 'id' | 'kind' | 'source' | 'subject' | 'status' | 'previous_status' | 'created_at'>;

/** Why an evaluated alert is or is not published. */
export type PublicationReason =
  /** Nothing on the topic announces it: publish. */
  | 'new'
  /** Its id is on the topic already (published by this instance or a former leader). */
  | 'on-topic'
  /**
   * The topic already shows this status change or a later one: the group's last alert on the topic
   * announces the status this alert (or a later one of this instance) reached, seen by another
   * instance at a slightly different time (a different window bucket, so another id).
   */
  | 'announced';

export interface PublicationDecision<A extends StatusAlert> {
  alert: A;
  publish: boolean;
  reason: PublicationReason;
}

export interface PublicationInput<A extends StatusAlert> {
  /** The alerts this instance evaluated (as leader or standby) within the look-back, oldest first. */
  evaluated: readonly A[];
  /**
   * The consumer-status alerts on the alerts topic within the look-back (read read_committed after
   * this instance fenced every former leader), plus the ones it published since, in publication
   * order per group (a group's alerts share a key, so one partition: offset order).
   */
  published: readonly StatusAlert[];
  /**
   * How far apart two instances may see the same change: their cycles run out of phase, up to an
   * interval (and a slow cycle) apart.
   */
  toleranceMs: number;
}

/** Whether a record of the alerts topic is one of `source`'s consumer-status alerts (the topic also carries other services' alerts). */
export function isStatusAlertOf(alert: Pick<WikiAlert, 'kind' | 'source' | 'id'>, source: string): boolean {
  return alert.kind === 'consumer_status' && alert.source === source && alert.id.startsWith(`${source}:consumer_status:`);
}

function lastIndex<T>(items: readonly T[], pred: (t: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (pred(items[i] as T)) return i;
  return -1;
}

/**
 * What the leader publishes of the alerts it evaluated, so each status change reaches the topic
 * once however leadership moved: run when it gains the lease (the changes it saw as a standby, while
 * no instance published) and again after every cycle.
 *
 * Per group, the last alert on the topic says which status readers were last told. The evaluated
 * alerts are aligned to it: at the one with the same id; else at the last one reaching that status no
 * later than `toleranceMs` after it (the same change, seen a cycle apart); else at the first one
 * reaching it (this instance saw it late, e.g. its window was still filling). Alerts up to the
 * alignment are announced already; the ones after it are published, in order. A group whose last
 * status on the topic this instance never reached (or with nothing on the topic) gets all of them. An
 * id already on the topic is never published again, whatever the alignment.
 */
export function planAlertPublication<A extends StatusAlert>(input: PublicationInput<A>): Array<PublicationDecision<A>> {
  const onTopic = new Set(input.published.map((a) => a.id));
  const lastByGroup = new Map<string, StatusAlert>();
  for (const a of input.published) lastByGroup.set(a.subject, a);
  const byGroup = new Map<string, A[]>();
  for (const a of input.evaluated) {
    const list = byGroup.get(a.subject) ?? [];
    list.push(a);
    byGroup.set(a.subject, list);
  }
  const alignment = new Map<string, number>();
  for (const [group, alerts] of byGroup) {
    const last = lastByGroup.get(group);
    if (!last) {
      alignment.set(group, -1);
      continue;
    }
    let k = lastIndex(alerts, (a) => a.id === last.id);
    if (k < 0) k = lastIndex(alerts, (a) => a.status === last.status && a.created_at <= last.created_at + input.toleranceMs);
    if (k < 0) k = alerts.findIndex((a) => a.status === last.status);
    alignment.set(group, k);
  }
  const seen = new Map<string, number>();
  return input.evaluated.map((alert) => {
    const i = seen.get(alert.subject) ?? 0;
    seen.set(alert.subject, i + 1);
    if (onTopic.has(alert.id)) return { alert, publish: false, reason: 'on-topic' };
    if (i <= (alignment.get(alert.subject) ?? -1)) return { alert, publish: false, reason: 'announced' };
    return { alert, publish: true, reason: 'new' };
  });
}

/** The items `at` or after `since` (by `at`, default the alert's creation time), at most the `max` newest; order kept. */
export function recentAlerts<T>(items: readonly T[], since: number, max: number, at: (item: T) => number = (item) => (item as Pick<StatusAlert, 'created_at'>).created_at): T[] {
  const recent = items.filter((item) => at(item) >= since);
  return recent.length > max ? recent.slice(recent.length - max) : recent;
}
