import { type SendClock, createSendClock } from './time-mode';
import { type Parsed, parsed, rejected } from './types';

/** One upstream Kafka topic-partition, as named in EventStreams ids. */
export interface PartitionKey {
  topic: string;
  partition: number;
}

/** EventStreams reads both datacenters' topics; its ids name both (an entry never read carries offset -1). */
export const DATACENTER_TOPICS = ['eqiad.mediawiki.recentchange', 'codfw.mediawiki.recentchange'] as const;

/**
 * Which datacenter serves a connection. Each reads its own Kafka cluster, which holds the same events
 * (same timestamps, same meta.id) at other offsets. `alternate`: each new connection of a client is
 * served by the other datacenter than its previous one (the first by eqiad).
 */
export const DATACENTER_SETTINGS = ['eqiad', 'codfw', 'alternate'] as const;
export type DatacenterSetting = (typeof DATACENTER_SETTINGS)[number];
export type Datacenter = Exclude<DatacenterSetting, 'alternate'>;

/** meta.offset in codfw's cluster = the recorded one + this (eqiad serves the recorded offsets). */
export const CODFW_OFFSET_SHIFT = 1_000_000_000;

export function datacenterOffsetShift(dc: Datacenter): number {
  return dc === 'codfw' ? CODFW_OFFSET_SHIFT : 0;
}

export function parseDatacenter(raw: string): Parsed<DatacenterSetting> {
  const value = raw.trim().toLowerCase();
  return (DATACENTER_SETTINGS as readonly string[]).includes(value)
    ? parsed(value as DatacenterSetting)
    : rejected([`datacenter must be ${DATACENTER_SETTINGS.join(', ')} (got ${JSON.stringify(raw)})`]);
}

/** Remembers each client's last datacenter for `alternate` (bounded: the oldest clients are forgotten). */
export class DatacenterRotation {
  private readonly last = new Map<string, Datacenter>();

  constructor(private readonly maxClients = 10_000) {}

  serve(setting: DatacenterSetting, client: string): Datacenter {
    if (setting !== 'alternate') return setting;
    const next: Datacenter = this.last.get(client) === 'eqiad' ? 'codfw' : 'eqiad';
    this.last.delete(client);
    this.last.set(client, next);
    if (this.last.size > this.maxClients) this.last.delete(this.last.keys().next().value as string);
    return next;
  }
}

/** How many log offsets keep their upstream time in time mode `now` (8 MB of times). */
export const DEFAULT_UPSTREAM_RETENTION = 1_000_000;

/**
 * Time mode `now` with timestamp ids: the server-wide upstream log's times. An offset is dated once,
 * by the server-wide send clock, when a connection first serves it, and keeps that time for every later
 * connection (a timestamp in an id means the same log position on a reconnect). Offsets are dated in
 * order (the `frontier` is the next one to date; serving beyond it dates the gap at the same time), so
 * the times never decrease along the log. Only the latest `retention` offsets are kept: older ones are
 * beyond retention (`base`), and resolving a time before them starts at `base`, like a Kafka consumer
 * resetting to the earliest retained offset.
 */
export class UpstreamTimes {
  private readonly times: Float64Array;
  private next = 0;

  constructor(
    readonly retention: number = DEFAULT_UPSTREAM_RETENTION,
    private readonly clock: SendClock = createSendClock(),
  ) {
    if (!Number.isInteger(retention) || retention < 1) throw new RangeError(`bad retention ${retention}`);
    this.times = new Float64Array(retention);
  }

  /** The next offset to be dated (the live edge). */
  get frontier(): number {
    return this.next;
  }

  /** The oldest offset whose time is kept. */
  get base(): number {
    return Math.max(0, this.next - this.retention);
  }

  /** A SendClock for ReplayLog.eventAt: the kept time of `offset`, dating it (and any gap before it) first. */
  readonly timeFor = (precisionMs = 1, offset = this.next): number => {
    // A jump further than the retention: what lies before its last `retention` offsets would be gone at once.
    if (offset >= this.next + this.retention) this.next = offset - this.retention + 1;
    while (this.next <= offset) {
      this.times[this.next % this.retention] = this.clock(precisionMs);
      this.next++;
    }
    return this.times[Math.max(offset, this.base) % this.retention];
  };

  /**
   * First offset in [base, frontier) whose upstream time (`written`: the kept send time
   * as meta.dt writes it) is >= `ms` and that `accept`s, else the frontier. The written times never
   * decrease along the log, so the first time >= ms is found by bisection.
   */
  firstOffsetAtOrAfter(ms: number, written: (sentAtMs: number, offset: number) => number, accept: (offset: number) => boolean = () => true): number {
    let lo = this.base;
    let hi = this.next;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (written(this.times[mid % this.retention], mid) >= ms) hi = mid;
      else lo = mid + 1;
    }
    while (lo < this.next && !accept(lo)) lo++;
    return lo;
  }
}
