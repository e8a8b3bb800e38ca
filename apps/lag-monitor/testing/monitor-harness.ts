// What lag-monitor's integration specs do around a running monitor: wait for a group to reach a
// state (naming what was last seen on a timeout), find an alert on the alerts topic, and run plain
// consumer groups that count what they consumed. Test-only (outside src/).
import { type WikiAlert, WikiAlertSchema } from '@wikimonitor/contracts';
import type { GroupDetailView } from '@wikimonitor/domain';
import { type ConsumerRunner, type KafkaConnection, createConsumerRunner } from '@wikimonitor/kafka';
import { createAvroCodec, createRegistryClient } from '@wikimonitor/schemas';
import type { Logger } from '@wikimonitor/service-kit';
import { readTopic, waitFor } from '@wikimonitor/testing';
import { fetchGroup } from './int-support';

export interface HarnessTarget {
  conn: KafkaConnection;
  registryUrl: string;
  /** The monitor's HTTP base URL. */
  base: string;
  alertsTopic: string;
  /** Extra context for a timeout message (e.g. how commit times are known). */
  context?: () => unknown;
}

export function monitorHarness(target: () => HarnessTarget, log: Logger) {
  const runners: ConsumerRunner[] = [];
  return {
    /** Polls the group's detail until `pred` holds; a timeout names the last status and partitions seen. */
    async until(id: string, pred: (g: GroupDetailView) => boolean, what: string): Promise<GroupDetailView> {
      const t = target();
      let last: GroupDetailView | undefined;
      try {
        return await waitFor(async () => {
          last = await fetchGroup(t.base, id);
          return last && pred(last) ? last : undefined;
        }, `${id}: ${what}`);
      } catch (err) {
        const seen = last && {
          status: last.status,
          state: last.state,
          members: last.memberCount,
          totalLag: last.totalLag,
          // [committed, log start, LSO, HWM, lag, status, rule, ms since the last commit]
          partitions: last.partitions.map((p) => [p.committedOffset, p.lowWatermark, p.lastStableOffset, p.logHighWatermark, p.lag, p.status, p.rule, p.lastCommitAt && last && last.observedAt - p.lastCommitAt]),
          context: t.context?.(),
        };
        throw new Error(`${(err as Error).message}; last seen ${JSON.stringify(seen)}`, { cause: err });
      }
    },
    /** The consumer_status alert for a group's status, once it is on the alerts topic (Avro WikiAlert). */
    alertOnTopic(subject: string, status: string): Promise<WikiAlert> {
      const t = target();
      const codec = createAvroCodec<WikiAlert>({ client: createRegistryClient({ url: t.registryUrl }), topic: t.alertsTopic, schema: WikiAlertSchema });
      return waitFor(async () => {
        const decoded = await Promise.all((await readTopic(t.conn, t.alertsTopic)).map((m) => codec.decode(m.value as Buffer)));
        return decoded.find((a) => a.subject === subject && a.status === status);
      }, `the ${status} alert of ${subject} on the alerts topic`);
    },
    /** A plain consumer group on `topic` committing to Kafka; `handle` runs before each batch is counted. */
    runner(groupId: string, topic: string, handle: (n: number) => Promise<void> = async () => undefined, batchSize?: number) {
      let consumed = 0;
      const r = createConsumerRunner({
        connection: target().conn,
        log,
        groupId,
        topics: [topic],
        offsets: 'kafka',
        ...(batchSize ? { batchSize } : {}),
        handle: async (batch) => {
          await handle(batch.length);
          consumed += batch.length;
        },
      });
      runners.push(r);
      return { runner: r, consumed: () => consumed };
    },
    closeRunners: () => Promise.all(runners.map((r) => r.close())),
  };
}
