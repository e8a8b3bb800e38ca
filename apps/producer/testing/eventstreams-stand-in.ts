import { type Server, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parseEventId } from '@wikimonitor/domain';
import type { RecordedEvent } from '@wikimonitor/testing';

/** The two upstream topics of Wikimedia's recentchange stream (one per datacenter). */
export const EQIAD = 'eqiad.mediawiki.recentchange';
export const CODFW = 'codfw.mediawiki.recentchange';

export interface StandInOptions {
  events: RecordedEvent[];
  /** Connection cut after this many events (cycled per connection). */
  cutEvery: readonly number[];
  /** Events written per tick, and the pause between ticks (paces the stream). */
  perTick?: number;
  tickMs?: number;
}

export interface StandIn {
  url: string;
  /** meta.id of every event in log order. */
  ids: string[];
  connections(): number;
  close(): Promise<void>;
}

/**
 * A minimal stand-in with EventStreams' resume semantics (KafkaSSE with useTimestampForId), for tests
 * only: one upstream partition whose Kafka timestamp is `meta.dt` (second resolution in the
 * recordings: many events share a millisecond), ids `[{eqiad, partition 0, timestamp: ts + 1},
 * {codfw, partition 0, offset: -1}]`, resume at the first event with timestamp >= the one given,
 * each connection cut after a few events and served by the other "datacenter" (other `meta.offset`).
 */
export async function startStandIn(opts: StandInOptions): Promise<StandIn> {
  const log = opts.events
    .map((e, i) => ({ e, i, ts: Date.parse(e.json.meta.dt) }))
    .sort((a, b) => a.ts - b.ts || a.i - b.i)
    .map(({ e, ts }) => ({ ts, id: e.json.meta.id, json: e.json }));
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const n = connections++;
    const cut = opts.cutEvery[n % opts.cutEvery.length] as number;
    const offsetBase = n % 2 === 0 ? 4_369_000_000 : 1_200_000_000; // the other datacenter's log
    const header = req.headers['last-event-id'];
    let start = 0;
    if (typeof header === 'string' && header) {
      const parsed = parseEventId(header);
      const at = parsed.ok ? parsed.value.find((p) => p.topic === EQIAD)?.timestamp : undefined;
      if (at === undefined) {
        res.writeHead(400).end('bad Last-Event-ID');
        return;
      }
      start = log.findIndex((e) => e.ts >= at);
      if (start < 0) start = log.length;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.flushHeaders();
    let next = start;
    const end = Math.min(log.length, start + cut);
    const write = () => {
      if (res.destroyed) return;
      const stop = Math.min(end, next + (opts.perTick ?? 50));
      let chunk = '';
      for (; next < stop; next++) {
        const e = log[next] as (typeof log)[number];
        const data = JSON.stringify({ ...e.json, meta: { ...e.json.meta, topic: EQIAD, partition: 0, offset: offsetBase + next } });
        chunk += `event: message\nid: ${JSON.stringify([{ topic: EQIAD, partition: 0, timestamp: e.ts + 1 }, { topic: CODFW, partition: 0, offset: -1 }])}\ndata: ${data}\n\n`;
      }
      if (chunk) res.write(chunk);
      if (next >= end) {
        // A cut, like the real server's: at the end of the log it keeps the connection until the client goes.
        if (end < log.length) res.end();
        return;
      }
      setTimeout(write, opts.tickMs ?? 1);
    };
    write();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v2/stream/recentchange`,
    ids: log.map((e) => e.id),
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
