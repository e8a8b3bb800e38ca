import { zstdDecompressSync } from 'node:zlib';
import { type Logger, WikiMonitorError, backoffDelay, sleep } from '@wikimonitor/service-kit';
import WebSocket from 'ws';

export interface JetstreamClientOptions {
  /** e.g. wss://jetstream2.us-east.bsky.network/subscribe */
  url: string;
  userAgent: string;
  wantedCollections: readonly string[];
  wantedDids: readonly string[];
  /** Called before each connect: the cursor (time_us) to resume from, undefined = live. */
  cursor: () => number | undefined;
  /** With Jetstream's zstd dictionary: compress=true, each binary message is one zstd frame. */
  zstdDictionary?: Buffer;
  /** Reconnect when no message arrived for this long while reading (a stalled stream). */
  idleTimeoutMs: number;
  /** A ping every this long; no pong before the next one ends the connection (a dead peer). */
  pingIntervalMs: number;
  backoff: { initialMs: number; maxMs: number };
  log: Logger;
  signal: AbortSignal;
  /** One message (JSON text as bytes); never throws. */
  onMessage: (data: Buffer, receivedTime: number) => void;
  /** False while the ingestor is full: reading pauses (TCP backpressure) until `waitForCapacity` resolves. */
  hasCapacity: () => boolean;
  waitForCapacity: () => Promise<void>;
  onConnected?: (cursor: number | undefined) => void;
  onDisconnected?: (reason: string) => void;
}

/** Close codes after which reconnecting cannot help (policy violations other than a slow consumer are ours to fix). */
const FATAL_CLOSE = new Set([1002, 1003, 1007]);

export function subscribeUrl(opts: Pick<JetstreamClientOptions, 'url' | 'wantedCollections' | 'wantedDids' | 'zstdDictionary'>, cursor: number | undefined): string {
  const url = new URL(opts.url);
  for (const c of opts.wantedCollections) url.searchParams.append('wantedCollections', c);
  for (const d of opts.wantedDids) url.searchParams.append('wantedDids', d);
  if (opts.zstdDictionary) url.searchParams.set('compress', 'true');
  if (cursor !== undefined) url.searchParams.set('cursor', String(cursor));
  return url.toString();
}

/**
 * Reads Jetstream until `signal` aborts: one WebSocket at a time, resumed with `cursor()` on every
 * connect, reconnecting with full-jitter exponential backoff (reset by a connection that delivered
 * messages). Backpressure pauses the socket (nothing is dropped); ping/pong catches a dead peer and
 * the idle timer a stream that stopped sending while the peer still answers pings.
 */
export async function runJetstreamClient(opts: JetstreamClientOptions): Promise<void> {
  const { log, signal } = opts;
  let attempt = 0;
  while (!signal.aborted) {
    const cursor = opts.cursor();
    const url = subscribeUrl(opts, cursor);
    const outcome = await new Promise<{ reason: string; delivered: number; fatal?: string }>((resolve) => {
      let delivered = 0;
      let reason = 'closed';
      let opened = false;
      let paused = false;
      let awaitingPong = false;
      let idle: NodeJS.Timeout | undefined;
      const ws = new WebSocket(url, { headers: { 'User-Agent': opts.userAgent }, handshakeTimeout: 10_000, maxPayload: 8 << 20, perMessageDeflate: false });
      const end = (why: string) => {
        reason = why;
        ws.terminate();
      };
      const armIdle = () => {
        clearTimeout(idle);
        idle = setTimeout(() => end('idle_timeout'), opts.idleTimeoutMs);
      };
      const ping = setInterval(() => {
        // While we hold off reading (backpressure) a pong cannot be read either: no dead-peer verdict then.
        if (!opened || paused) {
          awaitingPong = false;
          return;
        }
        if (awaitingPong) return end('pong_timeout');
        awaitingPong = true;
        ws.ping();
      }, opts.pingIntervalMs);
      const onAbort = () => end('shutdown');
      signal.addEventListener('abort', onAbort, { once: true });
      ws.on('open', () => {
        opened = true;
        log.info({ url, cursor: cursor ?? null }, 'Jetstream connected');
        opts.onConnected?.(cursor);
        armIdle();
      });
      ws.on('pong', () => {
        awaitingPong = false;
      });
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        const now = Date.now();
        let bytes = data;
        if (isBinary && opts.zstdDictionary) {
          try {
            bytes = zstdDecompressSync(data, { dictionary: opts.zstdDictionary } as never);
          } catch (err) {
            log.warn({ err: (err as Error).message, bytes: data.length }, 'zstd frame not decodable: dead-lettered as received');
          }
        }
        opts.onMessage(bytes, now);
        delivered++;
        if (paused) return; // frames already buffered when the socket paused
        if (!opts.hasCapacity()) {
          paused = true;
          clearTimeout(idle); // the idle clock does not run while we hold off
          ws.pause();
          void opts.waitForCapacity().then(() => {
            paused = false;
            if (ws.readyState !== ws.OPEN) return;
            armIdle();
            ws.resume();
          });
        } else armIdle();
      });
      ws.on('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        reason = `http_${status}`;
        if (status !== 429 && status !== 408 && status < 500) resolve({ reason, delivered, fatal: `Jetstream ${opts.url} answered HTTP ${status}` });
        ws.terminate();
      });
      ws.on('close', (code: number, why: Buffer) => {
        clearInterval(ping);
        clearTimeout(idle);
        signal.removeEventListener('abort', onAbort);
        if (reason === 'closed' && code === 1008) reason = 'slow_consumer';
        if (reason === 'closed' && FATAL_CLOSE.has(code)) return resolve({ reason, delivered, fatal: `Jetstream closed the connection with ${code} ${why.toString()}` });
        resolve({ reason, delivered });
      });
      ws.on('error', (err) => {
        if (reason === 'closed') reason = opened ? 'network_error' : 'connect_failed';
        log.warn({ reason, err: err.message }, 'Jetstream connection failed');
      });
    });
    if (outcome.fatal) throw new WikiMonitorError('JETSTREAM_REFUSED', outcome.fatal, { retriable: false });
    if (signal.aborted) break;
    opts.onDisconnected?.(outcome.reason);
    if (outcome.delivered > 0) attempt = 0;
    const delay = backoffDelay(attempt++, opts.backoff);
    log.info({ reason: outcome.reason, delivered: outcome.delivered, delayMs: delay, attempt }, 'Jetstream reconnecting');
    await sleep(delay, signal).catch(() => undefined);
  }
}
