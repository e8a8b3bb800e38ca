import { type WikiChange, WikiChangeSchema } from '@wikimonitor/contracts';
import { changeKey } from '@wikimonitor/domain';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { DLQ_TRUNCATION_HEADERS, type KafkaConnection, type Message, type OutgoingRecord, createConsumerRunner, createGroupAdmin, createProducer, deadLetterRecord, headersFromMessage, provisionTopics } from '@wikimonitor/kafka';
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
/** Each test its own marker topic and transactional id (the defaults are the shared wiki.dlq.replayed, wikimonitor-ops-replay). */
const replayEnv = (prefix: string) => ({ DLQ_REPLAYED_TOPIC: `${prefix}.replayed`, REPLAY_TRANSACTIONAL_ID: `${prefix}.replay` });
/** Writes the records in order, with one producer. */
async function sendAll(conn: KafkaConnection, records: OutgoingRecord[]): Promise<void> {
  const producer = newProducer(conn);
  await producer.start();
  try {
    for (const r of records) await producer.send(r);
  } finally {
    await producer.close();
  }
}
/** The CLI as a process on the real broker, with the test's own replay markers and transactional id. */
const opsCli =
  (conn: KafkaConnection, prefix: string, extraEnv: Record<string, string> = {}) =>
  async (...args: string[]): Promise<{ code: number | null; output: string }> => {
    const p = startTsProcess('ops-cli', 'tools/ops/src/main.ts', { KAFKA_BOOTSTRAP_SERVERS: conn.bootstrapServers, LOG_LEVEL: 'warn', ...replayEnv(prefix), ...extraEnv }, args);
    return { code: await p.exited(), output: p.output() };
  };
/** Copies of each key on a topic, read_committed. */
const copies = async (conn: KafkaConnection, topic: string): Promise<Record<string, number>> => {
  const n: Record<string, number> = {};
  for (const m of await readTopic(conn, topic, 'read_committed')) n[m.key?.toString() ?? ''] = (n[m.key?.toString() ?? ''] ?? 0) + 1;
  return n;
};
/** Dead letters of the persister for records of `source` keyed `k0`, `k1`, ... */
const persisterLetters = (dlq: string, source: string, n: number) =>
  Array.from({ length: n }, (_, i) =>
    deadLetterRecord(dlq, { sourceTopic: source, sourcePartition: 0, sourceOffset: 100 + i, key: `k${i}`, value: Buffer.from(`v${i}`), error: { code: 'DB_FAILED', message: 'connection reset' }, attempts: 5, app: 'dedup-persister' }),
  );

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

    const cli = opsCli(conn, prefix);
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
      const refused = await cli('reset-offsets', '--group', groupId, '--topic', topic, '--to-earliest', '--execute');
      expect(refused.code).toBe(3);
      expect(refused.output).toContain(`refusing to reset offsets of group '${groupId}': it has 1 active member(s)`);
      expect(await committed()).toEqual(ends);

      await first.close();
      await waitFor(async () => (await admin.describeGroups([groupId]))[0]?.state === 'EMPTY', 'the group empty');

      // Without --execute it only plans (as kafka-consumer-groups.sh does): per partition current, target, delta.
      const plan = await cli('reset-offsets', '--group', groupId, '--topic', topic, '--to-earliest');
      expect(plan.code).toBe(0);
      expect(plan.output).toContain('plan only: nothing changed. Run again with --execute to apply it.');
      expect(plan.output).toMatch(/TOPIC\s+PARTITION\s+CURRENT\s+TARGET\s+DELTA/);
      for (const [p, end] of ends.entries()) expect(plan.output).toMatch(new RegExp(`${topic.replace(/\./g, '\\.')}\\s+${p}\\s+${end}\\s+0\\s+-${end}\\s`));
      expect(await committed()).toEqual(ends);
      // --dry-run, kept for old scripts, is the same plan.
      const dry = await cli('reset-offsets', '--group', groupId, '--topic', topic, '--to-earliest', '--dry-run');
      expect(dry.code).toBe(0);
      expect(dry.output).toContain('plan only: nothing changed.');
      expect(await committed()).toEqual(ends);
      const typo = await cli('reset-offsets', '--group', groupId, '--topic', topic, '--to-earliest', '--exectue');
      expect(typo.code).toBe(2);
      expect(typo.output).toContain('unknown flag --exectue (did you mean --execute?)');
      expect(await committed()).toEqual(ends);

      const done = await cli('reset-offsets', '--group', groupId, '--topic', topic, '--to-earliest', '--execute');
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

    const run = opsCli(conn, prefix);
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

    const { code, output } = await opsCli(conn, prefix, { SCHEMA_REGISTRY_URL: env.registryUrl })('replay-dlq', '--dlq-topic', dlq, '--app', 'producer', '--raw-topic', raw);
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

  it('replay-dlq twice should put each dead letter on its topic once (markers in the transaction of the replay); --force sends again', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.lm.once');
    const source = `${prefix}.source`;
    const out = `${prefix}.out`;
    const dlq = `${prefix}.dlq`;
    await createTopics(conn, [source, out, dlq], 1);
    await sendAll(conn, [
      ...persisterLetters(dlq, source, 3),
      // An output that could not be written: replayed to its dlq.target.topic, marked the same way.
      deadLetterRecord(dlq, { sourceTopic: source, sourcePartition: 0, sourceOffset: 7, key: 'enwiki', value: Buffer.from('window'), headers: { [DLQ_TRUNCATION_HEADERS.targetTopic]: out }, error: { code: 'KAFKA_PRODUCE_FAILED', message: 'x' }, attempts: 2, app: 'aggregator' }),
    ]);
    const cli = opsCli(conn, prefix);
    const run = (...args: string[]) => cli('replay-dlq', '--dlq-topic', dlq, ...args);
    const once = { k0: 1, k1: 1, k2: 1 };

    const dry = await run('--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.output).toContain('would replay 4 of 4 dead letter(s) scanned');
    expect(await copies(conn, source)).toEqual({});

    const first = await run();
    expect(first.code).toBe(0);
    expect(first.output).toContain('replayed 4 of 4 dead letter(s) scanned');
    expect(await copies(conn, source)).toEqual(once);
    expect(await copies(conn, out)).toEqual({ enwiki: 1 });
    const markers = await readTopic(conn, `${prefix}.replayed`);
    expect(markers.map((m) => m.key?.toString())).toEqual([0, 1, 2, 3].map((o) => `${dlq}/0/${o}`));
    expect(markers.map((m) => JSON.parse(m.value?.toString() ?? '{}') as { topic: string; app: string; at: string }).map((v) => [v.topic, v.app, Number.isFinite(Date.parse(v.at))])).toEqual([
      [source, 'dedup-persister', true],
      [source, 'dedup-persister', true],
      [source, 'dedup-persister', true],
      [out, 'aggregator', true],
    ]);

    // The same command again: every letter is marked, nothing is sent.
    const second = await run();
    expect(second.code).toBe(0);
    expect(second.output).toContain('replayed 0 of 4 dead letter(s) scanned; 4 already replayed (not sent again; --force sends again)');
    expect(await copies(conn, source)).toEqual(once);
    expect(await copies(conn, out)).toEqual({ enwiki: 1 });
    const dryAgain = await run('--dry-run', '--json');
    expect(dryAgain.code).toBe(0);
    expect(JSON.parse(dryAgain.output.slice(dryAgain.output.indexOf('{')))).toMatchObject({ scanned: 4, matched: [], alreadyReplayed: 4, replayed: 0 });

    // --force sends again, as documented.
    const forced = await run('--force', '--source-topic', source, '--app', 'dedup-persister');
    expect(forced.code).toBe(0);
    expect(forced.output).toContain('replayed 3 of 4 dead letter(s) scanned');
    expect(await copies(conn, source)).toEqual({ k0: 2, k1: 2, k2: 2 });
    expect(await copies(conn, out)).toEqual({ enwiki: 1 });
  });

  it('two concurrent replay-dlq runs of the same dead letters should fence each other: each letter ends on its topic once', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.lm.fence');
    const source = `${prefix}.source`;
    const dlq = `${prefix}.dlq`;
    await createTopics(conn, [source, dlq], 1);
    await sendAll(conn, persisterLetters(dlq, source, 40));
    const run = () => opsCli(conn, prefix)('replay-dlq', '--dlq-topic', dlq);
    const both = await Promise.all([run(), run()]);
    // One may fail fenced (its transaction aborted); the other replays what is not marked.
    expect(both.map((r) => r.code)).toContain(0);
    const n = await copies(conn, source);
    expect(Object.keys(n)).toHaveLength(40);
    expect(Object.entries(n).filter(([, c]) => c !== 1)).toEqual([]);
    const again = await run();
    expect(again.code).toBe(0);
    expect(again.output).toContain('replayed 0 of 40 dead letter(s) scanned; 40 already replayed');
  });
});
