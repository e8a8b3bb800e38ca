import type { Lifecycle, Logger } from '@wikimonitor/service-kit';
import { type KafkaConnection } from './config';
import { type TopicPartition, createConsumerRunner } from './consumer';

/** The partition whose assignment is the lease: the lease topic has one partition, and the group gives it to one member. */
export const LEASE_PARTITION = 0;

/** Why a held lease ended. */
export type LeaseLossReason = 'revoked' | 'closed' | 'failed';

export interface LeaseOptions {
  connection: KafkaConnection;
  log: Logger;
  /** The group the candidates join: every instance of one deployment uses the same id. */
  groupId: string;
  /** A one-partition topic (nothing is ever written to it). */
  topic: string;
  /**
   * Consumer properties for the membership, e.g. `groupMembershipOverrides(cfg)`: with a
   * `group.instance.id` (static membership) a holder that restarts within the session timeout gets
   * the lease back at once, and a holder that died is replaced after the session timeout.
   */
  overrides?: Record<string, string | number | boolean>;
  /**
   * This member was assigned the lease. Not awaited (the group does not wait for it): `signal`
   * aborts when the lease is lost again, so work begun here can stop.
   */
  onAcquire: (signal: AbortSignal) => void;
  /**
   * The lease ended (revoked in a rebalance, lost with the session, the lease closed, or the consumer
   * failed). A revocation completes, and the partition moves on to another member, only once the
   * returned promise settles: the holder stops its work before the next one starts.
   */
  onLose: (reason: LeaseLossReason) => Promise<void> | void;
  /** The lease consumer failed for good (e.g. its static member id was taken over): it will not hold the lease again. */
  onFatal?: (err: unknown) => void;
}

export interface Lease extends Lifecycle {
  /** Whether this member holds the lease now. */
  held(): boolean;
}

/**
 * A leader lease on a Kafka consumer group: every candidate joins `groupId`, subscribed to the
 * one-partition `topic`; the member assigned partition 0 holds the lease. The group coordinator
 * guarantees one assignee at a time; a member that stops heartbeating loses it after its session
 * timeout. A lease says who should act, not that nobody else still does (a paused holder may not
 * know yet that it lost it): pair it with fencing where two actors must never overlap (e.g. a
 * transactional producer with one transactional id, whose initTransactions fences the previous holder).
 */
export function createLease(opts: LeaseOptions): Lease {
  const { log } = opts;
  let held = false;
  let term: AbortController | undefined;
  const isLease = (tp: TopicPartition) => tp.topic === opts.topic && tp.partition === LEASE_PARTITION;

  function acquire(): void {
    if (held) return;
    held = true;
    term = new AbortController();
    log.info({ group: opts.groupId, topic: opts.topic }, 'lease acquired');
    try {
      opts.onAcquire(term.signal);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'lease onAcquire failed');
    }
  }

  async function lose(reason: LeaseLossReason): Promise<void> {
    if (!held) return;
    held = false;
    term?.abort();
    log.info({ group: opts.groupId, topic: opts.topic, reason }, 'lease lost');
    try {
      await opts.onLose(reason);
    } catch (err) {
      log.error({ err: (err as Error).message, reason }, 'lease onLose failed');
    }
  }

  const runner = createConsumerRunner({
    connection: { ...opts.connection, clientId: `${opts.connection.clientId}-lease` },
    log,
    groupId: opts.groupId,
    topics: [opts.topic],
    // Nothing is read or committed: the assignment is all that matters.
    offsets: 'external',
    batchSize: 1,
    overrides: opts.overrides,
    positionsOnAssign: async (tps) => {
      if (tps.some(isLease)) acquire();
      return tps.map((tp) => ({ ...tp, offset: -1 /* the end */ }));
    },
    onRevoke: async (tps) => {
      if (tps.some(isLease)) await lose('revoked');
    },
    handle: async () => undefined,
    onFatal: (err) => {
      void lose('failed');
      opts.onFatal?.(err);
    },
  });

  return {
    name: `lease(${opts.groupId})`,
    start: () => runner.start(),
    async close() {
      // The holder stops first; then the consumer leaves the group (a static member stays assigned
      // until its session times out, so its restart takes the lease back at once).
      await lose('closed');
      await runner.close();
    },
    held: () => held,
    isLive: () => true,
    // Holding the lease or not, the member is ready: leadership is not readiness.
    isReady: () => true,
  };
}
