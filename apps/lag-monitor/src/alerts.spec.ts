import type { WikiAlert } from '@wikimonitor/contracts';
import { type ConsumerStatus, consumerStatusAlert } from '@wikimonitor/domain';
import { createLogger } from '@wikimonitor/service-kit';
import { waitFor } from '@wikimonitor/testing';
import { type AlertKafka, type AlertTermWriter, createAlertSink } from './alerts';

const log = createLogger('test', 'silent');
const alert: WikiAlert = consumerStatusAlert({ group: 'g', previous: 'OK', status: 'STOP', at: 1_700_000_000_000, windowStart: 1_699_999_990_000, windowMs: 10_000, totalLag: 9, maxLagSeconds: 3 });

function fakeFetch(statuses: number[], delayMs = 0) {
  const calls: string[] = [];
  const impl = (async (_url: string | URL | Request, init?: RequestInit) => {
    calls.push(String(init?.body));
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    return new Response(null, { status: statuses[Math.min(calls.length - 1, statuses.length - 1)] ?? 200 });
  }) as typeof fetch;
  return { impl, calls };
}

describe('alert sink', () => {
  it('alert sink should retry a webhook that answers 503 and deliver the alert as JSON', async () => {
    const f = fakeFetch([503, 503, 204]);
    const delivered: string[] = [];
    const sink = createAlertSink({ log, webhook: { url: 'http://hook', timeoutMs: 1000, attempts: 5 }, fetchImpl: f.impl, hooks: { onDelivered: (s) => delivered.push(s) } });
    sink.raise(alert);
    await sink.close();
    expect(f.calls).toHaveLength(3);
    expect(JSON.parse(f.calls[2] ?? '')).toMatchObject({ subject: 'g', status: 'STOP', previous_status: 'OK' });
    expect(delivered).toEqual(['webhook']);
  });

  it('alert sink should not retry a webhook that rejects the alert with 400', async () => {
    const f = fakeFetch([400]);
    const failed: string[] = [];
    const sink = createAlertSink({ log, webhook: { url: 'http://hook', timeoutMs: 1000, attempts: 5 }, fetchImpl: f.impl, hooks: { onFailed: (s) => failed.push(s) } });
    sink.raise(alert);
    await sink.close();
    expect(f.calls).toHaveLength(1);
    expect(failed).toEqual(['webhook']);
  });

  it('alert sink close should wait for deliveries in flight', async () => {
    const f = fakeFetch([204], 300);
    const sink = createAlertSink({ log, webhook: { url: 'http://hook', timeoutMs: 1000, attempts: 1 }, fetchImpl: f.impl });
    sink.raise(alert);
    sink.raise({ ...alert, id: 'other', status: 'OK', previous_status: 'STOP' });
    await sink.idle();
    expect(sink.inFlight()).toBe(2);
    await sink.close();
    expect(sink.inFlight()).toBe(0);
    expect(f.calls).toHaveLength(2);
  });

  it('alert sink should publish an alert id once: the same transition again within its window is not sent twice', async () => {
    const f = fakeFetch([204]);
    const sink = createAlertSink({ log, webhook: { url: 'http://hook', timeoutMs: 1000, attempts: 1 }, fetchImpl: f.impl });
    const flap = consumerStatusAlert({ group: 'g', previous: 'OK', status: 'STOP', at: 1_700_000_004_000, windowStart: 1_699_999_994_000, windowMs: 10_000, totalLag: 3, maxLagSeconds: 1 });
    const back = consumerStatusAlert({ group: 'g', previous: 'STOP', status: 'OK', at: 1_700_000_002_000, windowStart: 1_699_999_992_000, windowMs: 10_000, totalLag: 0, maxLagSeconds: 0 });
    expect(flap.id).toBe(alert.id); // OK -> STOP -> OK -> STOP in one window bucket
    // One change a cycle, each published before the next cycle.
    for (const a of [alert, back, flap]) {
      sink.raise(a);
      await sink.idle();
    }
    expect(sink.leadership()).toMatchObject({ role: 'leader', terms: 1 }); // no election without Kafka: it publishes alone
    await sink.close();
    expect(f.calls.map((c) => (JSON.parse(c) as WikiAlert).id)).toEqual([alert.id, back.id]);
  });
});

/** The alerts topic in memory, behind the sink's narrow Kafka interface: one transactional id, so a newer term fences the older. */
function fakeAlertTopic() {
  const topic: WikiAlert[] = [];
  let epoch = 0;
  const writes: string[][] = [];
  const control = { fail: 0, holdWrites: undefined as Promise<void> | undefined };
  const kafka: AlertKafka = {
    async openTerm(): Promise<AlertTermWriter> {
      const mine = ++epoch;
      return {
        async write(alerts) {
          await control.holdWrites;
          if (mine !== epoch) return { ok: false, fatal: true, err: new Error('fenced') };
          if (control.fail > 0) {
            control.fail--;
            return { ok: false, fatal: false, err: new Error('broker away') };
          }
          writes.push(alerts.map((a) => a.id));
          topic.push(...alerts);
          return { ok: true };
        },
        close: async () => undefined,
      };
    },
    readPublished: async (since) => topic.filter((a) => a.created_at >= since),
  };
  return { kafka, topic, writes, control };
}

const NOW = 1_700_000_100_000;
const at = (s: number, previous: ConsumerStatus | null, status: ConsumerStatus, group = 'g') =>
  consumerStatusAlert({ group, previous, status, at: NOW + s * 1000, windowStart: NOW + s * 1000 - 10_000, windowMs: 10_000, totalLag: 1, maxLagSeconds: 1 });

describe('alert sink under a leader lease', () => {
  const sinkOn = (kafka: AlertKafka, f: ReturnType<typeof fakeFetch>) =>
    createAlertSink({ log, kafka, webhook: { url: 'http://hook', timeoutMs: 1000, attempts: 1 }, fetchImpl: f.impl, toleranceMs: 1_000, now: () => NOW + 60_000 });

  it('alert sink should neither publish nor call the webhook as a standby, and publish on gaining the lease what the topic does not announce yet', async () => {
    const t = fakeAlertTopic();
    const f = fakeFetch([204]);
    const sink = sinkOn(t.kafka, f);
    t.topic.push(at(1, null, 'INACTIVE')); // the former leader published the first change, then died
    sink.raise(at(1.3, null, 'INACTIVE'));
    sink.raise(at(4, 'INACTIVE', 'STOP'));
    await sink.idle();
    expect(sink.leadership().role).toBe('standby');
    expect(f.calls).toEqual([]);
    await sink.acquire(new AbortController().signal);
    await sink.idle();
    expect(sink.leadership()).toMatchObject({ role: 'leader', terms: 1 });
    expect(t.topic.map((a) => `${a.previous_status}->${a.status}`)).toEqual(['null->INACTIVE', 'INACTIVE->STOP']);
    sink.raise(at(20, 'STOP', 'OK'));
    await sink.close();
    expect(t.topic.map((a) => `${a.previous_status}->${a.status}`)).toEqual(['null->INACTIVE', 'INACTIVE->STOP', 'STOP->OK']);
    expect(f.calls.map((c) => (JSON.parse(c) as WikiAlert).status)).toEqual(['STOP', 'OK']); // after each commit, never the one it did not publish
  });

  it('alert sink should stop publishing, and call no webhook, once its term is fenced by a newer leader', async () => {
    const t = fakeAlertTopic();
    const f = fakeFetch([204]);
    const sink = sinkOn(t.kafka, f);
    await sink.acquire(new AbortController().signal);
    await t.kafka.openTerm(); // another instance took the lease and fenced this one before it noticed
    sink.raise(at(1, 'OK', 'STOP'));
    await sink.idle();
    await sink.close();
    expect(t.topic).toEqual([]);
    expect(f.calls).toEqual([]);
    expect(sink.leadership().role).toBe('standby');
  });

  it('alert sink should publish again, later, an alert whose transaction failed, and once only', async () => {
    const t = fakeAlertTopic();
    const f = fakeFetch([204]);
    const sink = sinkOn(t.kafka, f);
    t.control.fail = 2;
    await sink.acquire(new AbortController().signal);
    sink.raise(at(1, 'OK', 'STOP'));
    await waitFor(() => t.topic.length === 1, 'the alert written after two failed transactions', 10_000, 20);
    await sink.close();
    expect(t.writes).toEqual([[at(1, 'OK', 'STOP').id]]);
    expect(f.calls).toHaveLength(1);
  });

  it('alert sink lose should write what is in flight and what is pending before the lease moves on', async () => {
    const t = fakeAlertTopic();
    const sink = sinkOn(t.kafka, fakeFetch([204]));
    await sink.acquire(new AbortController().signal);
    let release!: () => void;
    t.control.holdWrites = new Promise<void>((r) => (release = r));
    sink.raise(at(1, 'OK', 'STOP')); // in flight
    sink.raise(at(9, 'STOP', 'OK')); // raised meanwhile, pending
    let lost = false;
    const losing = sink.lose().then(() => (lost = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(lost).toBe(false);
    expect(sink.leadership().role).toBe('leader'); // still publishing
    release();
    await losing;
    expect(t.topic.map((a) => a.status)).toEqual(['STOP', 'OK']); // committed before the lease was given up
    expect(sink.leadership().role).toBe('standby');
    await sink.close();
  });
});
