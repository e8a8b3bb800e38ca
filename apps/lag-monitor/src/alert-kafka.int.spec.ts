import { type WikiAlert, WikiAlertSchema } from '@wikimonitor/contracts';
import { type ConsumerStatus, consumerStatusAlert } from '@wikimonitor/domain';
import { createProducer } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, readTopic, testConnection, uniqueName } from '@wikimonitor/testing';
import { createAlertKafka } from './alert-kafka';
import { createAlertSink } from './alerts';
import { createTopics } from '../testing/int-support';

const log = createLogger('test', 'silent');

/** A webhook that records what it was sent. */
function recordingFetch() {
  const sent: WikiAlert[] = [];
  const impl = (async (_url: string | URL | Request, init?: RequestInit) => {
    sent.push(JSON.parse(String(init?.body)) as WikiAlert);
    return new Response(null, { status: 204 });
  }) as typeof fetch;
  return { impl, sent };
}

describe('alerts on Kafka under leadership terms (real broker)', () => {
  it('a newer term should fence the older one, which then writes nothing and calls no webhook, and publish only what the topic lacks', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.lm.fencing');
    const topic = `${prefix}.alerts`;
    await createTopics(conn, [topic], 3);
    const codec = createAvroCodec<WikiAlert>({ client: createRegistryClient({ url: env.registryUrl }), topic, schema: WikiAlertSchema, log });
    await codec.init();
    // The topic carries other services' alerts too: not lag-monitor's, never counted as published.
    const other = createProducer({ connection: conn, log });
    await other.start();
    const spike: WikiAlert = { id: 'aggregator:spike:enwiki:1', kind: 'spike', source: 'aggregator', subject: 'enwiki', severity: 'warning', observed: 9, expected: 1, score: 4, window_start: null, window_end: null, status: null, previous_status: null, message: '', created_at: Date.now() };
    await other.send({ topic, key: 'enwiki', value: codec.encode(spike) });
    await other.close();

    const transactionalId = `lm-alerts.${prefix}`;
    // Just before a window-bucket boundary: the two instances' views of the first change get different ids.
    const now = Math.ceil(Date.now() / 10_000) * 10_000 - 200;
    const change = (s: number, previous: ConsumerStatus | null, status: ConsumerStatus) =>
      consumerStatusAlert({ group: `${prefix}.g`, previous, status, at: now + s * 1000, windowStart: now + s * 1000 - 10_000, windowMs: 10_000, totalLag: 5, maxLagSeconds: 1 });
    const hookA = recordingFetch();
    const hookB = recordingFetch();
    const sink = (name: string, fetchImpl: typeof fetch) =>
      createAlertSink({
        log,
        kafka: createAlertKafka({ connection: { ...conn, clientId: `${prefix}-${name}` }, log, topic, transactionalId, codec, source: 'lag-monitor' }),
        webhook: { url: 'http://hook', timeoutMs: 1000, attempts: 1 },
        fetchImpl,
        toleranceMs: 1_000,
      });
    const a = sink('a', hookA.impl);
    const b = sink('b', hookB.impl);
    try {
      await a.acquire(new AbortController().signal);
      a.raise(change(0, null, 'INACTIVE'));
      await a.idle();

      // b evaluated the same change (a cycle later), then one a never saw; it takes over and fences a.
      b.raise(change(0.5, null, 'INACTIVE'));
      b.raise(change(3, 'INACTIVE', 'STOP'));
      await b.acquire(new AbortController().signal);
      await b.idle();

      // a does not know yet: it publishes a change of its own, with its fenced producer.
      a.raise(change(3.2, 'INACTIVE', 'STOP'));
      await a.idle();

      expect(a.leadership().role).toBe('standby');
      expect(b.leadership().role).toBe('leader');
      const decode = async () => Promise.all((await readTopic(conn, topic)).map((m) => codec.decode(m.value as Buffer)));
      const onTopic = (await decode()).filter((x) => x.source === 'lag-monitor');
      expect(onTopic.map((x) => `${x.previous_status}->${x.status}`)).toEqual(['null->INACTIVE', 'INACTIVE->STOP']);
      expect(onTopic.map((x) => x.id)).toEqual([change(0, null, 'INACTIVE').id, change(3, 'INACTIVE', 'STOP').id]);
      expect(hookA.sent.map((x) => x.status)).toEqual(['INACTIVE']); // never the write that was fenced
      expect(hookB.sent.map((x) => x.status)).toEqual(['STOP']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
