import type { WikiAlert } from '@wikimonitor/contracts';
import type { KafkaProducer } from '@wikimonitor/kafka';
import { type Lifecycle, type Logger, WikiMonitorError, describeError, retry } from '@wikimonitor/service-kit';
import { alertmanagerPayload } from './alertmanager';
import type { AppConfig } from './config';

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
  /** Kafka delivery (Avro WikiAlert keyed by subject); absent = no Kafka alerts. */
  kafka?: { producer: KafkaProducer; topic: string; encode: (alert: WikiAlert) => Buffer };
  webhook?: WebhookOptions;
  hooks?: AlertSinkHooks;
  fetchImpl?: typeof fetch;
  /** How many alert ids are remembered to publish each id once (default 10,000). */
  rememberIds?: number;
}

export interface AlertSink extends Lifecycle {
  /**
   * Hands an alert to every sink; delivery continues in the background and is awaited on close.
   * An id already published is not published again (returns false): alert ids are per (group,
   * transition, window bucket), so a status that flaps back and forth within one window would
   * otherwise put the same id twice on the topic, which every reader takes for a duplicate.
   */
  publish(alert: WikiAlert): boolean;
  inFlight(): number;
}

/** HTTP status worth another attempt: server errors and throttling; other 4xx are our fault. */
function retriableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/**
 * Delivers alerts to `wiki.alerts` (acks=all, bounded retries) and to an optional webhook (JSON POST,
 * bounded retries with backoff). Deliveries never block the monitor cycle; `close()` waits for every
 * one in flight, so an alert raised just before shutdown is not lost.
 */
export function createAlertSink(opts: AlertSinkOptions): AlertSink {
  const { log } = opts;
  const doFetch = opts.fetchImpl ?? fetch;
  const inFlight = new Set<Promise<void>>();
  let closing = false;
  const rememberIds = opts.rememberIds ?? 10_000;
  const published = new Set<string>();

  async function toKafka(alert: WikiAlert): Promise<void> {
    const k = opts.kafka;
    if (!k) return;
    await retry(() => k.producer.send({ topic: k.topic, key: alert.subject, value: k.encode(alert) }).then(() => undefined), { attempts: 5, initialMs: 200, maxMs: 5_000 });
  }

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

  function track(sink: 'kafka' | 'webhook', alert: WikiAlert, deliver: () => Promise<void>) {
    const p: Promise<void> = deliver()
      .then(
        () => opts.hooks?.onDelivered?.(sink),
        (err: unknown) => {
          opts.hooks?.onFailed?.(sink);
          log.error({ sink, alert: alert.id, err: describeError(err) }, 'alert delivery failed');
        },
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }

  return {
    name: 'alert-sink',
    start: () => Promise.resolve(),
    publish(alert) {
      if (published.has(alert.id)) {
        log.debug({ alert: alert.id }, 'alert id already published (the same transition again within its window): not sent twice');
        return false;
      }
      published.add(alert.id);
      // Set order is insertion order: forget the oldest beyond the bound.
      if (published.size > rememberIds) published.delete(published.values().next().value as string);
      if (closing) log.warn({ alert: alert.id }, 'alert raised while shutting down; delivering it before exit');
      log.info({ alert: alert.id, subject: alert.subject, status: alert.status, previous: alert.previous_status }, alert.message);
      if (opts.kafka) track('kafka', alert, () => toKafka(alert));
      if (opts.webhook) {
        // Built here, in publish order: the Alertmanager format remembers when each status fired.
        const body = webhookBody(alert);
        if (body !== null) track('webhook', alert, () => toWebhook(body));
      }
      return true;
    },
    inFlight: () => inFlight.size,
    async close() {
      closing = true;
      while (inFlight.size) await Promise.allSettled([...inFlight]);
    },
    isLive: () => true,
    isReady: () => true,
  };
}
