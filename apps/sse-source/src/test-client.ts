import { type IncomingHttpHeaders, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { SseParser, type SseEvent } from '@wikimonitor/domain';

// For this project's specs only: a raw SSE client, as naive as a client can be.

export interface Received {
  status: number;
  headers: IncomingHttpHeaders;
  firstBytes: string;
  body: string;
  events: SseEvent[];
  comments: string[];
  /** performance.now() when each event was parsed. */
  arrivals: number[];
  end: 'end' | 'error' | 'stopped' | 'timeout';
}

/** A raw SSE client over node:http that parses with the domain SseParser. */
export function connect(url: string, opts: { headers?: Record<string, string>; stopWhen?: (r: Received) => boolean; timeoutMs?: number } = {}): Promise<Received> {
  return new Promise((resolve) => {
    const r: Received = { status: 0, headers: {}, firstBytes: '', body: '', events: [], comments: [], arrivals: [], end: 'timeout' };
    let done = false;
    const finish = (end: Received['end']) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      r.end = end;
      req.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish('timeout'), opts.timeoutMs ?? 30_000);
    const req = request(url, { headers: opts.headers, agent: false }, (res) => {
      r.status = res.statusCode ?? 0;
      r.headers = res.headers;
      res.setEncoding('utf8');
      const parser = new SseParser();
      res.on('data', (chunk: string) => {
        if (r.firstBytes.length < 16) r.firstBytes += chunk.slice(0, 16 - r.firstBytes.length);
        if (r.status !== 200) {
          r.body += chunk;
          return;
        }
        const out = parser.push(chunk);
        const now = performance.now();
        for (const e of out.events) {
          r.events.push(e);
          r.arrivals.push(now);
        }
        r.comments.push(...out.comments);
        if (opts.stopWhen?.(r)) finish('stopped');
      });
      res.on('error', () => finish('error'));
      res.on('close', () => finish(res.complete ? 'end' : 'error'));
    });
    req.on('error', () => finish('error'));
    req.end();
  });
}

