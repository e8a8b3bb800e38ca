import { normalizeJetstreamEvent } from '@wikimonitor/domain';
import { freePort, startTsProcess } from '@wikimonitor/testing';

export interface JetstreamSourceProcess {
  /** ws://127.0.0.1:<port>/subscribe */
  url: string;
  base: string;
  stats(): Promise<{ logged: number; emitted: number; total: number; complete: boolean; connectionsTotal: number; drops: number; stalls: number }>;
  /** What a correct consumer of the log so far must have written: the distinct event ids, and the distinct malformed lines. */
  expected(): Promise<{ ids: string[]; malformed: string[]; kinds: Set<string> }>;
  close(): Promise<void>;
}

/** apps/jetstream-source as a real process on a free port, with its flags. */
export async function startJetstreamSource(args: string[]): Promise<JetstreamSourceProcess> {
  const port = await freePort();
  const proc = startTsProcess('jetstream-source', 'apps/jetstream-source/src/main.ts', { LOG_LEVEL: 'warn' }, ['--port', String(port), '--host', '127.0.0.1', ...args]);
  const base = `http://127.0.0.1:${port}`;
  await proc.waitReady(`${base}/healthz`);
  return {
    url: `ws://127.0.0.1:${port}/subscribe`,
    base,
    stats: async () => (await (await fetch(`${base}/stats`)).json()) as Awaited<ReturnType<JetstreamSourceProcess['stats']>>,
    async expected() {
      const lines = (await (await fetch(`${base}/log`)).text()).split('\n').filter(Boolean);
      const ids = new Set<string>();
      const malformed = new Set<string>();
      const kinds = new Set<string>();
      for (const line of lines) {
        const n = normalizeJetstreamEvent(line, { receivedTime: Date.now() });
        if (n.kind === 'event') {
          ids.add(n.event.id);
          kinds.add(n.event.kind);
        } else malformed.add(line);
      }
      return { ids: [...ids], malformed: [...malformed], kinds };
    },
    async close() {
      proc.kill('SIGTERM');
      await proc.exited();
    },
  };
}
