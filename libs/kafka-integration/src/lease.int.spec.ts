import { type Logger, createLogger } from '@wikimonitor/service-kit';
import { getTestEnv, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';
import { type KafkaConnection, type Lease, createLease, groupMembershipOverrides, provisionTopics } from '@wikimonitor/kafka';

const log: Logger = createLogger('test', 'silent');
/** The broker's smallest session timeout (group.min.session.timeout.ms): a dead holder is replaced after it. */
const SESSION_TIMEOUT_MS = 6_000;

interface Candidate {
  name: string;
  lease: Lease;
}

/** Lease candidates of one group, recording every acquire and loss in one timeline. */
async function leaseGroup() {
  const conn: KafkaConnection = testConnection(await getTestEnv());
  const topic = uniqueName('it.kafka.lease');
  const groupId = uniqueName('it.kafka.lease-group');
  await provisionTopics(conn, [{ topic, partitions: 1, replicationFactor: 1 }]);
  const events: string[] = [];
  const open: Lease[] = [];
  const candidate = (name: string, instanceId?: string): Candidate => {
    const lease = createLease({
      connection: conn,
      log,
      groupId,
      topic,
      overrides: groupMembershipOverrides({ CONSUMER_SESSION_TIMEOUT_MS: SESSION_TIMEOUT_MS, GROUP_INSTANCE_ID: instanceId }),
      onAcquire: () => void events.push(`${name} acquired`),
      onLose: async (reason) => {
        // The next holder must not start before the last one finished: take a while to finish.
        await new Promise((r) => setTimeout(r, 300));
        events.push(`${name} lost (${reason})`);
      },
    });
    open.push(lease);
    return { name, lease };
  };
  const holders = (cs: Candidate[]) => cs.filter((c) => c.lease.held()).map((c) => c.name);
  const closeAll = () => Promise.all(open.map((l) => l.close()));
  return { candidate, holders, events, closeAll };
}

describe('leader lease on the real broker', () => {
  it('createLease should give the lease to one member at a time, and to the other only after the holder finished when it leaves', async () => {
    const g = await leaseGroup();
    const a = g.candidate('a');
    const b = g.candidate('b');
    try {
      await Promise.all([a.lease.start(), b.lease.start()]);
      const [first] = await waitFor(() => (g.holders([a, b]).length === 1 ? g.holders([a, b]) : undefined), 'one holder', 60_000, 50);
      // Several rebalances later, still one.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(g.holders([a, b])).toEqual([first]);
      const holder = first === 'a' ? a : b;
      const other = first === 'a' ? b : a;
      await holder.lease.close();
      await waitFor(() => other.lease.held(), `${other.name} holds the lease`, 60_000, 50);
      expect(g.events).toEqual([`${holder.name} acquired`, `${holder.name} lost (closed)`, `${other.name} acquired`]);
    } finally {
      await g.closeAll();
    }
  });

  it('createLease with static membership should give the lease back at once to a holder that restarts with its instance id, and to another member only once the session of one that does not come back timed out', async () => {
    const g = await leaseGroup();
    const idA = uniqueName('instance-a');
    const a = g.candidate('a', idA);
    const b = g.candidate('b', uniqueName('instance-b'));
    try {
      await a.lease.start();
      await waitFor(() => a.lease.held(), 'a holds the lease', 60_000, 50);
      await b.lease.start();
      await new Promise((r) => setTimeout(r, 2_000)); // b joined; the lease stays where it is (sticky)
      expect(g.holders([a, b])).toEqual(['a']);

      // a restarts (a new client with the same instance id): the lease comes back to it, b never holds it.
      await a.lease.close();
      const again = g.candidate('a again', idA);
      await again.lease.start();
      await waitFor(() => again.lease.held(), 'a (restarted) holds the lease', 60_000, 50);
      expect(g.events).toEqual(['a acquired', 'a lost (closed)', 'a again acquired']);

      // a stops for good: a static member does not leave, so b gets the lease once its session timed out.
      const stoppedAt = Date.now();
      await again.lease.close();
      await waitFor(() => b.lease.held(), 'b holds the lease', 60_000, 50);
      console.log(`lease moved ${Date.now() - stoppedAt} ms after its static holder stopped (session timeout ${SESSION_TIMEOUT_MS} ms)`);
      expect(g.events).toEqual(['a acquired', 'a lost (closed)', 'a again acquired', 'a again lost (closed)', 'b acquired']);
    } finally {
      await g.closeAll();
      // Static members do not leave: let b's session end so the run's cleanup can delete the group.
      await new Promise((r) => setTimeout(r, SESSION_TIMEOUT_MS + 1_000));
    }
  });
});
