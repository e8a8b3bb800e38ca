import type { WikiAlert } from '@wikimonitor/contracts';
import { planAlertPublication, recentAlerts } from '@wikimonitor/domain';
import { type Lifecycle, type Logger, WikiMonitorError, backoffDelay, describeError, retry, sleep } from '@wikimonitor/service-kit';
import { alertmanagerPayload } from './alertmanager';
import { type AppConfig, DEFAULT_ALERT_LOOKBACK_MS } from './config';

export interface AlertSinkHooks {
  onDelivered?: (sink: 'kafka' | 'webhook') => void;
  onFailed?: (sink: 'kafka' | 'webhook') => void;
}

export type WebhookFormat = AppConfig['ALERT_WEBHOOK_FORMAT'];

export interface WebhookOptions {
  url: string;
  timeoutMs: number;
  attempts: number;
  /** `native`: the WikiAlert as JSON; `alertmanager`: Alertmanager's webhook payload (version 4). Default native. */
  format?: WebhookFormat;
  /** lag-monitor's external URL, for links in the Alertmanager payload. */
  externalUrl?: string;
}

export interface AlertSinkOptions {
  log: Logger;
  /** Alerts disabled: nothing is published, the role is `off`. Default true. */
  enabled?: boolean;
  /**
   * Kafka delivery under a leader lease: this instance publishes only while it holds the lease
   * (`acquire` .. `lose`). Absent: no Kafka alerts, and this instance publishes alone (no election).
   */
  kafka?: AlertKafka;
  webhook?: WebhookOptions;
  hooks?: AlertSinkHooks;
  fetchImpl?: typeof fetch;
  /** How long evaluated and published alerts are remembered, and how far back a new leader reads the topic (ms). */
  lookBackMs?: number;
  /** How far apart two instances may see the same status change (ms): two cycle intervals. */
  toleranceMs?: number;
  /** Bound on the alerts remembered, evaluated and published each (default 10,000). */
  rememberAlerts?: number;
  now?: () => number;
}

/** One leadership term's writer: a transactional producer opened with the deployment's one transactional id. */
export interface AlertTermWriter {
  /** Writes the alerts in one transaction; ok once committed. `fatal`: this writer cannot go on (fenced by a newer leader). */
  write(alerts: WikiAlert[]): Promise<{ ok: true } | { ok: false; fatal: boolean; err: unknown }>;
  close(): Promise<void>;
}

export interface AlertKafka {
  /** Opens a term: its producer's initTransactions fences every former leader and aborts a transaction one left open. */
  openTerm(): Promise<AlertTermWriter>;
  /** This service's consumer-status alerts committed on the alerts topic since `since` (epoch ms), in publication order per group. */
  readPublished(since: number): Promise<WikiAlert[]>;
}

/** Who publishes alerts. */
export interface Leadership {
  /** `leader`: this instance publishes alerts; `standby`: another one does (or none holds the lease now); `off`: alerts disabled. */
  role: 'leader' | 'standby' | 'off';
  /** When this instance took its current role (epoch ms). */
  since: number;
  /** Leadership terms this instance began (fenced the former leader and caught up). */
  terms: number;
}

export interface AlertSink extends Lifecycle {
  /**
   * An alert this instance evaluated: remembered (for the look-back) and, on the leader, published
   * unless the alerts topic already announces it. Never blocks: deliveries run in the background
   * and are awaited on close. An alert id is published once: ids are per (group, transition, window
   * bucket), so a status that flaps back and forth within one window repeats an id, which readers of
   * the topic take for a duplicate.
   */
  raise(alert: WikiAlert): void;
  /**
   * This instance gained the lease: opens a term (fencing every former leader), reads what the topic
   * holds within the look-back, then publishes what was not announced yet. `signal` aborts it.
   */
  acquire(signal: AbortSignal): Promise<void>;
  /** The lease ended: publishes what is pending (once more), then no more; resolves once the producer closed. */
  lose(): Promise<void>;
  leadership(): Leadership;
  inFlight(): number;
  /** Resolves once no publication is running (tests). */
  idle(): Promise<void>;
}

/** An alert and when it was remembered (pruned by that time, not by its creation time, which is another clock's). */
interface Remembered {
  alert: WikiAlert;
  at: number;
}

interface Term {
  /** Null without Kafka (no election, webhook only). */
  writer: AlertTermWriter | null;
  /** What the topic holds: read when the term began, then what this term published. */
  published: Remembered[];
  /** Ids whose decision was logged already (each once). */
  reported: Set<string>;
}

const RETRY = { initialMs: 500, maxMs: 30_000 };

/** HTTP status worth another attempt: server errors and throttling; other 4xx are our fault. */
function retriableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/**
 * Publishes status-change alerts to `wiki.alerts` and an optional webhook, from one instance at a
 * time. Every instance evaluates and remembers its alerts; the leader (lease holder) publishes them:
 * each publication is one transaction of its term's producer, and a webhook call follows only a
 * committed write, so a fenced former leader writes nothing and calls no webhook. What to publish is
 * decided by `planAlertPublication` (libs/domain) against what the topic holds, so a change is
 * announced once across leaders; a failed write is tried again (backoff) while the alert is within
 * the look-back. Deliveries never block the monitor cycle; `close()` waits for every one in flight.
 */
export function createAlertSink(opts: AlertSinkOptions): AlertSink {
  const { log } = opts;
  const now = opts.now ?? Date.now;
  const enabled = opts.enabled ?? true;
  const doFetch = opts.fetchImpl ?? fetch;
  const lookBackMs = opts.lookBackMs ?? DEFAULT_ALERT_LOOKBACK_MS;
  const toleranceMs = opts.toleranceMs ?? 0;
  const remember = opts.rememberAlerts ?? 10_000;
  const webhooks = new Set<Promise<void>>();
  let evaluated: Remembered[] = [];
  let term: Term | undefined = enabled && !opts.kafka ? { writer: null, published: [], reported: new Set() } : undefined;
  let terms = term ? 1 : 0;
  let roleSince = now();
  let closing = false;
  let acquiring: Promise<void> | undefined;
  let passing: Promise<void> | undefined;
  let again = false;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  // When each group's current bad status was alerted: the startsAt of the alert resolving it.
  const firingSince = new Map<string, { status: string; at: number }>();

  /** The webhook body of an alert in the configured format; null = nothing to send in that format. */
  function webhookBody(alert: WikiAlert): string | null {
    if ((opts.webhook?.format ?? 'native') === 'native') return JSON.stringify(alert);
    const since = firingSince.get(alert.subject);
    const payload = alertmanagerPayload(alert, { externalUrl: opts.webhook?.externalUrl ?? '', ...(since && since.status === alert.previous_status ? { previousSince: since.at } : {}) });
    if (alert.status && alert.status !== 'OK') firingSince.set(alert.subject, { status: alert.status, at: alert.created_at });
    else firingSince.delete(alert.subject);
    return payload ? JSON.stringify(payload) : null;
  }

  async function toWebhook(body: string): Promise<void> {
    const w = opts.webhook;
    if (!w) return;
    await retry(
      async () => {
        let res: Response;
        try {
          res = await doFetch(w.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'user-agent': 'wikimonitor-lag-monitor' },
            body,
            signal: AbortSignal.timeout(w.timeoutMs),
          });
        } catch (err) {
          throw new WikiMonitorError('DEPENDENCY_UNAVAILABLE', `webhook unreachable: ${(err as Error).message}`, { retriable: true, cause: err });
        }
        await res.arrayBuffer().catch(() => undefined);
        if (!res.ok) throw new WikiMonitorError('DEPENDENCY_UNAVAILABLE', `webhook answered ${res.status}`, { retriable: retriableStatus(res.status) });
      },
      { attempts: w.attempts, initialMs: 250, maxMs: 5_000, onRetry: (err, attempt) => log.warn({ attempt, err: (err as Error).message }, 'alert webhook failed, retrying') },
    );
  }

  function sendWebhook(alert: WikiAlert): void {
    // Built here, in publication order: the Alertmanager format remembers when each status fired.
    const body = webhookBody(alert);
    if (body === null) return;
    const p: Promise<void> = toWebhook(body)
      .then(
        () => opts.hooks?.onDelivered?.('webhook'),
        (err: unknown) => {
          opts.hooks?.onFailed?.('webhook');
          log.error({ sink: 'webhook', alert: alert.id, err: describeError(err) }, 'alert delivery failed');
        },
      )
      .finally(() => webhooks.delete(p));
    webhooks.add(p);
  }

  const prune = (items: Remembered[]) => recentAlerts(items, now() - lookBackMs, remember, (r) => r.at);
  const alertsOf = (items: Remembered[]) => items.map((r) => r.alert);

  /** One publication: plan against what the topic holds, write the new alerts in one transaction, then the webhook. */
  async function publishPending(t: Term): Promise<void> {
    evaluated = prune(evaluated);
    t.published = prune(t.published);
    const plan = planAlertPublication({ evaluated: alertsOf(evaluated), published: alertsOf(t.published), toleranceMs });
    for (const d of plan) {
      if (d.publish || t.reported.has(d.alert.id)) continue;
      t.reported.add(d.alert.id);
      log.debug({ alert: d.alert.id, reason: d.reason }, 'alert not published: the alerts topic announces it already');
    }
    // The plan keeps the evaluation order, one decision per evaluated alert.
    const entries = evaluated.filter((_, i) => plan[i]?.publish);
    const batch = entries.map((r) => r.alert);
    if (!batch.length) return;
    if (t.writer) {
      const r = await t.writer.write(batch);
      if (!r.ok) {
        batch.forEach(() => opts.hooks?.onFailed?.('kafka'));
        if (r.fatal) {
          log.error({ err: describeError(r.err), alerts: batch.length }, 'alert producer fenced or failed: another instance leads now (or another deployment uses ALERTS_TRANSACTIONAL_ID); this one stops publishing');
          if (term === t) endTerm();
          await t.writer.close().catch(() => undefined);
          return;
        }
        const delayMs = backoffDelay(failures++, RETRY);
        log.warn({ err: describeError(r.err), alerts: batch.length, retryInMs: delayMs }, 'alert transaction failed; publishing again later');
        if (term === t && !closing) retryTimer = setTimeout(kick, delayMs);
        return;
      }
      failures = 0;
      batch.forEach(() => opts.hooks?.onDelivered?.('kafka'));
    }
    // Committed (or no Kafka): published, whether or not the lease ended meanwhile.
    // Remembered as long as the evaluated alert it is (same time): the id alignment of later plans holds.
    t.published.push(...entries);
    for (const alert of batch) {
      t.reported.add(alert.id);
      log.info({ alert: alert.id, subject: alert.subject, status: alert.status, previous: alert.previous_status }, alert.message);
      if (opts.webhook) sendWebhook(alert);
    }
  }

  /** Runs publications one at a time; a kick during one runs another after it. */
  function kick(): void {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    if (passing) {
      again = true;
      return;
    }
    passing = (async () => {
      do {
        again = false;
        const t = term;
        if (!t) break;
        try {
          await publishPending(t);
        } catch (err) {
          log.error({ err: describeError(err) }, 'alert publication failed');
        }
      } while (again && term);
    })().finally(() => (passing = undefined));
  }

  function endTerm(): void {
    term = undefined;
    roleSince = now();
    clearTimeout(retryTimer);
    retryTimer = undefined;
  }

  async function acquire(signal: AbortSignal): Promise<void> {
    const kafka = opts.kafka;
    if (!kafka || !enabled || closing) return;
    const run = async () => {
      const started = now();
      let writer: AlertTermWriter | undefined;
      for (let attempt = 0; !signal.aborted && !closing; attempt++) {
        try {
          writer ??= await kafka.openTerm();
          if (signal.aborted || closing) break;
          const published = await kafka.readPublished(now() - lookBackMs);
          if (signal.aborted || closing) break;
          const t: Term = { writer, published: published.map((alert) => ({ alert, at: alert.created_at })), reported: new Set() };
          const plan = planAlertPublication({ evaluated: alertsOf(prune(evaluated)), published, toleranceMs });
          term = t;
          terms++;
          roleSince = now();
          writer = undefined;
          log.info(
            { term: terms, tookMs: now() - started, onTopic: published.length, toPublish: plan.filter((d) => d.publish).length, announcedAlready: plan.filter((d) => !d.publish).length },
            'leadership gained: former leaders fenced, the alerts topic read; this instance publishes alerts now',
          );
          kick();
          return;
        } catch (err) {
          const delayMs = backoffDelay(attempt, RETRY);
          log.warn({ err: describeError(err), attempt: attempt + 1, retryInMs: delayMs }, 'starting a leadership term failed; retrying while the lease is held');
          await sleep(delayMs, signal);
        }
      }
      // The lease ended (or the service is closing) before the term began.
      await writer?.close().catch(() => undefined);
    };
    const p = run().finally(() => {
      if (acquiring === p) acquiring = undefined;
    });
    acquiring = p;
    return p;
  }

  async function lose(): Promise<void> {
    const t = term;
    if (!opts.kafka || !t) return;
    // What was raised before the lease ended is written first (one more attempt, the one in flight
    // finished): the next leader then finds it on the topic. A fenced writer just fails.
    kick();
    while (passing) await passing;
    endTerm();
    log.info({ term: terms }, 'leadership lost: this instance no longer publishes alerts (standby)');
    await t.writer?.close().catch((err: unknown) => log.warn({ err: describeError(err) }, 'closing the alert producer failed'));
  }

  return {
    name: 'alert-sink',
    start: () => Promise.resolve(),
    raise(alert) {
      if (!enabled) return;
      evaluated.push({ alert, at: now() });
      if (closing) log.warn({ alert: alert.id }, 'alert raised while shutting down; delivering it before exit');
      if (term) kick();
    },
    acquire,
    lose,
    leadership: () => ({ role: !enabled ? 'off' : term ? 'leader' : 'standby', since: roleSince, terms }),
    inFlight: () => webhooks.size + (passing ? 1 : 0),
    idle: async () => {
      while (passing) await passing;
    },
    async close() {
      closing = true;
      await acquiring;
      while (passing) await passing;
      clearTimeout(retryTimer);
      if (opts.kafka) await lose();
      else term = undefined;
      while (webhooks.size) await Promise.allSettled([...webhooks]);
    },
    isLive: () => true,
    isReady: () => true,
  };
}
