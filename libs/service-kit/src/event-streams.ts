import type { Request, Response } from 'express';

export interface EventStreamsOptions {
  /** Concurrent clients; one more is answered 503 with Retry-After. */
  maxClients: number;
  /** Comment lines that keep idle connections open through proxies. */
  heartbeatMs?: number;
  /** Seconds a refused client is told to wait (also the EventSource `retry:` it gets once admitted). */
  retryAfterSeconds?: number;
}

export interface EventStreams {
  /** Opens a server-sent event stream on `res`, or answers 503 when full; false when refused. */
  open(req: Request, res: Response): boolean;
  /** Writes one event to every open stream. */
  send(event: string, data: unknown): void;
  /** Writes one event to one stream (e.g. the current state to a new client). */
  sendTo(res: Response, event: string, data: unknown): void;
  clients(): number;
  /** Streams refused since start (full). */
  refused(): number;
  /** Ends every stream (before the HTTP server closes). */
  close(): void;
}

const DEFAULT_HEARTBEAT_MS = 15_000;

/** A bounded set of server-sent event streams (dashboards, live pages). */
export function createEventStreams(opts: EventStreamsOptions): EventStreams {
  const streams = new Set<Response>();
  const retryS = opts.retryAfterSeconds ?? 2;
  let heartbeat: NodeJS.Timeout | undefined;
  let refused = 0;
  const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  return {
    open(req, res) {
      if (streams.size >= opts.maxClients) {
        refused++;
        res.status(503).set('Retry-After', String(retryS)).json({ error: 'too_many_streams', message: `at most ${opts.maxClients} event streams at once; try again later` });
        return false;
      }
      res.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
      res.flushHeaders();
      res.write(`retry: ${retryS * 1000}\n\n`);
      streams.add(res);
      req.on('close', () => streams.delete(res));
      res.on('close', () => streams.delete(res));
      heartbeat ??= setInterval(() => streams.forEach((r) => r.write(': keep-alive\n\n')), opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS).unref();
      return true;
    },
    send(event, data) {
      if (!streams.size) return;
      const text = frame(event, data);
      for (const r of streams) r.write(text);
    },
    sendTo(res, event, data) {
      res.write(frame(event, data));
    },
    clients: () => streams.size,
    refused: () => refused,
    close() {
      clearInterval(heartbeat);
      heartbeat = undefined;
      for (const r of streams) r.end();
      streams.clear();
    },
  };
}
