import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@wikimonitor/testing';
import { type PositionRecord, PositionTracker, ownEntry, resumeIdFrom } from './position';

const EQIAD = 'eqiad.mediawiki.recentchange';
const CODFW = 'codfw.mediawiki.recentchange';
/** Real ids and meta of the 2022 recording (EventStreams with useTimestampForId). */
const recorded = (() => {
  const text = readFileSync(join(REPO_ROOT, 'data/recordings/recentchange-sample-wiki-visualizer-2022-12-11.sse'), 'utf8');
  const out: Array<{ sseId: string; key: string; topic: string; partition: number }> = [];
  let id = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('id: ')) id = line.slice(4);
    if (line.startsWith('data: ')) {
      const meta = (JSON.parse(line.slice(6)) as { meta: { id: string; topic: string; partition: number } }).meta;
      out.push({ sseId: id, key: meta.id, topic: meta.topic, partition: meta.partition });
    }
  }
  return out;
})();

const idAt = (ts: number) => JSON.stringify([{ topic: EQIAD, partition: 0, timestamp: ts + 1 }, { topic: CODFW, partition: 0, offset: -1 }]);
const opts = { marginMs: 1_000, maxIds: 100, url: 'http://source' };

describe('position', () => {
  it('resumeIdFrom should move each timestamp back by the margin and keep offset entries as they are', () => {
    const id = resumeIdFrom([{ topic: EQIAD, partition: 0, timestamp: 1670732822001 }, { topic: CODFW, partition: 0, offset: -1 }], 5_000);
    expect(JSON.parse(id as string)).toEqual([{ topic: EQIAD, partition: 0, timestamp: 1670732817001 }, { topic: CODFW, partition: 0, offset: -1 }]);
    expect(resumeIdFrom([{ topic: 't', partition: 1, offset: 42 }], 5_000)).toBe('[{"topic":"t","partition":1,"offset":42}]');
    expect(resumeIdFrom([{ topic: 't', partition: 0, timestamp: 100 }], 5_000)).toBe('[{"topic":"t","partition":0,"timestamp":0}]');
    expect(resumeIdFrom(undefined, 5_000)).toBeUndefined();
  });

  it('ownEntry should pick the meta.topic/partition entry, else the entry whose timestamp changed', () => {
    const prev = [{ topic: 'a', partition: 0, timestamp: 10 }, { topic: 'b', partition: 0, timestamp: 20 }];
    const next = [{ topic: 'a', partition: 0, timestamp: 10 }, { topic: 'b', partition: 0, timestamp: 25 }];
    expect(ownEntry(next, prev, 'a', 0)).toEqual(prev[0]);
    expect(ownEntry(next, prev)).toEqual(next[1]);
    expect(ownEntry(next, next)).toBeUndefined(); // nothing changed, two candidates: unknown
    expect(ownEntry([{ topic: EQIAD, partition: 0, timestamp: 5 }, { topic: CODFW, partition: 0, offset: -1 }], undefined)).toEqual({ topic: EQIAD, partition: 0, timestamp: 5 });
  });

  it('tracker should know every written id of the real recording and resume before the first event of the last millisecond', () => {
    const t = new PositionTracker({ ...opts, marginMs: 60_000, maxIds: 10_000 });
    for (const e of recorded) t.accept(e);
    for (const e of recorded) expect(t.isWritten(e.key)).toBe(true);
    expect(t.isWritten('not-written')).toBe(false);
    expect(t.isWritten(null)).toBe(false);
    const last = JSON.parse((recorded[recorded.length - 1] as { sseId: string }).sseId) as Array<{ timestamp?: number }>;
    const resume = JSON.parse(t.resumeId() as string) as Array<{ timestamp?: number; offset?: number }>;
    expect(resume[0]?.timestamp).toBe((last[0]?.timestamp as number) - 60_000);
    expect(resume[1]).toEqual({ topic: CODFW, partition: 0, offset: -1 });
  });

  it('tracker should not take an id dated beyond receipt + skew as the position (a 2099 event would make every resume skip the rest)', () => {
    const received = Date.parse('2026-02-26T15:50:00Z');
    const t = new PositionTracker({ ...opts, maxFutureSkewMs: 300_000 });
    t.accept({ sseId: idAt(received - 2_000), key: 'real-1', topic: EQIAD, partition: 0, receivedTime: received });
    t.accept({ sseId: idAt(Date.parse('2099-01-01T00:00:00Z')), key: 'future', topic: EQIAD, partition: 0, receivedTime: received });
    const resume = JSON.parse(t.resumeId() as string) as Array<{ timestamp?: number }>;
    expect(resume[0]?.timestamp).toBe(received - 2_000 + 1 - 1_000);
    expect(t.futureIdsIgnored).toBe(1);
    // still filtered on a re-delivery, and the next real id moves the position again
    expect(t.isWritten('future')).toBe(true);
    t.accept({ sseId: idAt(received - 1_000), key: 'real-2', topic: EQIAD, partition: 0, receivedTime: received });
    expect((JSON.parse(t.resumeId() as string) as Array<{ timestamp?: number }>)[0]?.timestamp).toBe(received - 1_000 + 1 - 1_000);
    // within the skew the id is the position as before
    t.accept({ sseId: idAt(received + 60_000), key: 'skewed', topic: EQIAD, partition: 0, receivedTime: received });
    expect((JSON.parse(t.resumeId() as string) as Array<{ timestamp?: number }>)[0]?.timestamp).toBe(received + 60_000 + 1 - 1_000);
  });

  it('tracker should keep the ids of the last 2 * margin of a partition and forget older ones', () => {
    const t = new PositionTracker(opts);
    t.accept({ sseId: idAt(10_000), key: 'old', topic: EQIAD, partition: 0 });
    t.accept({ sseId: idAt(17_999), key: 'edge', topic: EQIAD, partition: 0 });
    t.accept({ sseId: idAt(18_000), key: 'kept', topic: EQIAD, partition: 0 });
    t.accept({ sseId: idAt(20_000), key: 'newest', topic: EQIAD, partition: 0 });
    t.prune();
    expect(['old', 'edge', 'kept', 'newest'].map((k) => t.isWritten(k))).toEqual([false, false, true, true]);
  });

  it('tracker should bound the kept ids, dropping the oldest first and counting them', () => {
    const t = new PositionTracker({ ...opts, maxIds: 3 });
    const dropped = [1, 2, 3, 4, 5].map((i) => t.accept({ sseId: idAt(1_000 + i), key: `id${i}`, topic: EQIAD, partition: 0 }));
    expect(dropped).toEqual([0, 0, 0, 1, 1]);
    expect([1, 2, 3, 4, 5].map((i) => t.isWritten(`id${i}`))).toEqual([false, false, true, true, true]);
    expect(t.snapshot(1, new Date(0)).idsDropped).toBe(2);
  });

  it('tracker should keep exactly the newest maxIds keys over a long run with re-accepted keys, restores and prunes (reference model)', () => {
    // Beyond the compaction thresholds of the drop queue: tens of thousands of accepts.
    const maxIds = 500;
    let t = new PositionTracker({ ...opts, marginMs: 3_600_000, maxIds });
    const model: string[] = []; // oldest first
    let ts = 1_000;
    for (let i = 0; i < 30_000; i++) {
      // Every 7th event re-delivers a recent key (kept: it moves to the newest place).
      const key = i % 7 === 6 && model.length > 10 ? (model[model.length - 10] as string) : `k${i}`;
      if (i % 3 === 0) ts++;
      t.accept({ sseId: idAt(ts), key, topic: EQIAD, partition: 0 });
      const at = model.indexOf(key);
      if (at >= 0) model.splice(at, 1);
      model.push(key);
      while (model.length > maxIds) model.shift();
      if (i % 9_999 === 0) t = new PositionTracker({ ...opts, marginMs: 3_600_000, maxIds }, JSON.parse(JSON.stringify(t.snapshot(i, new Date(0)))));
    }
    expect(t.keptCount()).toBe(maxIds);
    const snap = t.snapshot(1, new Date(0));
    expect(Object.values(snap.ids).flatMap((groups) => groups.flatMap(([, ...keys]) => keys))).toEqual(model);
    expect(model.every((k) => t.isWritten(k))).toBe(true);
    expect(t.isWritten('k0')).toBe(false);
  });

  it('tracker should not keep ids of offset-positioned events (an offset resume re-delivers nothing)', () => {
    const t = new PositionTracker(opts);
    t.accept({ sseId: '[{"topic":"t","partition":0,"offset":8}]', key: 'a', topic: 't', partition: 0 });
    expect(t.isWritten('a')).toBe(false);
    expect(t.resumeId()).toBe('[{"topic":"t","partition":0,"offset":8}]');
  });

  it('snapshot should round-trip through JSON into a tracker that filters the same ids and continues the sequence data', () => {
    const t = new PositionTracker(opts);
    t.accept({ sseId: idAt(5_000), key: 'a', topic: EQIAD, partition: 0 });
    t.accept({ sseId: idAt(5_000), key: 'b', topic: EQIAD, partition: 0 });
    t.accept({ sseId: idAt(5_400), key: 'c', topic: EQIAD, partition: 0 });
    const snap = JSON.parse(JSON.stringify(t.snapshot(7, new Date(0)))) as PositionRecord;
    expect(snap).toMatchObject({ v: 2, seq: 7, url: 'http://source', events: 3, idsDropped: 0 });
    expect(snap.ids).toEqual({ [`${EQIAD}/0`]: [[5_000, 'a', 'b'], [5_400, 'c']] });
    const back = new PositionTracker(opts, snap);
    expect(['a', 'b', 'c', 'd'].map((k) => back.isWritten(k))).toEqual([true, true, true, false]);
    expect(back.resumeId()).toBe(t.resumeId());
    expect(back.legacy).toBe(false);
  });

  it('tracker should read a version-1 checkpoint: its id with the margin, nothing to filter', () => {
    const t = new PositionTracker(opts, { lastEventId: idAt(9_999), url: 'http://source', events: 12, at: '2026-01-01T00:00:00Z' });
    expect(t.legacy).toBe(true);
    expect(JSON.parse(t.resumeId() as string)[0].timestamp).toBe(10_000 - 1_000);
    expect(t.keptCount()).toBe(0);
  });

  it('the naive resume should skip same-millisecond events and the margin resume should re-deliver only kept ids (timestamp-seek model)', () => {
    // A log with many events per millisecond, seeked like KafkaSSE: first event with ts >= the given one.
    const log = Array.from({ length: 60 }, (_, i) => ({ ts: 1_000 + Math.floor(i / 4) * 100, key: `e${i}` }));
    const seek = (ts: number) => log.findIndex((e) => e.ts >= ts);
    const cutAfter = 21; // e21 received last; e22, e23 share its millisecond
    const naive = log.slice(seek((log[cutAfter] as { ts: number }).ts + 1));
    expect(naive[0]?.key).toBe('e24'); // e22 and e23 are never delivered
    const t = new PositionTracker({ ...opts, marginMs: 250 });
    for (const e of log.slice(0, cutAfter + 1)) t.accept({ sseId: idAt(e.ts), key: e.key, topic: EQIAD, partition: 0 });
    t.prune();
    const resumed = log.slice(seek(JSON.parse(t.resumeId() as string)[0].timestamp as number));
    const fresh = resumed.filter((e) => !t.isWritten(e.key)).map((e) => e.key);
    expect(fresh).toEqual(log.slice(cutAfter + 1).map((e) => e.key)); // no loss, no repeat
    expect(resumed.length).toBeGreaterThan(fresh.length); // there was an overlap to drop
  });
});
