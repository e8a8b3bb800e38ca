import { z } from 'zod';
import { WikiMonitorError, env } from '@wikimonitor/service-kit';

/**
 * Kafka connection settings shared by every app (spread into the app's config schema). Every secret
 * can come from a file instead: `<KEY>_FILE` (libs/service-kit parseConfig), e.g. KAFKA_SASL_PASSWORD_FILE.
 */
export const kafkaConfigShape = {
  KAFKA_BOOTSTRAP_SERVERS: env.string('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: env.optionalString(),
  KAFKA_SECURITY_PROTOCOL: env.enum(['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'], 'plaintext'),
  KAFKA_SASL_MECHANISM: env.enum(['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN', 'OAUTHBEARER'], 'SCRAM-SHA-512'),
  KAFKA_SASL_USERNAME: env.optionalString(),
  KAFKA_SASL_PASSWORD: env.optionalString(),
  /** OAUTHBEARER through OIDC client credentials (librdkafka `sasl.oauthbearer.method=oidc`). */
  KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: env.optionalString(),
  KAFKA_SASL_OAUTHBEARER_CLIENT_ID: env.optionalString(),
  KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: env.optionalString(),
  KAFKA_SASL_OAUTHBEARER_SCOPE: env.optionalString(),
  /** `key=value,key2=value2` SASL extensions some brokers ask for (e.g. a logical cluster id). */
  KAFKA_SASL_OAUTHBEARER_EXTENSIONS: env.optionalString(),
  /** CA certificate(s) (PEM) that signed the brokers' certificates; unset = the system's CA store. */
  KAFKA_SSL_CA_LOCATION: env.optionalString(),
  /** Mutual TLS: the client's certificate (PEM) and private key (PEM), the key's password if it is encrypted. */
  KAFKA_SSL_CERTIFICATE_LOCATION: env.optionalString(),
  KAFKA_SSL_KEY_LOCATION: env.optionalString(),
  KAFKA_SSL_KEY_PASSWORD: env.optionalString(),
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

export type KafkaSecurityProtocol = 'plaintext' | 'ssl' | 'sasl_plaintext' | 'sasl_ssl';

export interface KafkaConnection {
  bootstrapServers: string;
  clientId: string;
  securityProtocol: KafkaSecurityProtocol;
  saslMechanism?: string;
  saslUsername?: string;
  saslPassword?: string;
  /** OAUTHBEARER (`saslMechanism` OAUTHBEARER): OIDC client credentials. */
  oauthbearer?: { tokenEndpointUrl: string; clientId: string; clientSecret: string; scope?: string; extensions?: string };
  sslCaLocation?: string;
  sslCertificateLocation?: string;
  sslKeyLocation?: string;
  sslKeyPassword?: string;
  connectAttempts: number;
  /** librdkafka `debug` contexts; the clients then log librdkafka's own lines. */
  debug?: string;
}

const usesSasl = (p: KafkaSecurityProtocol) => p === 'sasl_plaintext' || p === 'sasl_ssl';
const usesTls = (p: KafkaSecurityProtocol) => p === 'ssl' || p === 'sasl_ssl';

/**
 * Settings that cannot work together, one line each: a mechanism without its credentials, half a
 * client certificate, TLS or SASL settings the protocol would silently ignore. Never shows a value.
 */
export function kafkaSecurityProblems(cfg: KafkaConfigEnv): string[] {
  const problems: string[] = [];
  const protocol = cfg.KAFKA_SECURITY_PROTOCOL;
  const set = (k: keyof KafkaConfigEnv) => cfg[k] !== undefined;
  const oauthKeys = ['KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL', 'KAFKA_SASL_OAUTHBEARER_CLIENT_ID', 'KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET'] as const;
  if (usesSasl(protocol)) {
    const needed = cfg.KAFKA_SASL_MECHANISM === 'OAUTHBEARER' ? oauthKeys : (['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const);
    for (const k of needed.filter((k) => !set(k))) problems.push(`${k}: required with KAFKA_SECURITY_PROTOCOL=${protocol} and KAFKA_SASL_MECHANISM=${cfg.KAFKA_SASL_MECHANISM}`);
  } else {
    for (const k of (['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', ...oauthKeys] as const).filter(set)) problems.push(`${k}: set, but KAFKA_SECURITY_PROTOCOL=${protocol} does not use SASL`);
  }
  const tlsKeys = ['KAFKA_SSL_CA_LOCATION', 'KAFKA_SSL_CERTIFICATE_LOCATION', 'KAFKA_SSL_KEY_LOCATION', 'KAFKA_SSL_KEY_PASSWORD'] as const;
  if (!usesTls(protocol)) {
    for (const k of tlsKeys.filter(set)) problems.push(`${k}: set, but KAFKA_SECURITY_PROTOCOL=${protocol} does not use TLS`);
  } else {
    if (set('KAFKA_SSL_CERTIFICATE_LOCATION') !== set('KAFKA_SSL_KEY_LOCATION')) problems.push('KAFKA_SSL_CERTIFICATE_LOCATION, KAFKA_SSL_KEY_LOCATION: a client certificate needs both');
    if (set('KAFKA_SSL_KEY_PASSWORD') && !set('KAFKA_SSL_KEY_LOCATION')) problems.push('KAFKA_SSL_KEY_PASSWORD: set without KAFKA_SSL_KEY_LOCATION');
  }
  return problems;
}

/** Maps the parsed env settings to a connection description; refuses (CONFIG_INVALID) settings that cannot work together. */
export function kafkaConnectionFromEnv(cfg: KafkaConfigEnv, defaultClientId: string): KafkaConnection {
  const problems = kafkaSecurityProblems(cfg);
  if (problems.length) throw new WikiMonitorError('CONFIG_INVALID', `invalid Kafka security settings:\n  - ${problems.join('\n  - ')}`, { details: { problems } });
  const oauth = cfg.KAFKA_SASL_MECHANISM === 'OAUTHBEARER' && usesSasl(cfg.KAFKA_SECURITY_PROTOCOL);
  return {
    bootstrapServers: cfg.KAFKA_BOOTSTRAP_SERVERS,
    clientId: cfg.KAFKA_CLIENT_ID ?? defaultClientId,
    securityProtocol: cfg.KAFKA_SECURITY_PROTOCOL,
    saslMechanism: cfg.KAFKA_SASL_MECHANISM,
    saslUsername: cfg.KAFKA_SASL_USERNAME,
    saslPassword: cfg.KAFKA_SASL_PASSWORD,
    ...(oauth
      ? {
          oauthbearer: {
            tokenEndpointUrl: cfg.KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL as string,
            clientId: cfg.KAFKA_SASL_OAUTHBEARER_CLIENT_ID as string,
            clientSecret: cfg.KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET as string,
            scope: cfg.KAFKA_SASL_OAUTHBEARER_SCOPE,
            extensions: cfg.KAFKA_SASL_OAUTHBEARER_EXTENSIONS,
          },
        }
      : {}),
    sslCaLocation: cfg.KAFKA_SSL_CA_LOCATION,
    sslCertificateLocation: cfg.KAFKA_SSL_CERTIFICATE_LOCATION,
    sslKeyLocation: cfg.KAFKA_SSL_KEY_LOCATION,
    sslKeyPassword: cfg.KAFKA_SSL_KEY_PASSWORD,
    connectAttempts: cfg.KAFKA_CONNECT_ATTEMPTS,
    debug: cfg.KAFKA_DEBUG,
  };
}

/**
 * librdkafka security properties of a connection: SASL (SCRAM, PLAIN, OAUTHBEARER/OIDC) and TLS (CA,
 * client certificate and key), only what the protocol uses. Every client takes these: the librdkafka
 * producers, consumers and admin clients (through {@link rdkafkaBaseConfig}) and the KafkaJS-compatible admin.
 */
export function rdkafkaSecurityConfig(conn: KafkaConnection): Record<string, string> {
  const conf: Record<string, string> = { 'security.protocol': conn.securityProtocol };
  if (usesSasl(conn.securityProtocol)) {
    const mechanism = conn.saslMechanism ?? 'SCRAM-SHA-512';
    conf['sasl.mechanisms'] = mechanism;
    if (mechanism === 'OAUTHBEARER' && conn.oauthbearer) {
      const o = conn.oauthbearer;
      conf['sasl.oauthbearer.method'] = 'oidc';
      conf['sasl.oauthbearer.token.endpoint.url'] = o.tokenEndpointUrl;
      conf['sasl.oauthbearer.client.id'] = o.clientId;
      conf['sasl.oauthbearer.client.secret'] = o.clientSecret;
      if (o.scope) conf['sasl.oauthbearer.scope'] = o.scope;
      if (o.extensions) conf['sasl.oauthbearer.extensions'] = o.extensions;
    } else {
      if (conn.saslUsername) conf['sasl.username'] = conn.saslUsername;
      if (conn.saslPassword) conf['sasl.password'] = conn.saslPassword;
    }
  }
  if (usesTls(conn.securityProtocol)) {
    if (conn.sslCaLocation) conf['ssl.ca.location'] = conn.sslCaLocation;
    if (conn.sslCertificateLocation) conf['ssl.certificate.location'] = conn.sslCertificateLocation;
    if (conn.sslKeyLocation) conf['ssl.key.location'] = conn.sslKeyLocation;
    if (conn.sslKeyPassword) conf['ssl.key.password'] = conn.sslKeyPassword;
  }
  return conf;
}

/** librdkafka global properties for a connection (security included only when configured). */
export function rdkafkaBaseConfig(conn: KafkaConnection): Record<string, string | number | boolean> {
  const conf: Record<string, string | number | boolean> = {
    'bootstrap.servers': conn.bootstrapServers,
    'client.id': conn.clientId,
    ...rdkafkaSecurityConfig(conn),
    // Fail fast on a dead bootstrap list instead of hanging; callers retry with backoff.
    'socket.connection.setup.timeout.ms': 10_000,
    'reconnect.backoff.ms': 100,
    'reconnect.backoff.max.ms': 5_000,
    'log.connection.close': false,
  };
  if (conn.debug) conf['debug'] = conn.debug;
  return conf;
}
