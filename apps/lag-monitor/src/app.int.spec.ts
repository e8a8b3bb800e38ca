import { createServer } from 'node:http';
import { type WikiAlert, WikiAlertSchema } from '@wikimonitor/contracts';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger } from '@wikimonitor/service-kit';
import { freePort, getTestEnv, loadRecordedEvents, readTopic, startTsProcess, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { changeCodec, createTopics, newProducer, produceChanges, toChanges, setGroupOffsets, testLeaseSettings } from '../testing/int-support';
import type { ProbeStats } from './probe';

const log = createLogger('test', 'silent');

describe('lag-monitor process (real broker)', () => {
  it('lag-monitor should finish delivering an alert in flight when it gets SIGTERM, and probe the cluster end to end', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.lm.app');
    const topic = `${prefix}.in`;
    const groupId = `${prefix}.stopped`;
    await createTopics(conn, [topic], 1);
    const codec = await changeCodec(env.registryUrl, topic);
    const producer = newProducer(conn, log);
    await producer.start();
    await produceChanges(producer, codec, topic, toChanges(loadRecordedEvents()).slice(0, 30));
    await producer.close();

    // A slow webhook: it holds every answer until the test lets go.
    const received: WikiAlert[] = [];
    const answered: WikiAlert[] = [];
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const alert = JSON.parse(body) as WikiAlert;
        received.push(alert);
        void released.then(() => {
          answered.push(alert);
          res.writeHead(200).end();
        });
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    const port = await freePort();
    const proc = startTsProcess('lag-monitor', 'apps/lag-monitor/src/main.ts', {
      HTTP_PORT: String(port),
      KAFKA_BOOTSTRAP_SERVERS: conn.bootstrapServers,
      SCHEMA_REGISTRY_URL: env.registryUrl,
      GROUP_ALLOW: `^${prefix.replace(/\./g, '\\.')}`,
      CYCLE_INTERVAL_MS: '500',
      WINDOW_CYCLES: '4',
      ALERTS_TOPIC: `${prefix}.alerts`,
      ...testLeaseSettings(prefix),
      ALERT_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as { port: number }).port}/alerts`,
      PROBE_TOPIC: `${prefix}.probe`,
      PROBE_INTERVAL_MS: '200',
      LOG_LEVEL: 'info',
    });
    const base = `http://127.0.0.1:${port}`;
    try {
      await proc.waitReady(`${base}/readyz`);
      // A group that consumed 5 records and stopped: INACTIVE (offsets, no member) while its commit
      // is recent, STOP once the window has passed. (Committed after start: a commit older than a window when the monitor
      // first sees the group, with commit times observed, is STOP at once, with no OK before it.)
      await setGroupOffsets(conn, groupId, topic, 5);
      const probe = await waitFor(async () => {
        const p = (await (await fetch(`${base}/api/probe`)).json()) as ProbeStats;
        return p.received >= 5 ? p : undefined;
      }, 'probes back');
      expect(probe.lost).toBe(0);
      expect(probe.p50Ms).not.toBeNull();
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/lag_monitor_probe_roundtrip_seconds_count\{service="lag-monitor"\} [1-9]/);

      await waitFor(() => received.some((a) => a.subject === groupId && a.status === 'STOP'), 'the STOP alert at the webhook');
      expect(answered).toHaveLength(0); // in flight: the webhook has not answered yet
      proc.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 1000));
      expect(proc.child.exitCode).toBeNull(); // still waiting for the delivery
      release();
      expect(await proc.exited()).toBe(0);
    } finally {
      release();
      proc.kill('SIGKILL');
      hook.close();
    }
    expect(answered.find((a) => a.subject === groupId && a.status === 'STOP')).toMatchObject({ kind: 'consumer_status', status: 'STOP', previous_status: 'INACTIVE', source: 'lag-monitor' });
    expect(proc.output()).toContain('"msg":"shut down"');
    const alertCodec = createAvroCodec<WikiAlert>({ client: createRegistryClient({ url: env.registryUrl }), topic: `${prefix}.alerts`, schema: WikiAlertSchema });
    const onTopic = await Promise.all((await readTopic(conn, `${prefix}.alerts`)).map((m) => alertCodec.decode(m.value as Buffer)));
    expect(onTopic.find((a) => a.subject === groupId && a.status === 'STOP')).toMatchObject({ severity: 'critical', observed: 25 });
  });
});
