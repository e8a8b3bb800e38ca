import { createLogger } from '@wikimonitor/service-kit';
import { WebSocket } from 'ws';
import { loadConfig } from './config';
import { createJetstreamSource } from './server';

/** Reads messages until none arrives for `idleMs`. */
function collect(url: string, idleMs = 400): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const got: string[] = [];
    const ws = new WebSocket(url);
    let timer = setTimeout(() => ws.close(), idleMs * 5);
    ws.on('message', (m) => {
      got.push(m.toString());
      clearTimeout(timer);
      timer = setTimeout(() => ws.close(), idleMs);
    });
    ws.on('close', () => resolve(got));
    ws.on('error', reject);
  });
}

describe('jetstream-source server', () => {
  const log = createLogger('test', 'silent');

  it('should serve every recorded event, replay time_us >= cursor in log order, and filter by collection keeping identity/account', async () => {
    const source = createJetstreamSource({ config: loadConfig({ JETSTREAM_SOURCE_PORT: '0', JETSTREAM_SOURCE_HOST: '127.0.0.1' }, {}), log });
    await source.start();
    try {
      const all = await collect(source.url());
      expect(all.length).toBe(186);
      expect(all).toEqual(source.lines());
      const times = all.map((l) => (JSON.parse(l) as { time_us: number }).time_us);
      expect(times.some((t, i) => i > 0 && t < (times[i - 1] as number))).toBe(true); // the recorded disorder survives
      const cursor = times[100] as number;
      const replay = await collect(`${source.url()}?cursor=${cursor}`);
      expect(replay).toEqual(all.filter((_l, i) => (times[i] as number) >= cursor));
      const posts = await collect(`${source.url()}?cursor=0&wantedCollections=app.bsky.feed.post`);
      const kinds = new Set(posts.map((l) => (JSON.parse(l) as { kind?: string; type?: string }).kind ?? (JSON.parse(l) as { type: string }).type));
      expect(kinds).toEqual(new Set(['commit', 'identity', 'account', 'id', 'acc']));
      expect(posts.filter((l) => l.includes('"commit"') && !l.includes('"app.bsky.feed.post"'))).toEqual([]);
    } finally {
      await source.close();
    }
  }, 30_000);

  it('should drop a connection after every n events with fault=drop', async () => {
    const source = createJetstreamSource({ config: loadConfig({ JETSTREAM_SOURCE_PORT: '0', JETSTREAM_SOURCE_HOST: '127.0.0.1' }, {}), log });
    await source.start();
    try {
      const got = await collect(`${source.url()}?fault=drop&every=30`);
      expect(got.length).toBe(30);
      expect(source.stats().drops).toBe(1);
    } finally {
      await source.close();
    }
  }, 30_000);
});
