/**
 * "Suspicious activity" heuristics over persisted changes. These are simple, documented rules, not
 * machine learning and not a verdict: a revert burst is often a vandal fighter at work, and a large
 * removal by a newcomer is often a good cleanup. They point a human at something worth a look.
 */

/** What a heuristic needs of a stored change. */
export interface SignalChange {
  id: string;
  event_time: number;
  wiki: string;
  domain: string;
  user: string;
  bot: boolean;
  type: string;
  title: string;
  comment: string;
  length_old: number | null;
  length_new: number | null;
  revision_old: number | null;
  revision_new: number | null;
  server_name: string | null;
}

export type SignalKind = 'revert' | 'large_removal';

/** Edit summaries MediaWiki and the common tools write on a revert (undo, rollback, Twinkle, Huggle, "rv"). */
export const REVERT_COMMENT_RE = /\b(revert(?:ed|ing)?|undid|undo|rollback|rv|rvv)\b/i;

/** Bytes removed in one change from which a removal counts as large. */
export const LARGE_REMOVAL_BYTES = 2_000;

const IPV4_RE = /^(?:\d{1,3}\.){3}\d{1,3}$/;
const IPV6_RE = /^[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}$/i;

/** An IP address as the user name: an edit without an account. */
export function isAnonymousUser(user: string): boolean {
  return IPV4_RE.test(user) || IPV6_RE.test(user);
}

/** A temporary account (Wikimedia's `~2025-12345-67` names since 2024): new by construction. */
export function isTemporaryAccount(user: string): boolean {
  return /^~\d{4}-/.test(user);
}

export function isRevertComment(comment: string): boolean {
  return REVERT_COMMENT_RE.test(comment);
}

/** The signals a change raises, decided once when it is stored (the suspicious view reads them back). */
export function changeSignals(c: SignalChange): SignalKind[] {
  const out: SignalKind[] = [];
  if (c.type === 'edit' && isRevertComment(c.comment)) out.push('revert');
  const removed = c.length_old !== null && c.length_new !== null ? c.length_old - c.length_new : 0;
  if (!c.bot && removed >= LARGE_REMOVAL_BYTES && (isAnonymousUser(c.user) || isTemporaryAccount(c.user))) out.push('large_removal');
  return out;
}

/** A stored signal (one row of change_signals). */
export interface StoredSignal {
  id: string;
  kind: SignalKind;
  event_time: number;
  wiki: string;
  user: string;
  title: string;
  bytes_delta: number | null;
  diff_url: string | null;
}

export interface RevertBurstConfig {
  /** Reverts by one editor on one wiki ... */
  minReverts: number;
  /** ... within this long. */
  withinMs: number;
}

export const DEFAULT_REVERT_BURST: RevertBurstConfig = { minReverts: 5, withinMs: 10 * 60_000 };

export interface Finding {
  kind: 'revert_burst' | 'large_removal';
  wiki: string;
  user: string;
  from: number;
  to: number;
  /** Reverts in the burst, or bytes removed. */
  value: number;
  changes: StoredSignal[];
  reason: string;
}

/**
 * Bursts of reverts: an editor with at least `minReverts` reverts on one wiki inside a sliding
 * `withinMs`. Overlapping bursts of one editor are merged into one finding.
 */
export function findRevertBursts(signals: readonly StoredSignal[], cfg: RevertBurstConfig = DEFAULT_REVERT_BURST): Finding[] {
  const byEditor = new Map<string, StoredSignal[]>();
  for (const s of signals) {
    if (s.kind !== 'revert') continue;
    const k = `${s.wiki}\u0000${s.user}`;
    const l = byEditor.get(k) ?? [];
    l.push(s);
    byEditor.set(k, l);
  }
  const out: Finding[] = [];
  for (const list of byEditor.values()) {
    list.sort((a, b) => a.event_time - b.event_time || a.id.localeCompare(b.id));
    let current: StoredSignal[] | undefined;
    for (let end = 0, start = 0; end < list.length; end++) {
      while ((list[end] as StoredSignal).event_time - (list[start] as StoredSignal).event_time > cfg.withinMs) start++;
      if (end - start + 1 < cfg.minReverts) continue;
      const windowItems = list.slice(start, end + 1);
      if (current && (current[current.length - 1] as StoredSignal).event_time >= (windowItems[0] as StoredSignal).event_time) {
        for (const s of windowItems) if (!current.includes(s)) current.push(s);
      } else {
        current = [...windowItems];
        out.push(burstFinding(current, cfg));
      }
      out[out.length - 1] = burstFinding(current, cfg);
    }
  }
  return out.sort((a, b) => b.to - a.to);
}

function burstFinding(items: StoredSignal[], cfg: RevertBurstConfig): Finding {
  const first = items[0] as StoredSignal;
  const last = items[items.length - 1] as StoredSignal;
  return {
    kind: 'revert_burst',
    wiki: first.wiki,
    user: first.user,
    from: first.event_time,
    to: last.event_time,
    value: items.length,
    changes: items,
    reason: `${items.length} reverts by one editor within ${Math.round(cfg.withinMs / 60_000)} minutes (threshold ${cfg.minReverts})`,
  };
}

/** Large removals by anonymous or temporary accounts, one finding per change, largest first. */
export function findLargeRemovals(signals: readonly StoredSignal[]): Finding[] {
  return signals
    .filter((s) => s.kind === 'large_removal')
    .map((s) => ({
      kind: 'large_removal' as const,
      wiki: s.wiki,
      user: s.user,
      from: s.event_time,
      to: s.event_time,
      value: -(s.bytes_delta ?? 0),
      changes: [s],
      reason: `${-(s.bytes_delta ?? 0)} bytes removed by an anonymous or temporary account (threshold ${LARGE_REMOVAL_BYTES})`,
    }))
    .sort((a, b) => b.value - a.value || b.to - a.to);
}
