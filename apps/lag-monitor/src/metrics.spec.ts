import { createLogger, createMetricsRegistry } from '@wikimonitor/service-kit';
import { createFakeCluster } from '../testing/fake-cluster';
import { aliasDifferences, parsePromText, seriesOf } from '../testing/prom-text';
import { METRIC_ALIASES, aliasLabelNames, createMonitorMetrics } from './metrics';
import { createLagMonitor } from './monitor';

const log = createLogger('test', 'silent');
const NOW = 1_700_000_000_000;

/** A monitor on the fake cluster after one cycle, with its metrics updated: /metrics as text. */
async function scrape(build: (c: ReturnType<typeof createFakeCluster>) => void, opts: { partitionSeries?: boolean; clusterName?: string } = {}) {
  const cluster = createFakeCluster();
  build(cluster);
  const monitor = createLagMonitor({
    admin: cluster.admin,
    reader: cluster.reader,
    includeGroup: () => true,
    windowCycles: 3,
    intervalMs: 1000,
    historyCycles: 5,
    goneRetentionMs: 60_000,
    stuckTransactionMs: 2_000,
    health: { unreadyAfterFailures: 3, overdueMs: 30_000 },
    adminConcurrency: 4,
    log,
    now: () => NOW,
  });
  const registry = createMetricsRegistry('lag-monitor');
  const metrics = createMonitorMetrics(registry, { partitionSeries: opts.partitionSeries ?? true, clusterName: opts.clusterName ?? 'default' });
  metrics.update(await monitor.runCycle(), monitor, { hits: 0, reads: 0, timeouts: 0 }, false);
  const text = await registry.metrics();
  return { text, samples: parsePromText(text) };
}

/** Group g reads t (2 partitions): p0 assigned to member m1 with lag 5, p1 unassigned with lag 3; group u never committed its assigned partition. */
function lagging(c: ReturnType<typeof createFakeCluster>) {
  c.createTopic('t', 2);
  c.produce('t', 0, 10, NOW - 30_000);
  c.produce('t', 0, 5, NOW - 5_000);
  c.produce('t', 1, 7, NOW - 2_000);
  c.deleteRecords('t', 1, 2);
  c.commit('g', 't', 0, 10);
  c.commit('g', 't', 1, 4);
  c.setMembers('g', [{ memberId: 'consumer-1-7f3a', clientId: 'filter-router', host: '/10.0.0.7', assignment: [{ topic: 't', partition: 0 }] }]);
  c.createTopic('v', 1);
  c.produce('v', 0, 4, NOW - 1_000);
  c.setMembers('u', [{ memberId: 'consumer-2-1b2c', clientId: 'aggregator', host: '/10.0.0.8', assignment: [{ topic: 'v', partition: 0 }] }]);
}

describe('lag-monitor metric aliases', () => {
  it('metric aliases should carry the label sets of kafka-lag-exporter and kminion', () => {
    expect(aliasLabelNames('kafka-lag-exporter', ['group', 'topic', 'partition'])).toEqual(['cluster_name', 'group', 'topic', 'partition', 'member_host', 'consumer_id', 'client_id']);
    expect(aliasLabelNames('kafka-lag-exporter', ['group'])).toEqual(['cluster_name', 'group']);
    expect(aliasLabelNames('kafka-lag-exporter', ['group', 'topic'])).toEqual(['cluster_name', 'group', 'topic']);
    expect(aliasLabelNames('kafka-lag-exporter', ['topic', 'partition'])).toEqual(['cluster_name', 'topic', 'partition']);
    expect(aliasLabelNames('kminion', ['group', 'topic'])).toEqual(['group_id', 'topic_name']);
    expect(Object.values(METRIC_ALIASES).flatMap((a) => Object.values(a)).sort()).toEqual([
      'kafka_consumergroup_group_lag',
      'kafka_consumergroup_group_lag_seconds',
      'kafka_consumergroup_group_max_lag',
      'kafka_consumergroup_group_max_lag_seconds',
      'kafka_consumergroup_group_offset',
      'kafka_consumergroup_group_sum_lag',
      'kafka_consumergroup_group_topic_sum_lag',
      'kafka_partition_earliest_offset',
      'kafka_partition_latest_offset',
      'kminion_kafka_consumer_group_topic_lag',
    ]);
  });

  it('metric aliases should equal their lag_monitor twins, series for series, with the owner and cluster labels', async () => {
    const { text, samples } = await scrape(lagging, { clusterName: 'prod' });
    expect(aliasDifferences(samples, METRIC_ALIASES)).toEqual([]);
    // Every alias has series here (the check above is not vacuous).
    for (const names of Object.values(METRIC_ALIASES)) for (const alias of Object.values(names)) expect(seriesOf(samples, alias).size).toBeGreaterThan(0);
    const owned = 'cluster_name="prod",group="g",topic="t",partition="0",member_host="/10.0.0.7",consumer_id="consumer-1-7f3a",client_id="filter-router"';
    const unassigned = 'cluster_name="prod",group="g",topic="t",partition="1",member_host="unknown",consumer_id="unknown",client_id="unknown"';
    expect(text).toContain(`kafka_consumergroup_group_lag{${owned},service="lag-monitor"} 5\n`);
    expect(text).toContain(`kafka_consumergroup_group_offset{${owned},service="lag-monitor"} 10\n`);
    expect(text).toContain(`kafka_consumergroup_group_lag_seconds{${owned},service="lag-monitor"} 5\n`);
    expect(text).toContain(`kafka_consumergroup_group_lag{${unassigned},service="lag-monitor"} 3\n`);
    expect(text).toContain('kafka_consumergroup_group_sum_lag{cluster_name="prod",group="g",service="lag-monitor"} 8\n');
    expect(text).toContain('kafka_consumergroup_group_max_lag{cluster_name="prod",group="g",service="lag-monitor"} 5\n');
    expect(text).toContain('kafka_consumergroup_group_max_lag_seconds{cluster_name="prod",group="g",service="lag-monitor"} 5\n');
    expect(text).toContain('kafka_consumergroup_group_topic_sum_lag{cluster_name="prod",group="g",topic="t",service="lag-monitor"} 8\n');
    expect(text).toContain('kminion_kafka_consumer_group_topic_lag{group_id="g",topic_name="t",service="lag-monitor"} 8\n');
    expect(text).toContain('kafka_partition_latest_offset{cluster_name="prod",topic="t",partition="0",service="lag-monitor"} 15\n');
    expect(text).toContain('kafka_partition_earliest_offset{cluster_name="prod",topic="t",partition="1",service="lag-monitor"} 2\n');
    // Our own twins of what kafka-lag-exporter has and we lacked.
    expect(text).toContain('lag_monitor_partition_committed_offset{group="g",topic="t",partition="1",service="lag-monitor"} 4\n');
    expect(text).toContain('lag_monitor_partition_end_offset{topic="t",partition="1",service="lag-monitor"} 7\n');
    expect(text).toContain('lag_monitor_partition_log_start_offset{topic="t",partition="1",service="lag-monitor"} 2\n');
    expect(text).toContain('lag_monitor_group_max_lag_messages{group="g",service="lag-monitor"} 5\n');
    expect(text).toContain('lag_monitor_group_topic_lag_messages{group="g",topic="t",service="lag-monitor"} 8\n');
  });

  it('metric aliases should have no series for a lag that is unknown (never a fake 0)', async () => {
    const { samples } = await scrape(lagging);
    const ofU = (name: string) => [...seriesOf(samples, name).keys()].filter((k) => k.includes('group=u') || k.includes('group_id=u'));
    for (const name of ['kafka_consumergroup_group_lag', 'kafka_consumergroup_group_lag_seconds', 'kafka_consumergroup_group_offset', 'kafka_consumergroup_group_sum_lag', 'kafka_consumergroup_group_max_lag', 'kafka_consumergroup_group_max_lag_seconds', 'kafka_consumergroup_group_topic_sum_lag', 'kminion_kafka_consumer_group_topic_lag'])
      expect([name, ofU(name)]).toEqual([name, []]);
    // The group is there, UNKNOWN, with its partition counted as unknown.
    expect(seriesOf(samples, 'lag_monitor_group_unknown_lag_partitions').get('group=u')).toBe(1);
    expect(seriesOf(samples, 'kafka_partition_latest_offset').get('cluster_name=default,partition=0,topic=v')).toBe(4);
  });

  it('metric aliases should follow METRICS_PARTITION_SERIES=false (no per-partition series under any name)', async () => {
    const { samples } = await scrape(lagging, { partitionSeries: false });
    for (const name of ['kafka_consumergroup_group_lag', 'kafka_consumergroup_group_offset', 'kafka_partition_latest_offset', 'lag_monitor_partition_end_offset']) expect([name, seriesOf(samples, name).size]).toEqual([name, 0]);
    expect(seriesOf(samples, 'kafka_consumergroup_group_sum_lag').get('cluster_name=default,group=g')).toBe(8);
    expect(aliasDifferences(samples, METRIC_ALIASES)).toEqual([]);
  });
});
