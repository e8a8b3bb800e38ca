import type { GroupSummary, TopicLag, TopicView } from './cycle';
import { parseStreamPrefixes, summarizeStreams } from './streams';

const topic = (name: string, highs: number[], rate: number): TopicView => ({
  topic: name,
  produceRate: rate,
  balance: { totalRate: rate, skew: 1, hottestPartition: null } as TopicView['balance'],
  partitions: highs.map((high, partition) => ({ partition, low: 0, high, lastStable: high, highWatermark: high, rate: rate / highs.length, stuckTransactionSince: null })),
});
const lag = (t: string, l: number | null, status: TopicLag['status'], secs: number | null = null): TopicLag => ({ topic: t, status, lag: l, maxLagSeconds: secs, consumeRate: 0, partitions: 1 });
const group = (groupId: string, byTopic: TopicLag[]) => ({ groupId, byTopic }) as GroupSummary;

describe('summarizeStreams', () => {
  it('should sum each stream\'s topics and the lag of the groups reading them, by topic prefix', () => {
    const report = {
      topics: [topic('wiki.raw.changes', [10, 20], 5), topic('bsky.raw.events', [100, 86], 2), topic('bsky.events.all', [186], 2)],
      groups: [
        group('filter-router', [lag('wiki.raw.changes', 3, 'OK', 1)]),
        group('filter-router-bsky', [lag('bsky.raw.events', 7, 'WARN', 4)]),
        group('aggregator-bsky', [lag('bsky.events.all', 1, 'OK', 9)]),
      ],
    };
    const [wiki, bsky] = summarizeStreams(report, parseStreamPrefixes(['wikimedia=wiki.', 'bluesky=bsky.']));
    expect(wiki).toMatchObject({ name: 'wikimedia', records: 30, produceRate: 5, groups: ['filter-router'], lag: 3, status: 'OK' });
    expect(bsky).toMatchObject({ name: 'bluesky', topics: ['bsky.raw.events', 'bsky.events.all'], records: 372, produceRate: 4, groups: ['filter-router-bsky', 'aggregator-bsky'], lag: 8, maxLagSeconds: 9, status: 'WARN' });
  });

  it('should report an unknown lag as null, never 0, and a stream without topics as empty', () => {
    const report = { topics: [], groups: [group('g', [lag('bsky.raw.events', null, 'UNKNOWN')])] };
    expect(summarizeStreams(report, [{ name: 'bluesky', prefix: 'bsky.' }, { name: 'x', prefix: 'x.' }])).toEqual([
      { name: 'bluesky', prefix: 'bsky.', topics: [], records: 0, produceRate: 0, groups: ['g'], lag: null, maxLagSeconds: null, status: 'UNKNOWN' },
      { name: 'x', prefix: 'x.', topics: [], records: 0, produceRate: 0, groups: [], lag: 0, maxLagSeconds: null, status: 'OK' },
    ]);
  });
});
