import { parseCommitRecord } from './commit-log';

function str(s: string): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(Buffer.byteLength(s));
  return Buffer.concat([b, Buffer.from(s)]);
}
function i16(n: number) {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}
function i32(n: number) {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}
function i64(n: number) {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(n));
  return b;
}
const key = (version: number, group: string, topic: string, partition: number) => Buffer.concat([i16(version), str(group), str(topic), i32(partition)]);
const TS = 1_795_295_751_288;

describe('parseCommitRecord', () => {
  it('parseCommitRecord should decode a real OffsetCommit record written by Kafka 4.1 (key v1, value v4)', () => {
    // Captured from the local broker's __consumer_offsets.
    const k = Buffer.from('00010013672d6d777177716975302d6632616539663964001a69742e6b61666b612d6d777177716970642d336238316337626300000000', 'hex');
    const v = Buffer.from('00040000000000000001ffffffff01000001a1fff72c7800', 'hex');
    expect(parseCommitRecord(k, v)).toEqual({ group: 'g-mwqwqiu0-f2ae9f9d', topic: 'it.kafka-mwqwqipd-3b81c7bc', partition: 0, offset: 1, commitTimestamp: 1795295751288 });
  });

  it.each([
    ['v0', Buffer.concat([i16(0), i64(42), str('meta'), i64(TS)])],
    ['v1 (with expire timestamp)', Buffer.concat([i16(1), i64(42), str(''), i64(TS), i64(TS + 1000)])],
    ['v2', Buffer.concat([i16(2), i64(42), str('m'), i64(TS)])],
    ['v3 (with leader epoch)', Buffer.concat([i16(3), i64(42), i32(7), str('m'), i64(TS)])],
    ['v4 (flexible, compact metadata, tagged fields)', Buffer.concat([i16(4), i64(42), i32(-1), Buffer.from([3]), Buffer.from('ab'), i64(TS), Buffer.from([0])])],
  ])('parseCommitRecord should decode an OffsetCommitValue %s', (_v, value) => {
    expect(parseCommitRecord(key(1, 'grp', 'wiki.raw.changes', 5), value)).toEqual({ group: 'grp', topic: 'wiki.raw.changes', partition: 5, offset: 42, commitTimestamp: TS });
  });

  it('parseCommitRecord should report a tombstone (offset expired or deleted) with a null offset', () => {
    expect(parseCommitRecord(key(0, 'grp', 't', 0), null)).toEqual({ group: 'grp', topic: 't', partition: 0, offset: null, commitTimestamp: null });
  });

  it.each([
    ['group metadata (key v2)', Buffer.concat([i16(2), str('grp')]), Buffer.from([0, 3])],
    ['a KIP-848 record type', Buffer.concat([i16(3), str('grp')]), Buffer.from([0, 0])],
    ['a truncated value', key(1, 'grp', 't', 0), Buffer.from([0, 3, 0, 0])],
    ['no key', null, Buffer.from([0])],
  ])('parseCommitRecord should ignore %s', (_n, k, v) => {
    expect(parseCommitRecord(k, v)).toBeNull();
  });
});
