import type { LastCommit } from '@wikimonitor/domain';
import { type KafkaConnection, type Message, createPartitionReader } from '@wikimonitor/kafka';
import type { Lifecycle, Logger } from '@wikimonitor/service-kit';

export type { LastCommit } from '@wikimonitor/domain';

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
  // Offsets committed in a transaction count only once the transaction commits (read_committed).
  const reader = createPartitionReader({ connection: opts.connection, log, name: 'commit-log' });
  const abort = new AbortController();
  let caughtUp = false;
  let loop: Promise<void> | undefined;
  let read = 0;

  function apply(m: Message) {
    const rec = parseCommitRecord(m.key as Buffer | null | undefined, m.value);
    if (!rec || !opts.includeGroup(rec.group)) return;
    read++;
    const key = keyOf(rec.group, rec.topic, rec.partition);
    if (rec.offset === null) commits.delete(key);
    else commits.set(key, { offset: rec.offset, at: rec.commitTimestamp ?? m.timestamp ?? Date.now() });
  }

  return {
    name: 'commit-log',
    async start() {
      await reader.start();
      const ids = await reader.partitions(opts.topic);
      if (!ids.length) {
        log.warn({ topic: opts.topic }, 'commit log topic not visible: commit times will be inferred from offset changes');
        return;
      }
      loop = reader
        .tail(ids.map((partition) => ({ topic: opts.topic, partition, from: 'beginning' as const })), apply, {
          signal: abort.signal,
          onCaughtUp: () => {
            caughtUp = true;
            log.info({ commits: commits.size, records: read }, 'commit log caught up: commit times are now observed');
          },
        })
        .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'reading the commit log stopped: commit times will be inferred from offset changes'));
    },
    async close() {
      abort.abort();
      await loop;
      await reader.close();
    },
    lastCommit: (g, t, p) => commits.get(keyOf(g, t, p)),
    caughtUp: () => caughtUp,
    recordsRead: () => read,
    isLive: () => true,
    isReady: () => true,
  };
}
