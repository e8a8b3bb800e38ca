import type { AddressInfo } from 'node:net';
import { createLogger } from '@wikimonitor/service-kit';
import { waitFor } from '@wikimonitor/testing';
import { WebSocketServer } from 'ws';
import { runJetstreamClient } from './jetstream-client';

/** A WebSocket server sending `count` numbered messages on each connection, then `after` (stay silent or close). */
async function server(count: number) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  const urls: string[] = [];
  const agents: string[] = [];
  wss.on('connection', (ws, req) => {
    urls.push(req.url ?? '');
    agents.push(String(req.headers['user-agent']));
    // 1 KiB each: more than one socket read holds, so a pause is visible.
    for (let i = 0; i < count; i++) ws.send(JSON.stringify({ i, pad: 'x'.repeat(1_000) }));
  });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/subscribe`, urls, agents, close: () => new Promise((r) => wss.close(r)) };
}

const base = { userAgent: 'WikiMonitor/test', wantedCollections: [], wantedDids: [], pingIntervalMs: 200, backoff: { initialMs: 10, maxMs: 50 }, log: createLogger('test', 'silent') };

describe('runJetstreamClient', () => {
  it('runJetstreamClient should pause reading while the ingestor is full and lose nothing', async () => {
    const s = await server(2_000);
    const got: number[] = [];
    let room = 50;
    let release: (() => void) | undefined;
    const abort = new AbortController();
    const loop = runJetstreamClient({
      ...base,
      url: s.url,
      cursor: () => undefined,
      idleTimeoutMs: 60_000,
      signal: abort.signal,
      onMessage: (d) => {
        got.push((JSON.parse(d.toString()) as { i: number }).i);
        room--;
      },
      hasCapacity: () => room > 0,
      waitForCapacity: () => new Promise<void>((r) => (release = r)),
    });
    await waitFor(async () => release !== undefined, 'paused', 5_000, 10);
    const atPause = got.length;
    expect(atPause).toBeLessThan(2_000); // reading stopped (a few buffered frames may still arrive)
    room = Infinity;
    release?.();
    await waitFor(async () => got.length === 2_000, 'all messages after resume', 5_000, 10);
    expect(got).toEqual(Array.from({ length: 2_000 }, (_, i) => i));
    expect(s.urls).toHaveLength(1); // no reconnect: pausing is not a dead peer
    expect(s.agents[0]).toBe('WikiMonitor/test');
    abort.abort();
    await loop;
    await s.close();
  });

  it('runJetstreamClient should reconnect with the current cursor when the stream goes silent (idle timeout)', async () => {
    const s = await server(3);
    let cursor = 100;
    const reasons: string[] = [];
    const abort = new AbortController();
    const loop = runJetstreamClient({
      ...base,
      url: s.url,
      cursor: () => cursor++,
      idleTimeoutMs: 300,
      signal: abort.signal,
      onMessage: () => undefined,
      hasCapacity: () => true,
      waitForCapacity: async () => undefined,
      onDisconnected: (r) => reasons.push(r),
    });
    await waitFor(async () => s.urls.length >= 2, 'a reconnect', 10_000, 20);
    abort.abort();
    await loop;
    expect(reasons[0]).toBe('idle_timeout');
    expect(s.urls.slice(0, 2)).toEqual(['/subscribe?cursor=100', '/subscribe?cursor=101']);
    await s.close();
  });
});
