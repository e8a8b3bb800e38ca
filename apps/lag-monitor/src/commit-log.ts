import { randomBytes } from 'node:crypto';
import { KafkaConsumer, type LibrdKafkaError, type Message, type Metadata } from '@confluentinc/kafka-javascript';
import { type KafkaConnection, rdkafkaBaseConfig } from '@wikimonitor/kafka';
import { type Lifecycle, type Logger, WikiMonitorError, retry, sleep } from '@wikimonitor/service-kit';

/** One offset commit as the group coordinator stored it in `__consumer_offsets`. */
export interface CommitRecord {
  group: string;
  topic: string;
  partition: number;
  /** Null for a tombstone (offsets expired or deleted). */
  offset: number | null;
  commitTimestamp: number | null;
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  int16() {
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32() {
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64() {
    const v = Number(this.buf.readBigInt64BE(this.pos));
    this.pos += 8;
    return v;
  }
  uvarint() {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.buf.readUInt8(this.pos++);
      value |= (b & 0x7f) << shift;
      if (!(b & 0x80)) return value >>> 0;
    }
    throw new RangeError('varint too long');
  }
  string(): string | null {
    const len = this.int16();
    if (len < 0) return null;
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
  compactString(): string | null {
    const len = this.uvarint() - 1;
    if (len < 0) return null;
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
}

/**
 * Decodes a `__consumer_offsets` record (OffsetCommitKey v0/v1, OffsetCommitValue v0-v4, see
 * Kafka's group-coordinator message definitions). Returns null for the other record types stored
 * there (group metadata, KIP-848 records, share groups) and for anything malformed.
 */
export function parseCommitRecord(key: Buffer | null | undefined, value: Buffer | null | undefined): CommitRecord | null {
  if (!key || key.length < 2) return null;
  try {
    const k = new Reader(key);
    const keyVersion = k.int16();
    if (keyVersion !== 0 && keyVersion !== 1) return null;
    const group = k.string();
    const topic = k.string();
    const partition = k.int32();
    if (group === null || topic === null) return null;
    if (!value) return { group, topic, partition, offset: null, commitTimestamp: null };
    const v = new Reader(value);
    const version = v.int16();
    const offset = v.int64();
    if (version >= 3) v.int32(); // leader epoch
    if (version >= 4) v.compactString();
    else v.string(); // metadata
    const commitTimestamp = v.int64();
    return { group, topic, partition, offset, commitTimestamp };
  } catch {
    return null;
  }
}

export interface LastCommit {
  offset: number;
  at: number;
}

export interface CommitLog extends Lifecycle {
  /** The group's last commit for a partition, if seen. */
  lastCommit(group: string, topic: string, partition: number): LastCommit | undefined;
  /** True once the log was read up to where it ended at start: from then on every commit is seen. */
  caughtUp(): boolean;
  /** Commit records read since start. */
  recordsRead(): number;
}

export interface CommitLogOptions {
  connection: KafkaConnection;
  log: Logger;
  topic: string;
  /** Only commits of these groups are kept (memory stays bounded by the monitored groups). */
  includeGroup: (group: string) => boolean;
}

/**
 * Tails `__consumer_offsets` from its beginning, as Burrow does: the compacted log holds each
 * group's latest commit with its timestamp, and new records show every commit, including commits
 * of an unchanged offset, which is what tells STALL (committing, stuck) from STOP (not committing).
 */
export function createCommitLog(opts: CommitLogOptions): CommitLog {
  const { log } = opts;
  const commits = new Map<string, LastCommit>();
  const keyOf = (g: string, t: string, p: number) => `${g}\u0000${t}\u0000${p}`;
  const consumer = new KafkaConsumer(
    {
      ...rdkafkaBaseConfig({ ...opts.connection, clientId: `${opts.connection.clientId}-commit-log` }),
      'group.id': `lag-monitor-commit-log-${randomBytes(4).toString('hex')}`,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'enable.partition.eof': true,
      // Offsets committed in a transaction count only once the transaction commits.
      'isolation.level': 'read_committed',
      'fetch.wait.max.ms': 200,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  consumer.on('event.error', (err: LibrdKafkaError) => log.debug({ code: err.code, err: err.message }, 'commit log client error (librdkafka retries)'));
  let partitions = 0;
  const atEnd = new Set<number>();
  let caughtUp = false;
  let running = false;
  let connected = false;
  let loop: Promise<void> | undefined;
  let read = 0;

  // End-of-partition events fire while a consume call runs, before its records are handed over:
  // the log counts as caught up only after the records of that call were applied.
  consumer.on('partition.eof', (e) => atEnd.add(e.partition));
  const checkCaughtUp = () => {
    if (caughtUp || atEnd.size < partitions) return;
    caughtUp = true;
    log.info({ commits: commits.size, records: read }, 'commit log caught up: commit times are now observed');
  };

  function apply(m: Message) {
    const rec = parseCommitRecord(m.key as Buffer | null | undefined, m.value);
    if (!rec || !opts.includeGroup(rec.group)) return;
    read++;
    const key = keyOf(rec.group, rec.topic, rec.partition);
    if (rec.offset === null) commits.delete(key);
    else commits.set(key, { offset: rec.offset, at: rec.commitTimestamp ?? m.timestamp ?? Date.now() });
  }

  async function run() {
    while (running) {
      try {
        const batch = await new Promise<Message[]>((resolve, reject) => consumer.consume(1000, (err, msgs) => (err ? reject(err) : resolve(msgs ?? []))));
        for (const m of batch) apply(m);
        checkCaughtUp();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'reading the commit log failed, retrying');
        await sleep(1000);
      }
    }
  }

  return {
    name: 'commit-log',
    async start() {
      await retry(
        () =>
          new Promise<void>((resolve, reject) =>
            consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(new WikiMonitorError('DEPENDENCY_UNAVAILABLE', `commit log: ${err.message}`, { retriable: true, cause: err })) : resolve())),
          ),
        { attempts: opts.connection.connectAttempts, initialMs: 500, maxMs: 10_000 },
      );
      connected = true;
      const meta = await new Promise<Metadata>((resolve, reject) => consumer.getMetadata({ topic: opts.topic, timeout: 10_000 }, (err, m) => (err ? reject(err) : resolve(m))));
      const ids = meta.topics.find((t) => t.name === opts.topic)?.partitions.map((p) => p.id) ?? [];
      partitions = ids.length;
      if (!partitions) {
        log.warn({ topic: opts.topic }, 'commit log topic not visible: commit times will be inferred from offset changes');
        return;
      }
      consumer.assign(ids.map((partition) => ({ topic: opts.topic, partition, offset: -2 /* beginning */ })));
      consumer.setDefaultConsumeTimeout(500);
      running = true;
      loop = run();
    },
    async close() {
      running = false;
      await loop;
      if (connected) {
        connected = false;
        await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
      }
    },
    lastCommit: (g, t, p) => commits.get(keyOf(g, t, p)),
    caughtUp: () => caughtUp,
    recordsRead: () => read,
    isLive: () => true,
    isReady: () => true,
  };
}
