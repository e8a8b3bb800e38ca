import { type KnownRevision, sha1Of, syntheticContent } from './revisions';

/** Most revids in one call for a client without apihighlimits (the API answers `toomanyvalues` beyond). */
export const MAX_REVIDS = 50;

/** The headers of every recorded api.php answer that say something about it (the caching ones and the content type). */
export const API_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'application/json; charset=utf-8',
  'Cache-Control': 'private, must-revalidate, max-age=0',
  'Content-Disposition': 'inline; filename=api-result.json',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  Vary: 'Accept-Encoding,Treat-as-Untrusted,X-Forwarded-Proto,Cookie,Authorization',
};

const docref = (domain: string) =>
  `See https://${domain}/w/api.php for API usage. Subscribe to the mediawiki-api-announce mailing list at &lt;https://lists.wikimedia.org/postorius/lists/mediawiki-api-announce.lists.wikimedia.org/&gt; for notice of API deprecations and breaking changes.`;

/** An API error body: formatversion=2 has `docref`, formatversion=1 the `*` of the recorded old shape. */
export function apiError(domain: string, fv2: boolean, error: Record<string, unknown>, servedby: string): unknown {
  return { error: { ...error, ...(fv2 ? { docref: docref(domain) } : { '*': docref(domain) }) }, servedby };
}

/** The `maxlag` error as the recorded modern body has it (host, lag, type), for the `db` lag type. */
export function maxlagError(domain: string, fv2: boolean, lag: number, servedby: string): unknown {
  const host = '10.64.48.35';
  return apiError(domain, fv2, { code: 'maxlag', info: `Waiting for ${host}: ${lag} seconds lagged.`, host, lag, type: 'db' }, servedby);
}

export interface RevisionsRequest {
  domain: string;
  revids: number[];
  fv2: boolean;
  content: boolean;
  /** rvprop values asked for. */
  props: Set<string>;
}

/**
 * A `prop=revisions&revids=` answer: pages with their revisions (several revisions of one page under
 * one page, in revid order), `badrevids` for the unknown and the injected ones; no `pages` key when
 * every revid is bad (as the recorded badrevids body shows).
 */
export function revisionsAnswer(req: RevisionsRequest, known: ReadonlyMap<number, KnownRevision> | undefined, bad: ReadonlySet<number>): unknown {
  const pages = new Map<number, { page: KnownRevision; revisions: KnownRevision[] }>();
  const badrevids: Record<string, unknown> = {};
  for (const id of req.revids) {
    const rev = bad.has(id) ? undefined : known?.get(id);
    if (!rev) {
      badrevids[String(id)] = req.fv2 ? { revid: id, missing: true } : { revid: id, missing: '' };
      continue;
    }
    let p = pages.get(rev.pageid);
    if (!p) pages.set(rev.pageid, (p = { page: rev, revisions: [] }));
    if (!p.revisions.some((r) => r.revid === id)) p.revisions.push(rev);
  }
  const query: Record<string, unknown> = {};
  if (Object.keys(badrevids).length) query['badrevids'] = badrevids;
  if (pages.size) {
    const list = [...pages.values()].sort((a, b) => a.page.pageid - b.page.pageid).map(({ page, revisions }) => ({
      pageid: page.pageid,
      ns: page.ns,
      title: page.title,
      revisions: revisions.sort((a, b) => a.revid - b.revid).map((r) => revisionJson(r, req)),
    }));
    query['pages'] = req.fv2 ? list : Object.fromEntries(list.map((p) => [String(p.pageid), p]));
  }
  return { batchcomplete: req.fv2 ? true : '', query };
}

function revisionJson(r: KnownRevision, req: RevisionsRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (req.props.has('ids')) {
    out['revid'] = r.revid;
    out['parentid'] = r.parentid;
  }
  if (req.props.has('timestamp')) out['timestamp'] = r.timestamp;
  if (req.props.has('size')) out['size'] = r.size;
  if (req.props.has('sha1')) out['sha1'] = sha1Of(r);
  if (req.props.has('contentmodel') || req.content) {
    const main: Record<string, unknown> = { contentmodel: r.contentmodel };
    if (req.content) {
      main['contentformat'] = r.contentmodel.startsWith('wikibase') ? 'application/json' : 'text/x-wiki';
      main[req.fv2 ? 'content' : '*'] = syntheticContent(r);
    }
    out['slots'] = { main };
  }
  return out;
}
