import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WikiChange } from '@wikimonitor/contracts';
import { normalizeRecentChange } from '@wikimonitor/domain';
import { loadRecordedEvents } from '@wikimonitor/testing';

/** A raw SSE data payload the source serves among the real events, and what the pipeline must do with it. */
export interface PoisonEvent {
  name: string;
  data: Buffer;
  expected: 'dead-letter' | 'dropped' | 'published';
  /** For a dead letter: the `dlq.error.code` it must carry, when the builder says. */
  code?: string;
}

/** A poison event as written into the input file (meta.id made unique, ordinary times re-dated). */
export interface ServedPoison {
  name: string;
  expected: PoisonEvent['expected'];
  code?: string;
  /** meta.id as served (undefined when the event has none). */
  metaId: string | undefined;
  /** The exact bytes of its line in the input file. */
  data: Buffer;
}

export interface Input {
  /** JSON Lines file the SSE source serves (one pass). */
  file: string;
  /** Events (lines) in the file: what the source must report as loaded. */
  lines: number;
  /** meta.id of every event the pipeline must store, in file order: the real events and the published poison. */
  ids: string[];
  /**
   * The distinct input as the aggregator must count it: every event that must be published, normalized
   * from the file's own text (not from anything the pipeline wrote), in file order.
   */
  changes: WikiChange[];
  poison: ServedPoison[];
  /** Poison events a JSON Lines file cannot carry (the source reads its files as UTF-8 JSON objects, one a line). */
  unservable: Array<{ name: string; reason: string }>;
}

export interface InputOptions {
  /** Events per second the source sends: event i is dated `startMs + i / rate` seconds, truncated to the second. */
  rate: number;
  /** Date of the first event (epoch ms); default now. */
  startMs?: number;
  /** Poison events spread evenly through the input. */
  poison?: readonly PoisonEvent[];
  name?: string;
}

/** `meta.dt` with second resolution, as in the 2023 recording: every event of one second shares one millisecond. */
export function secondIso(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

type Json = Record<string, unknown> & { meta?: Record<string, unknown> };

function redate(event: Json, ms: number): void {
  if (event.meta && typeof event.meta === 'object') event.meta['dt'] = secondIso(ms);
  if ('timestamp' in event) event['timestamp'] = Math.floor(ms / 1000);
}

const OLDEST_ORDINARY_MS = Date.UTC(2001, 0, 1);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A stable UUID-shaped id per poison name, so a poison event never shares a real event's meta.id. */
function poisonId(name: string): string {
  const h = createHash('sha1').update(`wikimonitor-e2e-poison:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Prepares one poison event for the file: a JSON object on one UTF-8 line (else unservable), with a
 * meta.id of its own and, when its meta.dt is an ordinary recorded date (not the class's own
 * far-future or pre-2001 date), the time of its place in the input.
 */
function servePoison(p: PoisonEvent, ms: number): ServedPoison | { name: string; reason: string } {
  let text: string;
  try {
    text = utf8.decode(p.data);
  } catch {
    return { name: p.name, reason: 'invalid UTF-8: the source reads its files as UTF-8 (it would serve U+FFFD instead)' };
  }
  if (/[\r\n]/.test(text)) return { name: p.name, reason: 'contains a line break: not one JSON Lines record' };
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    return { name: p.name, reason: 'not JSON: the source skips such lines (the `--fault malformed` scenario covers non-JSON data)' };
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return { name: p.name, reason: 'not a JSON object: the source skips it' };
  const e = event as Json;
  const meta = e.meta && typeof e.meta === 'object' ? e.meta : undefined;
  let metaId: string | undefined;
  if (meta && typeof meta['id'] === 'string') meta['id'] = metaId = poisonId(p.name);
  const dt = meta && typeof meta['dt'] === 'string' ? Date.parse(meta['dt']) : NaN;
  if (Number.isFinite(dt) && dt >= OLDEST_ORDINARY_MS && dt <= Date.now() + 86_400_000) redate(e, ms);
  return { name: p.name, expected: p.expected, ...(p.code ? { code: p.code } : {}), metaId, data: Buffer.from(JSON.stringify(e)) };
}

/**
 * Writes `count` real recorded events (all 4,053 when count >= 4,053; otherwise evenly spaced over
 * the recordings, so every file and era is represented) into one JSON Lines file, the files
 * interleaved in proportion (each file's events keep their recorded order), plus the poison events.
 * Every real event is dated at its planned send time in whole seconds (`meta.dt`, `timestamp`), so the
 * source serves it with `--time original` with times that are the same on every connection (resume
 * by timestamp is exact), and about `rate` events share each millisecond. Everything else is the
 * recorded event. The expected set and the recount's input are derived from this file alone.
 */
export function writeInput(dir: string, count: number, opts: InputOptions): Input {
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
  const start = opts.startMs ?? Date.now();
  const poison = opts.poison ?? [];
  const total = picked.length + poison.length;
  const timeOf = (i: number) => start + (i * 1000) / opts.rate;
  // Poison event k goes before real event slot(k): evenly spread, never first.
  const slot = (k: number) => Math.floor(((k + 1) * picked.length) / (poison.length + 1));
  const lines: string[] = [];
  const input: Input = { file: join(dir, opts.name ?? 'input.jsonl'), lines: 0, ids: [], changes: [], poison: [], unservable: [] };
  let k = 0;
  const addPoisonUpTo = (i: number) => {
    while (k < poison.length && slot(k) <= i) {
      const served = servePoison(poison[k] as PoisonEvent, timeOf(lines.length));
      k++;
      if (!('data' in served)) {
        input.unservable.push(served);
        continue;
      }
      input.poison.push(served);
      const text = served.data.toString('utf8');
      lines.push(text);
      if (served.expected === 'published') {
        const r = normalizeRecentChange(JSON.parse(text), { receivedTime: timeOf(lines.length) });
        if (r.kind !== 'change') throw new Error(`poison event ${served.name} is expected published but normalizes to ${r.kind}`);
        input.ids.push(r.change.id);
        input.changes.push(r.change);
      }
    }
  };
  picked.forEach((e, i) => {
    addPoisonUpTo(i);
    const json = JSON.parse(e.text) as Json;
    const ms = timeOf(lines.length);
    redate(json, ms);
    const r = normalizeRecentChange(json, { receivedTime: ms });
    if (r.kind !== 'change') throw new Error(`recorded event ${e.json.meta.id} does not normalize (${r.kind})`);
    lines.push(JSON.stringify(json));
    input.ids.push(r.change.id);
    input.changes.push(r.change);
  });
  addPoisonUpTo(Number.POSITIVE_INFINITY);
  if (lines.length > total) throw new Error('input: more lines than events');
  writeFileSync(input.file, `${lines.join('\n')}\n`);
  input.lines = lines.length;
  return input;
}
