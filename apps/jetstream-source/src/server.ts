import { readFile, readdir, stat } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { type Lifecycle, type Logger, createMetricsRegistry, findRepoRoot, lifecycle } from '@wikimonitor/service-kit';
import { Gauge } from 'prom-client';
import { type WebSocket, WebSocketServer } from 'ws';
import { DEFAULT_DATA_DIR, FAULT_KINDS, type FaultKind, type FaultPlan, type JetstreamSourceConfig } from './config';
import { type EntryMeta, type Template, dueBy, malformedLine, metaOf, passesFilters, render, templatesOf } from './retime';

/** Sending pauses while a connection's socket buffer holds more than this (the client reads slowly or not at all). */
const HIGH_WATER_BYTES = 1 << 20;
const TICK_MS = 10;

interface Entry extends EntryMeta {
  text: string;
  timeUs: number;
}

interface Connection {
  id: number;
  ws: WebSocket;
  next: number;
  cursor: number | undefined;
  wantedCollections: string[];
  wantedDids: string[];
  sent: number;
  fault: FaultPlan;
  stalledUntil: number;
  timer?: NodeJS.Timeout;
}

export interface JetstreamSourceStats {
  /** Messages in the log so far (events and malformed frames). */
  logged: number;
  /** Events emitted so far, and how many the recordings make in all (malformed frames not counted). */
  emitted: number;
  total: number;
  /** Every event emitted (the log is final). */
  complete: boolean;
  connections: number;
  connectionsTotal: number;
  sent: number;
  drops: number;
  stalls: number;
  slowDisconnects: number;
}

export interface JetstreamSource extends Lifecycle {
  port(): number;
  /** ws://127.0.0.1:<port>/subscribe */
  url(): string;
  stats(): JetstreamSourceStats;
  /** The log as sent (re-timed lines), oldest first. */
  lines(): string[];
}


async function loadFiles(paths: readonly string[]): Promise<Array<{ name: string; text: string }>> {
  const entries = paths.length ? paths : [resolve(findRepoRoot(), DEFAULT_DATA_DIR)];
  const files: string[] = [];
  for (const e of entries) {
    const full = resolve(e);
    if ((await stat(full)).isDirectory()) files.push(...(await readdir(full)).filter((n) => n.endsWith('.jsonl')).sort().map((n) => join(full, n)));
    else files.push(full);
  }
  return Promise.all(files.map(async (f) => ({ name: f, text: await readFile(f, 'utf8') })));
}

/**
 * A local Jetstream: one global log that grows at the configured rate once the first client
 * connects (the firehose does not wait for anybody), served over WebSocket with Jetstream's framing
 * (one JSON text message per event), cursor replay, filters and faults.
 */
export function createJetstreamSource(deps: { config: JetstreamSourceConfig; log: Logger }): JetstreamSource {
  const { config, log } = deps;
  let templates: Template[] = [];
  const entries: Entry[] = [];
  const conns = new Set<Connection>();
  const stats = { connectionsTotal: 0, sent: 0, drops: 0, stalls: 0, slowDisconnects: 0 };
  let defaultFault: FaultPlan = config.fault;
  let generated = 0;
  let total = 0;
  let startedAt: number | undefined;
  let generator: NodeJS.Timeout | undefined;
  let lastUs = 0;
  let server: Server | undefined;
  let wss: WebSocketServer | undefined;

  /** Emits the events due now into the log and wakes the connections waiting for them. */
  function generate(): void {
    if (startedAt === undefined) return;
    const due = Math.min(total, dueBy(Date.now() - startedAt, config.rate, config.burst));
    const perPass = templates.length;
    for (let n = 0; generated < due && n < 5_000; n++) {
      // Microsecond clock, strictly increasing underneath the recorded disorder.
      const nowUs = Math.max(Date.now() * 1000, lastUs + 1);
      lastUs = nowUs;
      const t = templates[generated % perPass] as Template;
      const pass = Math.floor(generated / perPass);
      const timeUs = nowUs + t.offsetUs;
      const text = render(t, timeUs, pass);
      entries.push({ text, timeUs, ...metaOf(text) });
      generated++;
      if (config.malformedEvery > 0 && generated % config.malformedEvery === 0) {
        const m = malformedLine(entries.length, nowUs);
        entries.push({ text: m, timeUs: nowUs, did: null, collection: null });
      }
    }
    for (const c of conns) pump(c);
    if (generated >= total) {
      clearInterval(generator);
      generator = undefined;
      log.info({ events: generated, logged: entries.length }, 'recordings fully emitted');
    } else if (generated < due) setImmediate(generate); // as fast as possible: in slices
  }

  function close(c: Connection, how: 'drop' | 'slow'): void {
    clearTimeout(c.timer);
    if (how === 'drop') {
      stats.drops++;
      c.ws.terminate();
    } else {
      stats.slowDisconnects++;
      c.ws.close(1008, 'slow consumer');
    }
    conns.delete(c);
  }

  function pump(c: Connection): void {
    if (!conns.has(c) || c.ws.readyState !== c.ws.OPEN) return;
    const now = Date.now();
    if (c.stalledUntil > now) return;
    if (config.slowMaxLag > 0 && entries.length - c.next > config.slowMaxLag) return close(c, 'slow');
    while (c.next < entries.length) {
      if (c.ws.bufferedAmount > HIGH_WATER_BYTES) {
        clearTimeout(c.timer);
        c.timer = setTimeout(() => pump(c), TICK_MS);
        return;
      }
      const e = entries[c.next++] as Entry;
      if (c.cursor !== undefined && e.timeUs < c.cursor) continue;
      if (!passesFilters(e, c.wantedCollections, c.wantedDids)) continue;
      c.ws.send(e.text);
      c.sent++;
      stats.sent++;
      if (c.fault.kind !== 'none' && c.sent % c.fault.every === 0) {
        if (c.fault.kind === 'drop') return close(c, 'drop');
        stats.stalls++;
        c.stalledUntil = now + c.fault.ms;
        clearTimeout(c.timer);
        c.timer = setTimeout(() => pump(c), c.fault.ms);
        return;
      }
    }
  }

  function onConnection(ws: WebSocket, req: IncomingMessage): void {
    const url = new URL(req.url ?? '/', 'http://local');
    const q = url.searchParams;
    const cursorRaw = q.get('cursor');
    const cursor = cursorRaw !== null && /^\d+$/.test(cursorRaw) ? Number(cursorRaw) : undefined;
    const faultKind = q.get('fault');
    const c: Connection = {
      id: ++stats.connectionsTotal,
      ws,
      // Without a cursor: live, from now on. A cursor in the future waits for its time.
      next: cursor === undefined ? entries.length : 0,
      cursor,
      wantedCollections: q.getAll('wantedCollections'),
      wantedDids: q.getAll('wantedDids'),
      sent: 0,
      fault: {
        kind: faultKind && (FAULT_KINDS as readonly string[]).includes(faultKind) ? (faultKind as FaultKind) : defaultFault.kind,
        every: Number(q.get('every') ?? defaultFault.every) || defaultFault.every,
        ms: Number(q.get('ms') ?? defaultFault.ms),
      },
      stalledUntil: 0,
    };
    if (q.get('compress') === 'true') log.warn({ conn: c.id }, 'compress=true asked: this stand-in sends uncompressed JSON (no zstd dictionary)');
    conns.add(c);
    ws.on('close', () => {
      clearTimeout(c.timer);
      conns.delete(c);
    });
    ws.on('error', () => undefined);
    log.info({ conn: c.id, cursor: cursor ?? null, wantedCollections: c.wantedCollections, wantedDids: c.wantedDids, ua: req.headers['user-agent'] ?? null, fault: c.fault.kind }, 'subscriber connected');
    if (startedAt === undefined) {
      startedAt = Date.now();
      generator = setInterval(generate, TICK_MS);
      generate();
    }
    pump(c);
  }

  function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
    res.writeHead(status, { 'content-type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  }

  const statsNow = (): JetstreamSourceStats => ({ logged: entries.length, emitted: generated, total, complete: total > 0 && generated >= total, connections: conns.size, ...stats });
  const registry = createMetricsRegistry('jetstream-source');
  new Gauge({
    name: 'jetstream_source_stats',
    help: 'The stand-in\'s /stats figures, by figure (logged, total, connections, connectionsTotal, sent, drops, stalls, slowDisconnects)',
    labelNames: ['figure'] as const,
    registers: [registry],
    collect() {
      for (const [figure, v] of Object.entries(statsNow())) this.set({ figure }, Number(v));
    },
  });

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://local');
    const q = url.searchParams;
    if (req.method === 'GET' && (url.pathname === '/healthz' || url.pathname === '/readyz')) return send(res, 200, { status: 'ok' });
    if (req.method === 'GET' && url.pathname === '/stats') return send(res, 200, statsNow());
    if (req.method === 'GET' && url.pathname === '/metrics') {
      void registry.metrics().then((text) => send(res, 200, text, registry.contentType));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/log') return send(res, 200, entries.map((e) => e.text).join('\n') + (entries.length ? '\n' : ''), 'application/x-ndjson');
    if (req.method === 'POST' && url.pathname === '/control/drop') {
      const n = conns.size;
      for (const c of [...conns]) close(c, 'drop');
      return send(res, 200, { dropped: n });
    }
    if (req.method === 'POST' && url.pathname === '/control/stall') {
      const ms = Number(q.get('ms') ?? config.fault.ms);
      for (const c of conns) {
        c.stalledUntil = Date.now() + ms;
        clearTimeout(c.timer);
        c.timer = setTimeout(() => pump(c), ms);
      }
      stats.stalls += conns.size;
      return send(res, 200, { stalled: conns.size, ms });
    }
    if (req.method === 'POST' && url.pathname === '/control/fault') {
      const kind = q.get('kind') ?? 'none';
      if (!(FAULT_KINDS as readonly string[]).includes(kind)) return send(res, 400, { error: `kind must be one of ${FAULT_KINDS.join('|')}` });
      defaultFault = { kind: kind as FaultKind, every: Number(q.get('every') ?? defaultFault.every) || defaultFault.every, ms: Number(q.get('ms') ?? defaultFault.ms) };
      return send(res, 200, { fault: defaultFault, note: 'applies to new connections' });
    }
    send(res, 404, { error: 'not found', endpoints: ['GET /subscribe (WebSocket)', 'GET /stats', 'GET /log', 'GET /metrics', 'POST /control/drop', 'POST /control/stall?ms=', 'POST /control/fault?kind=&every=&ms='] });
  }

  const base = lifecycle('jetstream-source', {
    async start() {
      templates = templatesOf(await loadFiles(config.data), config.maxDisorderMs * 1000);
      total = templates.length * config.passes;
      server = createServer(onRequest);
      wss = new WebSocketServer({ noServer: true });
      wss.on('connection', onConnection);
      server.on('upgrade', (req, socket, head) => {
        if (new URL(req.url ?? '/', 'http://local').pathname !== '/subscribe') {
          socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
          return;
        }
        wss?.handleUpgrade(req, socket, head, (ws) => wss?.emit('connection', ws, req));
      });
      await new Promise<void>((ok, fail) => {
        server?.once('error', fail);
        server?.listen(config.port, config.host, () => ok());
      });
      log.info({ port: (server.address() as { port: number }).port, events: total, rate: config.rate }, 'jetstream-source listening');
    },
    async close() {
      clearInterval(generator);
      for (const c of [...conns]) {
        clearTimeout(c.timer);
        c.ws.terminate();
      }
      conns.clear();
      wss?.close();
      await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
      server?.closeAllConnections();
    },
  });

  const port = () => (server?.address() as { port: number } | null)?.port ?? config.port;
  return {
    ...base,
    port,
    url: () => `ws://127.0.0.1:${port()}/subscribe`,
    stats: statsNow,
    lines: () => entries.map((e) => e.text),
  };
}
