import { z } from 'zod';
import { env } from '@wikimonitor/service-kit';

/** Kafka connection settings shared by every app (spread into the app's config schema). */
export const kafkaConfigShape = {
  KAFKA_BOOTSTRAP_SERVERS: env.string('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: env.optionalString(),
  KAFKA_SECURITY_PROTOCOL: env.enum(['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'], 'plaintext'),
  KAFKA_SASL_MECHANISM: env.enum(['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN'], 'SCRAM-SHA-512'),
  KAFKA_SASL_USERNAME: env.optionalString(),
  KAFKA_SASL_PASSWORD: env.optionalString(),
  KAFKA_SSL_CA_LOCATION: env.optionalString(),
  /** Bounded start-up retries when the broker is not there yet. */
  KAFKA_CONNECT_ATTEMPTS: env.int(10, { min: 1 }),
  /** librdkafka debug contexts (e.g. `cgrp,fetch,eos`), logged at info: for diagnosing a client, never on by default. */
  KAFKA_DEBUG: env.optionalString(),
};

export const kafkaConfigSchema = z.object(kafkaConfigShape);

/**
 * Session timeout of a consuming app's group member: the chaos suite's value (libs/testing
 * INSTANCE_SESSION_TIMEOUT_MS, which Kubernetes must match). A member that dies without coming back
 * loses its partitions after this long; one that comes back (static membership) takes them back at once.
 */
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;

/** Consumer group membership, the same settings in every consuming app. */
export const groupMembershipConfigShape = {
  /**
   * Static group membership (KIP-345): the instance's stable identity (a StatefulSet pod's name). A
   * restart within the session timeout takes its partitions back without a rebalance of the others.
   */
  GROUP_INSTANCE_ID: env.optionalString(),
  /** The broker accepts 6 s to 300 s by default (group.min/max.session.timeout.ms). */
  CONSUMER_SESSION_TIMEOUT_MS: env.int(DEFAULT_SESSION_TIMEOUT_MS, { min: 6_000, max: 300_000 }),
};

export interface GroupMembershipEnv {
  GROUP_INSTANCE_ID?: string | undefined;
  CONSUMER_SESSION_TIMEOUT_MS: number;
}

/** librdkafka consumer properties for the membership settings (cooperative-sticky assignment is the runner's own). */
export function groupMembershipOverrides(cfg: GroupMembershipEnv): Record<string, string | number> {
  return {
    'session.timeout.ms': cfg.CONSUMER_SESSION_TIMEOUT_MS,
    // At most a third of the session, as Kafka's documentation of heartbeat.interval.ms advises.
    'heartbeat.interval.ms': Math.max(1_000, Math.floor(cfg.CONSUMER_SESSION_TIMEOUT_MS / 3)),
    ...(cfg.GROUP_INSTANCE_ID ? { 'group.instance.id': cfg.GROUP_INSTANCE_ID } : {}),
  };
}
export type KafkaConfigEnv = z.output<typeof kafkaConfigSchema>;

export interface KafkaConnection {
  bootstrapServers: string;
  clientId: string;
  securityProtocol: 'plaintext' | 'ssl' | 'sasl_plaintext' | 'sasl_ssl';
  saslMechanism?: string;
  saslUsername?: string;
  saslPassword?: string;
  sslCaLocation?: string;
  connectAttempts: number;
  /** librdkafka `debug` contexts; the clients then log librdkafka's own lines. */
  debug?: string;
}

/** Maps the parsed env settings to a connection description. */
export function kafkaConnectionFromEnv(cfg: KafkaConfigEnv, defaultClientId: string): KafkaConnection {
  return {
    bootstrapServers: cfg.KAFKA_BOOTSTRAP_SERVERS,
    clientId: cfg.KAFKA_CLIENT_ID ?? defaultClientId,
    securityProtocol: cfg.KAFKA_SECURITY_PROTOCOL,
    saslMechanism: cfg.KAFKA_SASL_MECHANISM,
    saslUsername: cfg.KAFKA_SASL_USERNAME,
    saslPassword: cfg.KAFKA_SASL_PASSWORD,
    sslCaLocation: cfg.KAFKA_SSL_CA_LOCATION,
    connectAttempts: cfg.KAFKA_CONNECT_ATTEMPTS,
    debug: cfg.KAFKA_DEBUG,
  };
}

/** librdkafka global properties for a connection (security included only when configured). */
export function rdkafkaBaseConfig(conn: KafkaConnection): Record<string, string | number | boolean> {
  const conf: Record<string, string | number | boolean> = {
    'bootstrap.servers': conn.bootstrapServers,
    'client.id': conn.clientId,
    'security.protocol': conn.securityProtocol,
    // Fail fast on a dead bootstrap list instead of hanging; callers retry with backoff.
    'socket.connection.setup.timeout.ms': 10_000,
    'reconnect.backoff.ms': 100,
    'reconnect.backoff.max.ms': 5_000,
    'log.connection.close': false,
  };
  if (conn.securityProtocol.startsWith('sasl')) {
    conf['sasl.mechanisms'] = conn.saslMechanism ?? 'SCRAM-SHA-512';
    if (conn.saslUsername) conf['sasl.username'] = conn.saslUsername;
    if (conn.saslPassword) conf['sasl.password'] = conn.saslPassword;
  }
  if (conn.sslCaLocation) conf['ssl.ca.location'] = conn.sslCaLocation;
  if (conn.debug) conf['debug'] = conn.debug;
  return conf;
}
