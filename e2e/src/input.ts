import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRecordedEvents } from '@wikimonitor/testing';

export interface Input {
  /** JSON Lines file the SSE source serves (one pass). */
  file: string;
  /** meta.id of every event, in file order: the exact set PostgreSQL must end up holding. */
  ids: string[];
}

/**
 * Writes `count` real recorded events (all 4,053 when count >= 4,053; otherwise evenly spaced over
 * the recordings, so every file and era is represented) byte for byte into one JSON Lines file,
 * the files interleaved in proportion (each file's events keep their recorded order).
 * Served in one pass with `--time now`, the source keeps every recorded `meta.id`, so the ids in
 * the file are exactly the ids the pipeline must store.
 */
export function writeInput(dir: string, count: number, name = 'input.jsonl'): Input {
  const all = loadRecordedEvents();
  const n = Math.max(1, Math.min(count, all.length));
  const chosen = n === all.length ? all : Array.from({ length: n }, (_, i) => all[Math.floor((i * all.length) / n)] as (typeof all)[number]);
  // Interleave the files in proportion, each in its recorded order, so every wiki's changes are
  // spread over the whole run (as on the live stream) instead of one file after the other.
  const byFile = new Map<string, typeof chosen>();
  for (const e of chosen) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  const picked = [...byFile.values()]
    .flatMap((list) => list.map((e, i) => ({ e, at: (i + 0.5) / list.length })))
    .sort((a, b) => a.at - b.at)
    .map((x) => x.e);
  const file = join(dir, name);
  writeFileSync(file, `${picked.map((e) => e.text).join('\n')}\n`);
  return { file, ids: picked.map((e) => e.json.meta.id) };
}

/** Small seeded PRNG (mulberry32): a chaos run can be repeated with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
