import { CONSUMER_STATUSES, type CycleHealth, statusCode } from '@wikimonitor/domain';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CycleResult, LagMonitor } from './monitor';
import type { FirstRecordStats as ReaderStats } from '@wikimonitor/lag';

/**
 * Every metric lag-monitor exports (see README). Labels are bounded: group, topic, partition and a
 * closed set of statuses; no member ids, hosts or offsets as labels. Per-partition series can be
 * turned off (METRICS_PARTITION_SERIES=false) on clusters with very many partitions.
 */
export function createMonitorMetrics(registry: Registry, opts: { partitionSeries: boolean; health?: () => CycleHealth }) {
  const registers = [registry];
  // Read at scrape time: a monitor whose cycles fail (or hang) must show it without a cycle ending.
  const health = opts.health;
  const m = {
    lastSuccess: new Gauge({
      name: 'lag_monitor_last_success_timestamp',
      help: 'Unix time (seconds) the last successful monitoring cycle completed; absent before the first',
      registers,
      collect() {
        const h = health?.();
        if (h?.lastSuccessAt != null) this.set(h.lastSuccessAt / 1000);
      },
    }),
    stale: new Gauge({
      name: 'lag_monitor_stale',
      help: '1 when the served report is stale (a cycle failed since, or none completed for STALE_AFTER_MS), else 0',
      registers,
      collect() {
        this.set(health?.().stale ? 1 : 0);
      },
    }),
    consecutiveFailures: new Gauge({
      name: 'lag_monitor_consecutive_failed_cycles',
      help: 'Monitoring cycles failed in a row since the last success',
      registers,
      collect() {
        this.set(health?.().consecutiveFailures ?? 0);
      },
    }),
    partitionMessagesLost: new Gauge({ name: 'lag_monitor_partition_messages_lost', help: 'Records deleted by retention before the group read them (log start - committed offset)', labelNames: ['group', 'topic', 'partition'] as const, registers }),
    groupMessagesLost: new Gauge({ name: 'lag_monitor_group_messages_lost', help: 'Records deleted by retention before the group read them, over its partitions', labelNames: ['group'] as const, registers }),
    groupUnknownLag: new Gauge({ name: 'lag_monitor_group_unknown_lag_partitions', help: 'Partitions of the group whose lag could not be measured (its total lag is then absent, never 0)', labelNames: ['group'] as const, registers }),
    stuckTransaction: new Gauge({ name: 'lag_monitor_stuck_transaction_seconds', help: 'How long the last stable offset of a partition has been stuck while its high watermark grew (a transaction left open)', labelNames: ['topic', 'partition'] as const, registers }),
    partitionLag: new Gauge({ name: 'lag_monitor_partition_lag_messages', help: 'Records between the committed offset and the end offset', labelNames: ['group', 'topic', 'partition'] as const, registers }),
    partitionLagSeconds: new Gauge({ name: 'lag_monitor_partition_lag_seconds', help: 'Age of the first unconsumed record (read at the committed offset)', labelNames: ['group', 'topic', 'partition'] as const, registers }),
    partitionStatus: new Gauge({ name: 'lag_monitor_partition_status_code', help: 'Partition status: 0 OK, 1 WARN, 2 REWIND, 3 STALL, 4 STOP, 5 UNKNOWN, 6 INACTIVE, 7 STUCK_TRANSACTION, 8 DATA_LOST', labelNames: ['group', 'topic', 'partition'] as const, registers }),
    groupLag: new Gauge({ name: 'lag_monitor_group_lag_messages', help: 'Sum of the lag of every partition of the group', labelNames: ['group'] as const, registers }),
    groupLagSeconds: new Gauge({ name: 'lag_monitor_group_lag_seconds', help: 'Largest lag in seconds over the group partitions', labelNames: ['group'] as const, registers }),
    groupStatus: new Gauge({ name: 'lag_monitor_group_status', help: '1 for the group current status, 0 for the others', labelNames: ['group', 'status'] as const, registers }),
    groupConsumeRate: new Gauge({ name: 'lag_monitor_group_consume_rate_messages_per_second', help: 'Committed-offset advance per second over the window', labelNames: ['group'] as const, registers }),
    groupMembers: new Gauge({ name: 'lag_monitor_group_members', help: 'Active members of the group', labelNames: ['group'] as const, registers }),
    groups: new Gauge({ name: 'lag_monitor_groups', help: 'Groups reported, by status', labelNames: ['status'] as const, registers }),
    topicRate: new Gauge({ name: 'lag_monitor_topic_partition_rate_messages_per_second', help: 'Messages appended per second to a partition over the window', labelNames: ['topic', 'partition'] as const, registers }),
    topicProduceRate: new Gauge({ name: 'lag_monitor_topic_rate_messages_per_second', help: 'Messages appended per second to the topic over the window', labelNames: ['topic'] as const, registers }),
    topicSkew: new Gauge({ name: 'lag_monitor_topic_skew_ratio', help: 'Busiest partition rate over mean partition rate (1 = even, 0 = idle)', labelNames: ['topic'] as const, registers }),
    cycleDuration: new Histogram({ name: 'lag_monitor_cycle_duration_seconds', help: 'Duration of one monitoring cycle', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers }),
    cycles: new Counter({ name: 'lag_monitor_cycles_total', help: 'Monitoring cycles by result', labelNames: ['result'] as const, registers }),
    groupFetchFailures: new Counter({ name: 'lag_monitor_group_fetch_failures_total', help: 'Groups whose offsets could not be fetched in a cycle', registers }),
    recordReads: new Counter({ name: 'lag_monitor_record_reads_total', help: 'First-unconsumed-record lookups, by outcome (cache hit, broker read, timeout)', labelNames: ['outcome'] as const, registers }),
    alerts: new Counter({ name: 'lag_monitor_alerts_total', help: 'Status-change alerts delivered or failed, by sink', labelNames: ['sink', 'result'] as const, registers }),
    commitLogCaughtUp: new Gauge({ name: 'lag_monitor_commit_log_caught_up', help: '1 once __consumer_offsets was read to its end (commit times observed, STALL detectable)', registers }),
    probeRoundTrip: new Histogram({ name: 'lag_monitor_probe_roundtrip_seconds', help: 'End-to-end probe: produce to consume', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    probesSent: new Counter({ name: 'lag_monitor_probes_sent_total', help: 'Probe records produced', registers }),
    probesLost: new Counter({ name: 'lag_monitor_probes_lost_total', help: 'Probes not read back within PROBE_TIMEOUT_MS or not acknowledged', registers }),
  };
  let lastReader: ReaderStats = { hits: 0, reads: 0, timeouts: 0 };

  return {
    ...m,
    /** Refreshes every gauge from the state after a cycle (reset first: gone series disappear). */
    update(result: CycleResult, monitor: LagMonitor, reader: ReaderStats, commitLogCaughtUp: boolean) {
      for (const g of [
        m.partitionLag,
        m.partitionLagSeconds,
        m.partitionStatus,
        m.partitionMessagesLost,
        m.groupLag,
        m.groupLagSeconds,
        m.groupStatus,
        m.groupConsumeRate,
        m.groupMembers,
        m.groupMessagesLost,
        m.groupUnknownLag,
        m.groups,
        m.topicRate,
        m.topicProduceRate,
        m.topicSkew,
        m.stuckTransaction,
      ])
        g.reset();
      const counts = new Map<string, number>(CONSUMER_STATUSES.map((s) => [s, 0]));
      for (const g of result.snapshot.groups) {
        counts.set(g.status, (counts.get(g.status) ?? 0) + 1);
        // Unknown lag has no series (and lag_monitor_group_unknown_lag_partitions says why), never 0.
        if (g.totalLag !== null) m.groupLag.set({ group: g.groupId }, g.totalLag);
        m.groupUnknownLag.set({ group: g.groupId }, g.unknownLagPartitions);
        m.groupMessagesLost.set({ group: g.groupId }, g.messagesLost);
        if (g.maxLagSeconds !== null) m.groupLagSeconds.set({ group: g.groupId }, g.maxLagSeconds);
        for (const s of CONSUMER_STATUSES) m.groupStatus.set({ group: g.groupId, status: s }, s === g.status ? 1 : 0);
        m.groupConsumeRate.set({ group: g.groupId }, g.consumeRate);
        m.groupMembers.set({ group: g.groupId }, g.memberCount);
      }
      for (const [status, n] of counts) m.groups.set({ status }, n);
      if (opts.partitionSeries) {
        for (const { groupId, view } of monitor.partitions()) {
          const labels = { group: groupId, topic: view.topic, partition: String(view.partition) };
          if (view.lag !== null) m.partitionLag.set(labels, view.lag);
          if (view.lagSeconds !== null) m.partitionLagSeconds.set(labels, view.lagSeconds);
          m.partitionStatus.set(labels, statusCode(view.status));
          if (view.messagesLost) m.partitionMessagesLost.set(labels, view.messagesLost);
        }
      }
      for (const t of result.snapshot.topics) {
        m.topicProduceRate.set({ topic: t.topic }, t.produceRate);
        m.topicSkew.set({ topic: t.topic }, t.balance.skew);
        if (opts.partitionSeries) for (const p of t.partitions) m.topicRate.set({ topic: t.topic, partition: String(p.partition) }, p.rate);
      }
      for (const t of result.snapshot.stuckTransactions) m.stuckTransaction.set({ topic: t.topic, partition: String(t.partition) }, Math.max(0, (result.snapshot.observedAt - t.since) / 1000));
      m.cycleDuration.observe(result.timings.total / 1000);
      m.cycles.inc({ result: 'ok' });
      if (result.failedGroups.length) m.groupFetchFailures.inc(result.failedGroups.length);
      m.recordReads.inc({ outcome: 'hit' }, reader.hits - lastReader.hits);
      m.recordReads.inc({ outcome: 'read' }, reader.reads - lastReader.reads);
      m.recordReads.inc({ outcome: 'timeout' }, reader.timeouts - lastReader.timeouts);
      lastReader = reader;
      m.commitLogCaughtUp.set(commitLogCaughtUp ? 1 : 0);
    },
  };
}

export type MonitorMetrics = ReturnType<typeof createMonitorMetrics>;
