/**
 * Re-timing of recorded Jetstream events (pure). An event keeps its recording's disorder: its
 * time_us becomes the emit time plus how far its recorded time_us was below the highest one before
 * it in the same file (clipped), so the real out-of-order pattern survives at any rate. Later
 * passes over the recordings get fresh ids (commit rev and identity/account seq rewritten).
 */

export interface Template {
  /** The recorded line. */
  text: string;
  /** <= 0: the recorded time_us minus the file's running maximum before it (clipped to -maxDisorderUs). */
  offsetUs: number;
}

const TIME_US = /"time_us":\s*\d+/;
const REV = /("rev":\s*")([^"]*)"/;
const SEQ = /("seq":\s*)(\d+)/;
/** A pass's seq shift: above every recorded seq (at most ~1.4e10), below 2^53 for 90,000 passes. */
export const SEQ_PASS_SHIFT = 100_000_000_000;

export function templatesOf(files: ReadonlyArray<{ name: string; text: string }>, maxDisorderUs: number): Template[] {
  const out: Template[] = [];
  for (const f of files) {
    let max = -Infinity;
    for (const line of f.text.split('\n')) {
      if (!line.trim()) continue;
      const m = TIME_US.exec(line);
      const t = m ? Number(m[0].replace(/^"time_us":\s*/, '')) : NaN;
      const offsetUs = Number.isFinite(t) && Number.isFinite(max) ? Math.max(-maxDisorderUs, Math.min(0, t - max)) : 0;
      if (Number.isFinite(t)) max = Math.max(max, t);
      out.push({ text: line, offsetUs });
    }
  }
  return out;
}

/** The line to send: time_us set, and in pass > 0 the rev suffixed and the seq shifted. */
export function render(t: Template, timeUs: number, pass: number): string {
  let text = t.text.replace(TIME_US, `"time_us":${timeUs}`);
  if (pass > 0) text = text.replace(REV, (_m, pre: string, rev: string) => `${pre}${rev}.p${pass}"`).replace(SEQ, (_m, pre: string, seq: string) => `${pre}${Number(seq) + pass * SEQ_PASS_SHIFT}`);
  return text;
}

/** What the filters look at, read once per log entry. */
export interface EntryMeta {
  did: string | null;
  /** The commit's collection; null for identity/account events and malformed lines. */
  collection: string | null;
}

export function metaOf(text: string): EntryMeta {
  try {
    const v = JSON.parse(text) as { did?: unknown; commit?: { collection?: unknown }; payload?: { collection?: unknown } };
    const c = (v.commit ?? v.payload)?.collection;
    return { did: typeof v.did === 'string' ? v.did : null, collection: typeof c === 'string' ? c : null };
  } catch {
    return { did: null, collection: null };
  }
}

/**
 * Jetstream's filters: wantedDids applies to every event; wantedCollections (exact NSIDs or
 * prefixes ending in `.*`) to commits only, identity and account events pass it.
 */
export function passesFilters(meta: EntryMeta, wantedCollections: readonly string[], wantedDids: readonly string[]): boolean {
  if (wantedDids.length && (meta.did === null || !wantedDids.includes(meta.did))) return false;
  if (!wantedCollections.length || meta.collection === null) return true;
  const c = meta.collection;
  return wantedCollections.some((w) => (w.endsWith('.*') ? c.startsWith(w.slice(0, -1)) : c === w));
}

/** Events due by `elapsedMs` at `rate` per second with periodic bursts (rate 0: all at once). */
export function dueBy(elapsedMs: number, rate: number, burst?: { everyMs: number; durationMs: number; factor: number }): number {
  if (rate <= 0) return Infinity;
  if (!burst) return Math.floor((elapsedMs * rate) / 1000);
  const cycles = Math.floor(elapsedMs / burst.everyMs);
  const inCycle = elapsedMs - cycles * burst.everyMs;
  const burstMs = Math.min(burst.durationMs, burst.everyMs);
  const perCycle = burstMs * burst.factor + (burst.everyMs - burstMs);
  const now = Math.min(inCycle, burstMs) * burst.factor + Math.max(0, inCycle - burstMs);
  return Math.floor(((cycles * perCycle + now) * rate) / 1000);
}

/** A malformed frame (deterministic per index: a replay sends the same bytes). */
export function malformedLine(index: number, timeUs: number): string {
  return index % 2 === 0 ? `{not json #${index}` : `{"did":"did:plc:malformed${index}","time_us":${timeUs},"kind":"sync"}`;
}
