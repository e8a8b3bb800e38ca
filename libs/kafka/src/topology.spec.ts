import { DEFAULT_TOPICS, ROUTE_TOPIC_IDS, TOPIC_IDS, TOPOLOGY, renderTopicsFile, topicSpecsFor } from './topology';

describe('topology', () => {
  it('DEFAULT_TOPICS should give every declared topic its declared name', () => {
    expect(Object.keys(DEFAULT_TOPICS)).toEqual(TOPIC_IDS);
    expect(DEFAULT_TOPICS.raw).toBe('wiki.raw.changes');
    expect(DEFAULT_TOPICS.dlq).toBe('wiki.dlq');
    expect(new Set(Object.values(DEFAULT_TOPICS)).size).toBe(TOPIC_IDS.length);
  });

  it('topology should declare co-partitioning only with a declared topic of as many partitions', () => {
    for (const id of TOPIC_IDS) {
      const of: string | undefined = (TOPOLOGY[id] as { partitionsOf?: string }).partitionsOf;
      if (of === undefined) continue;
      expect(TOPIC_IDS).toContain(of);
      expect(TOPOLOGY[id].partitions).toBe(TOPOLOGY[of as keyof typeof TOPOLOGY].partitions);
    }
  });

  it('topology should have every topic provisioned by one of its writers or readers', () => {
    for (const id of TOPIC_IDS) {
      const t = TOPOLOGY[id];
      const involved = new Set<string>([...t.writers, ...t.readers]);
      expect(t.provisionedBy.filter((a) => !involved.has(a))).toEqual([]);
      expect(t.provisionedBy.length).toBeGreaterThan(0);
    }
  });

  it('topicSpecsFor should give an app the topics it provisions with the declared settings', () => {
    expect(topicSpecsFor('producer', { replicationFactor: 3 })).toEqual([
      { topic: 'wiki.raw.changes', partitions: 6, replicationFactor: 3 },
      { topic: 'bsky.raw.events', partitions: 6, replicationFactor: 3 },
      { topic: 'wiki.producer.checkpoints', partitions: 1, replicationFactor: 3, configs: { 'cleanup.policy': 'compact', 'segment.ms': '3600000' } },
      { topic: 'wiki.dlq', partitions: 3, replicationFactor: 3, configs: { 'retention.ms': '1209600000' } },
    ]);
    expect(topicSpecsFor('dedup-persister', { replicationFactor: 1 }).map((s) => s.topic)).toEqual(['wiki.dlq']);
  });

  it('topicSpecsFor should use the configured names and partition counts', () => {
    const specs = topicSpecsFor('producer', { replicationFactor: 1, names: { raw: 'x.raw', dlq: 'x.dlq' }, partitions: { raw: 2 } });
    expect(specs.map((s) => [s.topic, s.partitions])).toEqual([
      ['x.raw', 2],
      ['bsky.raw.events', 6],
      ['wiki.producer.checkpoints', 1],
      ['x.dlq', 3],
    ]);
  });

  it('topicSpecsFor should size a co-partitioned topic like its source (declared, configured or measured)', () => {
    const changelog = (partitions: Parameters<typeof topicSpecsFor>[1]['partitions']) =>
      topicSpecsFor('aggregator', { replicationFactor: 1, only: ['changelog'], partitions })[0];
    expect(changelog({})?.partitions).toBe(6);
    expect(changelog({ changesAll: 4 })?.partitions).toBe(4);
    expect(changelog({ changesAll: 4, changelog: 9 })?.partitions).toBe(9);
    expect(changelog({})?.configs?.['cleanup.policy']).toBe('compact');
  });

  it('topicSpecsFor should filter with only, and replace the declared routes with the configured ones', () => {
    expect(topicSpecsFor('aggregator', { replicationFactor: 1, only: ['changesAll'] }).map((s) => s.topic)).toEqual(['wiki.changes.all']);
    const router = topicSpecsFor('filter-router', { replicationFactor: 1, routes: ['r.a', 'r.b', 'r.a'], routePartitions: 2 });
    expect(router).toEqual([
      { topic: 'wiki.dlq', partitions: 3, replicationFactor: 1, configs: { 'retention.ms': '1209600000' } },
      { topic: 'r.a', partitions: 2, replicationFactor: 1 },
      { topic: 'r.b', partitions: 2, replicationFactor: 1 },
    ]);
    const declared = topicSpecsFor('filter-router', { replicationFactor: 1 }).map((s) => s.topic);
    expect(declared).toEqual(['wiki.dlq', ...ROUTE_TOPIC_IDS.map((id) => TOPOLOGY[id].name)]);
  });

  it('renderTopicsFile should list every declared topic once with its partitions and configs', () => {
    const rows = renderTopicsFile()
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'))
      .map((l) => l.split(/\s+/));
    expect(rows.map((r) => r[0])).toEqual(expect.arrayContaining(TOPIC_IDS.map((id) => TOPOLOGY[id].name)));
    expect(rows).toHaveLength(TOPIC_IDS.length);
    const changelog = rows.find((r) => r[0] === 'wiki.aggregator.changelog');
    expect(changelog).toEqual(['wiki.aggregator.changelog', '6', 'cleanup.policy=compact', 'segment.ms=600000', 'min.cleanable.dirty.ratio=0.1']);
  });
});
