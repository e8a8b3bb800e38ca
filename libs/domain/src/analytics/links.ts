/** What a link to a change on its wiki needs. */
export interface LinkableChange {
  type: string;
  domain: string;
  server_name?: string | null;
  title: string;
  revision_old?: number | null;
  revision_new?: number | null;
  log_id?: number | null;
}

/**
 * The page on the wiki that shows a change: the diff of an edit (`diff=new&oldid=old`), the first
 * revision of a new page, the log entry of a log event, else the page itself. Null when the host is
 * not a plain host name (the link is never built from arbitrary text).
 */
export function diffUrl(c: LinkableChange): string | null {
  const host = c.server_name || c.domain;
  if (!/^[a-z0-9.-]+\.[a-z]{2,}$/i.test(host)) return null;
  const base = `https://${host}/w/index.php`;
  if (c.type === 'edit' && c.revision_new) return c.revision_old ? `${base}?diff=${c.revision_new}&oldid=${c.revision_old}` : `${base}?oldid=${c.revision_new}`;
  if (c.type === 'new' && c.revision_new) return `${base}?oldid=${c.revision_new}`;
  if (c.type === 'log' && c.log_id) return `${base}?title=Special:Log&logid=${c.log_id}`;
  return `${base}?title=${encodeURIComponent(c.title.replace(/ /g, '_'))}`;
}
