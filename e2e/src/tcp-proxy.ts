import { type Server, type Socket, createConnection, createServer } from 'node:net';

/**
 * Faults a {@link TcpProxy} injects into the connections it carries. All are off by default
 * (pure pass-through); they can be changed at any time and apply to open connections at once.
 */
export interface ProxyFaults {
  /** Added to every chunk in both directions (order is always kept). */
  latencyMs: number;
  /** Uniform random extra delay per chunk, 0..jitterMs (never reorders). */
  jitterMs: number;
  /** Per connection and direction; 0 = unlimited. */
  bytesPerSecond: number;
  /**
   * Chance per second that a connection is reset (RST to both sides): TCP never loses bytes silently,
   * so this is how lost packets look to a client whose connection gives up.
   */
  resetsPerSecond: number;
  /** Holds every byte (both directions) until unset: a black hole that heals, like a partition. */
  paused: boolean;
  /** New connections are reset as soon as they are accepted (the broker looks down). */
  refuseConnections: boolean;
}

export const NO_FAULTS: Readonly<ProxyFaults> = { latencyMs: 0, jitterMs: 0, bytesPerSecond: 0, resetsPerSecond: 0, paused: false, refuseConnections: false };

export interface ProxyStats {
  accepted: number;
  active: number;
  resets: number;
  refused: number;
  bytesUp: number;
  bytesDown: number;
}

export interface TcpProxy {
  readonly port: number;
  readonly faults: Readonly<ProxyFaults>;
  /** Changes some faults; the others keep their values. */
  setFaults(f: Partial<ProxyFaults>): void;
  clearFaults(): void;
  /** Resets every open connection now. */
  resetAll(): number;
  stats(): ProxyStats;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  targetPort: number;
  targetHost?: string;
  /** 0 = any free port. */
  listenPort?: number;
  listenHost?: string;
  faults?: Partial<ProxyFaults>;
  /** Injected for reproducible tests; Math.random by default. */
  random?: () => number;
}

/** Queued bytes above which the sending side is paused (TCP backpressure through the proxy). */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
const RESET_TICK_MS = 100;

/** One direction of one connection: chunks wait for their due time (latency, jitter, throttling) in order. */
class Lane {
  private readonly queue: Array<{ due: number; chunk: Buffer }> = [];
  private queuedBytes = 0;
  private lastDue = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly proxy: { faults: () => ProxyFaults; random: () => number; count: (n: number) => void },
  ) {
    from.on('data', (chunk: Buffer) => this.push(chunk));
    to.on('drain', () => this.pump());
  }

  private push(chunk: Buffer): void {
    const f = this.proxy.faults();
    const now = Date.now();
    let due = now + f.latencyMs + (f.jitterMs > 0 ? this.proxy.random() * f.jitterMs : 0);
    if (f.bytesPerSecond > 0) due = Math.max(due, this.lastDue + (chunk.length / f.bytesPerSecond) * 1000);
    due = Math.max(due, this.lastDue);
    this.lastDue = due;
    this.queue.push({ due, chunk });
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > HIGH_WATER_BYTES) this.from.pause();
    this.pump();
  }

  /** Writes every chunk that is due; re-arms a timer for the next one. */
  pump(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.to.destroyed) return;
    if (this.proxy.faults().paused) {
      // Checked again when the fault is lifted (the proxy pumps every lane then).
      return;
    }
    const now = Date.now();
    while (this.queue.length) {
      const head = this.queue[0] as { due: number; chunk: Buffer };
      if (head.due > now) {
        this.timer = setTimeout(() => this.pump(), Math.max(1, head.due - now));
        return;
      }
      this.queue.shift();
      this.queuedBytes -= head.chunk.length;
      this.proxy.count(head.chunk.length);
      const more = this.to.write(head.chunk);
      if (!more) return; // 'drain' pumps again
    }
    if (this.queuedBytes <= HIGH_WATER_BYTES && this.from.isPaused()) this.from.resume();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }
}

interface Connection {
  client: Socket;
  upstream: Socket;
  lanes: Lane[];
  closed: boolean;
}

/**
 * A small TCP proxy for fault injection on loopback (toxiproxy-style, no dependencies): latency with
 * jitter per chunk, bandwidth limits, random connection resets, a pausable black hole and refused
 * connections. Used by the chaos suite between the apps and the broker's proxied listener.
 */
export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = opts.targetHost ?? '127.0.0.1';
  const random = opts.random ?? Math.random;
  let faults: ProxyFaults = { ...NO_FAULTS, ...opts.faults };
  const conns = new Set<Connection>();
  const stats: ProxyStats = { accepted: 0, active: 0, resets: 0, refused: 0, bytesUp: 0, bytesDown: 0 };

  const destroy = (c: Connection, reset: boolean) => {
    if (c.closed) return;
    c.closed = true;
    conns.delete(c);
    stats.active = conns.size;
    for (const lane of c.lanes) lane.stop();
    for (const s of [c.client, c.upstream]) {
      if (reset && typeof s.resetAndDestroy === 'function' && !s.destroyed && !s.connecting) s.resetAndDestroy();
      else s.destroy();
    }
  };

  const server: Server = createServer({ noDelay: true }, (client) => {
    stats.accepted++;
    if (faults.refuseConnections) {
      stats.refused++;
      client.on('error', () => undefined);
      if (typeof client.resetAndDestroy === 'function') client.resetAndDestroy();
      else client.destroy();
      return;
    }
    const upstream = createConnection({ host: targetHost, port: opts.targetPort, noDelay: true });
    const c: Connection = { client, upstream, lanes: [], closed: false };
    conns.add(c);
    stats.active = conns.size;
    const view = {
      faults: () => faults,
      random,
    };
    c.lanes.push(new Lane(client, upstream, { ...view, count: (n) => (stats.bytesUp += n) }));
    c.lanes.push(new Lane(upstream, client, { ...view, count: (n) => (stats.bytesDown += n) }));
    for (const s of [client, upstream]) {
      s.on('error', () => destroy(c, false));
      s.on('close', () => destroy(c, false));
    }
  });
  server.on('error', () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listenPort ?? 0, opts.listenHost ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;

  const resetTimer = setInterval(() => {
    if (faults.resetsPerSecond <= 0) return;
    const p = Math.min(1, (faults.resetsPerSecond * RESET_TICK_MS) / 1000);
    for (const c of [...conns]) {
      if (random() < p) {
        stats.resets++;
        destroy(c, true);
      }
    }
  }, RESET_TICK_MS);
  resetTimer.unref();

  return {
    port,
    get faults() {
      return faults;
    },
    setFaults(f) {
      faults = { ...faults, ...f };
      for (const c of conns) for (const lane of c.lanes) lane.pump();
    },
    clearFaults() {
      faults = { ...NO_FAULTS };
      for (const c of conns) for (const lane of c.lanes) lane.pump();
    },
    resetAll() {
      const n = conns.size;
      for (const c of [...conns]) {
        stats.resets++;
        destroy(c, true);
      }
      return n;
    },
    stats: () => ({ ...stats }),
    async close() {
      clearInterval(resetTimer);
      for (const c of [...conns]) destroy(c, false);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
