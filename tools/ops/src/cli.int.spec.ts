import { type WikiChange, WikiChangeSchema } from '@wikimonitor/contracts';
import { changeKey } from '@wikimonitor/domain';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { DLQ_TRUNCATION_HEADERS, type KafkaConnection, type Message, createConsumerRunner, createGroupAdmin, createProducer, deadLetterRecord, headersFromMessage, provisionTopics } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, loadRecordedEvents, poisonEvents, readTopic, startTsProcess, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';

const log = createLogger('test', 'silent');

async function createTopics(conn: KafkaConnection, topics: string[], partitions: number): Promise<void> {
  await provisionTopics(conn, topics.map((topic) => ({ topic, partitions, replicationFactor: 1 })));
}

/** Real recorded events as records keyed by event id (the CLI never decodes values, it moves bytes). */
const recorded = (n: number) =>
  loadRecordedEvents()
    .slice(0, n)
    .map((e) => ({ key: e.json.meta.id, value: Buffer.from(e.text) }));
const newProducer = (conn: KafkaConnection) => createProducer({ connection: conn, log, overrides: { 'linger.ms': 5 } });

describe('ops CLI on the real broker', () => {
  it('the CLI should refuse to reset an active group, then reset the stopped group to earliest so its consumer re-reads from the start', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.lm.cli');
    const topic = `${prefix}.in`;
    const groupId = `${prefix}.group`;
    await createTopics(conn, [topic], 3);
    const producer = newProducer(conn);
    await producer.start();
    await Promise.all(recorded(120).map((r) => producer.send({ topic, ...r })));
    await producer.close();

    const cliEnv = { KAFKA_BOOTSTRAP_SERVERS: conn.bootstrapServers, LOG_LEVEL: 'warn' };
    const cli = async (...args: string[]) => {
      const p = startTsProcess('ops-cli', 'tools/ops/src/main.ts', cliEnv, args);
      const code = await p.exited();
      return { code, output: p.output() };
    };
    const admin = await createGroupAdmin({ connection: conn, timeoutMs: 10_000, isolation: 'read_uncommitted' });
    const committed = async () => (await admin.fetchCommitted(groupId)).sort((a, b) => a.partition - b.partition).map((c) => c.offset);

    const seen: Message[] = [];
    const consume = () => createConsumerRunner({ connection: conn, log, groupId, topics: [topic], offsets: 'kafka', handle: async (b) => void seen.push(...b) });
    try {
      const first = consume();
      await first.start();
      await waitFor(() => seen.length >= 120, 'first pass');
      // The runner commits after its handler returned: wait for that commit, not only for the records.
      await waitFor(async () => (await committed()).reduce((a, b) => a + b, 0) === 120, 'the first pass committed');
      const ends = await committed();
      expect(ends.reduce((a, b) => a + b, 0)).toBe(120);

      // Active group: refused, with a clear message and exit code 3; nothing changes.
      const refused = await cli('reset-offsets', '--group', groupId, '--topic', topic, '--to-earliest');
      expect(refused.code).toBe(3);
      expect(refused.output).toContain(`refusing to reset offsets of group '${groupId}': it has 1 active member(s)`);
      expect(await committed()).toEqual(ends);

      await first.close();
      await waitFor(async () => (await admin.describeGroups([groupId]))[0]?.state === 'EMPTY', 'the group empty');

      const dry = await cli('reset-offsets', '--group', groupId, '--topic', topic, '--to-earliest', '--dry-run');
      expect(dry.code).toBe(0);
      expect(dry.output).toContain('[dry run: nothing changed]');
      expect(dry.output).toMatch(/TOPIC\s+PARTITION\s+CURRENT\s+NEW/);
      expect(await committed()).toEqual(ends);

      const done = await cli('reset-offsets', '--group', groupId, '--topic', topic, '--to-earliest');
      expect(done.code).toBe(0);
      expect(done.output).toContain(`committed new offsets for 3 partition(s) of group ${groupId}`);
      expect(await committed()).toEqual([0, 0, 0]);

      // The same consumer group now reads everything again, from offset 0 of every partition.
      seen.length = 0;
      const second = consume();
      await second.start();
      await waitFor(() => seen.length >= 120, 'second pass');
      await second.close();
      expect(seen).toHaveLength(120);
      for (const p of [0, 1, 2]) expect(Math.min(...seen.filter((m) => m.partition === p).map((m) => m.offset))).toBe(0);
      expect(await committed()).toEqual(ends);

      const described = await cli('describe-groups', groupId);
      expect(described.code).toBe(0);
      expect(described.output).toContain(`group ${groupId}: state EMPTY, 0 member(s), lag 0 messages`);
      const topics = await cli('describe-topics', topic);
      expect(topics.output).toContain(`topic ${topic}: 3 partition(s), 120 retained offsets`);
      expect((await cli('describe-groups', `${prefix}.nope`)).code).toBe(1);
    } finally {
      await admin.close();
    }
  });

  it('replay-dlq should put dead letters back on their source topic with their original key, value and headers', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.lm.dlq');
    const source = `${prefix}.source`;
    const dlq = `${prefix}.dlq`;
    await createTopics(conn, [source, dlq], 1);
    const changes = recorded(3);
    const producer = newProducer(conn);
    await producer.start();
    for (const [i, c] of changes.entries()) {
      await producer.send(
        deadLetterRecord(dlq, {
          sourceTopic: source,
          sourcePartition: 0,
          sourceOffset: 100 + i,
          key: c.key,
          value: c.value,
          headers: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(15)}${i}-01` },
          error: { code: 'DB_FAILED', message: 'connection reset' },
          attempts: 5,
          app: 'dedup-persister',
        }),
      );
    }
    // An output the aggregator could not write: its dead letter holds that output and names its topic.
    const out = `${prefix}.out`;
    await createTopics(conn, [out], 1);
    const failed = { error: { code: 'KAFKA_PRODUCE_FAILED', message: 'Broker: Message size too large' }, attempts: 2, app: 'dedup-persister' };
    await producer.send(deadLetterRecord(dlq, { ...failed, sourceTopic: source, sourcePartition: 0, sourceOffset: 7, key: 'enwiki', value: Buffer.from('window bytes'), headers: { [DLQ_TRUNCATION_HEADERS.targetTopic]: out } }));
    // A dead letter whose value was cut to fit: the original bytes are gone, so it is never replayed.
    await producer.send(deadLetterRecord(dlq, { ...failed, sourceTopic: source, sourcePartition: 0, sourceOffset: 8, value: Buffer.from('first 256 KiB'), headers: { [DLQ_TRUNCATION_HEADERS.truncated]: 'true' } }));
    // A producer-side failure: its source is the SSE stream, not a topic, so it cannot be replayed there.
    await producer.send(deadLetterRecord(dlq, { sourceTopic: 'https://stream.wikimedia.org/v2/stream/recentchange', value: Buffer.from('{'), error: { code: 'NOT_JSON', message: 'x' }, attempts: 1, app: 'producer' }));
    await producer.close();

    const cliEnv = { KAFKA_BOOTSTRAP_SERVERS: conn.bootstrapServers, LOG_LEVEL: 'warn' };
    const run = async (...args: string[]) => {
      const p = startTsProcess('ops-cli', 'tools/ops/src/main.ts', cliEnv, args);
      return { code: await p.exited(), output: p.output() };
    };
    const dry = await run('replay-dlq', '--dlq-topic', dlq, '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.output).toContain('would replay 4 of 6 dead letter(s) scanned; 1 not replayable (value truncated');
    // The producer's letter is raw JSON, normalized again: `{` is still no event, so it is reported, not sent.
    expect(dry.output).toContain('1 still invalid (not replayed)');
    expect(dry.output).toContain('still invalid: 0/5 NOT_JSON');
    expect(await readTopic(conn, source)).toHaveLength(0);

    const done = await run('replay-dlq', '--dlq-topic', dlq, '--app', 'dedup-persister');
    expect(done.code).toBe(0);
    expect(done.output).toContain('replayed 4 of 6');
    expect((await readTopic(conn, out)).map((m) => [m.key?.toString(), m.value?.toString()])).toEqual([['enwiki', 'window bytes']]);
    const back = await readTopic(conn, source);
    expect(back).toHaveLength(3);
    expect(back.map((m) => m.value?.toString())).toEqual(changes.map((c) => c.value.toString()));
    expect(back.map((m) => m.key?.toString())).toEqual(changes.map((c) => c.key));
    const headers = back.map((m) => headersFromMessage(m.headers));
    expect(headers.map((h) => h['traceparent']?.toString())).toEqual([0, 1, 2].map((i) => `00-${'a'.repeat(32)}-${'b'.repeat(15)}${i}-01`));
    expect(headers.every((h) => Object.keys(h).every((k) => !k.startsWith('dlq.')))).toBe(true);
  });

  it('replay-dlq --app producer should normalize raw JSON letters again and produce them Avro-encoded to the raw topic, never a truncated or still-invalid one', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.lm.pdlq');
    const dlq = `${prefix}.dlq`;
    const raw = `${prefix}.raw`;
    const target = `${prefix}.target`;
    await createTopics(conn, [dlq, raw, target], 1);
    const sseUrl = 'https://stream.wikimedia.org/v2/stream/recentchange';
    const real = loadRecordedEvents().slice(10, 13);
    const poison = new Map(poisonEvents({ idPrefix: prefix }).map((p) => [p.class, p]));
    const letter = (value: Buffer, code: string, headers: Record<string, string> = {}, sseId?: string) =>
      deadLetterRecord(dlq, { sourceTopic: sseUrl, sourceOffset: sseId, value, headers: { ...(sseId ? { 'sse.id': sseId } : {}), ...headers }, error: { code, message: code }, attempts: 1, app: 'producer' });
    const producer = newProducer(conn);
    await producer.start();
    const letters = [
      letter(Buffer.from(real[0]?.text ?? ''), 'KAFKA_PRODUCE_FAILED', {}, '[{"topic":"eqiad.mediawiki.recentchange","partition":0,"timestamp":1}]'),
      // Dead-lettered while the clock was skewed; its time has come: it is published now.
      letter(Buffer.from(real[1]?.text ?? ''), 'EVENT_TIME_FUTURE'),
      letter(Buffer.from(real[2]?.text ?? ''), 'KAFKA_PRODUCE_FAILED', { [DLQ_TRUNCATION_HEADERS.targetTopic]: target }),
      letter(poison.get('missing-meta-id')?.data ?? Buffer.alloc(0), 'MISSING_META_ID'),
      letter(poison.get('invalid-utf8')?.data ?? Buffer.alloc(0), 'INVALID_UTF8'),
      letter((poison.get('huge-comment')?.data ?? Buffer.alloc(0)).subarray(0, 256 * 1024), 'EVENT_TOO_LARGE', { [DLQ_TRUNCATION_HEADERS.truncated]: 'true', [DLQ_TRUNCATION_HEADERS.originalSize]: '2200000' }),
      // Another app's letter: left to its own filter.
      deadLetterRecord(dlq, { sourceTopic: `${prefix}.elsewhere`, sourcePartition: 0, sourceOffset: 1, value: Buffer.from('x'), error: { code: 'DB_FAILED', message: 'x' }, attempts: 1, app: 'dedup-persister' }),
    ];
    for (const l of letters) await producer.send(l);
    await producer.close();

    const p = startTsProcess('ops-cli', 'tools/ops/src/main.ts', { KAFKA_BOOTSTRAP_SERVERS: conn.bootstrapServers, SCHEMA_REGISTRY_URL: env.registryUrl, LOG_LEVEL: 'warn' }, ['replay-dlq', '--dlq-topic', dlq, '--app', 'producer', '--raw-topic', raw]);
    const code = await p.exited();
    const output = p.output();
    expect(code).toBe(0);
    expect(output).toContain('replayed 3 of 7 dead letter(s) scanned; 1 not replayable (value truncated to fit the dead-letter topic); 2 still invalid (not replayed)');
    expect(output).toContain('still invalid: 0/3 MISSING_META_ID');
    expect(output).toContain('still invalid: 0/4 INVALID_UTF8');

    const codec = createAvroCodec<WikiChange>({ client: createRegistryClient({ url: env.registryUrl }), topic: raw, schema: WikiChangeSchema, log });
    const decode = async (topic: string) => Promise.all((await readTopic(conn, topic)).map(async (m) => ({ key: m.key?.toString(), change: await codec.decode(m.value as Buffer), headers: headersFromMessage(m.headers) })));
    const onRaw = await decode(raw);
    expect(onRaw.map((r) => r.change.id)).toEqual([real[0]?.json.meta.id, real[1]?.json.meta.id]);
    expect(onRaw.map((r) => r.key)).toEqual(onRaw.map((r) => changeKey(r.change)));
    expect(onRaw[0]?.headers['sse.id']?.toString()).toBe('[{"topic":"eqiad.mediawiki.recentchange","partition":0,"timestamp":1}]');
    expect(onRaw[0]?.change.source.sse_id).toBe('[{"topic":"eqiad.mediawiki.recentchange","partition":0,"timestamp":1}]');
    expect(Object.keys(onRaw[0]?.headers ?? {}).some((k) => k.startsWith('dlq.'))).toBe(false);
    expect((await decode(target)).map((r) => r.change.id)).toEqual([real[2]?.json.meta.id]);
  });
});
