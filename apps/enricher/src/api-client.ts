import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type ApiAnswer, revisionsQuery } from '@wikimonitor/domain';
import { type Context, type Link, type Span, SpanStatusCode, type Tracer, startHttpClientSpan } from '@wikimonitor/telemetry';
import type { CallLimiter } from './limiter';

/** Bodies larger than this are not read further (a 50-revision answer without content is a few KB). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface ApiClientOptions {
  /** api.php URL with `{domain}` for the wiki's domain, e.g. https://{domain}/w/api.php. */
  urlTemplate: string;
  userAgent: string;
  connectTimeoutMs: number;
  /** From the connection to the end of the answer. */
  readTimeoutMs: number;
  maxlag: number;
  /** Ask for the content too (rvprop=content), for the first bytes of it. */
  content: boolean;
  limiter: CallLimiter;
  tracer: Tracer | null;
  /** Every call's end, for the metrics. */
  observe?: (call: { domain: string; revids: number; answer: ApiAnswer; seconds: number }) => void;
}

export interface RevisionsCall {
  domain: string;
  revids: readonly number[];
  /** The record whose trace the call belongs to; the other records it serves are links. */
  parent?: Context;
  links?: Link[];
}

export interface ApiClient {
  /** One `prop=revisions` call. Never throws: every outcome is an {@link ApiAnswer}. */
  revisions(call: RevisionsCall): Promise<ApiAnswer>;
  close(): void;
}

export function createApiClient(opts: ApiClientOptions): ApiClient {
  // Keep-alive: a connection per wiki is reused, so most calls pay no connect.
  const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

  function urlFor(domain: string, revids: readonly number[]): URL {
    const url = new URL(opts.urlTemplate.replace('{domain}', encodeURIComponent(domain)));
    for (const [k, v] of Object.entries(revisionsQuery(revids, { maxlag: opts.maxlag, content: opts.content }))) url.searchParams.set(k, v);
    return url;
  }

  function get(url: URL): Promise<ApiAnswer> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (a: ApiAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        clearTimeout(readTimer);
        resolve(a);
      };
      const https = url.protocol === 'https:';
      const req = (https ? httpsRequest : httpRequest)(url, {
        method: 'GET',
        agent: https ? agents.https : agents.http,
        headers: { 'User-Agent': opts.userAgent, Accept: 'application/json', 'Accept-Encoding': 'identity' },
      });
      let connected = false;
      let readTimer: NodeJS.Timeout | undefined;
      const startRead = () => {
        if (connected) return;
        connected = true;
        clearTimeout(connectTimer);
        readTimer = setTimeout(() => {
          done({ kind: 'error', error: 'read-timeout', message: `no answer within ${opts.readTimeoutMs} ms` });
          req.destroy();
        }, opts.readTimeoutMs);
      };
      const connectTimer = setTimeout(() => {
        done({ kind: 'error', error: 'connect-timeout', message: `no connection within ${opts.connectTimeoutMs} ms` });
        req.destroy();
      }, opts.connectTimeoutMs);
      req.on('socket', (socket) => {
        // A reused keep-alive socket is connected already.
        if (!socket.connecting) startRead();
        else socket.once(https ? 'secureConnect' : 'connect', startRead);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? '';
        if (code === 'ETIMEDOUT' && !connected) done({ kind: 'error', error: 'connect-timeout', message: err.message });
        else if (connected && (code === 'ECONNRESET' || code === 'EPIPE')) done({ kind: 'error', error: 'read-timeout', message: `connection closed before the answer: ${err.message}` });
        else done({ kind: 'error', error: 'connection-failed', message: `${code || 'error'}: ${err.message}` });
      });
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_BODY_BYTES) chunks.push(c);
        });
        res.on('error', (err) => done({ kind: 'error', error: 'read-timeout', message: `answer cut: ${err.message}` }));
        res.on('aborted', () => done({ kind: 'error', error: 'read-timeout', message: 'answer cut' }));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const retryAfter = typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : null;
          let body: unknown;
          const text = Buffer.concat(chunks).toString('utf8');
          if (text && /json/i.test(String(res.headers['content-type'] ?? ''))) {
            try {
              body = JSON.parse(text);
            } catch {
              body = undefined;
            }
          }
          done({ kind: 'response', status, retryAfter, body });
        });
      });
      req.end();
    });
  }

  return {
    revisions(call) {
      return opts.limiter.run(call.domain, async () => {
        const url = urlFor(call.domain, call.revids);
        const span: Span | null = opts.tracer ? startHttpClientSpan(opts.tracer, { method: 'GET', url }, call.parent, call.links) : null;
        span?.setAttribute('wikimonitor.revids', call.revids.length);
        const started = performance.now();
        const answer = await get(url);
        const seconds = (performance.now() - started) / 1000;
        if (span) {
          if (answer.kind === 'response') {
            span.setAttribute('http.response.status_code', answer.status);
            if (answer.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
          } else {
            span.setAttribute('error.type', answer.error);
            span.setStatus({ code: SpanStatusCode.ERROR, message: answer.message });
          }
          span.end();
        }
        opts.observe?.({ domain: call.domain, revids: call.revids.length, answer, seconds });
        return answer;
      });
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
