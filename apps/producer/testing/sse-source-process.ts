import { SseParser } from '@wikimonitor/domain';
import { freePort, startTsProcess } from '@wikimonitor/testing';

/** The two upstream topics of Wikimedia's recentchange stream (one per datacenter). */
export const EQIAD = 'eqiad.mediawiki.recentchange';

export interface SourceOptions {
  /** Each connection is dropped after this many events (a cut, often inside a run of same-millisecond events). */
  cutEvery: number;
  /** Events per second (0: as fast as the socket takes them). */
  rate: number;
}

export interface SourceProcess {
  /** The stream URL with the per-connection settings. */
  url: string;
  /** meta.id of every event in the order the source serves them. */
  ids: string[];
  /** Stream connections served so far (without the one that read `ids`). */
  connections(): Promise<number>;
  close(): Promise<void>;
}

/**
 * The project's faithful EventStreams stand-in (apps/sse-source) as a real process, in its default,
 * Wikimedia-like mode: timestamp ids (+1 ms, resume at the first event with timestamp >= the given
 * one), the recorded second-resolution times (many events per millisecond), and every reconnect
 * served by the other datacenter (other `meta.offset`). Connections are cut after `cutEvery` events.
 */
export async function startSseSource(opts: SourceOptions): Promise<SourceProcess> {
  const port = await freePort();
  const proc = startTsProcess('sse-source', 'apps/sse-source/src/main.ts', { LOG_LEVEL: 'warn' }, ['--port', String(port), '--host', '127.0.0.1', '--id-mode', 'timestamp', '--time', 'original', '--datacenter', 'alternate']);
  const base = `http://127.0.0.1:${port}`;
  await proc.waitReady(`${base}/readyz`);
  const stream = `${base}/v2/stream/recentchange`;
  const ids: string[] = [];
  const res = await fetch(`${stream}?end=close&lifetime=0&dc=eqiad`);
  const parser = new SseParser();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    for (const ev of parser.push(chunk).events) ids.push((JSON.parse(ev.data) as { meta: { id: string } }).meta.id);
  }
  const connectionsTotal = async () => ((await (await fetch(`${base}/stats`)).json()) as { connections: { total: number } }).connections.total;
  const before = await connectionsTotal();
  return {
    url: `${stream}?fault=drop&every=${opts.cutEvery}&rate=${opts.rate}`,
    ids,
    connections: async () => (await connectionsTotal()) - before,
    async close() {
      proc.kill('SIGTERM');
      await proc.exited();
    },
  };
}
