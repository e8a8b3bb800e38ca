import { Producer, type LibrdKafkaError } from '@confluentinc/kafka-javascript';
import { type Logger, WikiMonitorError, retry } from '@wikimonitor/service-kit';
import { type KafkaConnection, rdkafkaBaseConfig } from './config';

/** What connecting needs of a librdkafka client (Producer, KafkaConsumer). */
interface Connectable {
  connect(options: { timeout: number }, cb: (err: LibrdKafkaError | null) => void): unknown;
  on(event: 'event.log', listener: (line: { severity: number; fac: string; message: string }) => void): unknown;
}

/**
 * Broker failures no retry with the same settings can cure: the broker refused the credentials or
 * the client certificate, or the client could not verify the broker's certificate. While a client
 * connects, librdkafka reports them only as FAIL log lines (its error callback is served by the
 * first poll, after connecting), with no error code, so this is where their text is read, once,
 * to set the error's `retriable` flag.
 */
const ACCESS_FAILURE = /SASL authentication (error|failed)|SSL handshake failed|certificate verify failed|alert (bad certificate|certificate required|unknown ca|certificate unknown|certificate expired)/i;

/** The broker's reason from a librdkafka FAIL line, without the `[thrd:...]: host:port/id: ` prefixes. */
function failReason(message: string): string {
  return message.replace(/^\[thrd:[^\]]*\]:\s*/, '').replace(/^\S+\/(bootstrap|\d+):\s*/, '');
}

/**
 * Connects a librdkafka client, retrying with backoff up to the connection's `connectAttempts`
 * (the broker may not be there yet at start); the last failure is a retriable DEPENDENCY_UNAVAILABLE.
 * A refused login or certificate fails at once (KAFKA_AUTH_FAILED, not retriable) with librdkafka's reason.
 */
export function connectClient(client: Connectable, conn: KafkaConnection, log: Logger | undefined, what: string): Promise<void> {
  // With KAFKA_DEBUG set, librdkafka's own lines (rebalances, fetches, transactions) go to the service log.
  if (conn.debug && log) client.on('event.log', (line) => log.info({ client: what, rdkafka: line.fac, severity: line.severity }, line.message));
  let lastFailure: string | undefined;
  client.on('event.log', (line) => {
    // Every FAIL line, whatever its level: a plaintext client at a TLS listener gets only an info-level disconnect.
    if (line.fac === 'FAIL') lastFailure = failReason(line.message);
  });
  const once = () =>
    new Promise<void>((resolve, reject) => {
      lastFailure = undefined;
      client.connect({ timeout: 10_000 }, (err) => {
        if (!err) return resolve();
        if (lastFailure && ACCESS_FAILURE.test(lastFailure)) {
          return reject(new WikiMonitorError('KAFKA_AUTH_FAILED', `${what}: Kafka at ${conn.bootstrapServers} refused the connection (${conn.securityProtocol}): ${lastFailure}`, { retriable: false, cause: err }));
        }
        const why = lastFailure ? ` (${lastFailure})` : '';
        reject(new WikiMonitorError('DEPENDENCY_UNAVAILABLE', `${what}: Kafka at ${conn.bootstrapServers} unreachable: ${err.message}${why}`, { retriable: true, cause: err }));
      });
    });
  return retry(once, {
    attempts: conn.connectAttempts,
    initialMs: 500,
    maxMs: 10_000,
    onRetry: (err, attempt, delay) => log?.warn({ attempt, delay, client: what, err: (err as Error).message }, 'Kafka not reachable yet, retrying'),
  });
}

/**
 * Connects a short-lived librdkafka client once (with {@link connectClient}'s retries) and closes it:
 * for clients whose own connect never talks to the broker (the admin clients), so that an
 * unreachable broker or refused credentials show at start with a clear error, not as a timeout later.
 */
export async function checkBrokerAccess(conn: KafkaConnection, log: Logger | undefined, what: string): Promise<void> {
  const probe = new Producer({ ...rdkafkaBaseConfig({ ...conn, clientId: `${conn.clientId}-check` }) });
  try {
    await connectClient(probe, conn, log, what);
  } finally {
    await new Promise<void>((resolve) => {
      if (!probe.isConnected()) return resolve();
      probe.disconnect(5_000, () => resolve());
    });
  }
}
