import type { WikiAlert } from '@wikimonitor/contracts';
import { isStatusAlertOf } from '@wikimonitor/domain';
import { type KafkaConnection, type OutgoingRecord, createProducer, readToEnd, writeBatch } from '@wikimonitor/kafka';
import type { AvroCodec } from '@wikimonitor/schemas';
import { type Logger, WikiMonitorError, describeError } from '@wikimonitor/service-kit';
import type { AlertKafka, AlertTermWriter } from './alerts';

export interface AlertKafkaOptions {
  connection: KafkaConnection;
  log: Logger;
  topic: string;
  /** The deployment's one transactional id. */
  transactionalId: string;
  codec: AvroCodec<WikiAlert>;
  /** Whose alerts count as published (the topic carries other services' alerts too). */
  source: string;
  /** Bound on reading the alerts topic to its end (an open transaction of another writer holds read_committed readers back). */
  readTimeoutMs?: number;
}

/**
 * lag-monitor's alerts on Kafka through libs/kafka: one transactional producer per leadership term,
 * and the read of what the alerts topic holds (read_committed, from a time, to its end).
 */
export function createAlertKafka(opts: AlertKafkaOptions): AlertKafka {
  const { log } = opts;
  const connection = { ...opts.connection, clientId: `${opts.connection.clientId}-alerts` };

  async function readPublished(since: number): Promise<WikiAlert[]> {
    const messages = await readToEnd({ connection, log, name: 'read', topics: [opts.topic], from: { timestamp: since }, isolation: 'read_committed', timeoutMs: opts.readTimeoutMs ?? 90_000 });
    const out: WikiAlert[] = [];
    let undecodable = 0;
    for (const m of messages) {
      if (!m.value) continue;
      try {
        const alert = await opts.codec.decode(m.value);
        if (isStatusAlertOf(alert, opts.source) && alert.created_at >= since) out.push(alert);
      } catch (err) {
        if (err instanceof WikiMonitorError && err.retriable) throw err; // the registry is away: read again later
        undecodable++;
      }
    }
    if (undecodable) log.warn({ topic: opts.topic, undecodable }, 'records of the alerts topic that are not WikiAlerts were skipped');
    return out;
  }

  async function openTerm(): Promise<AlertTermWriter> {
    const producer = createProducer({ connection, log, transactionalId: opts.transactionalId, overrides: { 'linger.ms': 0 } });
    try {
      // initTransactions: every earlier producer with this id is fenced, a transaction it left open aborted.
      await producer.start();
    } catch (err) {
      await producer.close().catch(() => undefined);
      throw err;
    }
    return {
      async write(alerts) {
        const records: OutgoingRecord[] = alerts.map((a) => ({ topic: opts.topic, key: a.subject, value: opts.codec.encode(a) }));
        const first = alerts[0] as WikiAlert;
        const startedAt = Date.now();
        const r = await writeBatch({
          producer,
          records,
          transactional: true,
          log,
          // A commit whose outcome librdkafka could not tell: committed if its first alert is on the topic.
          isCommitted: async () => (await readPublished(Math.min(startedAt, first.created_at) - 60_000)).some((a) => a.id === first.id),
        });
        if (r.ok) return { ok: true };
        log.debug({ err: describeError(r.err), fatal: r.fatal }, 'alert transaction not committed');
        return { ok: false, fatal: r.fatal, err: r.err };
      },
      close: () => producer.close(),
    };
  }

  return { openTerm, readPublished };
}
