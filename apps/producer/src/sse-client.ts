import { createHash } from 'node:crypto';
import { DEFAULT_SSE_MAX_EVENT_BYTES, type SseDigestFactory, type SseEvent, SseParser } from '@wikimonitor/domain';
import { type Logger, WikiMonitorError, backoffDelay, sleep } from '@wikimonitor/service-kit';

export interface SseClientOptions {
  url: string;
  userAgent: string;
  /** Resume position (EventStreams' JSON-array id); sent as Last-Event-ID. */
  lastEventId?: string;
  /** Called before each connect: the Last-Event-ID to resume with (replaces the last id received). */
  resumeId?: () => string | undefined;
  /** Used only when there is no lastEventId yet. */
  since?: string;
  idleTimeoutMs: number;
  /** Bound of one event's data in bytes (default DEFAULT_SSE_MAX_EVENT_BYTES); a longer event comes out flagged EVENT_TOO_LARGE. */
  maxEventBytes?: number;
  backoff: { initialMs: number; maxMs: number };
  log: Logger;
  signal: AbortSignal;
  onEvent: (ev: SseEvent, receivedTime: number) => void;
  /** Awaited before each read: while it is pending the socket is not read (TCP backpressure). */
  waitForCapacity: () => Promise<void>;
  onConnected?: () => void;
  onDisconnected?: (reason: string) => void;
}

const RETRIABLE_STATUS = (s: number) => s === 429 || s === 408 || s >= 500;

/** sha256 of an oversized event's whole data, fed as it streams past (the data itself is not kept). */
const sha256: SseDigestFactory = () => {
  const h = createHash('sha256');
  return { update: (b) => h.update(b), digest: () => h.digest('hex') };
};

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header)) return Number(header) * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/**
 * Reads an SSE stream until `signal` aborts, reconnecting with exponential backoff and jitter on
 * network errors, idle connections, HTTP 429/5xx (honouring Retry-After and the stream's `retry:`),
 * and resuming with Last-Event-ID. Other HTTP errors are fatal: retrying cannot fix them, and
 * silently dropping the resume position would lose events.
 */
export async function runSseClient(opts: SseClientOptions): Promise<void> {
  const { log, signal } = opts;
  let lastEventId = opts.lastEventId;
  let attempt = 0;
  let serverRetryMs: number | undefined;

  while (!signal.aborted) {
    const conn = new AbortController();
    const onAbort = () => conn.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    let reason = 'eof';
    let minDelay = 0;
    let idleTimer: NodeJS.Timeout | undefined;
    const armIdle = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        reason = 'idle_timeout';
        conn.abort();
      }, opts.idleTimeoutMs);
    };
    try {
      if (opts.resumeId) lastEventId = opts.resumeId() ?? lastEventId;
      const url = new URL(opts.url);
      if (!lastEventId && opts.since) url.searchParams.set('since', opts.since);
      const headers: Record<string, string> = { Accept: 'text/event-stream', 'User-Agent': opts.userAgent, 'Cache-Control': 'no-cache' };
      if (lastEventId) headers['Last-Event-ID'] = lastEventId;
      armIdle();
      const res = await fetch(url, { headers, signal: conn.signal });
      if (!res.ok || !res.body) {
        const body = (await res.text().catch(() => '')).slice(0, 300);
        if (RETRIABLE_STATUS(res.status)) {
          reason = `http_${res.status}`;
          minDelay = retryAfterMs(res.headers.get('retry-after')) ?? 0;
          throw new WikiMonitorError('SSE_HTTP_ERROR', `HTTP ${res.status}`, { retriable: true });
        }
        throw new WikiMonitorError('SSE_HTTP_ERROR', `stream ${opts.url} answered HTTP ${res.status}: ${body}`, { retriable: false, details: { status: res.status, lastEventId } });
      }
      log.info({ url: url.toString(), lastEventId: lastEventId ?? null }, 'SSE connected');
      opts.onConnected?.();
      // Bytes go to the parser undecoded: it decodes each event on its own (invalid UTF-8 spoils
      // only that event) and holds at most one bounded event.
      const parser = new SseParser(lastEventId ?? '', { maxEventBytes: opts.maxEventBytes ?? DEFAULT_SSE_MAX_EVENT_BYTES, digest: sha256 });
      const reader = res.body.getReader();
      let delivered = 0;
      for (;;) {
        clearTimeout(idleTimer);
        await opts.waitForCapacity(); // backpressure: the idle clock does not run while we hold off
        if (signal.aborted) break;
        armIdle();
        const { done, value } = await reader.read();
        if (done) break;
        const now = Date.now();
        const parsed = parser.push(value);
        if (parsed.retryMs !== undefined) serverRetryMs = parsed.retryMs;
        for (const ev of parsed.events) {
          opts.onEvent(ev, now);
          if (ev.lastEventId) lastEventId = ev.lastEventId;
          delivered++;
        }
        if (delivered > 0) attempt = 0; // a connection that delivered data resets the backoff
      }
      await reader.cancel().catch(() => undefined);
    } catch (err) {
      if (err instanceof WikiMonitorError && !err.retriable) throw err;
      if (!signal.aborted && reason === 'eof') reason = 'network_error';
      if (!signal.aborted) log.warn({ reason, err: (err as Error).message }, 'SSE connection failed');
    } finally {
      clearTimeout(idleTimer);
      signal.removeEventListener('abort', onAbort);
    }
    if (signal.aborted) break;
    opts.onDisconnected?.(reason);
    const delay = Math.max(minDelay, serverRetryMs ?? 0, backoffDelay(attempt++, opts.backoff));
    log.info({ reason, delayMs: delay, attempt }, 'SSE reconnecting');
    await sleep(delay, signal);
  }
}
