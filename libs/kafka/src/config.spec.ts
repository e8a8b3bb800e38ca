import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaConsumer, Producer } from '@confluentinc/kafka-javascript';
import { WikiMonitorError, parseConfig } from '@wikimonitor/service-kit';
import { kafkaConfigSchema, kafkaConnectionFromEnv, rdkafkaBaseConfig, rdkafkaSecurityConfig } from './config';

const connectionOf = (vars: Record<string, string>) => kafkaConnectionFromEnv(parseConfig(kafkaConfigSchema, vars), 'app');

/** The problems kafkaConnectionFromEnv refuses the settings with (empty when it accepts them). */
function problemsOf(vars: Record<string, string>): string[] {
  try {
    connectionOf(vars);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(WikiMonitorError);
    expect((err as WikiMonitorError).code).toBe('CONFIG_INVALID');
    return (err as WikiMonitorError).details?.['problems'] as string[];
  }
}

describe('Kafka security settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wm-kafka-secrets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rdkafkaSecurityConfig should map SCRAM over TLS with a client certificate and an encrypted key (mutual TLS)', () => {
    const conn = connectionOf({
      KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
      KAFKA_SSL_CA_LOCATION: '/tls/ca.pem',
      KAFKA_SSL_CERTIFICATE_LOCATION: '/tls/client.pem',
      KAFKA_SSL_KEY_LOCATION: '/tls/client.key',
      KAFKA_SSL_KEY_PASSWORD: 'kp',
    });
    expect(rdkafkaSecurityConfig(conn)).toEqual({
      'security.protocol': 'sasl_ssl',
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': 'u',
      'sasl.password': 'p',
      'ssl.ca.location': '/tls/ca.pem',
      'ssl.certificate.location': '/tls/client.pem',
      'ssl.key.location': '/tls/client.key',
      'ssl.key.password': 'kp',
    });
    // Every librdkafka client takes them through rdkafkaBaseConfig.
    expect(rdkafkaBaseConfig(conn)).toMatchObject(rdkafkaSecurityConfig(conn));
  });

  it('rdkafkaSecurityConfig should map OAUTHBEARER to the OIDC client-credentials method', () => {
    const conn = connectionOf({
      KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      KAFKA_SASL_MECHANISM: 'OAUTHBEARER',
      KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: 'https://idp.example/oauth2/token',
      KAFKA_SASL_OAUTHBEARER_CLIENT_ID: 'wikimonitor-producer',
      KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: 'cs',
      KAFKA_SASL_OAUTHBEARER_SCOPE: 'kafka',
      KAFKA_SASL_OAUTHBEARER_EXTENSIONS: 'logicalCluster=lkc-1',
      KAFKA_SSL_CA_LOCATION: '/tls/ca.pem',
    });
    expect(rdkafkaSecurityConfig(conn)).toEqual({
      'security.protocol': 'sasl_ssl',
      'sasl.mechanisms': 'OAUTHBEARER',
      'sasl.oauthbearer.method': 'oidc',
      'sasl.oauthbearer.token.endpoint.url': 'https://idp.example/oauth2/token',
      'sasl.oauthbearer.client.id': 'wikimonitor-producer',
      'sasl.oauthbearer.client.secret': 'cs',
      'sasl.oauthbearer.scope': 'kafka',
      'sasl.oauthbearer.extensions': 'logicalCluster=lkc-1',
      'ssl.ca.location': '/tls/ca.pem',
    });
  });

  it('librdkafka should accept every property the mapping produces (a producer and a consumer are created, not connected)', () => {
    // librdkafka refuses an unknown or invalid property when the client is created, so this fails on a misspelt name.
    const oauth = connectionOf({
      KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      KAFKA_SASL_MECHANISM: 'OAUTHBEARER',
      KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: 'https://idp.example/oauth2/token',
      KAFKA_SASL_OAUTHBEARER_CLIENT_ID: 'id',
      KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: 'secret',
      KAFKA_SASL_OAUTHBEARER_SCOPE: 'kafka',
    });
    const scram = connectionOf({ KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' });
    for (const conn of [oauth, scram]) {
      expect(() => new Producer(rdkafkaBaseConfig(conn))).not.toThrow();
      expect(() => new KafkaConsumer({ ...rdkafkaBaseConfig(conn), 'group.id': 'g' }, {})).not.toThrow();
    }
    // An unknown property on purpose: librdkafka refuses it, so a misspelt one in rdkafkaBaseConfig would fail above.
    const misspelt = { ...rdkafkaBaseConfig(scram), 'sasl.oauthbearer.no.such.property': 'x' } as ReturnType<typeof rdkafkaBaseConfig>;
    expect(() => new Producer(misspelt)).toThrow(/No such configuration property/);
  });

  it('the secrets should come from files named by their _FILE variables', () => {
    const password = join(dir, 'password');
    const keyPassword = join(dir, 'key-password');
    writeFileSync(password, 'from-a-file\n');
    writeFileSync(keyPassword, 'key-from-a-file\n');
    const conn = connectionOf({
      KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD_FILE: password,
      KAFKA_SSL_CERTIFICATE_LOCATION: '/c.pem',
      KAFKA_SSL_KEY_LOCATION: '/c.key',
      KAFKA_SSL_KEY_PASSWORD_FILE: keyPassword,
    });
    expect(rdkafkaSecurityConfig(conn)).toMatchObject({ 'sasl.password': 'from-a-file', 'ssl.key.password': 'key-from-a-file' });
  });

  it('kafkaConnectionFromEnv should refuse settings that cannot work together, all at once and without their values', () => {
    expect(problemsOf({ KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SSL_CERTIFICATE_LOCATION: '/c.pem', KAFKA_SSL_KEY_PASSWORD: 'hidden-value' })).toEqual([
      'KAFKA_SASL_USERNAME: required with KAFKA_SECURITY_PROTOCOL=sasl_ssl and KAFKA_SASL_MECHANISM=SCRAM-SHA-512',
      'KAFKA_SASL_PASSWORD: required with KAFKA_SECURITY_PROTOCOL=sasl_ssl and KAFKA_SASL_MECHANISM=SCRAM-SHA-512',
      'KAFKA_SSL_CERTIFICATE_LOCATION, KAFKA_SSL_KEY_LOCATION: a client certificate needs both',
      'KAFKA_SSL_KEY_PASSWORD: set without KAFKA_SSL_KEY_LOCATION',
    ]);
    expect(problemsOf({ KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext', KAFKA_SASL_MECHANISM: 'OAUTHBEARER', KAFKA_SASL_OAUTHBEARER_CLIENT_ID: 'id', KAFKA_SSL_CA_LOCATION: '/ca.pem' })).toEqual([
      'KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: required with KAFKA_SECURITY_PROTOCOL=sasl_plaintext and KAFKA_SASL_MECHANISM=OAUTHBEARER',
      'KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: required with KAFKA_SECURITY_PROTOCOL=sasl_plaintext and KAFKA_SASL_MECHANISM=OAUTHBEARER',
      'KAFKA_SSL_CA_LOCATION: set, but KAFKA_SECURITY_PROTOCOL=sasl_plaintext does not use TLS',
    ]);
    // Credentials the protocol would silently ignore are refused too: a forgotten KAFKA_SECURITY_PROTOCOL.
    expect(problemsOf({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'hidden-value' })).toEqual([
      'KAFKA_SASL_USERNAME: set, but KAFKA_SECURITY_PROTOCOL=plaintext does not use SASL',
      'KAFKA_SASL_PASSWORD: set, but KAFKA_SECURITY_PROTOCOL=plaintext does not use SASL',
    ]);
    expect(problemsOf({ KAFKA_SECURITY_PROTOCOL: 'ssl' })).toEqual([]);
  });
});
