import { type Server, createServer } from 'node:http';
import { join } from 'node:path';
import { type WikiAlert, WikiAlertSchema } from '@wikimonitor/contracts';
import type { KafkaConnection } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import { createLogger, sleep } from '@wikimonitor/service-kit';
import {
  type AppProcess,
  INSTANCE_SESSION_TIMEOUT_MS,
  INSTANCE_SETTINGS,
  REPO_ROOT,
  type TestEnv,
  createAppProcess,
  freePort,
  getTestEnv,
  instanceIdentity,
  loadRecordedEvents,
  readTopic,
  testConnection,
  uniqueName,
  waitFor,
} from '@wikimonitor/testing';
import type { Leadership } from './alerts';
import type { GroupDetailView } from './monitor';
import { changeCodec, createTopics, fetchGroup, newProducer, produceChanges, setGroupOffsets, testLeaseSettings, toChanges } from '../testing/int-support';

// Two lag-monitor instances as the chaos suite runs them (libs/testing INSTANCE_SETTINGS: the session
// timeout, an instance id each), built from dist/ (`npx nx build lag-monitor` first), on the real broker.
const log = createLogger('test', 'silent');
const CYCLE_MS = 500;
const WINDOW_CYCLES = 4;

interface Health {
  leadership: Leadership;
}

describe('lag-monitor instances (real broker, real processes)', () => {
  let env: TestEnv;
  let conn: KafkaConnection;
  let prefix: string;
  let topic: string;
  let alertsTopic: string;
  let instances: AppProcess[];
  let hook: Server;
  const posted: WikiAlert[] = [];

  const health = async (p: AppProcess): Promise<Health | undefined> => {
    try {
      const res = await fetch(`${p.url}/api/health`, { signal: AbortSignal.timeout(2_000) });
      return res.ok ? ((await res.json()) as Health) : undefined;
    } catch {
      return undefined;
    }
  };
  const roles = async () => Promise.all(instances.map(async (p) => (p.running() ? ((await health(p))?.leadership.role ?? 'down') : 'down')));
  /** The one leader among the running instances, once exactly one says so and the others say standby. */
  const soleLeader = () =>
    waitFor(
      async () => {
        const r = await roles();
        const leaders = r.flatMap((role, i) => (role === 'leader' ? [i] : []));
        return leaders.length === 1 && r.every((role) => role === 'leader' || role === 'standby' || role === 'down') ? (instances[leaders[0] as number] as AppProcess) : undefined;
      },
      'exactly one leader among the instances',
      90_000,
      100,
    );
  const onTopic = async (): Promise<WikiAlert[]> => {
    const codec = createAvroCodec<WikiAlert>({ client: createRegistryClient({ url: env.registryUrl }), topic: alertsTopic, schema: WikiAlertSchema });
    return Promise.all((await readTopic(conn, alertsTopic)).map((m) => codec.decode(m.value as Buffer)));
  };
  const transitions = (alerts: WikiAlert[], group: string) => alerts.filter((a) => a.subject === group).map((a) => `${a.previous_status}->${a.status}`);
  const copies = (alerts: WikiAlert[]) => {
    const n = new Map<string, number>();
    for (const a of alerts) n.set(a.id, (n.get(a.id) ?? 0) + 1);
    return [...n].filter(([, c]) => c > 1);
  };
  const group = (p: AppProcess, id: string) => fetchGroup(p.url, id).catch(() => undefined);
  /** Both instances read __consumer_offsets to its end: they see a new commit as INACTIVE first, then STOP. */
  const commitTimesObserved = (p: AppProcess) =>
    waitFor(async () => ((await (await fetch(`${p.url}/api/groups`)).json()) as { commitTimes?: string }).commitTimes === 'observed', `${p.url}: commit times observed`, 120_000, 250);

  beforeAll(async () => {
    env = await getTestEnv();
    conn = testConnection(env);
    prefix = uniqueName('it.lm.instances');
    topic = `${prefix}.in`;
    alertsTopic = `${prefix}.alerts`;
    await createTopics(conn, [topic], 1);
    const codec = await changeCodec(env.registryUrl, topic);
    const producer = newProducer(conn, log);
    await producer.start();
    await produceChanges(producer, codec, topic, toChanges(loadRecordedEvents()).slice(0, 30));
    await producer.close();
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        posted.push(JSON.parse(body) as WikiAlert);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    const settings = INSTANCE_SETTINGS['lag-monitor'];
    instances = await Promise.all(
      [0, 1].map(async (ordinal) =>
        createAppProcess({
          name: 'lag-monitor',
          label: `${prefix}-${ordinal}`,
          httpPort: await freePort(),
          logDir: join(REPO_ROOT, 'tmp', 'test-logs'),
          supervise: false,
          env: {
            KAFKA_BOOTSTRAP_SERVERS: conn.bootstrapServers,
            SCHEMA_REGISTRY_URL: env.registryUrl,
            GROUP_ALLOW: `^${prefix.replace(/\./g, '\\.')}\\.`,
            CYCLE_INTERVAL_MS: String(CYCLE_MS),
            WINDOW_CYCLES: String(WINDOW_CYCLES),
            ALERTS_TOPIC: alertsTopic,
            ...testLeaseSettings(prefix),
            ALERT_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as { port: number }).port}/alerts`,
            PROBE_ENABLED: 'false',
            LOG_LEVEL: 'info',
            ...settings.env,
            ...Object.fromEntries(settings.identity.map((k) => [k, instanceIdentity(prefix, 'lag-monitor', ordinal)])),
          },
        }),
      ),
    );
    instances.forEach((p) => p.start());
    await Promise.all(instances.map((p) => p.waitReady('/readyz', 120_000)));
    await Promise.all(instances.map(commitTimesObserved));
  });

  afterAll(async () => {
    await Promise.all((instances ?? []).map((p) => p.stop()));
    hook?.closeAllConnections();
    hook?.close();
    // Static members do not leave their group: let their sessions end so the run's cleanup can delete the lease group.
    await sleep(INSTANCE_SESSION_TIMEOUT_MS + 2_000);
  });

  it('two lag-monitor instances should publish each status change of a group once, to the topic and the webhook, and exactly one should report leader', async () => {
    const g1 = `${prefix}.g1`;
    // A group that consumed 5 records and stopped: INACTIVE (offsets, no member), then STOP a window later.
    await setGroupOffsets(conn, g1, topic, 5);
    await waitFor(async () => transitions(await onTopic(), g1).includes('INACTIVE->STOP'), 'the STOP alert of g1 on the topic', 60_000, 250);
    // Both instances evaluated both changes.
    for (const p of instances) await waitFor(async () => (await group(p, g1))?.status === 'STOP', `${p.url}: g1 STOP`);
    await sleep(4 * CYCLE_MS * WINDOW_CYCLES); // room for a second copy to show up, were there one

    const alerts = await onTopic();
    expect(copies(alerts)).toEqual([]);
    expect(transitions(alerts, g1)).toEqual(['null->INACTIVE', 'INACTIVE->STOP']);
    expect(posted.filter((a) => a.subject === g1).map((a) => `${a.previous_status}->${a.status}`)).toEqual(['null->INACTIVE', 'INACTIVE->STOP']);
    const leader = await soleLeader();
    const standby = instances.find((p) => p !== leader) as AppProcess;
    expect(await roles()).toEqual(instances.map((p) => (p === leader ? 'leader' : 'standby')));
    expect(await leader.metric('lag_monitor_leader')).toBe(1);
    expect(await standby.metric('lag_monitor_leader')).toBe(0);
    // The standby serves the same figures, and is ready.
    expect((await group(standby, g1))?.totalLag).toBe((await group(leader, g1))?.totalLag);
    expect((await fetch(`${standby.url}/readyz`)).status).toBe(200);
  });

  it('kill -9 of the leader: the standby should lead after about the session timeout and publish once the changes of the gap and the ones after', async () => {
    const leader = await soleLeader();
    const standby = instances.find((p) => p !== leader) as AppProcess;
    const g2 = `${prefix}.g2`;
    await leader.kill9();
    const killedAt = Date.now();
    // Changes while nobody leads: the standby evaluates them (and must not publish them yet).
    await setGroupOffsets(conn, g2, topic, 5);
    let seenAsStandby: GroupDetailView | undefined;
    await waitFor(
      async () => {
        const [g, h] = await Promise.all([group(standby, g2), health(standby)]);
        if (g?.status === 'STOP' && h?.leadership.role === 'standby') seenAsStandby = g;
        return g?.status === 'STOP' || h?.leadership.role === 'leader';
      },
      'g2 STOP at the standby',
      60_000,
      100,
    );
    expect(seenAsStandby).toBeDefined(); // the changes happened in the gap, not after the failover
    expect(transitions(await onTopic(), g2)).toEqual([]);

    expect(await soleLeader()).toBe(standby);
    console.log(`standby led ${Date.now() - killedAt} ms after the leader's kill -9 (session timeout ${INSTANCE_SESSION_TIMEOUT_MS} ms)`);
    await waitFor(async () => transitions(await onTopic(), g2).includes('INACTIVE->STOP'), 'the gap changes of g2 on the topic', 60_000, 250);

    // A change after the failover: the group caught up (still no member, so INACTIVE).
    await setGroupOffsets(conn, g2, topic, Number.MAX_SAFE_INTEGER);
    await waitFor(async () => transitions(await onTopic(), g2).includes('STOP->INACTIVE'), 'the change after the failover on the topic', 60_000, 250);

    // The killed instance comes back (same instance id): a standby now, it publishes none of what it re-evaluates.
    leader.start();
    await leader.waitReady('/readyz', 120_000);
    await commitTimesObserved(leader);
    await waitFor(async () => (await group(leader, g2))?.status === 'INACTIVE', 'the restarted instance sees g2');
    await sleep(4 * CYCLE_MS * WINDOW_CYCLES);
    expect(await soleLeader()).toBe(standby);

    const alerts = await onTopic();
    expect(copies(alerts)).toEqual([]);
    expect(transitions(alerts, `${prefix}.g1`)).toEqual(['null->INACTIVE', 'INACTIVE->STOP']);
    expect(transitions(alerts, g2)).toEqual(['null->INACTIVE', 'INACTIVE->STOP', 'STOP->INACTIVE']);
    const hooked = posted.map((a) => a.id);
    expect(hooked.filter((id, i) => hooked.indexOf(id) !== i)).toEqual([]);
    expect(posted.filter((a) => a.subject === g2).map((a) => `${a.previous_status}->${a.status}`)).toEqual(['null->INACTIVE', 'INACTIVE->STOP', 'STOP->INACTIVE']);
    expect(standby.tail(400)).toMatch(/leadership gained/);
  }, 300_000);

  it('a leader paused beyond the session timeout should be fenced by the one that took over: what it publishes on waking reaches neither the topic nor the webhook', async () => {
    const paused = await soleLeader();
    const other = instances.find((p) => p !== paused) as AppProcess;
    const g3 = `${prefix}.g3`;
    paused.pause(); // SIGSTOP: alive, still a member by its own account, holding its producer
    try {
      await setGroupOffsets(conn, g3, topic, 5);
      expect(await soleLeader()).toBe(other);
      await waitFor(async () => transitions(await onTopic(), g3).includes('INACTIVE->STOP'), 'g3 changes published by the new leader', 60_000, 250);
    } finally {
      paused.resume();
    }
    // On waking, its first cycle sees g3 for the first time (STOP) and, still the leader by its own
    // account until the group tells it otherwise, publishes it: its fenced producer cannot.
    await waitFor(() => /alert producer fenced|leadership lost/.test(paused.tail(400)), 'the woken leader fenced or told it lost the lease', 60_000, 250);
    await waitFor(async () => (await health(paused))?.leadership.role === 'standby', 'the woken leader a standby');
    await sleep(4 * CYCLE_MS * WINDOW_CYCLES);
    const alerts = await onTopic();
    expect(copies(alerts)).toEqual([]);
    expect(transitions(alerts, g3)).toEqual(['null->INACTIVE', 'INACTIVE->STOP']);
    expect(posted.filter((a) => a.subject === g3).map((a) => `${a.previous_status}->${a.status}`)).toEqual(['null->INACTIVE', 'INACTIVE->STOP']);
    expect(await soleLeader()).toBe(other);
    console.log(`woken leader: ${/alert producer fenced/.test(paused.tail(400)) ? 'tried to publish and was fenced' : 'learnt it lost the lease before publishing'}`);
  }, 300_000);
});
