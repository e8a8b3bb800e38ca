import type { LibrdKafkaError } from '@confluentinc/kafka-javascript';
import { type Logger, WikiMonitorError, retry } from '@wikimonitor/service-kit';
import type { KafkaConnection } from './config';

/** What connecting needs of a librdkafka client (Producer, KafkaConsumer). */
interface Connectable {
  connect(options: { timeout: number }, cb: (err: LibrdKafkaError | null) => void): unknown;
  on(event: 'event.log', listener: (line: { severity: number; fac: string; message: string }) => void): unknown;
}

/**
 * Connects a librdkafka client, retrying with backoff up to the connection's `connectAttempts`
 * (the broker may not be there yet at start); the last failure is a retriable DEPENDENCY_UNAVAILABLE.
 */
export function connectClient(client: Connectable, conn: KafkaConnection, log: Logger | undefined, what: string): Promise<void> {
  // With KAFKA_DEBUG set, librdkafka's own lines (rebalances, fetches, transactions) go to the service log.
  if (conn.debug && log) client.on('event.log', (line) => log.info({ client: what, rdkafka: line.fac, severity: line.severity }, line.message));
  const once = () =>
    new Promise<void>((resolve, reject) =>
      client.connect({ timeout: 10_000 }, (err) =>
        err ? reject(new WikiMonitorError('DEPENDENCY_UNAVAILABLE', `${what}: Kafka at ${conn.bootstrapServers} unreachable: ${err.message}`, { retriable: true, cause: err })) : resolve(),
      ),
    );
  return retry(once, {
    attempts: conn.connectAttempts,
    initialMs: 500,
    maxMs: 10_000,
    onRetry: (err, attempt, delay) => log?.warn({ attempt, delay, client: what, err: (err as Error).message }, 'Kafka not reachable yet, retrying'),
  });
}
