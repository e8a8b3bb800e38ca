import type { GroupSummary, LagReport } from './cycle';
import { worstStatus } from './status';
import type { ConsumerStatus } from './types';

/** A source stream, recognized by the prefix of its topics (e.g. bluesky = `bsky.`). */
export interface StreamPrefix {
  name: string;
  prefix: string;
}

/** One stream's figures in a cycle: its topics' records and rates, and the lag of the groups reading them. */
export interface StreamSummary {
  name: string;
  prefix: string;
  /** Topics of the stream the monitor saw this cycle (read by a monitored group, or BALANCE_TOPICS). */
  topics: string[];
  /** Records written to those topics so far (sum of their end offsets; partitions not listed this cycle count 0). */
  records: number;
  /** Records per second written to them. */
  produceRate: number;
  /** Groups reading at least one of them. */
  groups: string[];
  /** Their summed lag on the stream's topics; null when any of it is unknown. */
  lag: number | null;
  /** Age of the oldest unconsumed record over those groups and topics; null when none is known. */
  maxLagSeconds: number | null;
  /** The worst status of those groups on the stream's topics (OK when none). */
  status: ConsumerStatus;
}

/** `name=prefix` entries (STREAMS), in order; an entry without `=` is its own name and prefix. */
export function parseStreamPrefixes(entries: readonly string[]): StreamPrefix[] {
  return entries.map((e) => {
    const at = e.indexOf('=');
    return at < 0 ? { name: e, prefix: e } : { name: e.slice(0, at).trim(), prefix: e.slice(at + 1).trim() };
  });
}

/** Per stream, what the cycle's report says of its topics and of the groups reading them. Pure. */
export function summarizeStreams(report: Pick<LagReport, 'groups' | 'topics'>, streams: readonly StreamPrefix[]): StreamSummary[] {
  return streams.map(({ name, prefix }) => {
    const mine = (topic: string) => topic.startsWith(prefix);
    const topics = report.topics.filter((t) => mine(t.topic));
    const groups: GroupSummary[] = report.groups.filter((g) => g.byTopic.some((t) => mine(t.topic)));
    let lag: number | null = 0;
    let maxLagSeconds: number | null = null;
    const statuses: ConsumerStatus[] = [];
    for (const g of groups) {
      for (const t of g.byTopic.filter((x) => mine(x.topic))) {
        lag = lag === null || t.lag === null ? null : lag + t.lag;
        if (t.maxLagSeconds !== null) maxLagSeconds = Math.max(maxLagSeconds ?? 0, t.maxLagSeconds);
        statuses.push(t.status);
      }
    }
    return {
      name,
      prefix,
      topics: topics.map((t) => t.topic),
      records: topics.reduce((n, t) => n + t.partitions.reduce((m, p) => m + (p.high ?? 0), 0), 0),
      produceRate: topics.reduce((n, t) => n + t.produceRate, 0),
      groups: groups.map((g) => g.groupId),
      lag,
      maxLagSeconds,
      status: worstStatus(statuses),
    };
  });
}
