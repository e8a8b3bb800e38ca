import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

export interface HttpAuthOptions {
  /** Needed for state-changing requests (POST, PUT, PATCH, DELETE); unset: they are refused (403). */
  opsToken?: string;
  /** When set, reads (GET, HEAD) need it or the operations token; unset: reads are open. */
  apiToken?: string;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Compares secrets in time independent of where they differ (digests first: equal lengths). */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * The token a request carries: `Authorization: Bearer <token>`, or Basic with the token as the
 * password (any user name), which is what a browser sends after its login prompt, also on the
 * dashboard's event stream (EventSource cannot set headers).
 */
export function presentedToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value] = header.trim().split(/\s+/, 2);
  if (!value) return undefined;
  if (scheme?.toLowerCase() === 'bearer') return value;
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0 ? undefined : decoded.slice(colon + 1);
  }
  return undefined;
}

/**
 * Token check for everything but the probes and metrics (mounted after them). 401 (with
 * WWW-Authenticate) when the token is missing or wrong, 403 when a valid read token asks to change
 * something or when changes are not enabled (no operations token configured).
 */
export function httpAuth(opts: HttpAuthOptions): RequestHandler {
  const { opsToken, apiToken } = opts;
  const challenge = (res: Response, message: string) => {
    res.setHeader('WWW-Authenticate', ['Bearer realm="wikimonitor"', 'Basic realm="wikimonitor", charset="UTF-8"']);
    res.status(401).json({ error: 'unauthorized', message });
  };
  return (req: Request, res: Response, next: NextFunction) => {
    const given = presentedToken(req.get('authorization'));
    const isOps = given !== undefined && opsToken !== undefined && tokensEqual(given, opsToken);
    if (READ_METHODS.has(req.method)) {
      if (!apiToken || isOps || (given !== undefined && tokensEqual(given, apiToken))) return next();
      return challenge(res, given === undefined ? 'a token is required' : 'invalid token');
    }
    if (isOps) return next();
    if (!opsToken) {
      res.status(403).json({ error: 'forbidden', message: 'state-changing requests are disabled (no operations token configured)' });
      return;
    }
    if (given !== undefined && apiToken !== undefined && tokensEqual(given, apiToken)) {
      res.status(403).json({ error: 'forbidden', message: 'this token may only read' });
      return;
    }
    challenge(res, given === undefined ? 'an operations token is required' : 'invalid token');
  };
}
