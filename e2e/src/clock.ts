// The scenario clock and polling shared by the Wikimedia runs (chaos.ts) and the Bluesky runs (bluesky.ts).

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns something truthy (returned) or the timeout passes (undefined); errors count as not yet. */
export async function waitUntil<T>(timeoutMs: number, fn: () => Promise<T | undefined | false>, intervalMs = 500): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) return undefined;
    await sleep(intervalMs);
  }
}

/** A scenario's time since its input began, waiting for a moment of it, and its fault log (`+12.3s kill -9 ...`). */
export function scenarioClock(t0: number, actions: string[], log: (line: string) => void) {
  return {
    elapsed: () => Date.now() - t0,
    at: async (ms: number) => {
      const wait = t0 + ms - Date.now();
      if (wait > 0) await sleep(wait);
    },
    sleep,
    note: (text: string) => {
      const line = `+${((Date.now() - t0) / 1000).toFixed(1)}s ${text}`;
      actions.push(line);
      log(line);
    },
  };
}
