import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { findRepoRoot } from '@wikimonitor/service-kit';

export { findRepoRoot };

/** A revision the stand-in knows: from a recorded recentchange event (real) plus what events do not carry (synthetic). */
export interface KnownRevision {
  domain: string;
  revid: number;
  /** revision.old of the event (0 for a page creation, as the API says). */
  parentid: number;
  /** Synthetic: recentchange events carry no page id; a stable number derived from domain and title. */
  pageid: number;
  ns: number;
  title: string;
  /** length.new of the event. */
  size: number;
  /** The event's timestamp (seconds), as ISO 8601 without milliseconds like the API. */
  timestamp: string;
  contentmodel: string;
}


/** The content model MediaWiki gives a page of this wiki and namespace (Wikibase entities on Wikidata, else wikitext). */
export function contentModelOf(domain: string, ns: number): string {
  if (domain === 'www.wikidata.org' || domain === 'test.wikidata.org') {
    if (ns === 0) return 'wikibase-item';
    if (ns === 120) return 'wikibase-property';
    if (ns === 146) return 'wikibase-lexeme';
  }
  if (ns === 828) return 'Scribunto';
  return 'wikitext';
}

const pageIdOf = (domain: string, title: string): number => createHash('sha1').update(`${domain}\u0000${title}`).digest().readUInt32BE(0) % 100_000_000;

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The revision an event of type edit or new creates, or null for other events. */
export function revisionOfEvent(ev: unknown): KnownRevision | null {
  if (!isRec(ev) || (ev['type'] !== 'edit' && ev['type'] !== 'new')) return null;
  const rev = ev['revision'];
  const len = ev['length'];
  const meta = ev['meta'];
  if (!isRec(rev) || typeof rev['new'] !== 'number') return null;
  const domain = (isRec(meta) && typeof meta['domain'] === 'string' ? meta['domain'] : undefined) ?? (typeof ev['server_name'] === 'string' ? ev['server_name'] : undefined);
  const title = typeof ev['title'] === 'string' ? ev['title'] : undefined;
  const ns = typeof ev['namespace'] === 'number' ? ev['namespace'] : 0;
  if (!domain || !title) return null;
  const ts = typeof ev['timestamp'] === 'number' ? ev['timestamp'] : isRec(meta) && typeof meta['dt'] === 'string' ? Date.parse(meta['dt']) / 1000 : 0;
  return {
    domain,
    revid: rev['new'],
    parentid: typeof rev['old'] === 'number' ? rev['old'] : 0,
    pageid: pageIdOf(domain, title),
    ns,
    title,
    size: isRec(len) && typeof len['new'] === 'number' ? len['new'] : 0,
    timestamp: new Date(Math.floor(ts) * 1000).toISOString().replace('.000Z', 'Z'),
    contentmodel: contentModelOf(domain, ns),
  };
}

/** Revisions by domain, then revid. */
export type RevisionIndex = Map<string, Map<number, KnownRevision>>;

/** Every edit/new revision in the recorded recentchange files (.jsonl lines, .sse data payloads) of `dir`. */
export async function loadRevisions(dir: string): Promise<RevisionIndex> {
  const index: RevisionIndex = new Map();
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jsonl') || f.endsWith('.sse')).sort();
  if (!files.length) throw new Error(`no recentchange recordings (.jsonl, .sse) in ${dir}`);
  for (const file of files) {
    const text = await readFile(join(dir, file), 'utf8');
    const payloads = file.endsWith('.sse') ? text.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()) : text.split('\n').filter((l) => l.trim());
    for (const p of payloads) {
      const rev = revisionOfEvent(JSON.parse(p));
      if (!rev) continue;
      let wiki = index.get(rev.domain);
      if (!wiki) index.set(rev.domain, (wiki = new Map()));
      wiki.set(rev.revid, rev);
    }
  }
  return index;
}

/**
 * The synthetic main-slot content of a revision: the recordings hold no content, so a text of
 * exactly `size` bytes (ASCII) naming the page and revision; its SHA-1 is the revision's sha1.
 */
export function syntheticContent(rev: KnownRevision): string {
  const line = `${rev.title} (revision ${rev.revid} of ${rev.domain}, synthetic content of the Action API stand-in)\n`;
  const ascii = line.replace(/[^\x20-\x7e\n]/g, '?');
  return ascii.repeat(Math.ceil(Math.max(rev.size, 0) / ascii.length) || 0).slice(0, Math.max(rev.size, 0));
}

const sha1Cache = new WeakMap<KnownRevision, string>();
export function sha1Of(rev: KnownRevision): string {
  let h = sha1Cache.get(rev);
  if (!h) sha1Cache.set(rev, (h = createHash('sha1').update(syntheticContent(rev)).digest('hex')));
  return h;
}
