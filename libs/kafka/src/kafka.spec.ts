import { z } from 'zod';
import { groupMembershipConfigShape, groupMembershipOverrides, kafkaConnectionFromEnv, kafkaConfigSchema, rdkafkaBaseConfig } from './config';
import { DLQ_HEADERS, deadLetterFrom, deadLetterRecord, parseDeadLetter } from './dlq';
import { headersFromMessage, headersToMessage } from './headers';
import { PRODUCER_SAFETY } from './producer';

describe('kafka lib (pure parts)', () => {
  it('rdkafkaBaseConfig should add SASL/SCRAM and TLS only when configured', () => {
    const plain = kafkaConnectionFromEnv(kafkaConfigSchema.parse({}), 'app');
    expect(rdkafkaBaseConfig(plain)).toMatchObject({ 'bootstrap.servers': '127.0.0.1:9092', 'client.id': 'app', 'security.protocol': 'plaintext' });
    expect(rdkafkaBaseConfig(plain)['sasl.mechanisms']).toBeUndefined();
    const sasl = kafkaConnectionFromEnv(
      kafkaConfigSchema.parse({ KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_SSL_CA_LOCATION: '/ca.pem', KAFKA_CLIENT_ID: 'x' }),
      'app',
    );
    expect(rdkafkaBaseConfig(sasl)).toMatchObject({ 'security.protocol': 'sasl_ssl', 'sasl.mechanisms': 'SCRAM-SHA-512', 'sasl.username': 'u', 'sasl.password': 'p', 'ssl.ca.location': '/ca.pem', 'client.id': 'x' });
  });

  it('group membership settings should default to dynamic membership with the 10 s session the chaos suite runs', () => {
    const membership = z.object(groupMembershipConfigShape);
    const defaults = membership.parse({});
    expect(defaults).toEqual({ CONSUMER_SESSION_TIMEOUT_MS: 10_000 });
    expect(groupMembershipOverrides(defaults)).toEqual({ 'session.timeout.ms': 10_000, 'heartbeat.interval.ms': 3_333 });
    expect(groupMembershipOverrides(membership.parse({ GROUP_INSTANCE_ID: 'filter-router-2', CONSUMER_SESSION_TIMEOUT_MS: '45000' }))).toEqual({
      'session.timeout.ms': 45_000,
      'heartbeat.interval.ms': 15_000,
      'group.instance.id': 'filter-router-2',
    });
    // Outside the broker's default group.min/max.session.timeout.ms the join would be refused at run time.
    expect(membership.safeParse({ CONSUMER_SESSION_TIMEOUT_MS: '5000' }).success).toBe(false);
    expect(membership.safeParse({ CONSUMER_SESSION_TIMEOUT_MS: '300001' }).success).toBe(false);
  });

  it('producer safety settings should be acks=all with idempotence', () => {
    expect(PRODUCER_SAFETY).toEqual({ acks: 'all', 'enable.idempotence': true, 'max.in.flight.requests.per.connection': 5 });
  });

  it('headers should round-trip between librdkafka lists and maps', () => {
    const list = headersToMessage({ a: '1', b: Buffer.from('2') });
    expect(list).toEqual([{ a: '1' }, { b: Buffer.from('2') }]);
    expect(headersFromMessage(list)).toEqual({ a: '1', b: Buffer.from('2') });
    expect(headersToMessage({})).toBeUndefined();
  });

  it('a dead-letter record should parse back to its source, error, attempts and original headers', () => {
    const rec = deadLetterRecord('wiki.dlq', {
      sourceTopic: 'https://stream.example/v2/stream/recentchange',
      sourceOffset: '[{"topic":"t","partition":0,"offset":5}]',
      value: Buffer.from('{not json'),
      headers: { 'sse.id': 'x' },
      error: { code: 'NOT_JSON', message: 'Unexpected token' },
      attempts: 1,
      app: 'producer',
      failedAt: new Date('2026-01-01T00:00:00Z'),
    });
    expect(rec.topic).toBe('wiki.dlq');
    expect(rec.headers?.[DLQ_HEADERS.errorCode]).toBe('NOT_JSON');
    const back = parseDeadLetter(rec.key, rec.value, rec.headers ?? {});
    expect(back).toMatchObject({ sourceTopic: 'https://stream.example/v2/stream/recentchange', sourceOffset: '[{"topic":"t","partition":0,"offset":5}]', attempts: 1, app: 'producer', error: { code: 'NOT_JSON', message: 'Unexpected token' } });
    expect(back.originalHeaders).toEqual({ 'sse.id': 'x' });
    expect(back.failedAt?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('a dead letter with details should carry them as dlq.* headers that a replay leaves out', () => {
    const rec = deadLetterFrom(
      { topic: 'wiki.changes.human-content', partition: 2, offset: 7, key: 'enwiki:A', value: Buffer.from('v'), headers: [{ traceparent: 't' }] },
      { code: 'ENRICH_INTERNAL_ERROR', message: 'HTTP 503' },
      { topic: 'wiki.changes.enriched.error', app: 'enricher', attempts: 4, details: { 'http.status': '503' } },
    );
    expect(rec.headers?.['dlq.http.status']).toBe('503');
    const back = parseDeadLetter(rec.key, rec.value, rec.headers ?? {});
    expect(back).toMatchObject({ sourceTopic: 'wiki.changes.human-content', sourcePartition: 2, sourceOffset: 7, attempts: 4, error: { code: 'ENRICH_INTERNAL_ERROR' } });
    expect(back.originalHeaders).toEqual({ traceparent: 't' });
  });
});
