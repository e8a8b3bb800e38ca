import type { RevisionFacts } from './types';

/** Most revids the Action API takes in one `revids=` call (500 for bots and apihighlimits). */
export const MAX_REVIDS_PER_CALL = 50;

/** The revision lookup of the issue: `prop=revisions` for these revids, facts of the main slot, maxlag=5, formatversion=2. */
export function revisionsQuery(revids: readonly number[], opts: { maxlag?: number; content?: boolean } = {}): Record<string, string> {
  return {
    action: 'query',
    format: 'json',
    formatversion: '2',
    prop: 'revisions',
    revids: revids.join('|'),
    rvprop: `ids|size|sha1|contentmodel|timestamp${opts.content ? '|content' : ''}`,
    rvslots: 'main',
    maxlag: String(opts.maxlag ?? 5),
  };
}

/** An Action API answer body read for revisions: facts by revid, the bad revids, or the API error. */
export interface RevisionsBody {
  error: { code: string; info: string; lag?: number } | null;
  revisions: Map<number, RevisionFacts>;
  badrevids: Set<number>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Reads a `prop=revisions` answer: formatversion=2 (pages as an array, `slots.main.content`) and
 * formatversion=1 (pages keyed by page id, `*` for content), as the recorded responses show them.
 * Null when the body is not an Action API answer at all.
 */
export function parseRevisionsBody(body: unknown): RevisionsBody | null {
  if (!isObject(body)) return null;
  const out: RevisionsBody = { error: null, revisions: new Map(), badrevids: new Set() };
  if (isObject(body['error'])) {
    const e = body['error'];
    out.error = { code: String(e['code'] ?? 'unknown'), info: String(e['info'] ?? ''), ...(num(e['lag']) !== null ? { lag: num(e['lag']) as number } : {}) };
    return out;
  }
  const query = body['query'];
  if (!isObject(query)) return isObject(body) && ('batchcomplete' in body || 'continue' in body) ? out : null;
  const bad = query['badrevids'];
  if (isObject(bad)) {
    for (const [k, v] of Object.entries(bad)) {
      const id = isObject(v) ? num(v['revid']) : null;
      out.badrevids.add(id ?? Number(k));
    }
  }
  const pages = query['pages'];
  const list = Array.isArray(pages) ? pages : isObject(pages) ? Object.values(pages) : [];
  for (const page of list) {
    if (!isObject(page) || !Array.isArray(page['revisions'])) continue;
    for (const rev of page['revisions']) {
      if (!isObject(rev)) continue;
      const revId = num(rev['revid']);
      if (revId === null) continue;
      const main = isObject(rev['slots']) && isObject(rev['slots']['main']) ? rev['slots']['main'] : rev;
      const content = typeof main['content'] === 'string' ? main['content'] : typeof main['*'] === 'string' ? main['*'] : null;
      const ts = typeof rev['timestamp'] === 'string' ? Date.parse(rev['timestamp']) : NaN;
      out.revisions.set(revId, {
        revId,
        parentId: num(rev['parentid']),
        pageId: num(page['pageid']) ?? 0,
        title: String(page['title'] ?? ''),
        size: num(rev['size']) ?? -1,
        sha1: typeof rev['sha1'] === 'string' ? rev['sha1'] : null,
        contentModel: typeof main['contentmodel'] === 'string' ? main['contentmodel'] : typeof rev['contentmodel'] === 'string' ? rev['contentmodel'] : '',
        timestamp: Number.isFinite(ts) ? ts : -1,
        content,
      });
    }
  }
  return out;
}

/** The first `maxBytes` UTF-8 bytes of `text`, cut at a character boundary. */
export function utf8Prefix(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + n > maxBytes) break;
    bytes += n;
    end += ch.length;
  }
  return text.slice(0, end);
}
