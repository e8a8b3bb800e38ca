import { AvroDeserializer, SerdeType, SubjectNameStrategyType } from '@confluentinc/schemaregistry';
import { type WikiChange, WikiChangeSchema } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { createProducer, headersFromMessage, provisionTopics } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, loadRecordedEvents, readTopic, testConnection, uniqueName } from '@wikimonitor/testing';
import { Compatibility, createAvroCodec, createRegistryClient, isCompatible, topicSubject } from './codec';

const log = createLogger('test', 'silent');

describe('Avro codec on the real broker and registry', () => {
  it('a WikiChange should go through Kafka and the registry and come back equal', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const topic = uniqueName('it.codec');
    await provisionTopics(conn, [{ topic, partitions: 1, replicationFactor: 1 }]);

    const client = createRegistryClient({ url: env.registryUrl });
    const codec = createAvroCodec<WikiChange>({ client, topic, schema: WikiChangeSchema });
    await codec.init();
    expect(await client.getCompatibility(topicSubject(topic))).toBe(Compatibility.FORWARD_TRANSITIVE);

    const changes = loadRecordedEvents()
      .slice(0, 60)
      .map((r) => normalizeRecentChange(r.json, { receivedTime: Date.now(), sseId: null }))
      .flatMap((n) => (n.kind === 'change' ? [n.change] : []));
    const producer = createProducer({ connection: conn, log });
    await producer.start();
    await Promise.all(changes.map((c) => producer.send({ topic, key: c.id, value: codec.encode(c), headers: { h: 'v' } })));
    await producer.close();

    const messages = await readTopic(conn, topic);
    expect(messages).toHaveLength(changes.length);
    const decoded = await Promise.all(messages.map((m) => codec.decode(m.value as Buffer)));
    expect(decoded).toEqual(changes);
    expect(headersFromMessage(messages[0]?.headers)['h']?.toString()).toBe('v');

    // Wire-compatible with Confluent's own deserializer using the TOPIC subject strategy.
    const confluent = new AvroDeserializer(client, SerdeType.VALUE, { subjectNameStrategyType: SubjectNameStrategyType.TOPIC });
    const viaConfluent = await confluent.deserialize(topic, messages[0]?.value as Buffer);
    expect(viaConfluent.id).toBe(changes[0]?.id);
    expect(Number(viaConfluent.event_time instanceof Date ? viaConfluent.event_time.getTime() : viaConfluent.event_time)).toBe(changes[0]?.event_time);
  });

  it('the registry should accept a compatible evolution and reject an incompatible one (FORWARD_TRANSITIVE)', async () => {
    const env = await getTestEnv();
    const client = createRegistryClient({ url: env.registryUrl });
    const topic = uniqueName('it.compat');
    const codec = createAvroCodec<WikiChange>({ client, topic, schema: WikiChangeSchema });
    await codec.init();
    const subject = topicSubject(topic);

    const withNewField = JSON.parse(JSON.stringify(WikiChangeSchema));
    withNewField.fields.push({ name: 'parsed_comment', type: ['null', 'string'], default: null });
    expect(await isCompatible(client, subject, withNewField)).toBe(true);

    // Removing a field old readers need without a default breaks forward compatibility.
    const withoutTitle = JSON.parse(JSON.stringify(WikiChangeSchema));
    withoutTitle.fields = withoutTitle.fields.filter((f: { name: string }) => f.name !== 'title');
    expect(await isCompatible(client, subject, withoutTitle)).toBe(false);

    // Registering it is refused, registering the compatible one works and gets a new id.
    await expect(client.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(withoutTitle) })).rejects.toThrow();
    const newId = await client.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(withNewField) });
    expect(newId).not.toBe(codec.schemaId());

    // Old reader (this codec) decodes data written with the new schema.
    const newer = createAvroCodec<WikiChange & { parsed_comment: string | null }>({ client, topic, schema: withNewField });
    await newer.init();
    const n = normalizeRecentChange(loadRecordedEvents()[0]?.json, { receivedTime: 1, sseId: null });
    if (n.kind !== 'change') throw new Error('fixture');
    const bytes = newer.encode({ ...n.change, parsed_comment: 'x' });
    expect(await codec.decode(bytes)).toEqual(n.change);
  });

  it('init should succeed when several clients set up the same new subject at once (regression: Apicurio 409 "rule already exists" failed the start of concurrently starting apps)', async () => {
    const env = await getTestEnv();
    const topic = uniqueName('it.codec.race');
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => createAvroCodec<WikiChange>({ client: createRegistryClient({ url: env.registryUrl }), topic, schema: WikiChangeSchema, attempts: 5 }).init()),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(await createRegistryClient({ url: env.registryUrl }).getCompatibility(topicSubject(topic))).toBe(Compatibility.FORWARD_TRANSITIVE);
  });

  it('decode should reject bytes that are not in the wire format with DESERIALIZE_FAILED', async () => {
    const env = await getTestEnv();
    const codec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: env.registryUrl }), topic: uniqueName('it.bad'), schema: WikiChangeSchema });
    await expect(codec.decode(Buffer.from('{"json":true}'))).rejects.toMatchObject({ code: 'DESERIALIZE_FAILED', retriable: false });
  });
});
