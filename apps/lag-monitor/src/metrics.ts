import { CONSUMER_STATUSES, type CycleHealth, type PartitionOwner, statusCode } from '@wikimonitor/domain';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CycleResult, LagMonitor } from './monitor';
import type { Leadership } from './alerts';
import type { FirstRecordStats as ReaderStats } from '@wikimonitor/lag';

/**
 * Label sets of other exporters: kafka-lag-exporter (`cluster_name` first, then group, topic,
 * partition, and on per-partition group series the member owning the partition) and kminion
 * (`group_id`, `topic_name`).
 */
export type AliasScheme = 'kafka-lag-exporter' | 'kminion';

/**
 * Our figures under the names operators already query, written once: each `lag_monitor_*` twin ->
 * its names in other exporters. The alias series are the twin's series relabelled at scrape time,
 * so their values are the twin's by construction, and a series the twin lacks (an unknown lag) is
 * absent under every name.
 */
export const METRIC_ALIASES = {
  lag_monitor_partition_committed_offset: { 'kafka-lag-exporter': 'kafka_consumergroup_group_offset' },
  lag_monitor_partition_lag_messages: { 'kafka-lag-exporter': 'kafka_consumergroup_group_lag' },
  lag_monitor_partition_lag_seconds: { 'kafka-lag-exporter': 'kafka_consumergroup_group_lag_seconds' },
  lag_monitor_group_max_lag_messages: { 'kafka-lag-exporter': 'kafka_consumergroup_group_max_lag' },
  lag_monitor_group_lag_seconds: { 'kafka-lag-exporter': 'kafka_consumergroup_group_max_lag_seconds' },
  lag_monitor_group_lag_messages: { 'kafka-lag-exporter': 'kafka_consumergroup_group_sum_lag' },
  lag_monitor_group_topic_lag_messages: { 'kafka-lag-exporter': 'kafka_consumergroup_group_topic_sum_lag', kminion: 'kminion_kafka_consumer_group_topic_lag' },
  lag_monitor_partition_end_offset: { 'kafka-lag-exporter': 'kafka_partition_latest_offset' },
  lag_monitor_partition_log_start_offset: { 'kafka-lag-exporter': 'kafka_partition_earliest_offset' },
} as const satisfies Record<string, Partial<Record<AliasScheme, string>>>;

export type AliasedMetric = keyof typeof METRIC_ALIASES;

/** kafka-lag-exporter's value for the owner labels of a partition no member is assigned to. */
export const UNASSIGNED = 'unknown';

const ownerKey = (group: string, topic: string, partition: string) => `${group}\u0000${topic}\u0000${partition}`;

/** An alias's label names, from its twin's (group, topic, partition in that order). */
export function aliasLabelNames(scheme: AliasScheme, twinLabels: readonly string[]): string[] {
  if (scheme === 'kminion') return twinLabels.map((l) => KMINION_LABELS[l] ?? l);
  const owned = twinLabels.includes('group') && twinLabels.includes('partition');
  return ['cluster_name', ...twinLabels, ...(owned ? ['member_host', 'consumer_id', 'client_id'] : [])];
}

const KMINION_LABELS: Record<string, string> = { group: 'group_id', topic: 'topic_name', partition: 'partition_id' };

/** An alias series' labels from its twin series' labels (in the alias's label order). */
export function aliasLabels(scheme: AliasScheme, twin: Partial<Record<string, string | number>>, ctx: { clusterName: string; owner: (group: string, topic: string, partition: string) => PartitionOwner | null | undefined }): Record<string, string> {
  const out: Record<string, string> = {};
  if (scheme === 'kminion') {
    for (const [k, v] of Object.entries(twin)) if (v !== undefined) out[KMINION_LABELS[k] ?? k] = String(v);
    return out;
  }
  out['cluster_name'] = ctx.clusterName;
  for (const [k, v] of Object.entries(twin)) if (v !== undefined) out[k] = String(v);
  const { group, topic, partition } = out;
  if (group !== undefined && partition !== undefined && topic !== undefined) {
    const o = ctx.owner(group, topic, partition);
    out['member_host'] = o?.host ?? UNASSIGNED;
    out['consumer_id'] = o?.memberId ?? UNASSIGNED;
    out['client_id'] = o?.clientId ?? UNASSIGNED;
  }
  return out;
}

/**
 * Every metric lag-monitor exports (see README). Labels are bounded: group, topic, partition and a
 * closed set of statuses; no member ids, hosts or offsets as labels. Per-partition series can be
 * turned off (METRICS_PARTITION_SERIES=false) on clusters with very many partitions.
 */
export function createMonitorMetrics(
  registry: Registry,
  opts: {
    partitionSeries: boolean;
    health?: () => CycleHealth;
    /** `cluster_name` of the kafka-lag-exporter names (METRICS_CLUSTER_NAME). */
    clusterName: string;
    /** Whether this instance publishes alerts (read at scrape time). */
    leadership?: () => Leadership;
    /** Whether group members are described (false when the native describeGroups proved to crash: native-guard.ts). */
    describesMembers?: () => boolean;
  },
) {
  const registers = [registry];
  // Read at scrape time: a monitor whose cycles fail (or hang) must show it without a cycle ending.
  const health = opts.health;
  // Gauges that have aliases keep their label names here, for the aliases' label names.
  const twinLabels = new Map<string, readonly string[]>();
  const twinGauge = <T extends string>(c: { name: string; help: string; labelNames: readonly T[] }) => {
    twinLabels.set(c.name, c.labelNames);
    return new Gauge({ ...c, registers });
  };
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
    leader: new Gauge({
      name: 'lag_monitor_leader',
      help: '1 while this instance is the leader (holds the lease and publishes alerts), else 0; one instance of a deployment at a time',
      registers,
      collect() {
        this.set(opts.leadership?.().role === 'leader' ? 1 : 0);
      },
    }),
    describesMembers: new Gauge({
      name: 'lag_monitor_describes_members',
      help: '1 while group members and assignments are described; 0 when the native describeGroups was found to crash the process (unpatched addon) and is left alone',
      registers,
      collect() {
        this.set(opts.describesMembers?.() === false ? 0 : 1);
      },
    }),
    partitionMessagesLost: new Gauge({ name: 'lag_monitor_partition_messages_lost', help: 'Records deleted by retention before the group read them (log start - committed offset)', labelNames: ['group', 'topic', 'partition'] as const, registers }),
    groupMessagesLost: new Gauge({ name: 'lag_monitor_group_messages_lost', help: 'Records deleted by retention before the group read them, over its partitions', labelNames: ['group'] as const, registers }),
    groupUnknownLag: new Gauge({ name: 'lag_monitor_group_unknown_lag_partitions', help: 'Partitions of the group whose lag could not be measured (its total lag is then absent, never 0)', labelNames: ['group'] as const, registers }),
    stuckTransaction: new Gauge({ name: 'lag_monitor_stuck_transaction_seconds', help: 'How long the last stable offset of a partition has been stuck while its high watermark grew (a transaction left open)', labelNames: ['topic', 'partition'] as const, registers }),
    partitionLag: twinGauge({ name: 'lag_monitor_partition_lag_messages', help: 'Records between the committed offset and the end offset', labelNames: ['group', 'topic', 'partition'] as const }),
    partitionLagSeconds: twinGauge({ name: 'lag_monitor_partition_lag_seconds', help: 'Age of the first unconsumed record (read at the committed offset)', labelNames: ['group', 'topic', 'partition'] as const }),
    partitionStatus: new Gauge({ name: 'lag_monitor_partition_status_code', help: 'Partition status: 0 OK, 1 WARN, 2 REWIND, 3 STALL, 4 STOP, 5 UNKNOWN, 6 INACTIVE, 7 STUCK_TRANSACTION, 8 DATA_LOST', labelNames: ['group', 'topic', 'partition'] as const, registers }),
    partitionCommitted: twinGauge({ name: 'lag_monitor_partition_committed_offset', help: 'Offset the group last committed on the partition (no series before its first commit)', labelNames: ['group', 'topic', 'partition'] as const }),
    partitionEnd: twinGauge({ name: 'lag_monitor_partition_end_offset', help: 'End offset lag is measured to (last stable offset under read_committed, else the high watermark)', labelNames: ['topic', 'partition'] as const }),
    partitionLogStart: twinGauge({ name: 'lag_monitor_partition_log_start_offset', help: 'First offset still retained in the partition (log start)', labelNames: ['topic', 'partition'] as const }),
    groupLag: twinGauge({ name: 'lag_monitor_group_lag_messages', help: 'Sum of the lag of every partition of the group', labelNames: ['group'] as const }),
    groupMaxLag: twinGauge({ name: 'lag_monitor_group_max_lag_messages', help: 'Largest lag in messages over the group partitions', labelNames: ['group'] as const }),
    groupTopicLag: twinGauge({ name: 'lag_monitor_group_topic_lag_messages', help: 'Sum of the lag of the group partitions of one topic', labelNames: ['group', 'topic'] as const }),
    groupLagSeconds: twinGauge({ name: 'lag_monitor_group_lag_seconds', help: 'Largest lag in seconds over the group partitions', labelNames: ['group'] as const }),
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

  let owners = new Map<string, PartitionOwner | null>();
  const ctx = { clusterName: opts.clusterName, owner: (g: string, t: string, p: string) => owners.get(ownerKey(g, t, p)) };
  // The aliases: each relabels its twin's series when scraped (see METRIC_ALIASES).
  for (const [twinName, names] of Object.entries(METRIC_ALIASES) as Array<[AliasedMetric, Partial<Record<AliasScheme, string>>]>) {
    const twin = registry.getSingleMetric(twinName);
    const labels = twinLabels.get(twinName);
    if (!(twin instanceof Gauge) || !labels) throw new Error(`metric alias table names ${twinName}, which is not one of our gauges`);
    for (const [scheme, name] of Object.entries(names) as Array<[AliasScheme, string]>) {
      new Gauge({
        name,
        help: `${twinName} under its ${scheme} name (same value)`,
        labelNames: aliasLabelNames(scheme, labels),
        registers,
        async collect() {
          const { values } = await twin.get();
          // Reset and refill without an await between: a concurrent scrape never sees it half-filled.
          this.reset();
          for (const v of values) this.set(aliasLabels(scheme, v.labels, ctx), v.value);
        },
      });
    }
  }

  return {
    ...m,
    /** Refreshes every gauge from the state after a cycle (reset first: gone series disappear). */
    update(result: CycleResult, monitor: LagMonitor, reader: ReaderStats, commitLogCaughtUp: boolean) {
      for (const g of [
        m.partitionLag,
        m.partitionLagSeconds,
        m.partitionStatus,
        m.partitionMessagesLost,
        m.partitionCommitted,
        m.partitionEnd,
        m.partitionLogStart,
        m.groupLag,
        m.groupMaxLag,
        m.groupTopicLag,
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
        if (g.maxLag !== null) m.groupMaxLag.set({ group: g.groupId }, g.maxLag);
        for (const t of g.byTopic) if (t.lag !== null) m.groupTopicLag.set({ group: g.groupId, topic: t.topic }, t.lag);
        m.groupUnknownLag.set({ group: g.groupId }, g.unknownLagPartitions);
        m.groupMessagesLost.set({ group: g.groupId }, g.messagesLost);
        if (g.maxLagSeconds !== null) m.groupLagSeconds.set({ group: g.groupId }, g.maxLagSeconds);
        for (const s of CONSUMER_STATUSES) m.groupStatus.set({ group: g.groupId, status: s }, s === g.status ? 1 : 0);
        m.groupConsumeRate.set({ group: g.groupId }, g.consumeRate);
        m.groupMembers.set({ group: g.groupId }, g.memberCount);
      }
      for (const [status, n] of counts) m.groups.set({ status }, n);
      const nextOwners = new Map<string, PartitionOwner | null>();
      if (opts.partitionSeries) {
        for (const { groupId, view } of monitor.partitions()) {
          const labels = { group: groupId, topic: view.topic, partition: String(view.partition) };
          nextOwners.set(ownerKey(labels.group, labels.topic, labels.partition), view.owner);
          if (view.committedOffset !== null) m.partitionCommitted.set(labels, view.committedOffset);
          if (view.lag !== null) m.partitionLag.set(labels, view.lag);
          if (view.lagSeconds !== null) m.partitionLagSeconds.set(labels, view.lagSeconds);
          m.partitionStatus.set(labels, statusCode(view.status));
          if (view.messagesLost) m.partitionMessagesLost.set(labels, view.messagesLost);
        }
      }
      owners = nextOwners;
      for (const t of result.snapshot.topics) {
        m.topicProduceRate.set({ topic: t.topic }, t.produceRate);
        m.topicSkew.set({ topic: t.topic }, t.balance.skew);
        if (!opts.partitionSeries) continue;
        for (const p of t.partitions) {
          const labels = { topic: t.topic, partition: String(p.partition) };
          m.topicRate.set(labels, p.rate);
          if (p.high !== null) m.partitionEnd.set(labels, p.high);
          if (p.low !== null) m.partitionLogStart.set(labels, p.low);
        }
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
