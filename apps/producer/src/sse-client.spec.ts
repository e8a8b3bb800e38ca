import { createHash } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type SseEvent, normalizeSseEvent } from '@wikimonitor/domain';
import { DLQ_TRUNCATION_HEADERS } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';
import { loadRecordedEvents, poisonEvents, poisonSseFrame } from '@wikimonitor/testing';
import { deadLetterPayload } from './bad-input';
import { runSseClient } from './sse-client';

const log = createLogger('test', 'silent');

/** Serves the given frames once, in small writes (so events straddle chunks), then holds the connection. */
async function serve(frames: Buffer[], writeBytes: number): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const all = Buffer.concat(frames);
    let at = 0;
    const next = () => {
      if (at >= all.length) return;
      res.write(all.subarray(at, at + writeBytes), next);
      at += writeBytes;
    };
    next();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/stream`, server };
}

describe('runSseClient with bad input', () => {
  it('runSseClient should deliver every poison event flagged or whole, and every real event after them intact', async () => {
    const real = loadRecordedEvents().slice(0, 20);
    const poison = poisonEvents({ idPrefix: 'sse-client' });
    const frames = [...poison.map((p, i) => poisonSseFrame(p, `[{"n":${i}}]`)), ...real.map((r, i) => poisonSseFrame({ data: Buffer.from(r.text) }, `[{"n":${100 + i}}]`))];
    const { url, server } = await serve(frames, 64 * 1024 + 7);
    const events: SseEvent[] = [];
    const ac = new AbortController();
    try {
      const done = runSseClient({
        url,
        userAgent: 'test',
        idleTimeoutMs: 30_000,
        backoff: { initialMs: 10, maxMs: 10 },
        log,
        signal: ac.signal,
        waitForCapacity: async () => undefined,
        onEvent: (ev) => {
          events.push(ev);
          if (events.length === frames.length) ac.abort();
        },
      });
      await done;
    } finally {
      server.closeAllConnections();
      server.close();
    }
    expect(events).toHaveLength(frames.length);
    const outcomes = events.slice(0, poison.length).map((ev) => {
      const n = normalizeSseEvent(ev, { receivedTime: Date.now() });
      return n.kind === 'invalid' ? n.code : n.kind;
    });
    expect(outcomes).toEqual(poison.map((p) => (p.expected.outcome === 'dead-letter' ? p.expected.code : p.expected.outcome === 'published' ? 'change' : 'canary')));
    expect(events.slice(poison.length).map((e) => e.data)).toEqual(real.map((r) => r.text));

    // Dead-letter payloads: the raw bytes as received; the oversized one cut with the whole data's size and digest.
    const huge = poison.findIndex((p) => p.class === 'huge-comment');
    const cut = deadLetterPayload(events[huge] as SseEvent);
    expect(cut.value.length).toBe(256 * 1024);
    expect(cut.value.equals((poison[huge]?.data as Buffer).subarray(0, 256 * 1024))).toBe(true);
    expect(cut.headers).toEqual({
      'sse.id': `[{"n":${huge}}]`,
      [DLQ_TRUNCATION_HEADERS.truncated]: 'true',
      [DLQ_TRUNCATION_HEADERS.originalSize]: String(poison[huge]?.data.length),
      [DLQ_TRUNCATION_HEADERS.originalSha256]: createHash('sha256').update(poison[huge]?.data as Buffer).digest('hex'),
    });
    const bad = poison.findIndex((p) => p.class === 'invalid-utf8');
    expect(deadLetterPayload(events[bad] as SseEvent).value.equals(poison[bad]?.data as Buffer)).toBe(true);
    const future = poison.findIndex((p) => p.class === 'future-time');
    expect(deadLetterPayload(events[future] as SseEvent).value.equals(poison[future]?.data as Buffer)).toBe(true);
  });
});
